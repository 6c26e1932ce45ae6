"""Per-sender message limits for the channels, counted in this process.

One sliding window serves both channels: the website refuses a message over the limit and says
how long to wait; the SMS channel answers the first text over the limit with a notice and drops
the rest of that window's texts silently (a text cannot be refused, and each reply costs money).
These are courtesy limits against runaway clients and loops; flooding belongs to the reverse
proxy or the SMS gateway in front of the assistant.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import Enum


class SlidingWindow:
    """Allows `limit` hits per key in any window of `window` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._hits: dict[str, deque[float]] = {}
        self._pruned = clock()

    def hit(self, key: str) -> float:
        """Counts a hit and returns 0, or returns the seconds to wait when over the limit."""
        now = self.clock()
        self._prune(now)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        return 0.0

    def _prune(self, now: float) -> None:
        """Forgets keys with nothing in the window, once a window, so memory stays bounded."""
        if now - self._pruned < self.window:
            return
        self._pruned = now
        cutoff = now - self.window
        self._hits = {key: hits for key, hits in self._hits.items() if hits and hits[-1] > cutoff}


class Verdict(Enum):
    """What the SMS channel does with one more text."""

    ALLOW = "allow"
    NOTIFY = "notify"
    DROP = "drop"


class NotifyOnce:
    """A sliding window that asks for one notice per window when a sender goes over it."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.counter = SlidingWindow(limit, window, clock)
        self._notified: dict[str, float] = {}

    def check(self, key: str) -> Verdict:
        """Counts one text from `key` if it is within the limit; says what to do with it."""
        if not self.counter.hit(key):
            return Verdict.ALLOW
        now, window = self.counter.clock(), self.counter.window
        if self._notified.get(key, now - window) > now - window:
            return Verdict.DROP
        self._notified = {k: t for k, t in self._notified.items() if t > now - window}
        self._notified[key] = now
        return Verdict.NOTIFY
