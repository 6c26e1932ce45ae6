"""Store less: what a family types into the callback form is kept in the request store only.

Once the request is stored or cancelled, the conversation store (Rasa's tracker store, our
`bot.runtime.tracker_store.SQLTrackerStore`) holds a marker in place of the answers, the slot
values and the read-back. Shown end to end through the running assistant (SQLite), and on the
store itself on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import paths
from bot.callbacks.outbox import deliver_due
from bot.callbacks.store import RequestStore
from bot.runtime.tracker_store import REMOVED, SQLTrackerStore
from tests.conftest import Conversation
from tests.test_outbox import SmtpSink
from tests.test_outbox import settings as smtp_settings
from tests.tracker_stores import BACKENDS, sql_tracker_store

DOMAIN = Domain.load(str(paths.DOMAIN))
NAME = "Zephyrine Quillfeather"
TYPED_PHONE = "(267) 555-0177"
PHONE_FORMS = ("555-0177", "5550177", "+12675550177", "267) 555")
EMAIL = "zq.family@example.org"
HOSPITAL = "Brambleton Children's Hospital"


def _everything_personal(text: str) -> list[str]:
    """Which of the family's details occur in `text`."""
    found = [value for value in (NAME, "Quillfeather", EMAIL, HOSPITAL) if value in text]
    return found + [form for form in PHONE_FORMS if form in text]


def test_form_answers_are_in_the_request_store_and_nowhere_else(assistant, tmp_path):
    conversation = Conversation(assistant)
    assert conversation.ask("we would like a second opinion")[-1] == "utter_offer_callback"
    for text in ("/affirm", "I'm her dad", NAME, TYPED_PHONE, EMAIL, "after 5pm", HOSPITAL):
        conversation.ask(text)
    assert conversation.ask("yes") == ["utter_callback_saved"]
    # The conversation goes on as before.
    assert conversation.ask("what is mibg therapy") == ["utter_mibg"]

    requests = RequestStore.from_url(assistant.extra_env["REQUESTS_DB_URL"])
    try:
        [row] = [r for r in requests.list() if r["conversation"] == conversation.sender]
        assert (row["name"], row["phone"], row["email"]) == (NAME, "+12675550177", EMAIL)
        assert row["treating_hospital"] == HOSPITAL
        sink = SmtpSink().start()
        try:
            deliver_due(requests, smtp_settings(sink.port))
        finally:
            sink.stop()
    finally:
        requests.close()
    [mail] = [m for m in sink.messages if row["reference"] in m["Subject"]]
    assert _everything_personal(mail["Subject"]) == []

    tracker = json.dumps(conversation.tracker())
    assert _everything_personal(tracker) == []
    assert REMOVED in tracker
    # Not in the database file either (the raw bytes, every table), nor in SQLite's log.
    for file in (assistant.tracker_db, assistant.tracker_db.with_name("tracker.db-wal")):
        raw = file.read_bytes().decode("utf-8", errors="replace") if file.exists() else ""
        assert _everything_personal(raw) == [], file.name
    # Nor in what the servers logged.
    for log in assistant.tracker_db.parent.glob("*.log"):
        assert _everything_personal(log.read_text(errors="replace")) == [], log.name


def test_a_cancelled_form_forgets_what_was_typed(assistant):
    conversation = Conversation(assistant)
    conversation.ask("can someone call me back")
    for text in ("second opinion", "grandmother", NAME, TYPED_PHONE):
        conversation.ask(text)
    assert conversation.ask("never mind") == ["utter_callback_cancelled"]
    assert _everything_personal(json.dumps(conversation.tracker())) == []


# --- the store itself, on SQLite and PostgreSQL ------------------------------------------------


@pytest.fixture(params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SQLTrackerStore]:
    """Our tracker store on a fresh SQLite file, or in a new PostgreSQL schema."""
    kind = SQLTrackerStore
    with sql_tracker_store(kind, request.param, tmp_path, monkeypatch, DOMAIN) as (store, _):
        yield store


def _turn(store: SQLTrackerStore, sender: str, events: list[Event]) -> DialogueStateTracker:
    """Appends one turn's events and saves, as Rasa does after each message."""
    tracker = asyncio.run(store.retrieve(sender)) or DialogueStateTracker(sender, slots=[])
    for event in events:
        tracker.update(event)
    asyncio.run(store.save(tracker))
    return tracker


def _user(text: str, intent: str = "inform") -> UserUttered:
    return UserUttered(
        text,
        {"name": intent, "confidence": 0.9},
        entities=[{"entity": "PERSON", "value": text, "start": 0, "end": len(text)}],
    )


def _form_turns(store: SQLTrackerStore, sender: str, end: str) -> None:
    _turn(store, sender, [_user("what is mibg", "ask_mibg"), BotUttered("I-131 MIBG is ...")])
    asks = [("contact_name", NAME), ("phone", "+12675550177"), ("treating_hospital", HOSPITAL)]
    previous: list[Event] = [ActiveLoop("callback_form")]
    for slot, value in asks:
        previous.append(SlotSet("requested_slot", slot))
        _turn(store, sender, [*previous, ActionExecuted("action_listen")])
        previous = [_user(TYPED_PHONE if slot == "phone" else value), SlotSet(slot, value)]
    _turn(
        store,
        sender,
        [
            *previous,
            SlotSet("requested_slot", "consent"),
            BotUttered(f"Staff will call {NAME} at +12675550177. Say yes to send."),
            ActionExecuted("action_listen"),
        ],
    )
    end_turn: list[Event] = [_user("yes", "affirm"), ActiveLoop(None), ActionExecuted(end)]
    _turn(store, sender, [*end_turn, BotUttered("Your request is saved: CB-7K3M-Q9.")])


@pytest.mark.parametrize("end", ["action_submit_callback", "action_cancel_callback"])
def test_the_store_forgets_the_answers_when_the_form_ends(store, end):
    _form_turns(store, "family-1", end)
    _turn(store, "family-1", [_user("thanks", "thank"), BotUttered("You're welcome.")])
    tracker = asyncio.run(store.retrieve_full_tracker("family-1"))
    stored = json.dumps([event.as_dict() for event in tracker.events])
    assert _everything_personal(stored) == []
    texts = [event.text for event in tracker.events if isinstance(event, UserUttered)]
    # The question before the form and the answers that are not personal details stay.
    assert texts[0] == "what is mibg" and texts[-2:] == ["yes", "thanks"]
    assert texts.count(REMOVED) == 3
    intents = [e.intent_name for e in tracker.events if isinstance(e, UserUttered)]
    assert intents == ["ask_mibg", "inform", "inform", "inform", "affirm", "thank"]


def test_nothing_is_forgotten_while_the_form_is_still_open(store):
    _turn(store, "family-2", [ActiveLoop("callback_form"), SlotSet("requested_slot", "phone")])
    _turn(store, "family-2", [_user(TYPED_PHONE), SlotSet("phone", "+12675550177")])
    tracker = asyncio.run(store.retrieve("family-2"))
    assert tracker.get_slot("phone") == "+12675550177"  # the form still needs it


def test_a_message_that_interrupted_the_form_is_kept(store):
    """A fever, a question or "never mind" typed while a detail was asked is not an answer: it
    stays (staff review and story export need it); a refused answer goes."""
    sender = "family-3"
    _turn(store, sender, [ActiveLoop("callback_form"), SlotSet("requested_slot", "phone")])
    _turn(store, sender, [_user("he has a fever and chills", "fever"), BotUttered("Call now")])
    _turn(store, sender, [_user("267 555", "inform"), SlotSet("phone", None)])  # refused
    _turn(store, sender, [_user(TYPED_PHONE), SlotSet("phone", "+12675550177")])
    _turn(
        store,
        sender,
        [
            _user("never mind", "stop_form"),
            ActiveLoop(None),
            ActionExecuted("action_cancel_callback"),
        ],
    )
    tracker = asyncio.run(store.retrieve_full_tracker(sender))
    texts = [event.text for event in tracker.events if isinstance(event, UserUttered)]
    assert texts == ["he has a fever and chills", REMOVED, REMOVED, "never mind"]
