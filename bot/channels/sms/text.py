"""Text messages that read well on a phone: pure functions, no I/O.

An SMS is sent in segments of 160 GSM-7 characters (153 each when a message needs several), or
70 UCS-2 characters (67 each) as soon as one character is outside GSM-7. So the assistant's
answers are first normalised to GSM-7 (curly quotes, dashes, ellipses; emoji are dropped), then
packed at sentence boundaries into at most three messages of at most three segments each.
Buttons become one numbered list ("Reply 1 for ..."), and a reply such as "1", "1." or "one"
maps back to that button's payload; payloads are never shown. The carrier keywords (STOP,
START, HELP, ...) and the channel's own short texts live here too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.channels.buttons import Button

# GSM 03.38: the basic character set (one septet each) and the extension table (two septets:
# an escape, then the character). Escape itself is not a character a message may contain.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
MAX_SEGMENTS = 3
MAX_MESSAGES = 3
# Twilio refuses a message body longer than this.
MAX_BODY = 1600

# Carrier keywords (CTIA, Twilio's defaults). YES only opts back in a number that opted out.
SPANISH_OPT_OUT_KEYWORDS = frozenset({"PARAR", "CANCELAR"})
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", *SPANISH_OPT_OUT_KEYWORDS}
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
# Not a carrier keyword: the assistant's own "forget me" (bot.channels.sms.channel).
# BORRAR ("delete") is its Spanish word.
FORGET_KEYWORDS = frozenset({"FORGET", "FORGETME", "BORRAR"})

# The channel's own texts. Placeholders are center details (bot/center/center.yml), never literals.
HELP_TEXT = (
    "{program_name}, {center_name}: automated answers, not medical advice. "
    "Patients' families call {phone_existing_patients}. "
    "New appointments call {phone_new_appointments}. "
    "Emergency: call {emergency_number}. Reply STOP to opt out, FORGET to delete this chat."
)
OPT_OUT_TEXT = (
    "You will get no more texts from the {program_name}. Reply START to opt back in. "
    "Care team: {phone_existing_patients}. Emergency: call {emergency_number}."
)
OPT_IN_TEXT = (
    "You can text the {program_name} assistant again. Send a question any time. "
    "Reply HELP for help, STOP to opt out."
)
RATE_LIMIT_TEXT = (
    "You sent many texts in a short time. Please wait a minute, then try again. "
    "Emergency: call {emergency_number}."
)
FORGET_TEXT = (
    "This conversation was deleted from the {program_name} assistant. A callback request you "
    "already sent is kept, so staff can call you back. Emergency: call {emergency_number}."
)
CANNOT_FORGET_TEXT = (
    "This conversation could not be deleted by text. Please call {phone_existing_patients} and "
    "we will do it. Emergency: call {emergency_number}."
)
EMPTY_TEXT = "I can only read text. Please type your question. Emergency: call {emergency_number}."
CHANNEL_TEXTS = {
    "help": HELP_TEXT,
    "opt_out": OPT_OUT_TEXT,
    "opt_in": OPT_IN_TEXT,
    "rate_limit": RATE_LIMIT_TEXT,
    "empty": EMPTY_TEXT,
    "forget": FORGET_TEXT,
    "cannot_forget": CANNOT_FORGET_TEXT,
}
# The same in Spanish (translation: needs_review, as domain.yml's Spanish responses). They keep
# their accents, so they go as UCS-2: each must fit one message of 3 segments (201 characters).
SPANISH_CHANNEL_TEXTS = {
    "help": (
        "{program_name}: respuestas automáticas, no consejo médico. Familias de pacientes: "
        "{phone_existing_patients}. Citas: {phone_new_appointments}. Emergencia: "
        "{emergency_number}. PARAR: no más textos. BORRAR: borra el chat."
    ),
    "opt_out": (
        "No recibirá más textos del {program_name}. Responda START para volver. Equipo médico: "
        "{phone_existing_patients}. Emergencia: llame al {emergency_number}."
    ),
    "opt_in": (
        "Puede volver a escribir al asistente del {program_name}. Responda HELP para ayuda, "
        "PARAR para no recibir más textos."
    ),
    "rate_limit": (
        "Envió muchos textos en poco tiempo. Espere un minuto y vuelva a intentarlo. "
        "Emergencia: llame al {emergency_number}."
    ),
    "empty": "Solo puedo leer texto. Escriba su pregunta. Emergencia: llame al {emergency_number}.",
    "forget": (
        "Se borró esta conversación del asistente. Si envió una solicitud de llamada, se guarda "
        "para que le llamen. Emergencia: llame al {emergency_number}."
    ),
    "cannot_forget": (
        "No se pudo borrar esta conversación por texto. Llame al {phone_existing_patients} y lo "
        "haremos. Emergencia: llame al {emergency_number}."
    ),
}

_REPLACEMENTS = {
    **dict.fromkeys("‘’‚‛′`´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−", "-"),
    "…": "...",
    "•": "-",
    "·": "-",
    "×": "x",
    "÷": "/",
    "©": "(c)",
    "®": "(R)",
    "™": "(TM)",
    "°": " degrees ",
    **dict.fromkeys("\u00a0\u2002\u2003\u2007\u2009\u202f\t", " "),
}
# Emoji and other pictographs, their modifiers and joiners: dropped, not sent as UCS-2.
_DROPPED_CATEGORIES = frozenset({"So", "Sk", "Cs", "Co", "Cf", "Mn", "Me", "Cc"})
_SPACES = re.compile(r"[ ]{2,}")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" +([.,;:!?])")
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')]))\s+")
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_CHOICE = re.compile(r"^(?:#|no\.?|number|option)?\s*(\d{1,2}|[a-z]+)\s*[.)!]?$")


@dataclass(frozen=True)
class SmsReply:
    """The texts to send for one incoming message, and the buttons its numbers stand for."""

    messages: list[str]
    buttons: list[Button] = field(default_factory=list)


def to_gsm7(text: str, keep_letters: bool = False) -> str:
    """The text with typographic characters replaced and emoji removed, GSM-7 where possible.

    Characters with no GSM-7 form (a Chinese name, say) are kept; `segment_count` then counts
    the message as UCS-2. With `keep_letters` (Spanish: "día", "también"), accented letters are
    kept too, and the text goes as UCS-2: an accent changes a Spanish word ("año", "papá").
    """
    out: list[str] = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENDED:
            out.append(char)
        elif char in _REPLACEMENTS:
            out.append(_REPLACEMENTS[char])
        elif unicodedata.category(char) in _DROPPED_CATEGORIES:
            continue
        elif keep_letters and unicodedata.category(char).startswith("L"):
            out.append(char)
        else:
            base = unicodedata.normalize("NFKD", char)
            base = "".join(c for c in base if not unicodedata.combining(c))
            out.append(base if base and all(c in GSM7_BASIC for c in base) else char)
    lines = [
        _SPACE_BEFORE_PUNCTUATION.sub(r"\1", _SPACES.sub(" ", line)).strip()
        for line in "".join(out).split("\n")
    ]
    return "\n".join(lines).strip()


def is_gsm7(text: str) -> bool:
    """Whether every character can be sent in GSM-7."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text)


def _units(text: str) -> list[int]:
    """The size of each character in its encoding: septets for GSM-7, UTF-16 units for UCS-2."""
    if is_gsm7(text):
        return [2 if char in GSM7_EXTENDED else 1 for char in text]
    return [len(char.encode("utf-16-le")) // 2 for char in text]


def segment_count(text: str) -> int:
    """How many SMS segments the text is sent in (0 for an empty text).

    A character is never split between segments (an escaped GSM-7 character or a UTF-16
    surrogate pair goes whole into the next segment), as phones and gateways do.
    """
    units = _units(text)
    single, part = (GSM7_SINGLE, GSM7_PART) if is_gsm7(text) else (UCS2_SINGLE, UCS2_PART)
    if not units:
        return 0
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for size in units:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return segments


def fits(text: str, max_segments: int = MAX_SEGMENTS) -> bool:
    """Whether the text goes out in at most `max_segments` segments."""
    return segment_count(text) <= max_segments


def split_sentences(text: str) -> list[str]:
    """The text's sentences, split after `.`, `!` or `?` (and a closing quote) and a space."""
    return [part for part in _SENTENCE_END.split(text.strip()) if part]


def numbered_list(buttons: Sequence[Button], spanish: bool = False) -> str:
    """One line per button, "Reply 1 for <title>"; the payloads are never shown.

    In Spanish, "Responda 1: <title>", with the title's accents kept.
    """
    line = "Responda {number}: {title}" if spanish else "Reply {number} for {title}"
    return "\n".join(
        line.format(number=number, title=to_gsm7(button["title"], keep_letters=spanish))
        for number, button in enumerate(buttons, start=1)
    )


def choice_number(text: str) -> int | None:
    """The number a reply such as "1", "1.", "#2" or "three" picks, or None."""
    match = _CHOICE.match(text.strip().lower())
    if not match:
        return None
    word = match.group(1)
    number = int(word) if word.isdigit() else _NUMBER_WORDS.get(word)
    return number or None


def chosen_payload(text: str, buttons: Sequence[Button]) -> str | None:
    """The payload of the button a numeric reply picks from the last list, or None."""
    number = choice_number(text)
    if number is None or not 1 <= number <= len(buttons):
        return None
    return buttons[number - 1]["payload"]


def keyword(text: str) -> str | None:
    """The carrier keyword the whole message is (case, spaces and end marks ignored), or None."""
    word = re.sub(r"\s+", "", text).strip(".!\"'").upper()
    if word in OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS | HELP_KEYWORDS | FORGET_KEYWORDS:
        return word
    return None


def fill(template: str, values: Mapping[str, str], keep_letters: bool = False) -> str:
    """A channel text with the center's details in place of its placeholders, as GSM-7."""
    return to_gsm7(template.format_map(values), keep_letters)


def _split_long(unit: str, ok: Callable[[str], bool]) -> list[str]:
    """A sentence too long for one message, cut between words (or, last resort, characters)."""
    pieces: list[str] = []
    current = ""
    for word in unit.split(" "):
        candidate = f"{current} {word}" if current else word
        if ok(candidate):
            current = candidate
            continue
        if current:
            pieces.append(current)
        while not ok(word):
            cut = len(word) - 1
            while cut > 1 and not ok(word[:cut]):
                cut -= 1
            pieces.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        pieces.append(current)
    return pieces


def _pieces(blocks: Sequence[str], ok: Callable[[str], bool], whole: bool) -> list[tuple[str, str]]:
    """(separator, text) pieces, each short enough for one message.

    With `whole`, a block that fits in one message is one piece, so it is never cut between
    two messages; otherwise prose is cut at sentence ends and a list between its lines.
    """
    pieces: list[tuple[str, str]] = []
    for block in blocks:
        if whole and ok(block):
            pieces.append(("\n\n", block))
            continue
        inner = "\n" if "\n" in block else " "
        units = block.split("\n") if inner == "\n" else split_sentences(block)
        separator = "\n\n"
        for unit in units:
            for part in [unit] if ok(unit) else _split_long(unit, ok):
                pieces.append((separator, part))
                separator = inner
    return pieces


def _pack(blocks: Sequence[str], ok: Callable[[str], bool], whole: bool) -> list[str]:
    """Pieces packed in order, each message taking as many as `ok` allows."""
    messages: list[str] = []
    for separator, text in _pieces(blocks, ok, whole):
        if messages and ok(messages[-1] + separator + text):
            messages[-1] += separator + text
        else:
            messages.append(text)
    return messages


def pack(
    blocks: Sequence[str], max_segments: int = MAX_SEGMENTS, max_messages: int = MAX_MESSAGES
) -> list[str]:
    """Texts packed into as few messages as possible, each within `max_segments` segments.

    Blocks (one per bot response, and the numbered list) are joined by a blank line. A block
    moves whole to the next message when that needs no more messages than cutting it at
    sentence ends (a list: between its lines) would. With more than one message, each starts
    with "(1/2) ", since a phone may show separate texts out of order.
    Nothing is dropped: should the texts need more than `max_messages` messages even so, the
    last one carries the rest, over the segment budget (tests/test_sms.py keeps every curated
    answer from doing so).

    Args:
        blocks: the texts in order, already normalised.
        max_segments: the segment budget of one message.
        max_messages: how many messages one reply may have.

    Returns:
        The message bodies, in order.

    """
    blocks = [block for block in blocks if block.strip()]
    room = "x" * len(f"({max_messages}/{max_messages}) ")

    def ok(text: str) -> bool:
        return fits(text, max_segments)

    def ok_numbered(text: str) -> bool:
        return fits(room + text, max_segments)

    def packed(whole: bool) -> list[str]:
        messages = _pack(blocks, ok, whole)
        return _pack(blocks, ok_numbered, whole) if len(messages) > 1 else messages

    # Fewest messages first; among packings as short, the one that keeps blocks whole.
    messages = min(packed(True), packed(False), key=len)
    if len(messages) <= 1:
        return messages
    if len(messages) > max_messages:
        rest = "\n\n".join(messages[max_messages - 1 :])
        messages = [*messages[: max_messages - 1], rest[: MAX_BODY - len(room)]]
    total = len(messages)
    return [f"({number}/{total}) {text}" for number, text in enumerate(messages, start=1)]


def format_reply(
    bot_messages: Iterable[Mapping[str, Any]],
    max_segments: int = MAX_SEGMENTS,
    max_messages: int = MAX_MESSAGES,
) -> SmsReply:
    """The SMS texts for the bot's messages to one incoming text.

    Texts are normalised to GSM-7; the buttons of all messages become one numbered list after
    the last text; images are sent as their link. Other content (custom JSON) has no SMS form
    and is left out.

    Args:
        bot_messages: messages as Rasa's collecting output channel holds them (`text`,
            `buttons`, `image`, ...).
        max_segments: the segment budget of one message.
        max_messages: how many messages the reply may have.

    Returns:
        The message bodies, and the buttons in the order of their numbers.

    """
    blocks: list[str] = []
    buttons: list[Button] = []
    spanish = False
    for message in bot_messages:
        # Spanish answers keep their accents (SmsOutput records each answer's language).
        keep_letters = message.get("language") == "es"
        spanish = keep_letters
        for key in ("text", "image", "attachment"):
            if message.get(key):
                blocks.append(to_gsm7(str(message[key]), keep_letters))
        for button in message.get("buttons") or []:
            if button.get("title") and button.get("payload"):
                buttons.append(Button(title=button["title"], payload=button["payload"]))
    if buttons:
        blocks.append(numbered_list(buttons, spanish))
    return SmsReply(messages=pack(blocks, max_segments, max_messages), buttons=buttons)
