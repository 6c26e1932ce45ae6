"""Rasa's SQL tracker store, made safe for one bad request and for what families type.

Four changes to Rasa 3.6's `SQLTrackerStore` (endpoints.yml names this class):

- Rasa's `session_scope` reads every `ValueError` raised while a session is open as "the
  PostgreSQL schema named in POSTGRESQL_SCHEMA does not exist" and exits the process. A
  `UnicodeEncodeError` (a `ValueError`) from one odd sender id therefore stopped the whole
  assistant, emergencies included. Here only the schema check itself can end the process; any
  other error propagates to the request that caused it.
- "Forget me": `erase_conversation` deletes one conversation (the web page's "Delete this
  conversation", the FORGET text), which Rasa's stores cannot do.
- What a family types into the callback form (name, phone, e-mail, best time, hospital,
  country) belongs in the request store only. When the form ends (request stored, or
  cancelled), the stored events of that form are rewritten in place: those answers, the slot
  values and every answer that read them back are replaced by a marker. The number of events
  stays the same, which Rasa's `save` relies on to append only new ones, and intents, action
  names and timestamps stay, so the conversation's shape is still there for staff.
- Speed, with the same rows stored: a profile under load (`make profile`) put 15% of the
  server's time in the query `save` makes to count the events already stored, and 16% in
  loading whole ORM rows to read one column; both ask for the conversation's latest session
  start, which an index on (sender, type, time) now finds in one seek (`ensure_session_index`).
  A tracker read from this store remembers how many events it was read with, and `save`
  appends after those without asking the database (the conversation's lock is held from the
  read to the save, so nobody else wrote meanwhile), as it does for a conversation Rasa has
  just created; any other tracker (a copy) is counted by Rasa's query as before. Reads take the
  `data` column only, with the statement built once. The new events of a turn go in with one
  multi-row INSERT (Rasa's ORM sent one per event and read each id back; `save` as a whole,
  commit included, was 22% of the event loop's time in a later profile). On SQLite the file
  is written in WAL, with the same FULL sync (`sqlite_settings`).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import rasa.core.tracker_store as rasa_tracker_store
import sqlalchemy.event
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from rasa.shared.utils.cli import print_error_and_exit
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from bot.callbacks.form import CANCEL_ACTION, FORM, PERSONAL_SLOTS, SUBMIT_ACTION
from bot.database import durable_wal, hold_schema_lock

logger = logging.getLogger(__name__)

# Where a tracker read from this store keeps (its own id, the events stored when it was read):
# a copy of the tracker carries the attribute with another object's id, and is counted anew.
_STORED = "_nb_events_in_store"
REMOVED = "[removed: kept only with the callback request]"
REQUESTED_SLOT = "requested_slot"
REVIEW_INDEX = "ix_events_type_name_timestamp"
SESSION_INDEX = "ix_events_sender_type_timestamp"
# A personal value this short ("US", "am") is too common a string to look for in answers.
_SHORTEST_SEARCHED = 3
_FORM_ENDS = frozenset({SUBMIT_ACTION, CANCEL_ACTION})
# Milliseconds the checkpoint after a deletion waits for a reader before leaving it for later.
CHECKPOINT_WAIT_MS = 200
# SQLite's names for a database in memory, which lives as long as its one connection.
_IN_MEMORY = frozenset({None, "", ":memory:"})


class SQLTrackerStore(rasa_tracker_store.SQLTrackerStore):
    """The SQL tracker store (SQLite, PostgreSQL), forgetting the callback form's answers."""

    engine: Engine

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Rasa's store; on SQLite in WAL, and what is deleted or rewritten is overwritten too."""
        super().__init__(*args, **kwargs)
        self._latest_session, self._all_sessions = conversation_queries()
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in _IN_MEMORY:
            self._keep_connections()
        sqlite_settings(self.engine)
        try:
            with self.engine.begin() as db:
                ensure_session_index(db)
                ensure_review_index(db)
        except SQLAlchemyError as error:
            # The database is down at start: Rasa goes on (and retries per message), so must we.
            logger.warning("review index not made now: %s", type(error).__name__)

    def _keep_connections(self) -> None:
        """Keeps SQLite connections open between reads and saves, in a pool.

        SQLAlchemy 1.4 gives a SQLite file no pool: Rasa's engine opened a new connection for
        every read and every save, which then parsed the schema again and, in WAL, the last
        one to close checkpointed and deleted the log. A turn (read and save) took 5.8 ms of
        the event loop that way, 3.3 ms with the connection kept (a throwaway timing of 400
        turns on this machine's disk). The connections are used by one thread at a time.
        """
        url = self.engine.url
        self.engine.dispose()
        self.engine = sqlalchemy.create_engine(
            url,
            poolclass=QueuePool,
            connect_args={"check_same_thread": False},
        )
        self.sessionmaker = sessionmaker(bind=self.engine)

    @contextmanager
    def session_scope(self) -> Iterator[Any]:
        """A transactional scope; errors of the operations inside it are the caller's."""
        session = self.sessionmaker()
        try:
            try:
                rasa_tracker_store.ensure_schema_exists(session)
            except ValueError as missing:
                print_error_and_exit(
                    f"Requested PostgreSQL schema '{missing}' was not found in the database. "
                    f"Create it, or unset {rasa_tracker_store.POSTGRESQL_SCHEMA}."
                )
            yield session
        finally:
            session.close()

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Stores the new events, then forgets the form's answers if this turn ended it.

        The rows are Rasa's (`event_rows`), inserted in one statement of several rows where
        Rasa's ORM session sent one INSERT per event and read each new id back.
        """
        await self.stream_events(tracker)
        with self.session_scope() as session:
            rows = event_rows(tracker.sender_id, self._additional_events(session, tracker))
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()
        _remember_stored(tracker, len(tracker.events))
        if form_ended_this_turn(tracker.events):
            self.forget_form_answers(tracker.sender_id)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Any]:
        """The tracker's events after those stored: counted when it was read, else queried.

        A tracker holding only the `action_listen` Rasa creates a conversation with is new:
        Rasa makes one only when reading found no event of the sender, under the lock.
        """
        stored = 0 if _is_new(tracker) else _stored_count(tracker)
        if stored is None:
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        """Rasa's query, reading only the `data` column; remembers how many events it read."""
        statement = self._all_sessions if fetch_events_from_all_sessions else self._latest_session
        with self.session_scope() as session:
            rows = session.execute(statement, {"sender": sender_id}).all()
        events = [json.loads(data) for (data,) in rows]
        if not (self.domain and events):
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        # `save` counts the latest session's events; a full history is counted by Rasa's query.
        if not fetch_events_from_all_sessions and len(tracker.events) == len(events):
            _remember_stored(tracker, len(events))
        return tracker

    def erase_conversation(self, sender_id: str) -> int:
        """Deletes every event of one conversation ("forget me"); the number deleted.

        Rasa 3.6's tracker stores have no delete. The caller holds the conversation's lock, so
        that a message being answered at that moment cannot write the conversation back.
        """
        with self.engine.begin() as db:
            deleted = delete_conversation(db, sender_id)
        drop_logged_copies(self.engine)
        return deleted

    def forget_form_answers(self, sender_id: str) -> int:
        """Rewrites the last callback form's events of a conversation; the number rewritten."""
        with self.session_scope() as session:
            rows = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id == sender_id)
                .order_by(self.SQLEvent.id)
                .all()
            )
            events = [json.loads(row.data) for row in rows]
            changed = scrub_last_form(events)
            for index in changed:
                rows[index].data = json.dumps(events[index])
            session.commit()
        if changed:
            drop_logged_copies(self.engine)
        return len(changed)


def event_rows(sender_id: str, events: Iterable[Event]) -> list[dict[str, Any]]:
    """The `events` rows Rasa 3.6's `SQLTrackerStore.save` stores for these events, in order."""
    rows = []
    for event in events:
        data = event.as_dict()
        rows.append(
            {
                "sender_id": sender_id,
                "type_name": event.type_name,
                "timestamp": data.get("timestamp"),
                "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                "action_name": data.get("name"),
                "data": json.dumps(data),
            }
        )
    return rows


def conversation_queries() -> tuple[sqlalchemy.sql.Select, sqlalchemy.sql.Select]:
    """Rasa's two reads of a conversation's `data`, built once with the sender as a parameter.

    The same SQL as `SQLTrackerStore._event_query`: the events after the latest
    `session_started` (all of them when there is none), and every event, in stored order.
    Rasa builds that ORM query anew for every read, which the profile showed as 8% of the time.
    """
    events = rasa_tracker_store.SQLTrackerStore.SQLEvent.__table__
    sender = sqlalchemy.bindparam("sender")
    session_start = (
        sqlalchemy.select(sqlalchemy.func.max(events.c.timestamp).label("session_start"))
        .where(events.c.sender_id == sender, events.c.type_name == SessionStarted.type_name)
        .subquery()
    )
    latest = (
        sqlalchemy.select(events.c.data)
        .where(
            events.c.sender_id == sender,
            sqlalchemy.or_(
                events.c.timestamp >= session_start.c.session_start,
                session_start.c.session_start.is_(None),
            ),
        )
        .order_by(events.c.id)
    )
    every = sqlalchemy.select(events.c.data).where(events.c.sender_id == sender)
    return latest, every.order_by(events.c.id)


def _remember_stored(tracker: DialogueStateTracker, count: int) -> None:
    setattr(tracker, _STORED, (id(tracker), count))


def _is_new(tracker: DialogueStateTracker) -> bool:
    """Whether the tracker is one Rasa's `create_tracker` just made (unread, one listen)."""
    if _stored_count(tracker) is not None or len(tracker.events) > 1:
        return False
    return all(
        isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME
        for event in tracker.events
    )


def _stored_count(tracker: DialogueStateTracker) -> int | None:
    """The events stored when this very tracker was read or saved, or None if unknown."""
    owner, count = getattr(tracker, _STORED, (None, None))
    return count if owner == id(tracker) else None


def delete_conversation(db: Connection, sender_id: str) -> int:
    """Deletes one conversation's events in Rasa's table; the number deleted.

    The one DELETE behind "forget me", used by this store inside Rasa and by the staff command
    line (bot.conversations.store).
    """
    events = rasa_tracker_store.SQLTrackerStore.SQLEvent.__table__
    deleted = db.execute(sqlalchemy.delete(events).where(events.c.sender_id == sender_id))
    return int(deleted.rowcount or 0)


def ensure_review_index(db: Connection) -> None:
    """Adds the index staff review reads by (message type, time), once.

    A year of events is large, and `python -m bot review` asks for one period's messages of one
    type. Made when the assistant opens its store, while the table is still small; the review
    makes it too for a store written before. Plain DDL rather than an `Index` on Rasa's table
    object: that object is shared with Rasa, which would then try to create the index again
    beside every tracker store it opens.
    """
    events = rasa_tracker_store.SQLTrackerStore.SQLEvent.__table__.name
    hold_schema_lock(db)
    db.execute(
        sqlalchemy.text(
            f"CREATE INDEX IF NOT EXISTS {REVIEW_INDEX} ON {events} (type_name, timestamp)"
        )
    )


def ensure_session_index(db: Connection) -> None:
    """Adds the index Rasa's every read and save finds a conversation's latest session by.

    Rasa asks for the latest `session_started` event of one sender (`max(timestamp)` where
    sender and type match) on every message, twice. With only Rasa's index on the sender, the
    databases chose the review index (type, time) and walked every session start of every
    conversation: per message, a cost growing with the whole store. This index answers it in
    one seek. Plain DDL for the reason `ensure_review_index` gives.
    """
    events = rasa_tracker_store.SQLTrackerStore.SQLEvent.__table__.name
    hold_schema_lock(db)
    db.execute(
        sqlalchemy.text(
            f"CREATE INDEX IF NOT EXISTS {SESSION_INDEX} ON {events} "
            "(sender_id, type_name, timestamp)"
        )
    )


def sqlite_settings(engine: Engine) -> None:
    """On SQLite, every connection of `engine` writes in WAL, syncs fully and zeroes deletions.

    - WAL with FULL sync: a commit appends to the log and syncs it, about 1.0 ms here against
      2.4 ms with SQLite's default rollback journal (which writes and syncs the journal and the
      file). The store's commits run on the server's event loop, so every other family's
      message waited for them. The staff command line also reads without stopping the writes.
    - `secure_delete`: deleted rows and rewritten values are zeroed in the file, so a copy of the
      file (a stolen laptop, a backup) does not hold what was forgotten. The log still holds
      the pages as they were written until a checkpoint: `drop_logged_copies` empties it after
      each deletion or rewrite.
    """
    if engine.dialect.name != "sqlite":
        return

    @sqlalchemy.event.listens_for(engine, "connect")
    def _settings(connection: Any, _: Any) -> None:
        durable_wal(connection, "PRAGMA secure_delete = ON")


def drop_logged_copies(engine: Engine) -> None:
    """On SQLite, copies the log into the file and empties it, with what was forgotten in it.

    The checkpoint waits for readers, on the server's event loop, so it waits briefly
    (`CHECKPOINT_WAIT_MS`). A staff review reading at that moment keeps the log's pages it
    reads: then they go at the next checkpoint that finds no reader (SQLite checkpoints by
    itself every 1000 pages), as they do when the checkpoint fails: what was asked, the
    deletion, is done and stays done.
    """
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.connect() as db:
            waited = db.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
            db.exec_driver_sql(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
            try:
                db.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                db.exec_driver_sql(f"PRAGMA busy_timeout = {int(waited)}")
    except SQLAlchemyError as error:
        logger.warning("the log keeps deleted pages until a later checkpoint: %s", error)


def form_ended_this_turn(events: Iterable[Any]) -> bool:
    """Whether the callback form was submitted or cancelled since the family's last message."""
    for event in reversed(list(events)):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ActionExecuted) and event.action_name in _FORM_ENDS:
            return True
    return False


def scrub_last_form(events: list[dict[str, Any]]) -> list[int]:
    """Replaces, from the last start of the callback form on, the personal answers with REMOVED.

    `events` are Rasa's event dicts, changed in place; returns the indexes changed. Removed are:
    personal slot values; every message the form took as the answer to a personal detail, also
    one it refused (a mistyped number: the form then sets the slot to nothing); and any other
    message or answer that contains one of the values (the read-back "Staff will call Ana at
    ..."). A message that interrupted the form (a fever, a question, "never mind") sets no such
    slot and is kept.
    """
    starts = [
        index
        for index, event in enumerate(events)
        if event.get("event") == "active_loop" and event.get("name") == FORM
    ]
    if not starts:
        return []
    span = range(starts[-1], len(events))
    mentions = _mentions([events[index] for index in span])
    changed: set[int] = set()
    requested = None
    answer: int | None = None  # the family's last message, while a personal detail was asked
    for index in span:
        event = events[index]
        kind = event.get("event")
        if kind == "slot" and event.get("name") == REQUESTED_SLOT:
            requested = event.get("value")
        elif kind == "slot" and event.get("name") in PERSONAL_SLOTS:
            if event.get("value") not in (None, REMOVED):
                event["value"] = REMOVED
                changed.add(index)
            if answer is not None and _scrub_message(events[answer]):
                changed.add(answer)
        elif kind == "user":
            answer = index if requested in PERSONAL_SLOTS else None
            if mentions(event.get("text")) and _scrub_message(event):
                changed.add(index)
        elif kind == "bot" and mentions(event.get("text")):
            event["text"] = REMOVED
            changed.add(index)
    return sorted(changed)


def _mentions(events: list[dict[str, Any]]) -> Any:
    """A test for "this text contains one of the personal values set in `events`"."""
    values = {
        str(event["value"])
        for event in events
        if event.get("event") == "slot"
        and event.get("name") in PERSONAL_SLOTS
        and event.get("value") not in (None, REMOVED)
        and len(str(event["value"])) >= _SHORTEST_SEARCHED
    }
    if not values:
        return lambda text: False
    pattern = re.compile("|".join(re.escape(value) for value in values), re.IGNORECASE)
    return lambda text: bool(text and pattern.search(text))


def _scrub_message(event: dict[str, Any]) -> bool:
    if event.get("text") == REMOVED:
        return False
    event["text"] = REMOVED
    parse_data = event.get("parse_data") or {}
    parse_data["text"] = REMOVED
    parse_data["entities"] = []
    event["parse_data"] = parse_data
    return True
