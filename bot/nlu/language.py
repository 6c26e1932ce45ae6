"""Which language a family writes in: English or Spanish.

A family's language is kept per conversation (the `language` slot, set by
`bot.runtime.language_slot`) and changes only when a message says so clearly:

- an explicit request ("en español", "in English", "¿habla español?", the SMS keywords
  ESPANOL / ENGLISH) switches at once;
- otherwise a message of at least `MIN_WORDS` words (not counting words both languages share,
  such as "MIBG" or "neuroblastoma") that lingua reads as the other language with at least
  `MIN_CONFIDENCE` (`MIN_CONFIDENCE_LONG` from `LONG_WORDS` words on) switches; a few
  unmistakable Spanish greetings ("hola", "gracias") switch too;
- short or mixed messages ("ok", "si", "mibg", "el port de mi hija") keep the current language,
  because a detector is unreliable on them.

lingua (Apache-2.0) ships its models inside the wheel, and restricted to English and Spanish it
never reads anything from the network. This module imports nothing from Rasa: the SMS channel
and the action server can use it too.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import regex

ENGLISH = "en"
SPANISH = "es"
LANGUAGES = (ENGLISH, SPANISH)
DEFAULT = ENGLISH
# The conversation's language, as the slot in domain.yml names it.
SLOT = "language"
# The key under which a channel passes the opening message's language to the session start.
METADATA_KEY = "language"
# The intent of an explicit request to change language.
SWITCH_INTENT = "switch_language"

MIN_WORDS = 2
MIN_CONFIDENCE = 0.8
# From this many words on, a lower confidence is enough: lingua is surer on longer text.
LONG_WORDS = 4
MIN_CONFIDENCE_LONG = 0.7


def fold(text: str) -> str:
    """Lower case without accents, so that "Recaída" and "recaida" compare equal (ñ kept)."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("ñ", "\0"))
    stripped = "".join(char for char in decomposed if unicodedata.category(char) != "Mn")
    return unicodedata.normalize("NFC", stripped).replace("\0", "ñ")


_POLITE = r"(?:\s+(?:por\s*favor|porfa|porfavor|x\s*fa(?:vor)?|please|pls|plz))?"
_SPANISH_WORD = r"(?:espanol|español|espanish|spanish|espaniol|castellano)"
_ENGLISH_WORD = r"(?:english|ingles|inglés|englis|engles)"


def _whole(*alternatives: str) -> regex.Pattern[str]:
    body = "|".join(alternatives)
    return regex.compile(rf"^\s*(?:{body}){_POLITE}\s*$", regex.IGNORECASE)


_TO_SPANISH = _whole(
    rf"(?:en|in)?\s*{_SPANISH_WORD}",
    rf"(?:(?:se\s+)?habla(?:s|n)?|hablan|puede(?:s|n)?\s+hablar|quiero\s+(?:hablar|leer|seguir)|"
    rf"prefiero|cambia(?:r)?\s+a|contesta(?:me)?|respond(?:e|a)(?:me)?)\s+(?:en\s+)?{_SPANISH_WORD}",
    rf"(?:do|can|could)\s+you\s+(?:speak|write|talk|answer|reply|respond)\s+(?:in\s+)?{_SPANISH_WORD}",
    rf"(?:switch|change)\s+to\s+{_SPANISH_WORD}",
    rf"(?:i\s+)?(?:speak|prefer)\s+{_SPANISH_WORD}",
)
_TO_ENGLISH = _whole(
    rf"(?:en|in)?\s*{_ENGLISH_WORD}",
    rf"(?:(?:se\s+)?habla(?:s|n)?|puede(?:s|n)?\s+hablar|quiero\s+(?:hablar|leer|seguir)|"
    rf"prefiero|cambia(?:r)?\s+a|contesta(?:me)?|respond(?:e|a)(?:me)?)\s+(?:en\s+)?{_ENGLISH_WORD}",
    rf"(?:do|can|could)\s+you\s+(?:speak|write|talk|answer|reply|respond)\s+(?:in\s+)?{_ENGLISH_WORD}",
    rf"(?:switch|change)\s+(?:back\s+)?to\s+{_ENGLISH_WORD}",
    rf"(?:i\s+)?(?:speak|prefer)\s+{_ENGLISH_WORD}",
)
# One-word or two-word messages that are Spanish whatever a detector says of them.
_SPANISH_GREETINGS = frozenset(
    {
        "hola",
        "holaa",
        "ola",
        "gracias",
        "muchas gracias",
        "buenas",
        "buenos dias",
        "buenas tardes",
        "buenas noches",
        "adios",
        "ayuda",
        "ayudenme",
        "ayudame",
    }
)
_WORD = regex.compile(r"[\p{L}']+")
# Words both languages' families use alike: they say nothing about the language.
_NEUTRAL = frozenset(
    {
        "mibg",
        "i",
        "neuroblastoma",
        "nant",
        "cog",
        "port",
        "scan",
        "scans",
        "chemo",
        "quimio",
        "irinotecan",
        "temozolomide",
        "ok",
        "okay",
        "dr",
        "mri",
        "ct",
        "pet",
    }
)


@dataclass(frozen=True)
class Reading:
    """What one message says about the family's language."""

    language: str
    confidence: float
    explicit: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The form kept in the message's parse data."""
        return {"name": self.language, "confidence": self.confidence, "explicit": self.explicit}


def requested(text: str) -> str | None:
    """The language an explicit request asks for ("en español", "ENGLISH"), or None."""
    cleaned = regex.sub(r"[¿?¡!.,:;\"']", " ", text or "")
    if _TO_SPANISH.match(cleaned):
        return SPANISH
    if _TO_ENGLISH.match(cleaned):
        return ENGLISH
    return None


@lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.SPANISH).build()


@lru_cache(maxsize=256)
def _detected(text: str) -> tuple[str, float]:
    """Lingua's likelier language of the two, with its confidence.

    Cached: each message is read twice (by its channel, for the disclaimer of a session it
    opens, and by the NLU pipeline), and lingua's reading was 9% of the server's time. The two
    readings are a few messages apart, so the cache is small: what families typed is not kept
    in memory longer than the job needs.
    """
    values = _detector().compute_language_confidence_values(text)
    best = values[0]
    code = SPANISH if best.language.name == "SPANISH" else ENGLISH
    return code, float(best.value)


def read(text: str) -> Reading | None:
    """The language a message asks for or is clearly written in; None when it is not clear."""
    asked = requested(text)
    if asked is not None:
        return Reading(asked, 1.0, explicit=True)
    if " ".join(_WORD.findall(fold(text or ""))) in _SPANISH_GREETINGS:
        return Reading(SPANISH, 1.0)
    # Accents are kept for the detector: they are among the surest signs of Spanish.
    words = [word for word in _WORD.findall((text or "").lower()) if word not in _NEUTRAL]
    if len(words) < MIN_WORDS:
        return None
    language, confidence = _detected(" ".join(words))
    needed = MIN_CONFIDENCE if len(words) < LONG_WORDS else MIN_CONFIDENCE_LONG
    if confidence < needed:
        return None
    return Reading(language, round(confidence, 3))


def metadata_for(text: str) -> dict[str, str]:
    """What a channel adds to a message's metadata: its language, when clear (else nothing).

    Not for a button's payload ("/ask_mibg"), which is no text the family wrote.
    """
    if text.startswith("/"):
        return {}
    reading = read(text)
    return {METADATA_KEY: reading.language} if reading is not None else {}


def of_variation(variation: Mapping[str, Any]) -> str:
    """The language of a domain response variation: its `language` slot condition, or English."""
    for condition in variation.get("condition") or []:
        if condition.get("type") == "slot" and condition.get("name") == SLOT:
            return str(condition.get("value"))
    return DEFAULT


def of_slot(value: Any) -> str:
    """A slot value as one of LANGUAGES (an unset or unknown value is the default)."""
    return value if value in LANGUAGES else DEFAULT
