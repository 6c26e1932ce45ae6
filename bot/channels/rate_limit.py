"""Per-sender message limits for the channels, shared by every replica that uses the same store.

One moving window (the `limits` library's) serves every channel: the website refuses a message
over the limit and says how long to wait; the SMS channel answers the first text over the limit
with a notice and drops the rest of that window's texts silently (a text cannot be refused, and
each reply costs money). These are courtesy limits against runaway clients and loops; flooding
belongs to the reverse proxy or the SMS gateway in front of the assistant.

Where the counts live is `$RATE_LIMIT_STORAGE_URL`, read once per process: `memory://` (the
default: this process only, as `make run` needs) or `redis://host:port/db`, which every replica
of a cluster shares, so that a sender who alternates between replicas meets the same limit. A
limit must never stand between a family and an answer: when Redis cannot be reached, the message
is let through and the failure logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from enum import Enum
from functools import lru_cache

from limits import RateLimitItemPerSecond
from limits.errors import ConfigurationError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

STORAGE_ENV = "RATE_LIMIT_STORAGE_URL"
DEFAULT_STORAGE = "memory://"
SHARED_SCHEMES = ("redis://", "rediss://")
# A Redis that does not answer within this many seconds lets the message through.
REDIS_TIMEOUT = 0.5


# How often the in-memory store drops expired counts (a family's counts live at most this long
# past their window).
SWEEP_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    """limits' in-memory store, its expired counts dropped inline about once a second.

    limits 2.4's MemoryStorage starts a new 10-ms `threading.Timer` on any hit that finds the
    last one finished, and `Thread.start` waits until the new thread runs. Under load that was
    a thread started on most messages, each start waiting for the GIL on the event loop (7% of
    its time in a profile). Here the same sweep runs inside the hit, at most once a second.
    """

    def __init__(self) -> None:
        super().__init__()
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (the name limits calls)
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class StorageUnusable(ValueError):
    """`$RATE_LIMIT_STORAGE_URL` names no store this project can use."""


def open_storage(url: str) -> Storage:
    """The counts' store for a URL: memory:// or redis[s]://host:port/db.

    Raises:
        StorageUnusable: another scheme, or a URL the `limits` library refuses.

    """
    if url == DEFAULT_STORAGE:
        return SweptMemoryStorage()
    if not url.startswith(SHARED_SCHEMES):
        raise StorageUnusable(
            f"{STORAGE_ENV} must be {DEFAULT_STORAGE} or redis://host:port/db, not {url!r}"
        )
    options = {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT}
    try:
        return storage_from_string(url, **options)
    except ConfigurationError as error:
        raise StorageUnusable(f"{STORAGE_ENV}: {error}") from None


@lru_cache(maxsize=1)
def configured_storage() -> Storage:
    """The process's store of counts, from `$RATE_LIMIT_STORAGE_URL` (default memory://)."""
    return open_storage(os.environ.get(STORAGE_ENV, "").strip() or DEFAULT_STORAGE)


class SlidingWindow:
    """Allows `limit` hits per key in any window of `window` seconds.

    `name` keeps one channel's counts apart from another's in a shared store.
    """

    def __init__(self, name: str, limit: int, window: int, storage: Storage | None = None) -> None:
        self.name, self.limit, self.window = name, limit, window
        self.item = RateLimitItemPerSecond(limit, window)
        self.storage = storage if storage is not None else configured_storage()
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def hit(self, key: str) -> float:
        """Counts a hit and returns 0, or returns the seconds to wait when over the limit."""
        if isinstance(self.storage, MemoryStorage):  # no I/O: no thread needed
            return self._hit(key)
        return await asyncio.to_thread(self._hit, key)

    def _hit(self, key: str) -> float:
        try:
            if self.limiter.hit(self.item, self.name, key):
                return 0.0
            reset, _ = self.limiter.get_window_stats(self.item, self.name, key)
        except (RedisError, OSError) as error:
            logger.warning("rate limit %s not checked (store unreachable): %s", self.name, error)
            return 0.0
        return max(reset - time.time(), 1.0)


class Verdict(Enum):
    """What the SMS channel does with one more text."""

    ALLOW = "allow"
    NOTIFY = "notify"
    DROP = "drop"


class NotifyOnce:
    """A sliding window that asks for one notice per window when a sender goes over it."""

    def __init__(
        self, name: str, limit: int, window: int = 60, storage: Storage | None = None
    ) -> None:
        self.counter = SlidingWindow(name, limit, window, storage)
        self.notices = SlidingWindow(f"{name}-notice", 1, window, self.counter.storage)

    async def check(self, key: str) -> Verdict:
        """Counts one text from `key` if it is within the limit; says what to do with it."""
        if not await self.counter.hit(key):
            return Verdict.ALLOW
        if not await self.notices.hit(key):
            return Verdict.NOTIFY
        return Verdict.DROP
