"""The review of one period: unplaced messages, masked, without those already reviewed.

One place for what both staff tools need, the command line (`python -m bot review`) and the
staff dashboard: the conversation store (Rasa's tracker store) read for the period, the request
store read for the values to mask, and the marks of what was reviewed before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.callbacks.store import RequestStore, StorageError
from bot.conversations.store import ConversationStore, ConversationStoreError
from bot.review import marks, unplaced
from bot.review.unplaced import EVENTS, Period, Unplaced
from bot.runtime.tracker_store import ensure_review_index


class ReviewError(Exception):
    """A store could not be read; the message says which and why (never a family's text)."""


@dataclass(frozen=True)
class Review:
    """What a period holds for review."""

    period: Period
    messages: tuple[Unplaced, ...]
    user_messages: int
    unplaced: int

    @property
    def unplaced_share(self) -> float:
        """The share of the family's messages the assistant could not place (0 to 1)."""
        return self.unplaced / self.user_messages if self.user_messages else 0.0


class ReviewService:
    """Reads a period's review from the conversation store; records what was reviewed."""

    def __init__(self, tracker_db: str | Path, requests_db: str | None) -> None:
        self.requests_db = requests_db
        self._requests: RequestStore | None = None  # opened on first use, then kept
        self._indexed = False
        try:
            self._store = ConversationStore(tracker_db)
        except ConversationStoreError as error:
            raise ReviewError(str(error)) from None

    def close(self) -> None:
        """Releases the database connections."""
        self._store.close()
        if self._requests is not None:
            self._requests.close()

    def review(self, period: Period, *, include_marked: bool = False) -> Review:
        """The period's unplaced messages (not those marked before, unless asked)."""
        with self.connection() as db:
            if db is None:
                return Review(period, (), 0, 0)
            if not self._indexed:  # once per service: the dashboard reviews on every page
                ensure_review_index(db)
                self._indexed = True
            wanted = unplaced.candidates(db, period)
            found = unplaced.read(db, wanted, self._request_values(wanted))
            done = marks.marked(db, (message.event_id for message in found))
            total = _user_messages(db, period)
        shown = tuple(m for m in found if include_marked or m.event_id not in done)
        return Review(period, shown, total, len(found))

    def mark(self, event_ids: Iterable[int], label: str | None) -> int:
        """Records the messages as reviewed, with the reviewer's label; the number newly marked."""
        with self.connection() as db:
            if db is None:
                return 0
            return marks.mark(db, event_ids, label)

    def _request_values(self, conversations: Iterable[str]) -> dict[str, list[str]]:
        """The personal values of the callback requests made in these conversations."""
        conversations = list(conversations)
        if not conversations or self.requests_db is None:
            return {}
        try:
            if self._requests is None:
                self._requests = RequestStore.from_url(self.requests_db)
            return self._requests.personal_values(conversations)
        except StorageError as error:
            raise ReviewError(
                f"cannot read the callback requests, whose details must be masked: {error}"
            ) from None

    @contextmanager
    def connection(self) -> Iterator[Connection | None]:
        """One transaction; None when no conversation was ever stored."""
        try:
            with self._store.transaction() as db:
                yield db
        except ConversationStoreError as error:
            raise ReviewError(str(error)) from None


def _user_messages(db: Connection, period: Period) -> int:
    """How many messages families typed in the period (button presses included)."""
    query = sa.select(sa.func.count()).where(
        EVENTS.c.type_name == "user",
        EVENTS.c.timestamp >= period.start,
        EVENTS.c.timestamp < period.end,
    )
    return int(db.execute(query).scalar_one())
