"""The callback requests store, on a real SQLite file and (with TEST_POSTGRES_URL) PostgreSQL.

Every test taking the `store` fixture runs on both backends. On PostgreSQL each test gets its
own schema, dropped afterwards, so runs never see each other's rows.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from bot.callbacks import store as requests_store
from bot.callbacks.store import (
    InvalidRequest,
    RequestStore,
    StorageError,
    default_store,
    normalise_reference,
)
from bot.center.config import DEFAULT_REQUESTS_DB, REQUESTS_DB_ENV, requests_db_url
from tests.conftest import free_port
from tests.request_stores import FakeClock, second_opinion

REFERENCE = re.compile(r"CB-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{2}")


def test_save_get_list_and_mark_handled(store: RequestStore, clock: FakeClock) -> None:
    reference = store.save(second_opinion(name="  Ana María ", country=" "))
    assert REFERENCE.fullmatch(reference)

    typed = reference.lower().replace("-", "")
    stored = store.get(typed)
    assert stored is not None
    assert stored["reference"] == reference
    assert stored["status"] == "pending"
    assert stored["delivery"] == "pending"
    assert stored["name"] == "Ana María"  # stripped
    assert stored["country"] is None  # blank optional values are not kept
    assert stored["treating_hospital"] == "Lakeside Children's Hospital"
    assert stored["created_at"] == clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert stored["consent_at"] == stored["created_at"]
    assert [row["reference"] for row in store.list()] == [reference]
    assert store.list("handled") == []

    clock.advance(minutes=5)
    assert store.mark_handled(reference) is True
    handled = store.get(reference)
    assert handled is not None and handled["status"] == "handled"
    assert [row["reference"] for row in store.list("handled")] == [reference]
    assert store.list("pending") == []

    clock.advance(minutes=5)
    assert store.mark_handled(reference) is True  # idempotent, keeps the first time
    again = store.get(reference)
    assert again is not None and again["handled_at"] == handled["handled_at"]


def test_unknown_references(store: RequestStore) -> None:
    store.save(second_opinion())
    assert store.get("CB-0000-00") is None
    assert store.get("not a reference") is None
    assert store.mark_handled("CB-0000-00") is False
    assert store.retry_delivery("CB-0000-00") is False


def test_list_is_oldest_first_and_filters_by_status(store: RequestStore, clock: FakeClock) -> None:
    first = store.save(second_opinion())
    clock.advance(minutes=1)
    second = store.save(second_opinion(request_type="appointment", treating_hospital=None))
    clock.advance(minutes=1)
    third = store.save(second_opinion(request_type="referral", relationship="physician"))
    store.mark_handled(second)
    assert [row["reference"] for row in store.list()] == [first, second, third]
    assert [row["reference"] for row in store.list("pending")] == [first, third]
    with pytest.raises(ValueError, match="status must be one of"):
        store.list("done")


def test_a_failed_delivery_is_listed_as_failed(store: RequestStore) -> None:
    reference = store.save(second_opinion())
    (delivery,) = store.claim_deliveries()
    store.delivery_failed(delivery, "ConnectionRefusedError: nothing listening", retry_at=None)
    assert [row["reference"] for row in store.list("failed")] == [reference]
    assert store.list("pending") == []
    failed = store.get(reference)
    assert failed is not None
    assert failed["delivery_error"] == "ConnectionRefusedError: nothing listening"
    store.mark_handled(reference)  # staff called back anyway: handled wins
    assert store.list("failed") == []


@pytest.mark.parametrize("consent", [False, None, "yes"])
def test_nothing_is_stored_without_consent(store: RequestStore, consent: object) -> None:
    with pytest.raises(InvalidRequest, match="not consented") as refused:
        store.save(second_opinion(consent=consent))
    assert isinstance(refused.value, StorageError)  # one `except` suffices for the caller
    assert store.list() == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "215-555-0123"}, "phone"),
        ({"phone": "+1 215 555 0123"}, "phone"),
        ({"request_type": "urgent"}, "request_type"),
        ({"relationship": "neighbour"}, "relationship"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"best_time": "mornings\r\nBcc: someone@else.test"}, "best_time"),
        ({"email": "not an address"}, "email"),
        ({"email": "ana@family..test"}, "email"),
        ({"email": "ana@[not-a-domain]"}, "email"),
    ],
)
def test_malformed_requests_are_refused_without_echoing_values(
    store: RequestStore, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidRequest, match=field) as refused:
        store.save(second_opinion(**changes))
    for value in changes.values():
        if str(value).strip():
            assert str(value).strip() not in str(refused.value)
    assert store.list() == []


def _fail_outbox_inserts(store: RequestStore) -> None:
    """A real database trigger that makes the second insert of `save` fail."""
    with store.engine.begin() as db:
        if store.engine.dialect.name == "sqlite":
            db.exec_driver_sql(
                "CREATE TRIGGER outbox_down BEFORE INSERT ON callback_outbox "
                "BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END"
            )
            return
        schema = store.engine.get_execution_options()["schema_translate_map"][None]
        db.exec_driver_sql(
            f"CREATE FUNCTION {schema}.outbox_down() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE EXCEPTION 'outbox unavailable'; END $$"
        )
        db.exec_driver_sql(
            f"CREATE TRIGGER outbox_down BEFORE INSERT ON {schema}.callback_outbox "
            f"FOR EACH ROW EXECUTE FUNCTION {schema}.outbox_down()"
        )


def test_request_and_outbox_row_are_one_transaction(store: RequestStore) -> None:
    store.list()  # creates the tables
    _fail_outbox_inserts(store)
    with pytest.raises(StorageError, match="outbox unavailable") as failed:
        store.save(second_opinion())
    assert "Ana" not in str(failed.value) and "2155550123" not in str(failed.value)
    assert store.list() == []  # the request row was rolled back with the outbox row


def test_claims_are_exclusive_until_the_lease_runs_out(
    store: RequestStore, clock: FakeClock
) -> None:
    reference = store.save(second_opinion())
    (first,) = store.claim_deliveries(lease=timedelta(minutes=15))
    assert first.attempts == 1 and first.request["reference"] == reference
    assert store.claim_deliveries() == []
    clock.advance(minutes=16)
    (second,) = store.claim_deliveries()
    assert second.attempts == 2
    # The first worker's late result cannot overwrite the new claim.
    assert store.delivery_succeeded(first, "<late@x>") is False
    assert store.delivery_succeeded(second, "<callback-request@x>") is True
    assert store.claim_deliveries() == []


def test_purge_deletes_only_requests_handled_long_ago(
    store: RequestStore, clock: FakeClock
) -> None:
    old = store.save(second_opinion())
    waiting = store.save(second_opinion())
    store.mark_handled(old)
    clock.advance(days=40)
    recent = store.save(second_opinion())
    store.mark_handled(recent)
    assert store.purge_handled(clock() - timedelta(days=30)) == 1
    assert {row["reference"] for row in store.list()} == {waiting, recent}


def test_fifty_concurrent_saves_are_all_stored(store: RequestStore) -> None:
    barrier = threading.Barrier(50)
    references: list[str] = []
    errors: list[BaseException] = []

    def save(number: int) -> None:
        barrier.wait()
        try:
            references.append(store.save(second_opinion(name=f"Parent {number}")))
        except BaseException as error:  # collected, so the assertion shows it
            errors.append(error)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(set(references)) == 50
    stored = store.list()
    assert {row["reference"] for row in stored} == set(references)
    assert {row["name"] for row in stored} == {f"Parent {n}" for n in range(50)}


# --- SQLite file permissions and unavailable databases ---------------------------------------


def test_sqlite_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        path = tmp_path / "new" / "deeper" / "requests.db"
        store = RequestStore.from_url(f"sqlite:///{path}")
        store.save(second_opinion())
        for file in path.parent.iterdir():  # the database and SQLite's -wal and -shm files
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        for folder in (path.parent, path.parent.parent):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        store.close()
    finally:
        os.umask(previous)


def test_an_existing_readable_sqlite_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "requests.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    store = RequestStore.from_url(f"sqlite:///{path}")
    store.list()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store.close()


@pytest.mark.parametrize(
    "where",
    ["below a file", "a directory"],
)
def test_an_unusable_sqlite_path_raises_storage_error(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "blocker"
    if where == "below a file":
        blocker.write_text("not a folder")
        path = blocker / "requests.db"
    else:
        blocker.mkdir()
        path = blocker
    store = RequestStore.from_url(f"sqlite:///{path}")
    with pytest.raises(StorageError, match="could not store"):
        store.save(second_opinion())
    with pytest.raises(StorageError):
        store.list()
    store.close()


def test_a_locked_sqlite_database_raises_storage_error_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "requests.db"
    store = RequestStore.from_url(f"sqlite:///{path}", busy_timeout=0.3)
    store.list()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageError, match="locked"):
            store.save(second_opinion())
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert REFERENCE.fullmatch(store.save(second_opinion()))
    assert len(store.list()) == 1
    store.close()


def test_a_postgresql_server_that_is_down_raises_storage_error() -> None:
    store = RequestStore.from_url(f"postgresql://postgres@127.0.0.1:{free_port()}/test")
    with pytest.raises(StorageError, match="could not store"):
        store.save(second_opinion())
    store.close()


@pytest.mark.parametrize(
    "url", ["not a url", "sqlite://", "sqlite:///:memory:", "nosuchdialect://host/db"]
)
def test_unusable_urls_raise_storage_error(url: str) -> None:
    with pytest.raises(StorageError):
        RequestStore.from_url(url)


def test_references_are_read_the_way_staff_type_them() -> None:
    assert normalise_reference("cb-7k3m-q9") == "CB-7K3M-Q9"
    assert normalise_reference(" CB 7K3M Q9 ") == "CB-7K3M-Q9"
    assert normalise_reference("CB-7K3M-QO") == "CB-7K3M-Q0"  # letter O read as zero
    assert normalise_reference("CB-7K3M") is None
    assert normalise_reference("XX-7K3M-Q9") is None


def test_default_store_follows_requests_db_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REQUESTS_DB_ENV, raising=False)
    assert requests_db_url() == DEFAULT_REQUESTS_DB
    assert DEFAULT_REQUESTS_DB.endswith("/var/requests.db")

    url = f"sqlite:///{tmp_path / 'env' / 'requests.db'}"
    monkeypatch.setenv(REQUESTS_DB_ENV, url)
    requests_store._store_for.cache_clear()
    try:
        store = default_store()
        assert default_store() is store  # one pool per process
        assert str(store.engine.url) == url
        reference = store.save(second_opinion())
        assert store.get(reference) is not None
        store.close()
    finally:
        requests_store._store_for.cache_clear()

    monkeypatch.setenv(REQUESTS_DB_ENV, "nosuchdialect://host/db")
    with pytest.raises(StorageError):
        default_store()


def test_a_submission_is_stored_once_even_when_retried_at_the_same_time(store):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda _: store.save_once(second_opinion(), "conv-1:17.5"), range(8))
        )
    references = {reference for reference, _ in results}
    assert len(references) == 1
    assert [stored for _, stored in results].count(True) == 1
    assert len(store.list()) == 1
    assert store.save_once(second_opinion(), "conv-1:99.0")[1] is True  # another form
    assert store.save(second_opinion()) != store.save(second_opinion())  # no key: no dedup


def test_purging_a_handled_request_also_forgets_its_submission(store, clock):
    reference, _ = store.save_once(second_opinion(), "conv-2:1.0")
    store.mark_handled(reference)
    clock.advance(days=1)
    assert store.purge_handled(clock()) == 1
    assert store.save_once(second_opinion(), "conv-2:1.0")[1] is True
