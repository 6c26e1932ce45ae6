"""The callback request: validating what a family types, then storing it before confirming.

The form asks one thing at a time (domain.yml `callback_form`). Only what staff need to call back
and route the request is kept; the treating hospital is asked for second opinions and referrals
only, the country for families abroad only. A request is confirmed with its reference only after
the database committed it; if storing fails, the family is told plainly and given the phone line.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.callbacks.form import CANCEL_ACTION, FORM, FORM_SLOTS, SUBMIT_ACTION
from bot.callbacks.store import CallbackRequest, RequestStore, StorageError, default_store
from bot.center.config import center_config
from bot.nlu import language, safety

logger = logging.getLogger(__name__)

# Asked only for the request types that need them.
CONDITIONAL_SLOTS = {
    "treating_hospital": {"second_opinion", "referral"},
    "country": {"international"},
}
SKIP_EMAIL = "skipped"
# English and Spanish: the form reads both, whatever the conversation's language.
_SKIP_WORDS = {
    "skip",
    "no",
    "none",
    "no thanks",
    "no email",
    "n/a",
    "na",
    "-",
    "nope",
    "omitir",
    "saltar",
    "no gracias",
    "no tengo",
    "no tengo correo",
    "sin correo",
    "ninguno",
}
_RELATIONSHIPS = {
    "parent": {
        "parent",
        "mom",
        "mum",
        "mother",
        "dad",
        "father",
        "mommy",
        "daddy",
        "stepmom",
        "stepdad",
        "stepmother",
        "stepfather",
        "mama",
        "papa",
        "madre",
        "padre",
        "mami",
        "papi",
        "madrastra",
        "padrastro",
        "la mama",
        "el papa",
    },
    "guardian": {
        "guardian",
        "legal guardian",
        "foster parent",
        "grandmother",
        "grandfather",
        "grandma",
        "grandpa",
        "aunt",
        "uncle",
        "caregiver",
        "carer",
        "tutor",
        "tutora",
        "tutor legal",
        "abuela",
        "abuelo",
        "tia",
        "tio",
        "cuidador",
        "cuidadora",
        "madre de crianza",
        "padre de crianza",
    },
    "physician": {
        "physician",
        "doctor",
        "oncologist",
        "dr",
        "referring physician",
        "the child's doctor",
        "nurse practitioner",
        "pediatrician",
        "medico",
        "medica",
        "doctora",
        "oncologo",
        "oncologa",
        "pediatra",
        "el doctor",
        "la doctora",
    },
}
MAX_TEXT = 100

# A message interrupts the form instead of answering it when a safety pattern matched it, when
# the classifier is sure enough it is a safety message, "stop" or "why", or when it is clearly a
# question (a topic intent at QUESTION_CONFIDENCE, or a question mark). Everything else is an
# answer: the classifier guesses "fever" at about 0.55 for a phone number or "evenings after 6",
# and such answers must not be lost.
INTERRUPTING_INTENTS = {
    *safety.SAFETY_INTENTS,
    "stop_form",
    "ask_why_needed",
    language.SWITCH_INTENT,
}
INTERRUPT_CONFIDENCE = 0.7
QUESTION_CONFIDENCE = 0.8


def is_answer(
    text: str, intent: str | None, confidence: float, shaped: bool = False, pattern: bool = False
) -> bool:
    """Whether a message inside the form answers the question asked.

    Args:
        text: what the family typed.
        intent: the NLU intent of the message.
        confidence: its confidence.
        shaped: the text has the shape of the answer (a phone number when asked for one).
        pattern: a safety pattern (bot.nlu.safety) set the intent.

    """
    if pattern:
        return False
    if shaped:
        return True
    if intent in INTERRUPTING_INTENTS and confidence >= INTERRUPT_CONFIDENCE:
        return False
    is_question = (intent or "").startswith(QUESTION_PREFIXES) and (
        confidence >= QUESTION_CONFIDENCE or text.rstrip().endswith("?")
    )
    return not is_question


# Intents that are questions: about the page's topics, or ones the page is silent on.
QUESTION_PREFIXES = ("ask_", "not_covered_")

_TIME_WORDS = re.compile(
    r"\b(?:mornings?|afternoons?|evenings?|nights?|tonight|noon|midday|lunch(?:time)?|"
    r"weekdays?|weekends?|school days?|(?:mon|tues?|wednes|thurs?|fri|satur|sun)(?:day)?s?|"
    r"today|tomorrow|any ?time|asap|o'?clock)\b"
    r"|\b\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)"
    r"|\b(?:after|before|between|around|from|until|till|by|at)\s+\d{1,2}\b"
    # Spanish (the text is folded first: no accents).
    r"|\b(?:mananas?|tardes?|noches?|mediodia|entre semana|fines? de semana|"
    r"lunes|martes|miercoles|jueves|viernes|sabados?|domingos?|hoy|cualquier hora)\b"
    r"|\b(?:despues de|antes de|entre|a partir de|de)\s+(?:las?\s+)?\d{1,2}\b"
    r"|\ba las?\s+\d{1,2}\b",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^\s*(?:what|how|why|when|where|who|which|can|could|is|are|does|do|will|should|"
    r"como|cuando|donde|quien|cual|por que|puedo|puede)\b|^\s*¿",
    re.IGNORECASE,
)
# Replies that answer the consent question, not "when should we call".
_NOT_A_TIME = {
    "yes",
    "yeah",
    "yep",
    "y",
    "no",
    "nope",
    "n",
    "ok",
    "okay",
    "sure",
    "si",
    "claro",
    "vale",
    "dale",
}


def looks_like_a_time(text: str) -> bool:
    """Whether a reply reads as a time to call ("after 5pm on weekdays"), not a question.

    The classifier reads "days" or a number as a question about the stay or a fever; when the
    form asks for the best time, a reply with a time in it is the answer.
    """
    text = language.fold(text)
    if text.rstrip().endswith("?") or _QUESTION_START.match(text):
        return False
    return _TIME_WORDS.search(text) is not None


def normalise_relationship(text: str) -> str | None:
    """Maps what a family types ("I'm her mom") to parent, guardian or physician."""
    words = re.sub(r"[^a-z' ]", " ", language.fold(text))
    for relationship, names in _RELATIONSHIPS.items():
        if any(re.search(rf"\b{re.escape(name)}\b", words) for name in names):
            return relationship
    return None


def normalise_phone(text: str, region: str) -> str | None:
    """E.164 form of a valid number (national numbers read in the center's region), else None."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(text: str) -> str | None:
    """The normalised address, `SKIP_EMAIL` when the family declines, or None when invalid."""
    if language.fold(text).strip().strip(".!¡") in _SKIP_WORDS:
        return SKIP_EMAIL
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def short_text(text: Any) -> str | None:
    """A trimmed free-text answer of reasonable length, else None."""
    value = " ".join(str(text or "").split())
    return value if 0 < len(value) <= MAX_TEXT else None


class ValidateCallbackForm(FormValidationAction):
    """Checks each answer as it comes; a rejected answer is asked for again with a reason."""

    def name(self) -> str:
        """The validation action Rasa runs for `callback_form`."""
        return "validate_callback_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Drops the hospital and country questions when the request type does not need them."""
        request_type = tracker.get_slot("request_type")
        return [
            slot
            for slot in domain_slots
            if slot not in CONDITIONAL_SLOTS or request_type in CONDITIONAL_SLOTS[slot]
        ]

    def _answer(self, slot: str, tracker: Tracker, shaped: bool = False) -> dict[str, Any]:
        """The latest message as the answer for `slot`, when the form is asking for it."""
        if tracker.get_slot("requested_slot") != slot:
            return {}
        text = tracker.latest_message.get("text") or ""
        intent = tracker.latest_message.get("intent") or {}
        pattern = intent.get("source") == safety.PATTERN_SOURCE
        if is_answer(text, intent.get("name"), intent.get("confidence") or 0.0, shaped, pattern):
            return {slot: text}
        return {}

    async def extract_relationship(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Who the caller is to the child ("I'm his mom" counts even if NLU heard a question)."""
        text = tracker.latest_message.get("text") or ""
        return self._answer("relationship", tracker, normalise_relationship(text) is not None)

    async def extract_contact_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The name to ask for."""
        return self._answer("contact_name", tracker)

    async def extract_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The number to call (anything that parses as one counts)."""
        text = tracker.latest_message.get("text") or ""
        region = center_config().phone_region
        return self._answer("phone", tracker, normalise_phone(text, region) is not None)

    async def extract_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """An address, or "skip"."""
        text = tracker.latest_message.get("text") or ""
        return self._answer("email", tracker, normalise_email(text) is not None)

    async def extract_best_time(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """When to call (a reply with a time in it counts even if NLU heard a question)."""
        text = tracker.latest_message.get("text") or ""
        return self._answer("best_time", tracker, looks_like_a_time(text))

    async def extract_treating_hospital(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The hospital treating the child now."""
        return self._answer("treating_hospital", tracker)

    async def extract_country(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Where a family abroad lives."""
        return self._answer("country", tracker)

    def validate_relationship(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Parent, guardian or physician."""
        relationship = normalise_relationship(str(value or ""))
        if relationship is None:
            dispatcher.utter_message(response="utter_invalid_relationship")
        return {"relationship": relationship}

    def validate_contact_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A short name with at least one letter."""
        name = short_text(value)
        if name is None or not re.search(r"[^\W\d_]", name):
            dispatcher.utter_message(response="utter_invalid_contact_name")
            return {"contact_name": None}
        return {"contact_name": name}

    def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A valid number, kept in E.164 form; international numbers are welcome."""
        phone = normalise_phone(str(value or ""), center_config().phone_region)
        if phone is None:
            dispatcher.utter_message(response="utter_invalid_phone")
        return {"phone": phone}

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """An address that parses, or "skip"."""
        email = normalise_email(str(value or ""))
        if email is None:
            dispatcher.utter_message(response="utter_invalid_email")
        return {"email": email}

    def _text(self, slot: str, value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        text = short_text(value)
        if text is None:
            dispatcher.utter_message(response="utter_invalid_text")
        return {slot: text}

    def validate_best_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Free text, kept short; a bare "yes" or "ok" is no time and is asked again."""
        if language.fold(str(value or "")).strip().strip(".!¡") in _NOT_A_TIME:
            dispatcher.utter_message(response="utter_invalid_best_time")
            return {"best_time": None}
        return self._text("best_time", value, dispatcher)

    def validate_treating_hospital(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Free text, kept short."""
        return self._text("treating_hospital", value, dispatcher)

    def validate_country(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Free text, kept short."""
        return self._text("country", value, dispatcher)


def _reset() -> list[EventType]:
    """Clears the form's answers so nothing personal lingers in the conversation state."""
    return [SlotSet(slot, None) for slot in FORM_SLOTS]


def request_from(tracker: Tracker) -> CallbackRequest:
    """The request as the store keeps it, from the form's slots."""
    email = tracker.get_slot("email")
    return CallbackRequest(
        request_type=tracker.get_slot("request_type") or "other",
        relationship=tracker.get_slot("relationship"),
        name=tracker.get_slot("contact_name"),
        phone=tracker.get_slot("phone"),
        best_time=tracker.get_slot("best_time"),
        consent=bool(tracker.get_slot("consent")),
        email=None if email in (None, SKIP_EMAIL) else email,
        treating_hospital=tracker.get_slot("treating_hospital"),
        country=tracker.get_slot("country"),
        conversation=tracker.sender_id,
        language=language.of_slot(tracker.get_slot(language.SLOT)),
    )


def submission_key(tracker: Tracker) -> str | None:
    """One key per filled-in form: the conversation and the moment the form was (re)started.

    A consent sent again (the page gave up waiting and the family tapped "yes" once more, or
    Twilio retried) comes with the same key, so the store keeps one request and the retry is
    told its reference. A new request later in the conversation starts the form anew: new key.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") == FORM:
            stamp = event.get("timestamp")
            return None if stamp is None else f"{tracker.sender_id}:{stamp}"
    return None


class ActionSubmitCallback(Action):
    """Stores the request, then confirms it; never confirms what was not stored."""

    def __init__(self, store: RequestStore | None = None) -> None:
        """The store is opened on first use, so the action server starts without a database."""
        self._store = store

    def name(self) -> str:
        """Run by the rule that follows a completed `callback_form`."""
        return SUBMIT_ACTION

    def store(self) -> RequestStore:
        """The configured request store (SQLite by default)."""
        if self._store is None:
            self._store = default_store()
        return self._store

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Saves in a worker thread (the database client blocks) and answers with the outcome."""
        if not tracker.get_slot("consent"):
            dispatcher.utter_message(response="utter_callback_no_consent")
            return _reset()
        try:
            store = self.store()
            reference, stored_now = await asyncio.get_running_loop().run_in_executor(
                None, store.save_once, request_from(tracker), submission_key(tracker)
            )
        except StorageError:
            logger.exception("callback request not stored")
            dispatcher.utter_message(response="utter_callback_not_saved")
            return _reset()
        if not stored_now:
            logger.info("callback consent repeated; the stored request's reference is given")
        dispatcher.utter_message(response="utter_callback_saved", callback_reference=reference)
        return [*_reset(), SlotSet("callback_reference", reference)]


class ActionCancelCallback(Action):
    """Cancels the form on "stop" or "never mind": nothing is stored, answers are forgotten."""

    def name(self) -> str:
        """Run by the cancel rule after the form is deactivated."""
        return CANCEL_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Confirms that nothing was saved."""
        dispatcher.utter_message(response="utter_callback_cancelled")
        return _reset()


class ActionExplainRequestedSlot(Action):
    """Answers "why do you need that?" for whatever the form is asking right now."""

    def name(self) -> str:
        """Run by the "why" rule inside the form."""
        return "action_explain_requested_slot"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Sends `utter_why_<slot>` for the requested slot."""
        slot = tracker.get_slot("requested_slot")
        response = f"utter_why_{slot}"
        if response in domain.get("responses", {}):
            dispatcher.utter_message(response=response)
        return []
