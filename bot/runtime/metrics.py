"""What the Rasa server counts for Prometheus (bot.metrics), hooked into Rasa where it happens.

- `Agent.handle_message` (every family message, on every channel, the conversation lock's wait
  included): messages, failures and latency by channel;
- `MessageProcessor.log_message` (where the NLU result is added to the conversation): messages
  read as `nlu_fallback` or `out_of_scope`, and safety escalations by kind;
- the response generator (bot.runtime.nlg) counts stored callback requests by their
  confirmation, which the action server sends only after the request is stored.

Installed by bot.runtime.rasa_fixes, with Rasa's other fixes, in every Rasa process.
"""

from __future__ import annotations

import time
from typing import Any

from rasa.core.agent import Agent
from rasa.core.processor import MessageProcessor

from bot.metrics import (
    CALLBACKS_STORED,
    LATENCY,
    MESSAGE_FAILURES,
    MESSAGES,
    SAFETY,
    SAFETY_KINDS,
    UNPLACED,
    channel_label,
)

UNPLACED_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})
CALLBACK_CONFIRMATION = "utter_callback_saved"

_handle_message = Agent.handle_message
_log_message = MessageProcessor.log_message


async def measured_handle_message(agent: Agent, message: Any) -> Any:
    """`Agent.handle_message`, counted and timed by channel."""
    channel = channel_label(getattr(message, "input_channel", None))
    started = time.perf_counter()
    try:
        return await _handle_message(agent, message)
    except Exception:
        MESSAGE_FAILURES.labels(channel).inc()
        raise
    finally:
        MESSAGES.labels(channel).inc()
        LATENCY.labels(channel).observe(time.perf_counter() - started)


async def classified_log_message(
    processor: MessageProcessor, message: Any, should_save_tracker: bool = True
) -> Any:
    """`MessageProcessor.log_message`, counting what the message was read as."""
    tracker = await _log_message(processor, message, should_save_tracker)
    count_reading(tracker.latest_message, getattr(message, "input_channel", None))
    return tracker


def count_reading(latest: Any, channel: str | None) -> None:
    """Counts one message's intent: unplaced, a safety escalation, or neither."""
    intent = ((latest.intent if latest is not None else None) or {}).get("name")
    if intent in UNPLACED_INTENTS:
        UNPLACED.labels(channel_label(channel)).inc()
    elif intent in SAFETY_KINDS:
        SAFETY.labels(intent).inc()


def count_response(utter_action: str) -> None:
    """Counts a response the assistant sends (only the callback confirmation, for now)."""
    if utter_action == CALLBACK_CONFIRMATION:
        CALLBACKS_STORED.inc()


def install() -> None:
    """Puts the counting versions in place; idempotent."""
    Agent.handle_message = measured_handle_message
    MessageProcessor.log_message = classified_log_message
