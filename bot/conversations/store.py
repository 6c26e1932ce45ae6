"""The conversation store's housekeeping: retention and "forget me".

Rasa keeps every event of every conversation (what the family typed, the slots, the answers) in
its tracker store, the `events` table of `SQLTrackerStore` on SQLite or PostgreSQL, for ever.
What families type is health information, so a conversation is kept only
`privacy.retention_days` after its last event (`purge`), and one conversation can be erased at
once (`forget`).

Both work on Rasa's table with one DELETE each, which is safe beside a running assistant: Rasa
reads a conversation's events from the table for every message, so a deleted conversation simply
starts again from nothing. The table and its columns come from Rasa's own model, and the engine
options (PostgreSQL's POSTGRESQL_SCHEMA) from Rasa's own helper, so this reads exactly what the
assistant writes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.runtime.tracker_store import delete_conversation, drop_logged_copies, sqlite_settings

EVENTS = SQLTrackerStore.SQLEvent.__table__


class ConversationStoreError(Exception):
    """The conversation store could not be read or changed; the message says why."""


@dataclass(frozen=True)
class Purged:
    """What one purge deleted."""

    conversations: int
    events: int


def database_url(value: str | Path) -> str:
    """A SQLAlchemy URL for `value`: a URL as given, or a SQLite file's path."""
    text = str(value)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


class ConversationStore:
    """Deletes whole conversations from Rasa's SQL tracker store."""

    def __init__(self, url: str | Path) -> None:
        self.url = database_url(url)
        try:
            self._engine: Engine = sa.create_engine(
                self.url, future=True, **create_engine_kwargs(self.url)
            )
        except (SQLAlchemyError, ImportError, ValueError) as error:
            raise ConversationStoreError(f"cannot open the conversation store: {error}") from None
        sqlite_settings(self._engine)

    def close(self) -> None:
        """Releases the database connections."""
        self._engine.dispose()

    def purge(self, older_than: timedelta, *, now: float | None = None) -> Purged:
        """Deletes every conversation whose last event is older than `older_than`."""
        cutoff = (time.time() if now is None else now) - older_than.total_seconds()
        stale = (
            sa.select(EVENTS.c.sender_id)
            .group_by(EVENTS.c.sender_id)
            .having(sa.func.max(EVENTS.c.timestamp) < cutoff)
        )
        with self.transaction() as db:
            if db is None:
                return Purged(0, 0)
            senders = db.execute(sa.select(sa.func.count()).select_from(stale.subquery()))
            conversations = int(senders.scalar_one())
            deleted = db.execute(sa.delete(EVENTS).where(EVENTS.c.sender_id.in_(stale)))
            purged = Purged(conversations, int(deleted.rowcount or 0))
        if purged.events:
            drop_logged_copies(self._engine)
        return purged

    def forget(self, sender_id: str) -> int:
        """Deletes one conversation; the number of events deleted (0: nothing was stored)."""
        with self.transaction() as db:
            if db is None:
                return 0
            deleted = delete_conversation(db, sender_id)
        if deleted:
            drop_logged_copies(self._engine)
        return deleted

    def event_count(self, sender_id: str) -> int:
        """How many events one conversation has (for staff checks and tests)."""
        with self.transaction() as db:
            if db is None:
                return 0
            query = sa.select(sa.func.count()).where(EVENTS.c.sender_id == sender_id)
            return int(db.execute(query).scalar_one())

    @contextmanager
    def transaction(self) -> Iterator[Connection | None]:
        """One transaction; None when no conversation was ever stored (Rasa made no table)."""
        if self._sqlite_file_missing():
            yield None
            return
        try:
            with self._engine.begin() as db:
                yield db if sa.inspect(db).has_table(EVENTS.name) else None
        except SQLAlchemyError as error:
            reason = str(error).splitlines()[0]
            raise ConversationStoreError(f"the conversation store failed: {reason}") from None

    def _sqlite_file_missing(self) -> bool:
        """A SQLite file that does not exist yet holds no conversation; do not create it."""
        url = self._engine.url
        return url.get_backend_name() == "sqlite" and not Path(url.database or "").exists()
