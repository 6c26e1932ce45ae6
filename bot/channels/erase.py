"""Erasing one conversation from the tracker store, for the channels' "forget me".

Rasa 3.6's tracker stores cannot delete a conversation; ours (bot/runtime/tracker_store.py,
named in endpoints.yml) can, behind the wrappers Rasa puts around every store (`FailSafe...`,
`Awaitable...`). The conversation's lock is held while erasing, so a message being answered at
that moment finishes first and cannot write the conversation back afterwards.
"""

from __future__ import annotations

from typing import Any, Protocol

from rasa.core.agent import Agent


class Erasable(Protocol):
    """A tracker store that can delete a conversation."""

    def erase_conversation(self, sender_id: str) -> int:
        """Deletes one conversation's events; the number deleted."""


class CannotErase(Exception):
    """The configured tracker store cannot delete conversations."""


def erasable_store(store: Any) -> Erasable | None:
    """The store inside Rasa's wrappers, if it can erase conversations."""
    seen = 0
    while store is not None and seen < 10:
        if callable(getattr(store, "erase_conversation", None)):
            return store
        store = getattr(store, "_tracker_store", None)
        seen += 1
    return None


async def erase_conversation(agent: Agent, sender_id: str) -> int:
    """Deletes one conversation under its lock; the number of events deleted.

    Raises:
        CannotErase: the tracker store in endpoints.yml has no `erase_conversation`.

    """
    store = erasable_store(agent.tracker_store)
    if store is None:
        raise CannotErase("the tracker store cannot delete conversations")
    async with agent.lock_store.lock(sender_id):
        return store.erase_conversation(sender_id)
