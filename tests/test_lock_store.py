"""The atomic Redis lock store, against the real Redis on 127.0.0.1:6379.

Several store instances stand for several replicas: each has its own connection, and they
issue and return tickets for the same conversation at the same moment.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from rasa.core.lock import TicketLock

from bot.runtime.lock_store import AtomicRedisLockStore
from tests.conftest import require

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.StrictRedis(REDIS_HOST, REDIS_PORT, socket_timeout=2).ping())
    except redis.exceptions.RedisError:
        return False


@pytest.fixture
def replicas() -> Iterator[list[AtomicRedisLockStore]]:
    """Four stores on one Redis, with a key prefix of this test's own."""
    require(_redis_up(), f"Redis is not running on {REDIS_HOST}:{REDIS_PORT}")
    prefix = f"test{uuid.uuid4().hex}"
    stores = [
        AtomicRedisLockStore(host=REDIS_HOST, port=REDIS_PORT, key_prefix=prefix) for _ in range(4)
    ]
    yield stores
    for key in stores[0].red.scan_iter(f"{prefix}*"):
        stores[0].red.delete(key)


def _at_once(workers: list[threading.Thread]) -> None:
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)


def test_tickets_issued_at_once_by_several_replicas_are_all_different(replicas):
    issued: list[int] = []
    start = threading.Barrier(len(replicas) * 4)

    def issue(store: AtomicRedisLockStore) -> None:
        start.wait()
        for _ in range(50):
            issued.append(store.issue_ticket("conv-1", lock_lifetime=60))

    _at_once([threading.Thread(target=issue, args=(s,)) for s in replicas for _ in range(4)])
    assert len(issued) == 800
    assert sorted(issued) == list(range(800))  # no number twice, none skipped
    lock = replicas[0].get_lock("conv-1")
    assert isinstance(lock, TicketLock) and len(lock.tickets) == 800  # Rasa reads it


def test_one_conversation_is_processed_by_one_replica_at_a_time_in_ticket_order(replicas):
    holders = 0
    most = 0
    served: list[int] = []
    guard = threading.Lock()

    async def handle(store: AtomicRedisLockStore, message: int) -> None:
        nonlocal holders, most
        async with store.lock("conv-2", lock_lifetime=60, wait_time_in_seconds=0.01):
            with guard:
                holders += 1
                most = max(most, holders)
                served.append(message)
            await asyncio.sleep(0.005)  # the work a message takes, with the lock held
            with guard:
                holders -= 1

    def replica(store: AtomicRedisLockStore, first: int) -> None:
        async def run() -> None:
            await asyncio.gather(*(handle(store, first + n) for n in range(10)))

        asyncio.run(run())

    _at_once([threading.Thread(target=replica, args=(s, 10 * i)) for i, s in enumerate(replicas)])
    assert most == 1
    assert sorted(served) == list(range(40))  # every message processed, once
    assert replicas[0].get_lock("conv-2") is None  # the last one out deleted the lock


def test_returning_a_ticket_keeps_the_others_and_the_last_deletes_the_lock(replicas):
    store = replicas[0]
    first, second = store.issue_ticket("conv-3"), store.issue_ticket("conv-3")
    assert (first, second) == (0, 1)
    store.cleanup("conv-3", first)
    lock = store.get_lock("conv-3")
    assert lock is not None and lock.now_serving == second and not lock.is_locked(second)
    store.cleanup("conv-3", second)
    assert store.get_lock("conv-3") is None
    store.cleanup("conv-3", second)  # returning a ticket twice does nothing
    assert store.get_lock("conv-3") is None


def test_an_expired_ticket_is_pruned_so_the_next_one_is_served(replicas):
    store = replicas[0]
    stuck = store.issue_ticket("conv-4", lock_lifetime=0.05)  # a replica that died with it
    waiting = store.issue_ticket("conv-4", lock_lifetime=60)
    time.sleep(0.1)
    store.update_lock("conv-4")
    lock = store.get_lock("conv-4")
    assert lock is not None
    assert [ticket.number for ticket in lock.tickets] == [waiting] and stuck != waiting
