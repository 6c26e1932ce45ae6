"""Contact routing and the callback request form, through the real model and action server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from actions.callback import is_answer
from bot.callbacks.outbox import deliver_due
from bot.callbacks.store import RequestStore
from bot.center.config import center_config
from bot.runtime.launcher import Servers
from tests.conftest import Conversation, server_settings
from tests.test_outbox import SmtpSink
from tests.test_outbox import settings as smtp_settings

ROUTES = [
    ("i'd like to schedule a first appointment", "utter_contact_new_appointment"),
    ("we want a second opinion on her treatment", "utter_second_opinion"),
    ("my son is already a patient, how do i reach his nurse", "utter_contact_existing_patient"),
    ("i'm an oncologist and want to refer a patient to your team", "utter_referring_physician"),
    ("we live in mexico, can you see our son", "utter_international"),
    ("can i speak to a real person", "utter_request_human"),
]


@pytest.fixture
def requests_db(assistant) -> RequestStore:
    """The database the running action server stores requests in."""
    return RequestStore.from_url(assistant.extra_env["REQUESTS_DB_URL"])


def stored_for(store: RequestStore, conversation: Conversation) -> list[dict]:
    return [row for row in store.list() if row.get("conversation") == conversation.sender]


def start_second_opinion(conversation: Conversation) -> None:
    assert conversation.ask("i would like a second opinion for my son")[-2:] == [
        "utter_second_opinion",
        "utter_offer_callback",
    ]
    assert conversation.ask("/affirm") == ["utter_callback_start", "utter_ask_relationship"]


@pytest.mark.parametrize(("message", "answer"), ROUTES)
def test_each_route_gives_its_phone_line_at_once_then_offers_a_callback(
    conversation, message, answer
):
    assert conversation.ask(message)[-2:] == [answer, "utter_offer_callback"]


def test_declining_the_offer_ends_politely(conversation):
    conversation.ask("how do i make an appointment")
    assert conversation.ask("no thanks") == ["utter_no_callback"]


def test_second_opinion_happy_path_is_stored_then_confirmed(conversation, requests_db):
    start_second_opinion(conversation)
    assert conversation.ask("I'm his mom") == ["utter_ask_contact_name"]
    assert conversation.ask("Maria Lopez") == ["utter_ask_phone"]
    assert conversation.ask("(215) 555-0142") == ["utter_ask_email"]
    assert conversation.ask("maria.lopez@example.org") == ["utter_ask_best_time"]
    assert conversation.ask("weekday mornings") == ["utter_ask_treating_hospital"]
    assert conversation.ask("Riverside Children's Hospital") == ["utter_ask_consent"]
    assert conversation.ask("yes") == ["utter_callback_saved"]

    [row] = stored_for(requests_db, conversation)
    assert row["request_type"] == "second_opinion"
    assert row["relationship"] == "parent"
    assert row["name"] == "Maria Lopez"
    assert row["phone"] == "+12155550142"
    assert row["email"] == "maria.lopez@example.org"
    assert row["treating_hospital"] == "Riverside Children's Hospital"
    assert row["reference"] in conversation.last_messages[-1]["text"]


def test_a_direct_callback_request_asks_what_it_is_about(conversation, requests_db):
    assert conversation.ask("can someone call me back")[-2:] == [
        "utter_callback_start",
        "utter_ask_request_type",
    ]
    assert conversation.ask("/contact_new_appointment") == ["utter_ask_relationship"]


def test_invalid_phone_and_email_are_asked_again_then_accepted(conversation, requests_db):
    conversation.ask("can someone call me back")
    conversation.ask("/contact_new_appointment")
    conversation.ask("I am her father")
    assert conversation.ask("Sam") == ["utter_ask_phone"]
    assert conversation.ask("12") == ["utter_invalid_phone", "utter_ask_phone"]
    assert conversation.ask("+44 20 7946 0958") == ["utter_ask_email"]
    assert conversation.ask("sam at home") == ["utter_invalid_email", "utter_ask_email"]
    assert conversation.ask("skip") == ["utter_ask_best_time"]
    assert conversation.ask("evenings after 6") == ["utter_ask_consent"]
    assert conversation.ask("yes") == ["utter_callback_saved"]
    [row] = stored_for(requests_db, conversation)
    assert row["phone"] == "+442079460958"
    assert row["email"] is None


def test_a_question_in_the_middle_is_answered_then_the_form_asks_again(conversation):
    start_second_opinion(conversation)
    conversation.ask("parent")
    assert conversation.ask("what is mibg therapy") == ["utter_mibg", "utter_ask_contact_name"]
    assert conversation.ask("why do you need that") == [
        "utter_why_contact_name",
        "utter_ask_contact_name",
    ]
    assert conversation.ask("Ana") == ["utter_ask_phone"]


def test_stop_cancels_and_nothing_is_stored(conversation, requests_db):
    start_second_opinion(conversation)
    conversation.ask("guardian")
    assert conversation.ask("never mind") == ["utter_callback_cancelled"]
    assert conversation.ask("what is relapse") == ["utter_what_is_relapse"]
    assert stored_for(requests_db, conversation) == []


def test_saying_no_to_consent_stores_nothing(conversation, requests_db):
    conversation.ask("please call me back")
    for answer in ["/contact_existing_patient", "mom", "Lee", "215 555 0199", "skip"]:
        conversation.ask(answer)
    assert conversation.ask("anytime") == ["utter_ask_consent"]
    assert conversation.ask("no") == ["utter_callback_no_consent"]
    assert stored_for(requests_db, conversation) == []


@pytest.mark.parametrize(
    ("message", "answer"),
    [("he stopped breathing", "utter_emergency"), ("i want to end my life", "utter_crisis")],
)
def test_an_emergency_in_the_middle_is_answered_first_and_the_family_may_stop(
    conversation, requests_db, message, answer
):
    start_second_opinion(conversation)
    conversation.ask("parent")
    assert conversation.ask(message) == [answer, "utter_callback_kept", "utter_ask_contact_name"]
    assert conversation.ask("stop") == ["utter_callback_cancelled"]
    assert conversation.ask("what is mibg") == ["utter_mibg"]
    assert stored_for(requests_db, conversation) == []


def test_a_fever_in_the_middle_is_escalated_then_the_form_goes_on(conversation):
    start_second_opinion(conversation)
    conversation.ask("parent")
    assert conversation.ask("she has a fever of 39") == ["utter_fever", "utter_ask_contact_name"]


@pytest.mark.parametrize(
    ("text", "intent", "confidence", "shaped", "pattern", "expected"),
    [
        ("evenings after 6", "fever", 0.55, False, False, True),
        ("(215) 555-0142", "fever", 0.53, True, False, True),
        ("she is burning up", "fever", 1.0, False, True, False),
        ("she seems really sick", "fever", 0.9, False, False, False),
        ("call 911 at 215 555 0142", "emergency", 1.0, True, True, False),
        ("never mind", "stop_form", 0.9, False, False, False),
        ("weekday mornings", "ask_followup_scans", 0.55, False, False, True),
        ("what is mibg", "ask_mibg", 0.95, False, False, False),
        ("how long is the stay?", "ask_mibg_stay_length", 0.4, False, False, False),
        ("I'm his mom", "bot_challenge", 0.7, True, False, True),
    ],
)
def test_what_counts_as_an_answer_inside_the_form(
    text, intent, confidence, shaped, pattern, expected
):
    assert is_answer(text, intent, confidence, shaped, pattern) is expected


def test_distress_in_the_middle_is_acknowledged_then_the_form_goes_on(conversation):
    start_second_opinion(conversation)
    assert conversation.ask("i am so overwhelmed i can't cope with any of this") == [
        "utter_distress",
        "utter_ask_relationship",
    ]


SECOND_OPINION_ANSWERS = [
    "i would like a second opinion",
    "/affirm",
    "parent",
    "{name}",
    "+1 215 555 {number:04d}",
    "skip",
    "mornings",
    "Riverside Children's Hospital",
    "yes",
]


def fill_second_opinion(conversation: Conversation, name: str, number: int) -> list[str]:
    """Walks the whole form; returns the last turn's responses."""
    answer: list[str] = []
    for text in SECOND_OPINION_ANSWERS:
        answer = conversation.ask(text.format(name=name, number=number))
    return answer


def test_fifty_families_at_once_are_all_stored_then_delivered_once(assistant, requests_db):
    families = [Conversation(assistant) for _ in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        endings = list(
            pool.map(
                lambda item: fill_second_opinion(item[1], f"Parent {item[0]}", 100 + item[0]),
                enumerate(families),
            )
        )
    assert endings == [["utter_callback_saved"]] * 50

    senders = {family.sender for family in families}
    rows = [row for row in requests_db.list() if row.get("conversation") in senders]
    references = {row["reference"] for row in rows}
    assert len(rows) == len(references) == 50

    sink = SmtpSink().start()
    try:
        deliver_due(requests_db, smtp_settings(sink.port))
        deliver_due(requests_db, smtp_settings(sink.port))  # a second run sends nothing again
    finally:
        sink.stop()
    delivered = [
        m["Message-ID"] for m in sink.messages if any(r in m["Subject"] for r in references)
    ]
    assert len(delivered) == len(set(delivered)) == 50


def test_when_the_database_is_down_the_family_is_told_and_nothing_is_confirmed(
    trained_model, tmp_path
):
    settings = server_settings(trained_model, tmp_path)
    # Nothing listens on port 1: every write fails.
    settings.extra_env["REQUESTS_DB_URL"] = "postgresql://postgres@127.0.0.1:1/unreachable"
    with Servers(settings) as servers:
        servers.start(log_dir=tmp_path)
        conversation = Conversation(settings)
        assert fill_second_opinion(conversation, "Robin", 150) == ["utter_callback_not_saved"]
        text = conversation.last_messages[-1]["text"]
        assert center_config().values["phone_new_appointments"] in text
        assert "reference" not in text.lower()


def test_a_message_inside_the_form_never_changes_the_request_type(conversation, requests_db):
    conversation.ask("we are flying in from brazil can your team treat our son")
    conversation.ask("/affirm")
    for answer in ["parent", "Ana Souza", "+55 11 91234 5678"]:
        conversation.ask(answer)
    # Whatever NLU makes of it, this is the e-mail answer, not "talk to a person".
    conversation.ask("/request_human")
    for answer in ["skip", "afternoons"]:
        conversation.ask(answer)
    assert conversation.ask("Brazil") == ["utter_ask_consent"]
    assert conversation.ask("yes") == ["utter_callback_saved"]
    [row] = stored_for(requests_db, conversation)
    assert (row["request_type"], row["country"]) == ("international", "Brazil")


def up_to_the_best_time(conversation: Conversation) -> None:
    """An appointment request answered up to "when is the best time to call"."""
    conversation.ask("can someone call me back")
    for answer in ["/contact_new_appointment", "I am her father", "Sam", "215 555 0199"]:
        conversation.ask(answer)
    assert conversation.ask("skip") == ["utter_ask_best_time"]


def test_a_time_that_sounds_like_a_question_is_the_best_time(conversation, requests_db):
    # Issue 12: "after 5pm on weekdays" was read as a question about the stay, and the "yes"
    # that followed was stored as the best time to call.
    up_to_the_best_time(conversation)
    assert conversation.ask("yes") == ["utter_invalid_best_time", "utter_ask_best_time"]
    assert conversation.ask("after 5pm on weekdays") == ["utter_ask_consent"]
    assert conversation.ask("yes") == ["utter_callback_saved"]
    [row] = stored_for(requests_db, conversation)
    assert row["best_time"] == "after 5pm on weekdays"


@pytest.mark.parametrize(
    "message", ["shes not breething", "her lips look grey", "mi hijo no puede respirar"]
)
def test_a_misspelt_or_spanish_emergency_as_the_best_time_is_answered_not_stored(
    conversation, requests_db, message
):
    # Issue 12: these were stored as the best time to call, and the form moved on to consent.
    up_to_the_best_time(conversation)
    # Answered first; the request is kept (issue 13: a false alarm must not end the form
    # unasked), and the question is asked again.
    answered = conversation.ask(message)
    # A Spanish message first switches the conversation to Spanish, and says so.
    if answered[0] == "utter_language_changed":
        answered = answered[1:]
    assert answered == ["utter_emergency", "utter_callback_kept", "utter_ask_best_time"]
    assert conversation.ask("yes") != ["utter_callback_saved"]
    assert stored_for(requests_db, conversation) == []


def test_a_spanish_family_fills_the_form_in_spanish_and_the_request_says_so(
    conversation, requests_db
):
    said = conversation.ask("quisiera que alguien del equipo me llame por favor")
    assert said[:2] == ["utter_disclaimer", "utter_language_changed"]
    assert "utter_ask_request_type" in said
    assert "llam" in conversation.last_messages[-1]["text"].lower()
    assert conversation.ask("/contact_new_appointment") == ["utter_ask_relationship"]
    assert conversation.ask("soy la mamá") == ["utter_ask_contact_name"]
    assert conversation.ask("¿para qué lo necesitan?") == [
        "utter_why_contact_name",
        "utter_ask_contact_name",
    ]
    assert conversation.ask("María López") == ["utter_ask_phone"]
    assert conversation.ask("215 555 0199") == ["utter_ask_email"]
    assert conversation.ask("omitir") == ["utter_ask_best_time"]
    assert conversation.ask("por las tardes después de las 5") == ["utter_ask_consent"]
    consent = conversation.last_messages[-1]["text"]
    assert "María López" in consent and "sí" in consent
    assert conversation.ask("sí") == ["utter_callback_saved"]
    [row] = stored_for(requests_db, conversation)
    assert (row["relationship"], row["language"], row["email"]) == ("parent", "es", None)
    assert row["best_time"] == "por las tardes después de las 5"


def test_salir_stops_the_spanish_form_and_nothing_is_stored(conversation, requests_db):
    conversation.ask("necesito una cita para mi hijo, ¿me pueden llamar?")
    conversation.ask("/contact_new_appointment")
    assert conversation.ask("salir") == ["utter_callback_cancelled"]
    assert "nada" in conversation.last_messages[-1]["text"].lower()
    assert stored_for(requests_db, conversation) == []


def test_a_false_alarm_in_the_form_does_not_end_it(conversation, requests_db):
    up_to_the_best_time(conversation)
    replies = conversation.ask("any time, it's an emergency only if you call at night")
    assert replies[0] == "utter_emergency" and replies[-1] == "utter_ask_best_time"
    assert conversation.ask("weekday mornings") == ["utter_ask_consent"]
    assert conversation.ask("yes") == ["utter_callback_saved"]
    assert [row["best_time"] for row in stored_for(requests_db, conversation)] == [
        "weekday mornings"
    ]
