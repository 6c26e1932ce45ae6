"""`/health`, `/ready` and `/metrics` on every Rasa replica, for a balancer and for monitoring.

- `GET /health` (live): the process answers; 200 `{"status": "ok"}`. A failing check restarts it.
- `GET /ready`: the replica can answer families now: the model is loaded, the conversation
  store answers a query, and the lock store (Redis, when one is configured) answers a ping.
  200 when all pass, else 503; the body names each check and whether it passed, never a URL,
  a host or an error text. A balancer sends no family to a replica that is not ready.
- `GET /metrics`: this process's Prometheus metrics (bot.metrics): messages, latency, unplaced
  messages, safety escalations, stored callback requests. Counts only: no text, no sender.
  Serve it to the monitoring network only (the nginx configuration does not pass it).

Registered in credentials.yml like a channel (it needs no secret); it never takes a message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.erase import erasable_store
from bot.metrics import exposition

NO_STORE = "no-store"


def tracker_store_ready(store: Any) -> bool:
    """Whether the SQL conversation store answers (Rasa's wrappers looked through)."""
    inner = erasable_store(store)
    engine = getattr(inner, "engine", None)
    if engine is None:
        return store is not None  # an in-memory store is always there
    try:
        with engine.connect() as db:
            db.execute(sa.text("SELECT 1"))
        return True
    except Exception:  # any failure means "not ready"; the reason is in the database's log
        return False


def lock_store_ready(store: Any) -> bool:
    """Whether the lock store answers: Redis must answer a ping; in memory always does."""
    redis = getattr(store, "red", None)
    if redis is None:
        return store is not None
    try:
        return bool(redis.ping())
    except Exception:
        return False


async def readiness(agent: Any) -> dict[str, bool]:
    """Each check's result (blocking checks run in a worker thread)."""
    if agent is None:
        return {"model": False, "tracker_store": False, "lock_store": False}
    tracker, lock = await asyncio.gather(
        asyncio.to_thread(tracker_store_ready, agent.tracker_store),
        asyncio.to_thread(lock_store_ready, agent.lock_store),
    )
    return {"model": bool(agent.is_ready()), "tracker_store": tracker, "lock_store": lock}


class HealthInput(InputChannel):
    """The replica's liveness and readiness endpoints."""

    @classmethod
    def name(cls) -> str:
        """The channel's name (no message ever arrives on it)."""
        return "health"

    def url_prefix(self) -> str:
        """Routes are absolute: /health and /ready."""
        return "/"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The two routes."""
        health = Blueprint("nb_health", __name__)

        @health.route("/health", methods=["GET"])
        async def live(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"}, headers={"Cache-Control": NO_STORE})

        @health.route("/ready", methods=["GET"])
        async def ready(request: Request) -> HTTPResponse:
            checks = await readiness(getattr(request.app.ctx, "agent", None))
            ok = all(checks.values())
            return response.json(
                {"status": "ready" if ok else "not ready", "checks": checks},
                status=200 if ok else 503,
                headers={"Cache-Control": NO_STORE},
            )

        @health.route("/metrics", methods=["GET"])
        async def metrics(request: Request) -> HTTPResponse:
            body, content_type = exposition()
            return response.raw(
                body, content_type=content_type, headers={"Cache-Control": NO_STORE}
            )

        return health
