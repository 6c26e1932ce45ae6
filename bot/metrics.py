"""Prometheus metrics of one process: what the assistant did, never what anyone wrote.

Every Rasa replica serves its own at `GET /metrics` (bot.channels.health), the delivery worker
at `python -m bot requests deliver --metrics-port N`; Prometheus scrapes each and sums. Label
values come from fixed vocabularies (the channels, the safety kinds, the delivery outcomes),
so no label ever holds a message, a sender id, a name or a phone number, and the number of
series stays small. The counters the Rasa server updates are set in bot.runtime.metrics.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

CHANNELS = ("web", "sms", "rest")
OTHER = "other"
SAFETY_KINDS = ("emergency", "fever", "crisis", "distress")
DELIVERY_OUTCOMES = ("delivered", "retry_later", "failed")
# Latency buckets (seconds) around the target (p95 under 250 ms) and the slow tail.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

MESSAGES = Counter("nb_messages", "Family messages answered, by channel", ["channel"])
MESSAGE_FAILURES = Counter(
    "nb_message_failures", "Messages whose answer failed with an error, by channel", ["channel"]
)
LATENCY = Histogram(
    "nb_message_seconds",
    "Time from a message reaching the assistant (conversation lock wait included) to its answer",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
UNPLACED = Counter(
    "nb_unplaced_messages",
    "Messages read as nlu_fallback or out_of_scope (what staff review), by channel",
    ["channel"],
)
SAFETY = Counter(
    "nb_safety_escalations", "Messages answered with a safety escalation, by kind", ["kind"]
)
CALLBACKS_STORED = Counter(
    "nb_callback_requests_stored", "Callback requests stored and confirmed to the family"
)
DELIVERIES = Counter(
    "nb_callback_deliveries",
    "Callback request e-mails tried by the delivery worker, by outcome",
    ["outcome"],
)


def channel_label(channel: str | None) -> str:
    """The label for a message's input channel: one of CHANNELS, else "other"."""
    return channel if channel in CHANNELS else OTHER


def exposition() -> tuple[bytes, str]:
    """The metrics of this process in Prometheus's text format, and their content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
