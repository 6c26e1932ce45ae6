"""The action server's actions, run directly: no trained model, no server, a real SQLite store.

Trackers come from JSON fixtures in tests/data/trackers/ (rasa-sdk's `Tracker.from_dict`), with
the message the family just typed laid on top; the dispatcher is rasa-sdk's own
`CollectingDispatcher`, so a test sees exactly the responses the action would send.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.callback import (
    FORM_SLOTS,
    SKIP_EMAIL,
    ActionCancelCallback,
    ActionExplainRequestedSlot,
    ActionSubmitCallback,
    ValidateCallbackForm,
)
from bot.callbacks.store import RequestStore, normalise_reference
from bot.nlu.safety import PATTERN_SOURCE

TRACKERS = Path(__file__).parent / "data" / "trackers"


def tracker_state(name: str) -> dict[str, Any]:
    """A fresh copy of a fixture's tracker state (each call reads the file anew)."""
    return json.loads((TRACKERS / f"{name}.json").read_text(encoding="utf-8"))


def answering(
    slot: str,
    text: str,
    intent: str = "inform",
    confidence: float = 0.9,
    source: str | None = None,
    **slots: Any,
) -> Tracker:
    """The form asking for `slot`, and the family's reply `text` as NLU read it."""
    state = tracker_state("callback_form_active")
    state["slots"].update(slots, requested_slot=slot)
    parsed_intent: dict[str, Any] = {"name": intent, "confidence": confidence}
    if source:
        parsed_intent["source"] = source
    message = {"text": text, "intent": parsed_intent, "entities": [], "intent_ranking": []}
    state["latest_message"] = message
    state["events"] += [
        {"event": "slot", "name": "requested_slot", "value": slot},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": message},
    ]
    return Tracker.from_dict(state)


def completed(**slots: Any) -> Tracker:
    """A form that has every answer (a second opinion, consent given), with changes."""
    state = tracker_state("callback_form_complete")
    state["slots"].update(slots)
    return Tracker.from_dict(state)


class Outcome:
    """What one action run did: the slots it set and the responses it sent."""

    def __init__(self, events: list[dict[str, Any]], dispatcher: CollectingDispatcher) -> None:
        self.events = events
        self.slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
        self.messages = dispatcher.messages
        self.responses = [m.get("response") for m in dispatcher.messages]


def run(action: Any, tracker: Tracker, domain: dict[str, Any]) -> Outcome:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain))
    return Outcome(events, dispatcher)


def validate(tracker: Tracker, domain: dict[str, Any]) -> Outcome:
    return run(ValidateCallbackForm(), tracker, domain)


ANSWERS = {
    "request_type": "appointment",
    "relationship": "parent",
    "contact_name": "Ana",
    "phone": "+12155550123",
    "email": SKIP_EMAIL,
    "best_time": "weekday mornings",
}


def before(slot: str, **changes: Any) -> dict[str, Any]:
    """The answers to every question the form asks before `slot` (an appointment), changed."""
    order = list(ANSWERS) + ["treating_hospital", "country", "consent"]
    earlier = {name: ANSWERS[name] for name in order[: order.index(slot)] if name in ANSWERS}
    return {**earlier, **changes}


# --- each answer: accepted and normalised, or refused with a reason and asked again -------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("parent", "parent"),
        ("I'm his mom", "parent"),
        ("her dad", "parent"),
        ("grandma, I look after her", "guardian"),
        ("legal guardian", "guardian"),
        ("I am the child's oncologist", "physician"),
    ],
)
def test_relationship_is_normalised(domain, text, expected):
    outcome = validate(answering("relationship", text), domain)
    assert outcome.slots["relationship"] == expected
    assert outcome.slots["requested_slot"] == "contact_name"
    assert outcome.responses == []


def test_relationship_that_fits_no_role_is_refused_and_asked_again(domain):
    outcome = validate(answering("relationship", "banana"), domain)
    assert outcome.slots["relationship"] is None
    assert outcome.responses == ["utter_invalid_relationship"]
    assert outcome.slots["requested_slot"] == "relationship"


def test_relationship_corrected_after_a_refusal_is_taken(domain):
    refused = validate(answering("relationship", "the neighbour"), domain)
    assert refused.slots["relationship"] is None
    corrected = validate(answering("relationship", "sorry, I'm her mother"), domain)
    assert corrected.slots["relationship"] == "parent"


def test_relationship_counts_even_when_nlu_heard_a_question(domain):
    tracker = answering("relationship", "I'm his mom", intent="ask_mibg_stay", confidence=0.95)
    assert validate(tracker, domain).slots["relationship"] == "parent"


@pytest.mark.parametrize("name", ["Ana María", "  José  Luis ", "O'Brien", "李伟"])
def test_contact_name_is_kept_trimmed(domain, name):
    outcome = validate(answering("contact_name", name, **before("contact_name")), domain)
    assert outcome.slots["contact_name"] == " ".join(name.split())
    assert outcome.slots["requested_slot"] == "phone"


@pytest.mark.parametrize("name", ["12345", "!!!", "x" * 101])
def test_contact_name_without_letters_or_too_long_is_refused(domain, name):
    outcome = validate(answering("contact_name", name, **before("contact_name")), domain)
    assert outcome.slots["contact_name"] is None
    assert outcome.responses == ["utter_invalid_contact_name"]
    assert outcome.slots["requested_slot"] == "contact_name"


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("215-555-0123", "+12155550123"),
        ("(215) 555 0123", "+12155550123"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+34 912 345 678", "+34912345678"),
    ],
)
def test_phone_is_kept_in_e164(domain, text, e164):
    outcome = validate(answering("phone", text, **before("phone")), domain)
    assert outcome.slots["phone"] == e164
    assert outcome.slots["requested_slot"] == "email"


def test_phone_that_is_no_number_is_refused_then_corrected(domain):
    refused = validate(answering("phone", "12345", **before("phone")), domain)
    assert refused.slots["phone"] is None
    assert refused.responses == ["utter_invalid_phone"]
    assert refused.slots["requested_slot"] == "phone"
    corrected = validate(answering("phone", "267 555 0199", **before("phone")), domain)
    assert corrected.slots["phone"] == "+12675550199"


def test_phone_counts_even_when_nlu_guessed_fever(domain):
    # The classifier reads digits as a temperature; a number-shaped answer is still the answer.
    tracker = answering("phone", "215 555 0123", intent="fever", confidence=0.9)
    assert validate(tracker, domain).slots["phone"] == "+12155550123"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Ana.Lopez@Example.org", "Ana.Lopez@example.org"), ("skip", SKIP_EMAIL), ("no", SKIP_EMAIL)],
)
def test_email_is_normalised_or_skipped(domain, text, expected):
    outcome = validate(answering("email", text, **before("email")), domain)
    assert outcome.slots["email"] == expected
    assert outcome.slots["requested_slot"] == "best_time"


def test_email_that_does_not_parse_is_refused(domain):
    outcome = validate(answering("email", "ana@", **before("email")), domain)
    assert outcome.slots["email"] is None
    assert outcome.responses == ["utter_invalid_email"]


def test_best_time_is_kept_and_an_appointment_goes_to_consent(domain):
    outcome = validate(answering("best_time", "weekday mornings", **before("best_time")), domain)
    assert outcome.slots["best_time"] == "weekday mornings"
    # An appointment needs neither the treating hospital nor the country.
    assert outcome.slots["requested_slot"] == "consent"


def test_best_time_too_long_is_refused(domain):
    outcome = validate(answering("best_time", "after lunch " * 10, **before("best_time")), domain)
    assert outcome.slots["best_time"] is None
    assert outcome.responses == ["utter_invalid_text"]


def test_a_second_opinion_asks_for_the_treating_hospital(domain):
    slots = before("best_time", request_type="second_opinion")
    after_time = validate(answering("best_time", "evenings", **slots), domain)
    assert after_time.slots["requested_slot"] == "treating_hospital"
    slots["best_time"] = "evenings"
    hospital = validate(answering("treating_hospital", "Lakeside Children's", **slots), domain)
    assert hospital.slots["treating_hospital"] == "Lakeside Children's"
    assert hospital.slots["requested_slot"] == "consent"


def test_an_international_family_is_asked_for_the_country(domain):
    slots = before("country", request_type="international", best_time="mornings")
    tracker = answering("country", "Chile", **slots)
    outcome = validate(tracker, domain)
    assert outcome.slots["country"] == "Chile"
    assert outcome.slots["requested_slot"] == "consent"


# --- messages that are not answers -----------------------------------------------------------


def test_a_safety_pattern_is_never_stored_as_an_answer(domain):
    tracker = answering(
        "contact_name",
        "he is not breathing",
        intent="emergency",
        confidence=1.0,
        source=PATTERN_SOURCE,
    )
    outcome = validate(tracker, domain)
    assert "contact_name" not in outcome.slots or outcome.slots["contact_name"] is None
    assert outcome.responses == []


def test_a_clear_question_is_not_taken_as_a_name(domain):
    tracker = answering(
        "contact_name",
        "how long is the stay",
        intent="ask_mibg_stay",
        confidence=0.92,
        **before("contact_name"),
    )
    outcome = validate(tracker, domain)
    assert outcome.slots.get("contact_name") is None
    assert outcome.slots["requested_slot"] == "contact_name"


def test_why_explains_the_question_being_asked(domain):
    outcome = run(ActionExplainRequestedSlot(), answering("phone", "why do you need that"), domain)
    assert outcome.responses == ["utter_why_phone"]
    assert outcome.events == []


# --- submit, no consent, store failing, stop --------------------------------------------------


@pytest.fixture
def sqlite_store(tmp_path: Path):
    store = RequestStore.from_url(f"sqlite:///{tmp_path / 'requests.db'}")
    yield store
    store.close()


def test_submit_stores_then_confirms_with_the_stored_reference(domain, sqlite_store):
    outcome = run(ActionSubmitCallback(sqlite_store), completed(), domain)
    assert outcome.responses == ["utter_callback_saved"]
    reference = outcome.messages[0]["callback_reference"]
    assert normalise_reference(reference) == reference
    stored = sqlite_store.get(reference)
    assert stored is not None
    assert (stored["name"], stored["phone"], stored["request_type"]) == (
        "Ana María",
        "+12155550123",
        "second_opinion",
    )
    assert stored["email"] is None  # "skip" is not an address
    assert outcome.slots["callback_reference"] == reference
    assert all(outcome.slots[slot] is None for slot in FORM_SLOTS)


def test_without_consent_nothing_is_stored(domain, sqlite_store):
    outcome = run(ActionSubmitCallback(sqlite_store), completed(consent=False), domain)
    assert outcome.responses == ["utter_callback_no_consent"]
    assert sqlite_store.list() == []
    assert all(outcome.slots[slot] is None for slot in FORM_SLOTS)


def test_a_failing_store_is_told_plainly_and_confirms_nothing(domain, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    broken = RequestStore.from_url(f"sqlite:///{blocker / 'requests.db'}")
    outcome = run(ActionSubmitCallback(broken), completed(), domain)
    assert outcome.responses == ["utter_callback_not_saved"]
    assert "callback_reference" not in outcome.slots
    assert all(outcome.slots[slot] is None for slot in FORM_SLOTS)


def test_a_refused_request_is_not_confirmed(domain, sqlite_store):
    # The store validates again before storing: a phone that is not E.164 never gets in.
    outcome = run(ActionSubmitCallback(sqlite_store), completed(phone="call me"), domain)
    assert outcome.responses == ["utter_callback_not_saved"]
    assert sqlite_store.list() == []


def test_stop_cancels_and_forgets_every_answer(domain):
    outcome = run(ActionCancelCallback(), completed(), domain)
    assert outcome.responses == ["utter_callback_cancelled"]
    assert all(outcome.slots[slot] is None for slot in FORM_SLOTS)


def test_a_repeated_consent_stores_one_request_and_gives_its_reference(domain, sqlite_store):
    action = ActionSubmitCallback(sqlite_store)
    first = run(action, completed(), domain)
    again = run(action, completed(), domain)  # the same form's "yes", sent once more
    assert first.responses == again.responses == ["utter_callback_saved"]
    assert again.messages[0]["callback_reference"] == first.messages[0]["callback_reference"]
    assert len(sqlite_store.list()) == 1


def test_a_new_form_in_the_same_conversation_is_a_new_request(domain, sqlite_store):
    action = ActionSubmitCallback(sqlite_store)
    first = run(action, completed(), domain)
    state = tracker_state("callback_form_complete")
    state["events"].append({"event": "active_loop", "name": "callback_form", "timestamp": 2e9})
    second = run(action, Tracker.from_dict(state), domain)
    assert second.messages[0]["callback_reference"] != first.messages[0]["callback_reference"]
    assert len(sqlite_store.list()) == 2


@pytest.mark.parametrize(
    ("text", "heard_as"),
    [
        ("after 5pm on weekdays", "ask_mibg_stay_length"),
        ("after 3 on school days", "ask_mibg_stay_length"),
        ("evenings after 6", "fever"),
        ("tuesday or thursday around noon", "out_of_scope"),
    ],
)
def test_a_time_is_the_best_time_whatever_nlu_heard(domain, text, heard_as):
    tracker = answering("best_time", text, intent=heard_as, confidence=0.84, **before("best_time"))
    assert validate(tracker, domain).slots["best_time"] == text


@pytest.mark.parametrize("text", ["yes", "OK.", "no"])
def test_a_bare_yes_or_no_is_no_time_and_is_asked_again(domain, text):
    tracker = answering("best_time", text, intent="affirm", confidence=0.6, **before("best_time"))
    outcome = validate(tracker, domain)
    assert outcome.slots["best_time"] is None
    assert outcome.responses == ["utter_invalid_best_time"]
    assert outcome.slots["requested_slot"] == "best_time"


def test_a_question_with_a_number_at_the_time_step_is_not_taken_as_the_time(domain):
    text = "what happens after 3 weeks?"
    tracker = answering(
        "best_time", text, intent="ask_mibg_stay_length", confidence=0.9, **before("best_time")
    )
    assert validate(tracker, domain).slots.get("best_time") is None
