"""Staff review of unplaced messages (`python -m bot review`), on the real conversation store.

Conversations are written by the assistant's own tracker store class (which forgets the callback
form's answers when the form ends), on a SQLite file and on PostgreSQL; the review reads them
back, groups them, masks personal details, exports candidates and records what was reviewed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from bot import cli, paths
from bot.callbacks.form import FORM
from bot.callbacks.store import RequestStore
from bot.review.groups import group
from bot.review.masking import Masker
from bot.review.service import ReviewService
from bot.review.unplaced import Period
from bot.runtime.tracker_store import SQLTrackerStore
from tests.request_stores import second_opinion
from tests.tracker_stores import BACKENDS, sql_tracker_store

DAY = 24 * 3600.0
DOMAIN = Domain.load(paths.DOMAIN)
PHONE_DIGITS = ("215", "555", "0199", "0142")
PRIVATE = ("Ana", "Lopez", "ana.lopez", "example.org", "Riverside", "MRN")


class Conversations:
    """Writes conversations the way the assistant does: our tracker store class."""

    def __init__(self, store: SQLTrackerStore, url: str, folder: Path) -> None:
        self.store = store
        self.url = url
        self.requests = f"sqlite:///{folder / 'requests.db'}"
        self.args = ["--db", url, "--requests-db", self.requests]
        self.clock = time.time() - 3600

    def add(self, sender: str, *turns: Any, days_ago: float = 0.0) -> None:
        """Stores turns: (text, intent) pairs for messages, or any other Rasa event."""
        tracker = asyncio.run(self.store.retrieve(sender)) or DialogueStateTracker(
            sender, DOMAIN.slots
        )
        for turn in turns:
            self.clock += 1
            at = self.clock - days_ago * DAY
            if isinstance(turn, tuple):
                text, intent = turn
                tracker.update(ActionExecuted("action_listen", timestamp=at - 0.5))
                parse = {"intent": {"name": intent, "confidence": 0.3}, "language": "en"}
                tracker.update(
                    UserUttered(
                        text, parse["intent"], parse_data=parse, timestamp=at, input_channel="web"
                    )
                )
            else:
                turn.timestamp = at
                tracker.update(turn)
        asyncio.run(self.store.save(tracker))


@pytest.fixture(params=BACKENDS)
def conversations(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Conversations]:
    with sql_tracker_store(SQLTrackerStore, request.param, tmp_path, monkeypatch, DOMAIN) as (
        store,
        url,
    ):
        yield Conversations(store, url, tmp_path)


def seed(conversations: Conversations) -> None:
    """Families asking about parking and hotels (which the page does not cover), a phone number
    and an e-mail in their messages, a callback form with a name and a number, an old message."""
    conversations.add(
        "family-a",
        ("where do i park the car", "nlu_fallback"),
        ("/something_else", "something_else"),
        ("what is mibg", "ask_mibg"),
    )
    conversations.add(
        "family-b",
        ("where can i park the car??", "nlu_fallback"),
        ("/ask_mibg_visitors", "ask_mibg_visitors"),
    )
    conversations.add("family-c", ("where do we park our car", "nlu_fallback"))
    conversations.add(
        "family-d",
        ("is there a hotel near the hospital", "out_of_scope"),
        ("call me at 215-555-0199 about it", "nlu_fallback"),
        ("my email is ana.lopez@example.org", "nlu_fallback"),
        ("my MRN is 40012345", "nlu_fallback"),
    )
    conversations.add(
        "family-e",
        ("any hotel near the hospital?", "out_of_scope"),
        ActiveLoop(FORM),
        SlotSet("requested_slot", "contact_name"),
        ("Ana Lopez", "nlu_fallback"),
        SlotSet("contact_name", "Ana Lopez"),
        SlotSet("requested_slot", "phone"),
        ("(215) 555-0142", "nlu_fallback"),
        SlotSet("phone", "+12155550142"),
        SlotSet("requested_slot", None),
    )
    # The form is still open: its answers are not review material, even before it ends.
    conversations.add("family-e", ("lopez family again, hotel near the hospital?", "out_of_scope"))
    conversations.add("family-old", ("where do i park the car", "nlu_fallback"), days_ago=45)


def review_output(conversations: Conversations, capsys: Any, *args: str) -> str:
    status = cli.main(["review", *conversations.args, *args])
    out = capsys.readouterr()
    assert status == 0, out.err
    return out.out


def group_id(out: str, text: str) -> str:
    """The id of the group whose examples contain `text`, in `review`'s output."""
    return next(part for part in out.split("\n\n") if text in part).split()[0]


def shown_ids(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines() if line.startswith("G")]


def groups_of(conversations: Conversations) -> list[tuple[int, set[str]]]:
    service = ReviewService(conversations.url, conversations.requests)
    try:
        review = service.review(Period(time.time() - 30 * DAY, time.time() + 60))
    finally:
        service.close()
    return [(g.count, {m.text for m in g.messages}) for g in group(review.messages).groups]


def test_unplaced_messages_are_grouped_with_counts_most_frequent_first(conversations):
    seed(conversations)
    groups = groups_of(conversations)
    assert {frozenset(members) for count, members in groups[:2] if count == 3} == {
        frozenset(
            {"where do i park the car", "where can i park the car??", "where do we park our car"}
        ),
        frozenset(
            {
                "is there a hotel near the hospital",
                "any hotel near the hospital?",
                "[personal detail] family again, hotel near the hospital?",
            }
        ),
    }
    # The form's answers are gone; the rest stand alone, masked.
    assert sorted(count for count, _ in groups[2:]) == [1, 1, 1]
    texts = {text for _, members in groups for text in members}
    assert {"call me at [phone] about it", "my email is [email]", "my MRN is [number]"} <= texts


def test_what_happened_next_is_told_per_group(conversations, capsys):
    seed(conversations)
    out = review_output(conversations, capsys)
    parking = next(part for part in out.split("\n\n") if "park the car" in part)
    assert "3 message(s) in 3 conversation(s)" in parking
    assert "fallback 1" in parking and "something_else 1" in parking
    assert "chose_topic 1" in parking
    assert "then chose: ask_mibg_visitors 1" in parking
    assert "Unplaced messages" in out and "9 of 14 messages" in out


def test_no_phone_email_or_form_value_is_shown_or_exported(conversations, capsys, tmp_path):
    seed(conversations)
    out = review_output(conversations, capsys, "--examples", "10", "--all")
    ids = shown_ids(out)
    labelled = [f"{group_id}=new:unsorted" for group_id in ids]
    exported = tmp_path / "candidates.yml"
    assert (
        cli.main(["review", "export", *labelled, "--out", str(exported), *conversations.args]) == 0
    )
    for text in (out, exported.read_text()):
        for private in (*PHONE_DIGITS, *PRIVATE[:4]):
            assert private not in text


def test_the_callback_requests_details_are_masked_in_other_messages(
    conversations, tmp_path, capsys
):
    requests = RequestStore.from_url(conversations.requests)
    requests.save(second_opinion(name="Rosa Quintero", conversation="family-r"))
    requests.close()
    conversations.add("family-r", ("rosa quintero here, where to park", "nlu_fallback"))
    out = review_output(conversations, capsys)
    assert "where to park" in out
    assert "rosa" not in out.lower() and "quintero" not in out.lower()


def test_export_writes_rasa_training_data_and_mark_hides_the_group_next_time(
    conversations, capsys, tmp_path
):
    seed(conversations)
    out = review_output(conversations, capsys)
    parking, hotel = group_id(out, "park the car"), group_id(out, "hotel near")
    exported = tmp_path / "candidates.yml"
    args = conversations.args
    status = cli.main(
        [
            "review",
            "export",
            f"{parking}=new:ask_parking",
            f"{hotel}=not_covered_practical",
            "--out",
            str(exported),
            "--mark",
            *args,
        ]
    )
    assert status == 0, capsys.readouterr().err
    data = RasaYAMLReader().reads(exported.read_text())
    by_intent: dict[str, set[str]] = {}
    for example in data.intent_examples:
        by_intent.setdefault(example.get("intent"), set()).add(example.get("text"))
    assert by_intent["ask_parking"] == {
        "where do i park the car",
        "where can i park the car??",
        "where do we park our car",
    }
    assert len(by_intent["not_covered_practical"]) == 3
    assert "# new intent: not in domain.yml yet" in exported.read_text()

    capsys.readouterr()
    again = review_output(conversations, capsys)
    assert not {parking, hotel} & set(shown_ids(again))
    assert "reviewed before and not shown: 6" in again
    assert parking in shown_ids(review_output(conversations, capsys, "--all"))


def test_mark_records_a_label_once(conversations, capsys):
    seed(conversations)
    out = review_output(conversations, capsys)
    first = out.splitlines()[3].split()[0]
    args = conversations.args
    assert cli.main(["review", "mark", first, "--label", "new:ask_parking", *args]) == 0
    assert "3 message(s)" in capsys.readouterr().err
    assert cli.main(["review", "mark", first, "--all", *args]) == 0
    assert "0 message(s)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "G1=ask_nothing", "--out", "-"], "not an intent of domain.yml"),
        (["export", "G1", "--out", "-"], "give GROUP=LABEL"),
        (["export", "G1=ask_mibg", "--out", "data/nlu/x.yml"], "inside data/"),
        (["export", "G1=ask_mibg", "--out", "tests/eval/x.yml"], "inside tests/eval/"),
        (["export", "G999999=ask_mibg", "--out", "-"], "no group G999999"),
        (["mark", "G1", "--label", "new:Bad Name"], "lower case words"),
        (["--days", "0"], "--days must be"),
        (["--until", "2026-01-01"], "--until needs --since"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "before --since"),
    ],
)
def test_bad_input_gets_a_clear_message(conversations, capsys, args, message):
    seed(conversations)
    assert cli.main(["review", *args, *conversations.args]) == 2
    assert message in capsys.readouterr().err


def test_an_empty_or_missing_store_has_nothing_to_review(tmp_path, capsys):
    missing = tmp_path / "never.db"
    requests = f"sqlite:///{tmp_path / 'requests.db'}"
    assert cli.main(["review", "--db", str(missing), "--requests-db", requests]) == 0
    assert "Nothing new to review." in capsys.readouterr().out
    assert not missing.exists()


def test_an_unreachable_store_is_reported(capsys):
    url = "postgresql://nobody@127.0.0.1:1/none"
    assert cli.main(["review", "--db", url, "--requests-db", "sqlite:///unused.db"]) == 1
    assert "conversation store failed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call me 215 555 0199 pls", "call me [phone] pls"),
        ("mi cel es +52 55 1234 5678", "mi cel es [phone]"),
        ("(215)555-0199", "[phone]"),
        ("write to ana@gmail", "write to [email]"),
        ("record 40012345 please", "record [number] please"),
        (
            "he is 7, temp 38.5 on 12/01/2026, dose 40 mg",
            "he is 7, temp 38.5 on 12/01/2026, dose 40 mg",
        ),
        ("Ana López asks about parking", "[personal detail] asks about parking"),
        ("this is mrs lopez again", "this is mrs [personal detail] again"),
    ],
)
def test_masking(text, masked):
    assert Masker(["Ana López", "López"]).mask(text) == masked


def test_typed_variants_group_and_different_questions_stay_apart():
    from bot.review.unplaced import Unplaced

    texts = [
        "where do i park",
        "wher do i park",
        "parking garage where",
        "is there parking",
        "can my sister visit",
        "can my sister come visit",
        "dónde me estaciono",
        "donde me estaciono",
    ]
    messages = [
        Unplaced(i + 1, f"c{i}", 0.0, text, "fallback", "web", "en") for i, text in enumerate(texts)
    ]
    groups = [{m.text for m in g.messages} for g in group(messages).groups]
    assert {"where do i park", "wher do i park"} <= next(
        g for g in groups if "where do i park" in g
    )
    assert {"dónde me estaciono", "donde me estaciono"} in groups or any(
        {"dónde me estaciono", "donde me estaciono"} <= g for g in groups
    )
    sister = next(g for g in groups if "can my sister visit" in g)
    assert "can my sister come visit" in sister and "where do i park" not in sister


def test_the_running_assistant_s_unplaced_messages_are_reviewed_masked(
    conversation, assistant, capsys
):
    """A real conversation: the trained model decides what is unplaced; the form's answers and
    the callback request's details never reach the review."""
    conversation.ask("zxqv blorp wibble")
    conversation.ask("my number is 215 555 0199, zxqv blorp")
    conversation.ask("i would like a second opinion for my son")
    for answer in ["/affirm", "I'm his mom", "Quintessa Marlowe", "(215) 555-0142"]:
        conversation.ask(answer)
    for answer in ["skip", "weekday mornings", "skip", "yes"]:
        conversation.ask(answer)
    conversation.ask("Marlowe here again: zxqv blorp wibble?")
    args = [
        "--db",
        str(assistant.tracker_db),
        "--requests-db",
        assistant.extra_env["REQUESTS_DB_URL"],
    ]
    assert cli.main(["review", "--days", "1", "--examples", "20", "--all", *args]) == 0
    out = capsys.readouterr().out
    mine = next(part for part in out.split("\n\n") if "zxqv blorp wibble" in part)
    assert "[personal detail] here again: zxqv blorp wibble?" in mine
    for private in ("Quintessa", "Marlowe", "555", "0142", "0199"):
        assert private not in out


def test_the_assistants_store_makes_the_index_the_review_reads_by(conversations):
    import sqlalchemy as sa

    from bot.runtime.tracker_store import REVIEW_INDEX, SESSION_INDEX

    indexes = sa.inspect(conversations.store.engine).get_indexes("events")
    assert {REVIEW_INDEX, SESSION_INDEX} <= {index["name"] for index in indexes}
