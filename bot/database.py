"""Creating the assistant's tables when several processes start at the same moment.

Every store creates the tables it needs on first use (the request store, the SMS store, the
staff accounts, the review marks, the tracker store's indexes). Replicas started together on an
empty PostgreSQL database (`make run-cluster`, an orchestrator's first rollout) then run the same
`CREATE TABLE` at once, and PostgreSQL's check-then-create is not atomic: the loser fails on
its catalog's unique index (`pg_type_typname_nsp_index`) and that replica did not start. Here
every schema change on PostgreSQL first takes one advisory lock, held until its transaction
ends, so the changes of all processes run one after the other, and each finds what the one
before it made. SQLite has the same race between the Rasa server and its action server on the
first `make run` (the driver commits each `CREATE TABLE` on its own); there `create_tables`
takes the database's write lock first (`BEGIN IMMEDIATE`), which serialises them the same way.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection, Engine

# Any fixed 64-bit number, the same in every process of the assistant: the advisory lock that
# its schema changes take on PostgreSQL. ("nb-schema" in ASCII.)
SCHEMA_LOCK = 0x6E622D736368656D
# Seconds a new SQLite file waits for the other processes opening it to let it switch to WAL.
WAL_SWITCH_WAIT = 10.0


def hold_schema_lock(db: Connection) -> None:
    """On PostgreSQL, waits for and takes the schema lock, until `db`'s transaction ends.

    SQLite needs none for one `CREATE ... IF NOT EXISTS` statement (the tracker store's
    indexes), which it runs under its write lock; taking that lock early would stop the
    assistant's writes for as long as a staff review reads.
    """
    if db.dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})


@contextmanager
def _transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """An engine's own transaction, or a connection's current one."""
    if isinstance(bind, Connection):
        yield bind
        return
    with bind.begin() as db:
        yield db


def create_tables(
    metadata: MetaData,
    bind: Engine | Connection,
    before: Callable[[Connection], None] | None = None,
) -> None:
    """Creates those of `metadata`'s tables that do not exist yet, safe from the race above.

    `before` runs first in the same transaction (SmsStore drops a table it no longer uses).
    """
    with _transaction(bind) as db:
        hold_schema_lock(db)
        if db.dialect.name == "sqlite" and not db.connection.dbapi_connection.in_transaction:
            # `create_all` checks, then creates: the write lock is taken before the check.
            db.exec_driver_sql("BEGIN IMMEDIATE")
        if before is not None:
            before(db)
        metadata.create_all(db, checkfirst=True)


def durable_wal(connection: Any, *pragmas: str) -> None:
    """Sets a new SQLite DB-API connection to WAL with FULL sync, then runs `pragmas`.

    For a store's "connect" event: FULL sync loses no commit, even on a power cut.
    """
    cursor = connection.cursor()
    try:
        use_wal(cursor)
        cursor.execute("PRAGMA synchronous = FULL")
        for pragma in pragmas:
            cursor.execute(pragma)
    finally:
        cursor.close()


def use_wal(cursor: Any) -> None:
    """Switches a SQLite file to WAL (the mode is kept in the file: once is enough).

    In WAL, readers (the staff command line) and the writer do not wait for each other, and a
    commit with FULL sync writes and syncs the log only. The switch needs the file to itself,
    and SQLite refuses it at once, without waiting, while another process's first connection
    holds a lock (the Rasa server and its action server opening a new file together): then it
    is tried again for a few seconds.
    """
    deadline = time.monotonic() + WAL_SWITCH_WAIT
    while cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
