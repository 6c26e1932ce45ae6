"""The dashboard's figures for a period, counted by the databases themselves.

Nothing is copied: the conversation store (Rasa's `events` table, SQLite or PostgreSQL) is
asked for counts grouped by day, by conversation and by intent, using its `intent_name` column
and the (type, time) index the assistant makes (bot.runtime.tracker_store); the request store
for counts by route and status. A year of conversations is then a few thousand grouped rows,
never the messages themselves. Counts only: no text, no conversation id leaves this module.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.channels.sms.channel import SENDER_PREFIX as SMS_PREFIX
from bot.channels.web.channel import SENDER_PREFIX as WEB_PREFIX
from bot.nlu.safety import SAFETY_INTENTS
from bot.review.unplaced import EVENTS, UNPLACED_INTENTS, Period

DAY_SECONDS = 86400
# Which channel a conversation came by, from its id's prefix (each channel names its own).
CHANNEL_PREFIXES = ((WEB_PREFIX, "web"), (SMS_PREFIX, "sms"))
OTHER_CHANNEL = "other"
# Intents that are the conversation's mechanics, not a topic asked.
NOT_TOPICS = frozenset({"affirm", "deny", "something_else", "switch_language", "stop_form"})


@dataclass
class Figures:
    """Counts for one period, day by day where a trend matters."""

    period: Period
    conversations: dict[date, Counter[str]] = field(default_factory=dict)
    messages: dict[date, int] = field(default_factory=dict)
    unplaced: dict[date, int] = field(default_factory=dict)
    topics: Counter[str] = field(default_factory=Counter)
    safety: Counter[str] = field(default_factory=Counter)
    requests: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def days(self) -> list[date]:
        """Every day of the period, first to last."""
        first = _date(self.period.start)
        count = max(1, round((self.period.end - self.period.start) / DAY_SECONDS))
        return [first + timedelta(days=offset) for offset in range(count)]

    def unplaced_share(self, day: date | None = None) -> float:
        """The share of messages not placed, on one day or over the period."""
        if day is None:
            total, missed = sum(self.messages.values()), sum(self.unplaced.values())
        else:
            total, missed = self.messages.get(day, 0), self.unplaced.get(day, 0)
        return missed / total if total else 0.0


def channel_of(conversation: str) -> str:
    """The channel a conversation id belongs to."""
    for prefix, channel in CHANNEL_PREFIXES:
        if conversation.startswith(prefix):
            return channel
    return OTHER_CHANNEL


def conversation_figures(db: Connection, period: Period, figures: Figures) -> None:
    """Fills in what the conversation store knows: conversations, messages, intents."""
    day = _day_number(db)
    in_period = (
        EVENTS.c.type_name == "user",
        EVENTS.c.timestamp >= period.start,
        EVENTS.c.timestamp < period.end,
    )
    per_conversation = sa.select(EVENTS.c.sender_id, day.label("day")).where(*in_period).distinct()
    for sender, number in db.execute(per_conversation):
        figures.conversations.setdefault(_from_number(number), Counter())[channel_of(sender)] += 1
    unplaced = sa.func.sum(sa.case((EVENTS.c.intent_name.in_(UNPLACED_INTENTS), 1), else_=0))
    per_day = sa.select(day.label("day"), sa.func.count(), unplaced).where(*in_period)
    for number, total, missed in db.execute(per_day.group_by("day")):
        figures.messages[_from_number(number)] = int(total)
        figures.unplaced[_from_number(number)] = int(missed or 0)
    per_intent = sa.select(EVENTS.c.intent_name, sa.func.count()).where(*in_period)
    for intent, count in db.execute(per_intent.group_by(EVENTS.c.intent_name)):
        name = str(intent or "")
        if name in SAFETY_INTENTS:
            figures.safety[name] += int(count)
        elif name and name not in UNPLACED_INTENTS and name not in NOT_TOPICS:
            figures.topics[name] += int(count)


def _day_number(db: Connection) -> sa.ColumnElement[int]:
    """The event's UTC day as a whole number of days since 1970, in the database's own SQL."""
    days = EVENTS.c.timestamp / DAY_SECONDS
    if db.dialect.name == "sqlite":
        return sa.cast(days, sa.Integer)  # SQLite's CAST truncates; times are positive
    return sa.cast(sa.func.floor(days), sa.Integer)


def _from_number(number: int | float) -> date:
    return date(1970, 1, 1) + timedelta(days=int(number))


def _date(timestamp: float) -> date:
    return datetime.fromtimestamp(timestamp, timezone.utc).date()
