"""Retention and "forget me" on the real conversation store: the assistant's tracker store (Rasa's
SQLTrackerStore, as endpoints.yml names it) writes the conversations, on a SQLite file and on
PostgreSQL, and `bot.conversations` deletes them while that store is open, as a running
assistant's would be."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import cli
from bot.callbacks.store import RequestStore
from bot.center.config import (
    DEFAULT_PATH,
    ConfigError,
    load_center_config,
    parse_center_config,
)
from bot.conversations.store import ConversationStore
from bot.runtime.tracker_store import SQLTrackerStore
from tests.request_stores import second_opinion
from tests.tracker_stores import BACKENDS, sql_tracker_store

DAY = 24 * 3600.0


class Conversations:
    """The assistant's tracker store, and the URL our tools open it with."""

    def __init__(self, rasa_store: SQLTrackerStore, url: str) -> None:
        self.rasa = rasa_store
        self.url = url

    def add(self, sender: str, *, days_ago: float, text: str = "what is mibg") -> None:
        """Stores a conversation whose messages are `days_ago` days old."""
        at = time.time() - days_ago * DAY
        tracker = asyncio.run(self.rasa.retrieve(sender))
        if tracker is None:
            tracker = DialogueStateTracker(sender, slots=[])
        for event in (
            ActionExecuted("action_listen", timestamp=at - 2),
            UserUttered(text, {"name": "ask_mibg", "confidence": 1.0}, timestamp=at - 1),
            BotUttered("I-131 MIBG is a drug ...", timestamp=at),
        ):
            tracker.update(event)
        asyncio.run(self.rasa.save(tracker))

    def events(self, sender: str) -> int:
        tracker = asyncio.run(self.rasa.retrieve(sender))
        return 0 if tracker is None else len(tracker.events)


@pytest.fixture(params=BACKENDS)
def conversations(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Conversations]:
    """A fresh tracker store: a SQLite file, or a new PostgreSQL schema dropped afterwards."""
    with sql_tracker_store(SQLTrackerStore, request.param, tmp_path, monkeypatch) as (store, url):
        yield Conversations(store, url)


def test_purge_deletes_only_conversations_whose_last_message_is_old(conversations):
    conversations.add("old-family", days_ago=45)
    conversations.add("recent-family", days_ago=2)
    conversations.add("returning-family", days_ago=60)
    conversations.add("returning-family", days_ago=1)  # came back yesterday: kept, all of it
    store = ConversationStore(conversations.url)
    try:
        purged = store.purge(timedelta(days=30))
    finally:
        store.close()
    assert (purged.conversations, purged.events) == (1, 3)
    assert conversations.events("old-family") == 0
    assert conversations.events("recent-family") == 3
    assert conversations.events("returning-family") == 6


def test_forget_erases_one_conversation_and_nothing_else(conversations):
    conversations.add("web-session-a", days_ago=0, text="my name is Ana, call 215 555 0123")
    conversations.add("web-session-b", days_ago=0)
    store = ConversationStore(conversations.url)
    try:
        assert store.forget("web-session-a") == 3
        assert store.forget("web-session-a") == 0
    finally:
        store.close()
    assert conversations.events("web-session-a") == 0
    assert conversations.events("web-session-b") == 3
    if conversations.url.endswith(".db"):  # SQLite: not left behind in the file's free pages
        # (Debian's SQLite zeroes deleted content by default; the store asks for it on every
        # connection, so another build does too), nor in the log of what was written.
        database = Path(conversations.url)
        assert b"215 555 0123" not in database.read_bytes()
        log = database.with_name(database.name + "-wal")
        assert not log.exists() or b"215 555 0123" not in log.read_bytes()


def test_the_command_line_purges_with_the_configured_retention(conversations, capsys):
    conversations.add("old-family", days_ago=31)
    conversations.add("recent-family", days_ago=29)
    assert cli.main(["conversations", "--db", conversations.url, "purge"]) == 0
    assert "Deleted 1 conversation(s) (3 events)" in capsys.readouterr().out
    assert conversations.events("recent-family") == 3
    assert cli.main(["conversations", "--db", conversations.url, "purge", "--older-than", "0"]) == 0
    assert conversations.events("recent-family") == 0


def test_forget_by_reference_keeps_the_callback_request(conversations, tmp_path, capsys):
    requests_url = f"sqlite:///{tmp_path / 'requests.db'}"
    requests = RequestStore.from_url(requests_url)
    try:
        reference = requests.save(second_opinion(conversation="sms-7f3a"))
    finally:
        requests.close()
    conversations.add("sms-7f3a", days_ago=0)
    argv = ["conversations", "--db", conversations.url, "forget", "--reference", reference]
    assert cli.main([*argv, "--requests-db", requests_url]) == 0
    out = capsys.readouterr().out
    assert "Erased conversation sms-7f3a (3 events)" in out and "is kept for staff" in out
    assert conversations.events("sms-7f3a") == 0
    requests = RequestStore.from_url(requests_url)
    try:
        assert requests.get(reference) is not None
    finally:
        requests.close()


def test_bad_input_gets_a_clear_message_and_changes_nothing(conversations, tmp_path, capsys):
    conversations.add("family", days_ago=40)
    base = ["conversations", "--db", conversations.url]
    assert cli.main([*base, "purge", "--older-than", "-1"]) == 2
    assert "0 to 36500 days" in capsys.readouterr().err
    assert cli.main([*base, "purge", "--older-than", "1000000000"]) == 2
    assert "0 to 36500 days" in capsys.readouterr().err
    assert cli.main([*base, "forget", "--reference", "not a ref"]) == 2
    assert "is not a request reference" in capsys.readouterr().err
    requests_url = f"sqlite:///{tmp_path / 'requests.db'}"
    missing = ["forget", "--reference", "CB-7K3M-Q9", "--requests-db", requests_url]
    assert cli.main([*base, *missing]) == 1
    assert "no callback request CB-7K3M-Q9" in capsys.readouterr().err
    assert conversations.events("family") == 3


def test_an_unreachable_store_is_reported_not_raised(capsys):
    url = "postgresql://nobody@127.0.0.1:9/nothing"
    assert cli.main(["conversations", "--db", url, "purge"]) == 1
    assert "the conversation store failed" in capsys.readouterr().err


def test_a_store_not_created_yet_holds_nothing_and_is_not_created(tmp_path):
    missing = tmp_path / "var" / "tracker.db"
    store = ConversationStore(missing)
    try:
        assert store.purge(timedelta(days=30)).conversations == 0
        assert store.forget("anyone") == 0
    finally:
        store.close()
    assert not missing.exists()


def test_retention_is_read_from_the_center_configuration_and_validated():
    config = load_center_config()
    assert config.privacy.retention_days == 30
    data = {**_shipped(), "privacy": {"retention_days": 0}}
    with pytest.raises(ConfigError, match="retention_days"):
        parse_center_config(data, Path("center.yml"))
    data = {**_shipped(), "privacy": {"retention_dayz": 7}}
    with pytest.raises(ConfigError, match="retention_dayz"):
        parse_center_config(data, Path("center.yml"))


def _shipped() -> dict[str, object]:
    return dict(yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8")))
