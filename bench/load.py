"""Open-loop load: messages arrive at a fixed rate whether or not earlier ones were answered.

A closed loop (send, wait, send) hides queueing: a slow server simply receives fewer messages.
Families do not wait for each other, so arrivals here are scheduled on a clock, each request in
its own task, and every latency is measured from its scheduled send time.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass
class LoadResult:
    """Latencies in milliseconds of answered messages, and how many failed."""

    rate: float
    sent: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0

    def percentile(self, p: float) -> float | None:
        """The p-th percentile latency (inclusive method), or None if nothing was answered."""
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else None
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(p) - 1]

    def summary(self) -> dict[str, Any]:
        """The figures the benchmark reports."""
        return {
            "rate": self.rate,
            "sent": self.sent,
            "answered": len(self.latencies_ms),
            "errors": self.errors,
            "p50_ms": self.percentile(50),
            "p95_ms": self.percentile(95),
            "p99_ms": self.percentile(99),
        }


async def _send(
    session: aiohttp.ClientSession, url: str, payload: dict, scheduled: float, result: LoadResult
) -> None:
    try:
        async with session.post(url, json=payload) as response:
            await response.read()
            if response.status != 200:
                result.errors += 1
                return
    except (aiohttp.ClientError, asyncio.TimeoutError):
        result.errors += 1
        return
    result.latencies_ms.append((time.perf_counter() - scheduled) * 1000)


async def open_loop(
    url: str, payloads: Sequence[dict], rate: float, duration: float, timeout: float = 30.0
) -> LoadResult:
    """Sends `rate` messages a second for `duration` seconds, cycling through `payloads`."""
    count = max(1, int(rate * duration))
    result = LoadResult(rate=rate, sent=count)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=client_timeout, connector=connector) as session:
        start = time.perf_counter()
        tasks = []
        for index in range(count):
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            payload = payloads[index % len(payloads)]
            tasks.append(asyncio.create_task(_send(session, url, payload, scheduled, result)))
        await asyncio.gather(*tasks)
    return result


def run_open_loop(url: str, payloads: Sequence[dict], rate: float, duration: float) -> LoadResult:
    """Synchronous wrapper for `open_loop`."""
    return asyncio.run(open_loop(url, payloads, rate, duration))
