"""Which unplaced messages staff have already reviewed, so the next review shows only new ones.

A mark is an event id of Rasa's `events` table, the time it was marked and the label the
reviewer gave (an intent, `new:<name>` for a topic the assistant does not have yet, or none for
"seen, nothing to do"). It holds no text: the message stays where it is, in the conversation
store, and goes with it when the conversation is purged or forgotten. The table lives beside
Rasa's in the same database, created on first use.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.database import create_tables

LABEL_LIMIT = 80

_metadata = sa.MetaData()
review_marks = sa.Table(
    "review_marks",
    _metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("marked_at", sa.DateTime, nullable=False),
    sa.Column("label", sa.String(LABEL_LIMIT)),
)


def ensure_table(db: Connection) -> None:
    """Creates the marks table when it does not exist yet."""
    create_tables(_metadata, db)


def marked(db: Connection, event_ids: Iterable[int]) -> set[int]:
    """Those of `event_ids` that were already marked."""
    ids = list(event_ids)
    if not ids or not sa.inspect(db).has_table(review_marks.name):
        return set()
    found: set[int] = set()
    # In slices: a year's review can hold more ids than a database takes in one IN list.
    for start in range(0, len(ids), 500):
        query = sa.select(review_marks.c.event_id).where(
            review_marks.c.event_id.in_(ids[start : start + 500])
        )
        found.update(int(row[0]) for row in db.execute(query))
    return found


def mark(
    db: Connection, event_ids: Iterable[int], label: str | None, now: datetime | None = None
) -> int:
    """Marks the messages reviewed; the number newly marked (a repeated mark changes nothing)."""
    ensure_table(db)
    wanted = set(event_ids)
    ids = sorted(wanted - marked(db, wanted))
    moment = (now or datetime.now(timezone.utc)).replace(tzinfo=None)
    if ids:
        db.execute(
            review_marks.insert(),
            [{"event_id": event_id, "marked_at": moment, "label": label} for event_id in ids],
        )
    return len(ids)
