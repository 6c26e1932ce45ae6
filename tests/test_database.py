"""Processes that start together on an empty database all create their tables and start.

The cluster's replicas start at the same moment. Before bot.database serialised the schema
changes, two of them running `CREATE TABLE` for the SMS store at once on a fresh PostgreSQL
database made one fail (a unique violation in PostgreSQL's catalog), and that replica never
came up. Here several openers, each with its own connections, open every store of the assistant
on the same new schema at the same instant, on the real PostgreSQL and on a SQLite file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import rasa.core.tracker_store as rasa_tracker_store
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot.callbacks.store import RequestStore
from bot.channels.sms.store import SmsStore
from bot.database import create_tables
from bot.review import marks
from bot.runtime.tracker_store import ensure_review_index, ensure_session_index
from bot.staff.accounts import AccountStore
from tests.request_stores import PG_URL, pg_schema

OPENERS = 6
ROUNDS = 5


def open_every_store(url: str) -> None:
    """What a replica does with its stores at start, and the review on its first page."""
    requests = RequestStore.from_url(url)
    try:
        requests.prepare()
        AccountStore(requests).accounts()
    finally:
        requests.close()
    SmsStore.open(url).close()
    engine = sa.create_engine(url, future=True)
    try:
        with engine.begin() as db:
            marks.ensure_table(db)
    finally:
        engine.dispose()


def all_at_once(opener: Callable[[], None]) -> list[BaseException]:
    """Runs `opener` in OPENERS threads released together; the errors they raised."""
    start = threading.Barrier(OPENERS)

    def run() -> BaseException | None:
        start.wait()
        try:
            opener()
        except Exception as error:  # noqa: BLE001 - every failure is the finding
            return error
        return None

    with ThreadPoolExecutor(OPENERS) as pool:
        results = list(pool.map(lambda _: run(), range(OPENERS)))
    return [error for error in results if error is not None]


def in_schema(schema: str) -> str:
    """TEST_POSTGRES_URL with its connections' search path set to `schema`."""
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url, future=True)
    try:
        with engine.connect() as db:
            return set(sa.inspect(db).get_table_names())
    finally:
        engine.dispose()


EXPECTED = {
    "callback_requests",
    "callback_outbox",
    "callback_submissions",
    "staff_accounts",
    "sms_opt_outs",
    "sms_menus",
    "sms_sent_replies",
    "review_marks",
}


def test_stores_opened_together_on_a_new_postgresql_schema_all_start() -> None:
    for _ in range(ROUNDS):
        with pg_schema("nb_race") as schema:
            url = in_schema(schema)
            assert all_at_once(partial(open_every_store, url)) == []
            assert EXPECTED <= tables(url)


def test_stores_opened_together_on_a_new_sqlite_file_all_start(tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        url = f"sqlite:///{tmp_path / f'round-{round_}.db'}"
        assert all_at_once(partial(open_every_store, url)) == []
        assert EXPECTED <= tables(url)


def test_the_tracker_store_indexes_made_together_on_postgresql() -> None:
    with pg_schema("nb_race_index") as schema:
        url = in_schema(schema)
        engine = sa.create_engine(url, future=True)
        try:
            create_tables(rasa_tracker_store.SQLTrackerStore.Base.metadata, engine)

            def index() -> None:
                with engine.begin() as db:
                    ensure_session_index(db)
                    ensure_review_index(db)

            assert all_at_once(index) == []
            with engine.connect() as db:
                names = {i["name"] for i in sa.inspect(db).get_indexes("events")}
            assert {"ix_events_sender_type_timestamp", "ix_events_type_name_timestamp"} <= names
        finally:
            engine.dispose()


def test_creating_the_tables_again_keeps_their_rows(tmp_path: Path) -> None:
    metadata = sa.MetaData()
    sa.Table("kept", metadata, sa.Column("id", sa.Integer, primary_key=True))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'twice.db'}", future=True)
    try:
        create_tables(metadata, engine)
        with engine.begin() as db:
            db.execute(sa.text("INSERT INTO kept (id) VALUES (1)"))
        create_tables(metadata, engine)
        with engine.connect() as db:
            assert db.execute(sa.text("SELECT id FROM kept")).scalars().all() == [1]
    finally:
        engine.dispose()
