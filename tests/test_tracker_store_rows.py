"""Our SQL tracker store stores exactly the rows Rasa's stores, with fewer queries.

The same conversation (two sessions, read and saved turn by turn as Rasa's processor does, a
tracker that is copied, a new tracker, a full-history read) is played against Rasa 3.6's
`SQLTrackerStore` and ours, on SQLite and PostgreSQL, and the stored rows are compared.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.core.tracker_store import SQLTrackerStore as RasaStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)

from bot.runtime.tracker_store import REVIEW_INDEX, SESSION_INDEX, SQLTrackerStore
from tests.tracker_stores import BACKENDS, sql_tracker_store

DOMAIN = Domain.from_yaml("version: '3.1'\nslots:\n  topic:\n    type: any\n    mappings: []\n")


def _turn(text: str, at: float) -> list:
    return [
        UserUttered(text, {"name": "ask", "confidence": 1.0}, timestamp=at),
        SlotSet("topic", text, timestamp=at + 0.1),
        ActionExecuted("utter_answer", timestamp=at + 0.2),
        BotUttered(f"about {text}", timestamp=at + 0.3),
        ActionExecuted("action_listen", timestamp=at + 0.4),
    ]


async def _play(store: FailSafeTrackerStore, base: float) -> None:
    """Two sessions of a conversation, the ways Rasa reads and saves trackers."""
    tracker = await store.get_or_create_tracker("family")  # new: created and saved
    tracker.update_with_events(_turn("relapse", base + 10.0), DOMAIN, override_timestamp=False)
    await store.save(tracker)
    for index, text in enumerate(["mibg", "trials"]):
        tracker = await store.retrieve("family")
        assert tracker is not None
        tracker.update_with_events(
            _turn(text, base + 20.0 + 10 * index), DOMAIN, override_timestamp=False
        )
        await store.save(tracker)
        await store.save(tracker)  # saved twice: nothing new the second time
    copied = copy.deepcopy(await store.retrieve("family"))  # a copy is counted by the query
    assert copied is not None
    copied.update_with_events(_turn("isolation", base + 50.0), DOMAIN, override_timestamp=False)
    await store.save(copied)
    tracker = await store.retrieve("family")  # a new session starts in this turn
    assert tracker is not None
    tracker.update_with_events(
        [
            ActionExecuted("action_session_start", timestamp=base + 60.0),
            SessionStarted(timestamp=base + 60.1),
        ],
        DOMAIN,
        override_timestamp=False,
    )
    tracker.update_with_events(_turn("room", base + 61.0), DOMAIN, override_timestamp=False)
    await store.save(tracker)
    full = await store.retrieve_full_tracker("family")
    assert full is not None
    full.update_with_events(_turn("visitors", base + 70.0), DOMAIN, override_timestamp=False)
    await store.save(full)


def _rows(store: RasaStore, base: float = 0.0) -> list[tuple]:
    """Every stored row, its times made relative to `base` (each run starts at its own)."""
    with store.engine.connect() as db:
        rows = db.execute(
            sa.text(
                "SELECT sender_id, type_name, timestamp, intent_name, action_name, data "
                "FROM events ORDER BY id"
            )
        ).all()
    relative = []
    for sender, kind, at, intent, action, data in rows:
        event = json.loads(data)
        event["timestamp"] = round(event["timestamp"] - base, 1)
        relative.append((sender, kind, round(at - base, 1), intent, action, event))
    return relative


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_rows_stored_are_those_rasas_store_stores(backend, tmp_path: Path, monkeypatch):
    stored = {}
    for kind in (RasaStore, SQLTrackerStore):
        folder = tmp_path / kind.__module__
        folder.mkdir()
        with sql_tracker_store(kind, backend, folder, monkeypatch, DOMAIN) as (store, _):
            base = time.time()
            asyncio.run(_play(FailSafeTrackerStore(store), base))  # wrapped, as Rasa runs it
            stored[kind] = _rows(store, base)
    assert stored[SQLTrackerStore] == stored[RasaStore]
    assert len(stored[RasaStore]) > 30


def test_a_tracker_read_from_the_store_is_saved_without_counting_the_stored_events(
    tmp_path: Path, monkeypatch
):
    with sql_tracker_store(SQLTrackerStore, "sqlite", tmp_path, monkeypatch, DOMAIN) as (
        store,
        _,
    ):
        counted = []
        counting = RasaStore._additional_events

        def count(*args):
            counted.append(1)
            return counting(*args)

        monkeypatch.setattr(RasaStore, "_additional_events", count)
        asyncio.run(FailSafeTrackerStore(store).get_or_create_tracker("family"))  # new
        tracker = asyncio.run(store.retrieve("family"))
        assert tracker is not None
        tracker.update_with_events(_turn("relapse", time.time()), DOMAIN, override_timestamp=False)
        asyncio.run(store.save(tracker))
        assert counted == []  # the count came from the read, not from a query
        assert [row[1] for row in _rows(store)][-5:] == [
            "user",
            "slot",
            "action",
            "bot",
            "action",
        ]


def _plan(store: SQLTrackerStore, statement: sa.sql.Select) -> str:
    compiled = statement.compile(dialect=store.engine.dialect)
    values = tuple(compiled.params[name] or "family" for name in compiled.positiontup)
    with store.engine.connect() as db:
        rows = db.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values)
        return " ".join(str(row[-1]) for row in rows)


def test_the_latest_session_is_found_by_the_session_index_not_by_scanning_every_session(
    tmp_path: Path, monkeypatch
):
    with sql_tracker_store(SQLTrackerStore, "sqlite", tmp_path, monkeypatch, DOMAIN) as (
        store,
        _,
    ):
        with store.session_scope() as session:  # Rasa's, still counting unknown trackers
            counted = store._event_query(session, "family", fetch_events_from_all_sessions=False)
        plans = [_plan(store, counted.statement), _plan(store, store._latest_session)]
    for plan in plans:
        assert f"{SESSION_INDEX} (sender_id=? AND type_name=?)" in plan
        assert REVIEW_INDEX not in plan
