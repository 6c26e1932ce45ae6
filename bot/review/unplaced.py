"""The messages the assistant could not place, read from the conversation store.

A family's message is unplaced when the assistant could not answer it from the page:

- `fallback`: the NLU was unsure (Rasa's FallbackClassifier set `nlu_fallback`) and the family
  did not take one of the offered topics;
- `something_else`: the family was offered two topics and answered "Something else";
- `chose_topic`: the family was unsure-read but then took an offered topic; kept because the
  message itself was not understood, and the topic it took is a label worth checking;
- `out_of_scope`: understood as a question the program does not answer.

The reading is one indexed query on Rasa's `events` table for the period (type and time), then
the events of the conversations it found, in order, to know what came next and whether a message
was an answer inside the callback form. Form answers (any message typed while the form asks a
question) are never review material: they are dropped, and the form's values, with those of any
stored callback request of the conversation, are masked in every other message
(bot.review.masking). Nothing is copied out of the store.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy.engine import Connection

from bot.callbacks.form import PERSONAL_SLOTS
from bot.nlu.language import SLOT as LANGUAGE_SLOT
from bot.review.masking import Masker, name_parts
from bot.runtime.tracker_store import REMOVED, REQUESTED_SLOT, scrub_last_form

EVENTS = SQLTrackerStore.SQLEvent.__table__

FALLBACK = "fallback"
SOMETHING_ELSE = "something_else"
CHOSE_TOPIC = "chose_topic"
OUT_OF_SCOPE = "out_of_scope"
REASONS = (FALLBACK, SOMETHING_ELSE, CHOSE_TOPIC, OUT_OF_SCOPE)

FALLBACK_INTENT = "nlu_fallback"
SOMETHING_ELSE_INTENT = "something_else"
OUT_OF_SCOPE_INTENT = "out_of_scope"
UNPLACED_INTENTS = (FALLBACK_INTENT, OUT_OF_SCOPE_INTENT)


@dataclass(frozen=True)
class Period:
    """A half-open time span [start, end), as Unix timestamps (Rasa's event time)."""

    start: float
    end: float

    @classmethod
    def between(cls, start: datetime, end: datetime) -> Period:
        """The period from `start` up to `end` (naive datetimes are UTC)."""
        return cls(_timestamp(start), _timestamp(end))


@dataclass(frozen=True)
class Unplaced:
    """One unplaced message, its text already masked."""

    event_id: int
    conversation: str
    timestamp: float
    text: str
    reason: str
    channel: str
    language: str
    # The topic the family took from the offered ones (reason `chose_topic`).
    chosen: str | None = None


@dataclass
class _Conversation:
    """What one conversation's events say about its unplaced messages."""

    messages: list[Unplaced] = field(default_factory=list)
    values: set[str] = field(default_factory=set)


def candidates(db: Connection, period: Period) -> dict[str, set[int]]:
    """Conversation id -> the ids of its messages in `period` read as fallback or out of scope."""
    query = sa.select(EVENTS.c.id, EVENTS.c.sender_id).where(
        EVENTS.c.type_name == "user",
        EVENTS.c.timestamp >= period.start,
        EVENTS.c.timestamp < period.end,
        EVENTS.c.intent_name.in_(UNPLACED_INTENTS),
    )
    found: dict[str, set[int]] = {}
    for event_id, sender in db.execute(query):
        found.setdefault(sender, set()).add(int(event_id))
    return found


def read(
    db: Connection,
    wanted: Mapping[str, set[int]],
    request_values: Mapping[str, Iterable[str]] | None = None,
) -> list[Unplaced]:
    """The unplaced messages among `wanted` (from `candidates`), oldest first, masked.

    `request_values`: conversation id -> the personal values of its stored callback requests
    (from the request store), masked too.
    """
    found: list[Unplaced] = []
    for conversation, ids in wanted.items():
        events = _events(db, conversation)
        extra = (request_values or {}).get(conversation, ())
        found.extend(_unplaced_in(conversation, events, ids, extra))
    return sorted(found, key=lambda message: message.event_id)


def _events(db: Connection, conversation: str) -> list[tuple[int, dict[str, Any]]]:
    query = (
        sa.select(EVENTS.c.id, EVENTS.c.data)
        .where(EVENTS.c.sender_id == conversation)
        .order_by(EVENTS.c.id)
    )
    return [(int(event_id), json.loads(data)) for event_id, data in db.execute(query)]


def _unplaced_in(
    conversation: str,
    rows: list[tuple[int, dict[str, Any]]],
    wanted: set[int],
    request_values: Iterable[str],
) -> Iterator[Unplaced]:
    """The wanted messages of one conversation, as the family left them: masked and labelled."""
    events = [copy.deepcopy(event) for _, event in rows]
    # A form still open: its answers are hidden exactly as they will be once it ends.
    scrub_last_form(events)
    values = set(_personal_values(rows))
    for value in request_values:
        values.update(name_parts(value))
    masker = Masker(values)
    language = "en"
    requested: str | None = None
    ids = [row[0] for row in rows]
    for index, (event_id, event) in enumerate(zip(ids, events, strict=True)):
        kind = event.get("event")
        if kind == "slot" and event.get("name") == LANGUAGE_SLOT and event.get("value"):
            language = str(event["value"])
        elif kind == "slot" and event.get("name") == REQUESTED_SLOT:
            requested = event.get("value")
        elif kind == "active_loop" and event.get("name") is None:
            requested = None
        elif kind == "user" and event_id in wanted:
            text = str(event.get("text") or "")
            # Inside the form, what the NLU could not place is an answer the form took by its
            # shape ("parent", a name, "mornings"): not a question, and often personal.
            if text == REMOVED or requested is not None or text.startswith("/"):
                continue
            reason, chosen = _what_came_next(event, events[index + 1 :])
            yield Unplaced(
                event_id=event_id,
                conversation=conversation,
                timestamp=float(event.get("timestamp") or 0.0),
                text=masker.mask(text),
                reason=reason,
                channel=str(event.get("input_channel") or "unknown"),
                language=_language_of(event, language),
                chosen=chosen,
            )


def _personal_values(rows: list[tuple[int, dict[str, Any]]]) -> Iterator[str]:
    """The personal slot values set in the conversation (before the form forgot them)."""
    for _, event in rows:
        if event.get("event") != "slot" or event.get("name") not in PERSONAL_SLOTS:
            continue
        value = event.get("value")
        if value and value != REMOVED:
            if event.get("name") == "contact_name":
                yield from name_parts(str(value))
            else:
                yield str(value)


def _what_came_next(
    event: Mapping[str, Any], later: list[dict[str, Any]]
) -> tuple[str, str | None]:
    """Why a message counts as unplaced, from its own intent and the family's next message."""
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    if intent == OUT_OF_SCOPE_INTENT:
        return OUT_OF_SCOPE, None
    following = next((item for item in later if item.get("event") == "user"), None)
    if following is None:
        return FALLBACK, None
    text = str(following.get("text") or "")
    chosen = ((following.get("parse_data") or {}).get("intent") or {}).get("name")
    if chosen == SOMETHING_ELSE_INTENT:
        return SOMETHING_ELSE, None
    if text.startswith("/") and chosen:
        return CHOSE_TOPIC, str(chosen)
    return FALLBACK, None


def _language_of(event: Mapping[str, Any], conversation_language: str) -> str:
    """The message's language as the language reader saw it, else the conversation's."""
    read = (event.get("parse_data") or {}).get("language")
    if isinstance(read, Mapping):
        read = read.get("name")
    return str(read or conversation_language)


def _timestamp(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
