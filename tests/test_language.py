"""The family's language: the reader, the slot kept inside the Rasa server, and what follows it
(the disclaimer of a new session, the answers' language mark, the fallback's buttons)."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from actions.fallback import topic_titles
from bot import paths
from bot.nlu import language
from bot.nlu.language_reader import LanguageReader
from bot.runtime.language_slot import ExtractSlotsAndLanguage
from bot.runtime.nlg import CenterResponses
from bot.runtime.session_start import SessionStartWithDisclaimer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mi hijo tiene fiebre", "es"),
        ("q es la recaida", "es"),
        ("el MIBG es peligroso?", "es"),
        ("cuanto dura el tratamiento con MIBG", "es"),
        ("hola", "es"),
        ("Gracias!", "es"),
        ("what is mibg", "en"),
        ("is the mibg room safe for siblings", "en"),
        ("my daughter is in spanish class", "en"),
        # Too short or mixed to tell: the conversation keeps its language.
        ("ok", None),
        ("si", None),
        ("no", None),
        ("mibg", None),
        ("el port de mi hija", "es"),
        ("mibg scan", None),
    ],
)
def test_the_reader_switches_only_on_clear_messages(text, expected):
    reading = language.read(text)
    assert (reading.language if reading else None) == expected
    assert reading is None or not reading.explicit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("en español por favor", "es"),
        ("¿Habla español?", "es"),
        ("ESPANOL", "es"),
        ("do you speak spanish", "es"),
        ("in English please", "en"),
        ("ENGLISH", "en"),
        ("inglés", "en"),
        ("can you answer in english?", "en"),
    ],
)
def test_explicit_requests(text, expected):
    assert language.requested(text) == expected
    assert language.read(text).explicit


@pytest.mark.parametrize("text", ["my son takes spanish lessons", "el inglés de mi hijo es bueno"])
def test_a_sentence_naming_a_language_is_no_request(text):
    assert language.requested(text) is None


def test_fold_drops_accents_but_keeps_enye():
    assert language.fold("Recaída, ¿Qué AÑO?") == "recaida, ¿que año?"


def test_the_reader_component_marks_requests_as_the_switch_intent():
    messages = [Message({TEXT: "en español"}), Message({TEXT: "que es la recaida"})]
    messages[0].set(INTENT, {"name": "greet", "confidence": 0.6})
    messages[1].set(INTENT, {"name": "ask_what_is_relapse", "confidence": 0.9})
    LanguageReader().process(messages)
    assert messages[0].get(INTENT)["name"] == language.SWITCH_INTENT
    assert messages[0].get(language.SLOT)["explicit"] is True
    assert messages[1].get(INTENT)["name"] == "ask_what_is_relapse"
    assert messages[1].get(language.SLOT)["name"] == "es"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(paths.DOMAIN))


def _tracker(
    domain: Domain, text: str, intent: str, slot: str | None = None
) -> DialogueStateTracker:
    events = [ActionExecuted("action_listen")]
    if slot:
        events.insert(0, SlotSet(language.SLOT, slot))
    reading = language.read(text)
    parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text}
    if reading:
        parse[language.SLOT] = reading.as_dict()
    events.append(UserUttered(text, parse["intent"], [], parse))
    return DialogueStateTracker.from_events("test", events, domain.slots)


def _extract(domain: Domain, tracker: DialogueStateTracker) -> tuple[list, CollectingOutputChannel]:
    output = CollectingOutputChannel()
    nlg = CenterResponses(domain=domain)
    events = asyncio.run(ExtractSlotsAndLanguage(None).run(output, nlg, tracker, domain))
    return events, output


def test_a_spanish_question_sets_the_slot_and_says_so_in_spanish(domain):
    events, _ = _extract(
        domain, _tracker(domain, "que es la recaida de neuroblastoma", "ask_what_is_relapse")
    )
    assert SlotSet(language.SLOT, "es") in events
    notes = [e for e in events if getattr(e, "text", None)]
    assert len(notes) == 1 and "español" in notes[0].text
    assert notes[0].metadata["metadata"]["language"] == "es"


def test_an_explicit_request_sets_the_slot_without_a_note(domain):
    events, _ = _extract(domain, _tracker(domain, "en español", language.SWITCH_INTENT))
    assert events == [SlotSet(language.SLOT, "es")]


def test_short_messages_keep_the_language(domain):
    events, _ = _extract(domain, _tracker(domain, "si", "affirm", slot="es"))
    assert not [e for e in events if isinstance(e, SlotSet) and e.key == language.SLOT]
    events, _ = _extract(domain, _tracker(domain, "what is mibg therapy", "ask_mibg", slot="es"))
    assert SlotSet(language.SLOT, "en") in events


def test_a_new_session_keeps_spanish_and_opens_in_spanish(domain):
    tracker = DialogueStateTracker.from_events(
        "test", [SlotSet(language.SLOT, "es"), ActionExecuted("action_listen")], domain.slots
    )
    nlg = CenterResponses(domain=domain)
    events = asyncio.run(
        SessionStartWithDisclaimer().run(CollectingOutputChannel(), nlg, tracker, domain)
    )
    started = next(i for i, e in enumerate(events) if isinstance(e, SessionStarted))
    assert events[started + 1] == SlotSet(language.SLOT, "es")
    assert "emergencia" in events[0].text


def test_answers_carry_their_language_and_spanish_needs_the_slot(domain):
    nlg = CenterResponses(domain=domain)
    english = nlg.generate_from_slots("utter_mibg", {language.SLOT: "en"}, "web")
    spanish = nlg.generate_from_slots("utter_mibg", {language.SLOT: "es"}, "web")
    assert english["metadata"]["language"] == "en"
    assert spanish["metadata"]["language"] == "es"
    assert "MIBG" in spanish["text"] and spanish["text"] != english["text"]
    sms = nlg.generate_from_slots("utter_ask_consent", {language.SLOT: "es"}, "sms")
    assert sms["metadata"]["language"] == "es" and "buttons" not in sms


def test_the_emergency_answer_in_spanish_gives_the_emergency_number(domain):
    nlg = CenterResponses(domain=domain)
    for name in ("utter_emergency", "utter_fever", "utter_crisis", "utter_distress"):
        text = nlg.generate_from_slots(name, {language.SLOT: "es"}, "web")["text"]
        assert "{" not in text, name
        assert "911" in text or "988" in text, name
    crisis = nlg.generate_from_slots("utter_crisis", {language.SLOT: "es"}, "web")["text"]
    assert "marque 2" in crisis and "AYUDA" in crisis


def test_fallback_buttons_are_in_the_conversations_language(domain):
    raw = Domain.load(str(paths.DOMAIN)).as_dict()
    english, spanish = topic_titles(raw, "en"), topic_titles(raw, "es")
    assert set(english) == set(spanish)
    assert english["ask_mibg"] != spanish["ask_mibg"]


def test_the_opening_messages_language_opens_the_session(domain):
    from rasa.shared.core.constants import SESSION_START_METADATA_SLOT

    from bot.runtime.session_start import session_language

    events = [SlotSet(SESSION_START_METADATA_SLOT, language.metadata_for("hola, tengo una duda"))]
    tracker = DialogueStateTracker.from_events("test", events, domain.slots)
    assert session_language(tracker, domain) == "es"
    assert language.metadata_for("/ask_mibg") == {}
    assert language.metadata_for("ok") == {}
