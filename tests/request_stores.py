"""Shared fixtures for the request store's tests: a fake clock, and a fresh store per backend.

Every test taking `store` runs on a SQLite file and, with TEST_POSTGRES_URL, on PostgreSQL, in a
schema of its own that is dropped afterwards, so runs never see each other's rows. conftest.py
registers this module as a pytest plugin.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.schema import CreateSchema, DropSchema

from bot.callbacks.store import CallbackRequest, RequestStore
from tests.conftest import require

PG_URL = os.environ.get("TEST_POSTGRES_URL", "")
BACKENDS = ("sqlite", "postgresql")


class FakeClock:
    """A clock the test moves by hand, so retry times are checked without sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@contextmanager
def open_store(backend: str, folder: Path, clock: FakeClock) -> Iterator[RequestStore]:
    """A fresh store on `backend`: a SQLite file in `folder`, or a new PostgreSQL schema."""
    if backend == "sqlite":
        store = RequestStore.from_url(f"sqlite:///{folder / 'var' / 'requests.db'}", clock=clock)
        try:
            yield store
        finally:
            store.close()
        return
    with pg_schema("nb_requests_test") as schema:
        store = RequestStore.from_url(PG_URL, schema=schema, clock=clock)
        try:
            yield store
        finally:
            store.close()


@contextmanager
def pg_schema(prefix: str) -> Iterator[str]:
    """A new PostgreSQL schema (skipped without TEST_POSTGRES_URL), dropped afterwards."""
    require(bool(PG_URL), "TEST_POSTGRES_URL not set")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, future=True)
    with admin.begin() as db:
        db.execute(CreateSchema(schema))
    try:
        yield schema
    finally:
        with admin.begin() as db:
            db.execute(DropSchema(schema, cascade=True))
        admin.dispose()


def second_opinion(**changes: object) -> CallbackRequest:
    """A complete, valid request; tests change what they need."""
    request = CallbackRequest(
        request_type="second_opinion",
        relationship="parent",
        name="Ana María",
        phone="+12155550123",
        best_time="weekday mornings",
        consent=True,
        email="ana@family.example",
        treating_hospital="Lakeside Children's Hospital",
        conversation="conv-5f2a9c",
    )
    return replace(request, **changes)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[RequestStore]:
    with open_store(request.param, tmp_path, clock) as opened:
        yield opened
