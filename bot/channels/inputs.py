"""What every channel checks before Rasa sees a message: the sender id and the text.

A lone surrogate ("\udfff", which JSON can carry) is not text any database can store, a sender id
is a key into the conversation store, and a megabyte of text holds the NLU pipeline for seconds
while other families wait. Each check names what is wrong in words a person can act on; the
channel answers with a 4xx and Rasa never runs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TypeGuard

from bot.nlu import safety

MAX_SENDER_LENGTH = 128
# Printable ASCII without spaces or quotes: what a conversation id from any client looks like.
_SENDER = re.compile(r"[A-Za-z0-9._:@+=-]+")
# A message that names an emergency, fever or crisis is answered even past the length limit (up
# to this many times it): refusing it would be the worst answer.
SAFETY_LENGTH_FACTOR = 10


@dataclass(frozen=True)
class Refusal(Exception):
    """A message that is not passed to Rasa: an HTTP status, a reason code and a sentence."""

    status: int
    error: str
    message: str


def is_text(value: object) -> TypeGuard[str]:
    """Whether the value is a string that UTF-8 can encode (no lone surrogates, no NUL)."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_sender(value: object) -> str:
    """The sender id as given, when it is a short run of printable ASCII.

    Raises:
        Refusal: it is missing, not a string, too long or has other characters.

    """
    if not isinstance(value, str) or not value:
        raise Refusal(400, "bad_sender", "The request needs a sender: a conversation id.")
    if len(value) > MAX_SENDER_LENGTH or not _SENDER.fullmatch(value):
        raise Refusal(
            400,
            "bad_sender",
            f"The sender must be at most {MAX_SENDER_LENGTH} letters, digits or . _ : @ + = -",
        )
    return value


def check_message(value: object, limit: int) -> str:
    """The message with control characters (other than line breaks and tabs) removed.

    A message over `limit` characters is refused unless it names an emergency, fever or crisis,
    which is answered up to `SAFETY_LENGTH_FACTOR` times the limit.

    Raises:
        Refusal: not text, empty, or too long.

    """
    if not is_text(value):
        raise Refusal(400, "bad_text", "The message is not readable text.")
    text = "".join(
        char for char in value if char in "\n\t" or unicodedata.category(char) != "Cc"
    ).strip()
    if not text:
        raise Refusal(400, "empty", "Please type your question first.")
    if len(text) > limit * SAFETY_LENGTH_FACTOR or (
        len(text) > limit and safety.detect(text[: limit * SAFETY_LENGTH_FACTOR]) is None
    ):
        raise Refusal(
            413,
            "too_long",
            f"Your message is too long ({len(text):,} characters). Please keep it under "
            f"{limit:,} characters, or send it in parts.",
        )
    return text
