"""Rasa's SQL tracker store, where one conversation's failure fails only that request.

Rasa 3.6's `SQLTrackerStore.session_scope` reads every `ValueError` raised while a session is
open as "the PostgreSQL schema named in POSTGRESQL_SCHEMA does not exist" and exits the process.
A `UnicodeEncodeError` (a `ValueError`) from one odd sender id therefore stopped the whole
assistant, emergencies included. Here only the schema check itself can end the process; any
other error propagates to the request that caused it. endpoints.yml names this class.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import rasa.core.tracker_store as rasa_tracker_store
from rasa.shared.utils.cli import print_error_and_exit


class SQLTrackerStore(rasa_tracker_store.SQLTrackerStore):
    """The SQL tracker store (SQLite, PostgreSQL), with Rasa's schema check kept apart."""

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
