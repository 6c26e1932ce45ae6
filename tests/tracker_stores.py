"""A fresh Rasa SQL tracker store per test, on a SQLite file or in a new PostgreSQL schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from rasa.core.tracker_store import POSTGRESQL_SCHEMA, SQLTrackerStore
from rasa.shared.core.domain import Domain
from sqlalchemy.engine import make_url

from tests.request_stores import PG_URL, pg_schema

BACKENDS = ("sqlite", "postgresql")
Store = TypeVar("Store", bound=SQLTrackerStore)


@contextmanager
def sql_tracker_store(
    kind: type[Store],
    backend: str,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    domain: Domain | None = None,
) -> Iterator[tuple[Store, str]]:
    """The store (Rasa's class or ours) and the URL or file our tools open it with."""
    domain = domain or Domain.empty()
    if backend == "sqlite":
        db = folder / "tracker.db"
        yield kind(domain=domain, dialect="sqlite", db=str(db)), str(db)
        return
    with pg_schema("nb_tracker_test") as schema:
        monkeypatch.setenv(POSTGRESQL_SCHEMA, schema)  # Rasa's way to choose the schema
        url = make_url(PG_URL)
        store = kind(
            domain=domain,
            dialect="postgresql",
            host=url.host,
            port=url.port,
            db=url.database,
            username=url.username,
        )
        try:
            yield store, PG_URL
        finally:
            store.engine.dispose()
