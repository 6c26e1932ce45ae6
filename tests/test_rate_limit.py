"""The channels' per-sender limits (bot/channels/rate_limit.py), in memory and in the real Redis.

The windows are short (a few seconds) and the tests wait them out: the `limits` library reads
the real clock, and what is checked is that counts leave the window, not how fast.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from limits.storage import MemoryStorage, Storage

from bot.channels.rate_limit import (
    NotifyOnce,
    SlidingWindow,
    StorageUnusable,
    SweptMemoryStorage,
    Verdict,
    open_storage,
)
from tests.conftest import require

REDIS_URL = "redis://127.0.0.1:6379/2"


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except redis.exceptions.RedisError:
        return False


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    """Each test runs on this process's memory and on the Redis every replica would share."""
    if request.param == "memory":
        yield MemoryStorage()
        return
    require(_redis_up(), "Redis is not running on 127.0.0.1:6379")
    yield open_storage(REDIS_URL)


def _name() -> str:
    """A limit name of this test's own, so that runs never share counts in Redis."""
    return f"test-{uuid.uuid4().hex}"


def _hits(limiter: SlidingWindow, key: str, times: int) -> list[float]:
    async def hit_all() -> list[float]:
        return [await limiter.hit(key) for _ in range(times)]

    return asyncio.run(hit_all())


def test_the_window_refuses_the_hit_over_the_limit_and_says_how_long_to_wait(storage) -> None:
    limiter = SlidingWindow(_name(), limit=2, window=3, storage=storage)
    first = _hits(limiter, "a", 3)
    assert first[:2] == [0, 0]
    assert 1 <= first[2] <= 3
    assert _hits(limiter, "b", 1) == [0]  # another sender has its own count
    time.sleep(3.1)  # both hits have left the window
    assert _hits(limiter, "a", 2) == [0, 0]


def test_two_replicas_on_one_store_share_each_senders_count(storage) -> None:
    name = _name()
    replica_a = SlidingWindow(name, limit=3, window=60, storage=storage)
    replica_b = SlidingWindow(name, limit=3, window=60, storage=storage)
    assert _hits(replica_a, "a", 2) == [0, 0]
    assert _hits(replica_b, "a", 1) == [0]
    assert _hits(replica_a, "a", 1)[0] > 0 and _hits(replica_b, "a", 1)[0] > 0


def test_sms_gets_one_notice_per_window_then_texts_are_allowed_again(storage) -> None:
    limiter = NotifyOnce(_name(), limit=2, window=3, storage=storage)

    async def checks(key: str, times: int) -> list[Verdict]:
        return [await limiter.check(key) for _ in range(times)]

    assert asyncio.run(checks("a", 4)) == [
        Verdict.ALLOW,
        Verdict.ALLOW,
        Verdict.NOTIFY,
        Verdict.DROP,
    ]
    assert asyncio.run(checks("b", 1)) == [Verdict.ALLOW]
    time.sleep(3.1)
    assert asyncio.run(checks("a", 3)) == [Verdict.ALLOW, Verdict.ALLOW, Verdict.NOTIFY]


def test_an_unreachable_redis_lets_every_message_through() -> None:
    # Nothing listens on port 1: the limit must never stand between a family and an answer.
    limiter = SlidingWindow(
        _name(), limit=1, window=60, storage=open_storage("redis://127.0.0.1:1/0")
    )
    assert _hits(limiter, "a", 3) == [0, 0, 0]


@pytest.mark.parametrize("url", ["memcached://127.0.0.1:11211", "redis", "sqlite:///x.db"])
def test_a_store_the_project_cannot_use_is_refused_by_name(url: str) -> None:
    with pytest.raises(StorageUnusable, match="RATE_LIMIT_STORAGE_URL"):
        open_storage(url)


def test_memory_counts_start_no_thread_per_hit_and_still_expire(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """limits' own store starts a Timer thread whenever its last one ended; ours sweeps inline."""
    storage = SweptMemoryStorage()
    started: list[object] = []
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread))
    window = SlidingWindow("web", 2, 1, storage)
    assert asyncio.run(window.hit("s")) == 0.0
    time.sleep(0.05)  # past the 10 ms after which limits' store would start another timer
    assert asyncio.run(window.hit("s")) == 0.0
    assert asyncio.run(window.hit("s")) >= 1.0  # the limit holds
    time.sleep(1.1)  # the window and a sweep interval have passed
    assert asyncio.run(window.hit("s")) == 0.0
    assert started == []
    assert len(next(iter(storage.events.values()))) == 1  # the expired hits were dropped
