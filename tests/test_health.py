"""/health and /ready on the running assistant, and the readiness checks on real stores."""

from __future__ import annotations

import sqlalchemy as sa
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain

from bot.channels import health
from bot.runtime.tracker_store import SQLTrackerStore
from tests.conftest import http_json


class _Unreachable:
    """A SQL conversation store whose database cannot be reached (what the check looks at:
    its `engine`, found the way bot.channels.erase finds the store inside Rasa's wrappers)."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine

    def erase_conversation(self, sender_id: str) -> int:
        return 0


def test_a_running_replica_is_live_and_ready(assistant):
    assert http_json(f"{assistant.url}/health") == {"status": "ok"}
    answer = http_json(f"{assistant.url}/ready")
    assert answer == {
        "status": "ready",
        "checks": {"model": True, "tracker_store": True, "lock_store": True},
    }


def test_an_unreachable_conversation_store_is_not_ready(tmp_path):
    store = SQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(tmp_path / "t.db"))
    assert health.tracker_store_ready(FailSafeTrackerStore(store))  # as Rasa wraps it
    gone = sa.create_engine(
        "postgresql://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    assert not health.tracker_store_ready(_Unreachable(gone))


def test_an_unreachable_redis_is_not_ready():
    from bot.runtime.lock_store import AtomicRedisLockStore

    assert health.lock_store_ready(InMemoryLockStore())
    assert not health.lock_store_ready(
        AtomicRedisLockStore(host="127.0.0.1", port=1, socket_timeout=1)
    )


def test_a_replica_without_its_agent_is_not_ready():
    import asyncio

    checks = asyncio.run(health.readiness(None))
    assert checks == {"model": False, "tracker_store": False, "lock_store": False}
