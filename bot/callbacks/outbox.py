"""Delivers stored callback requests to the staff inbox by e-mail, through the outbox.

`RequestStore.save` writes each request's outbox row in the same transaction as the request. A
worker (`python -m bot requests deliver`, or `deliver_due` called directly) claims due rows
atomically, sends one e-mail per request over SMTP, and records the outcome: delivered; or a
failed attempt, tried again after an exponential backoff; or, after `max_attempts`, failed,
which `python -m bot requests list --status failed` shows and `retry REF` queues again.

Claims carry a lease: two workers never send the same row, and the rows of a worker that
stopped are taken over when the lease runs out. The one duplicate this allows (a worker stopped
after the mail server accepted a message, before it was marked delivered) carries the same
Message-ID, derived from the reference, so mail clients and staff can recognise it.

The e-mail holds what staff need to call back and nothing more: reference, request type, who
the caller is to the child, the name to ask for, phone, best time, and the treating hospital,
country and e-mail address when given. Never the conversation.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from bot.callbacks.store import (
    LANGUAGE_LABELS,
    Clock,
    Delivery,
    RequestStore,
    StorageError,
    StoredRequest,
)
from bot.center.config import ConfigError, DeliveryConfig
from bot.metrics import DELIVERIES

logger = logging.getLogger(__name__)

DAY_SECONDS = 24 * 3600.0

BATCH_SIZE = 20
SMTP_TIMEOUT = 30.0
# Longer than a batch can take (BATCH_SIZE messages at SMTP_TIMEOUT each), so that a live
# worker never loses a claim it is still working on.
LEASE = timedelta(minutes=15)

REQUEST_TYPE_LABELS = {
    "appointment": "First appointment or consultation",
    "second_opinion": "Second opinion",
    "existing_patient": "Family of a current patient (wants their care team)",
    "referral": "Referring physician",
    "international": "Family in another country",
    "other": "Other",
}
RELATIONSHIP_LABELS = {
    "parent": "Parent",
    "guardian": "Guardian",
    "physician": "Physician",
    "other": "Other",
}


@dataclass(frozen=True)
class Backoff:
    """How long to wait after the n-th failed attempt: `first`, doubling, at most `longest`.

    With the defaults and 8 attempts, a request is given up on about 3 hours after the first
    try, so a mail server outage shows up as failed requests the same day.
    """

    first: timedelta = timedelta(minutes=1)
    longest: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.first <= timedelta(0):
            raise ValueError("the first delay must be positive, or retries would not wait")

    def delay(self, attempts: int) -> timedelta:
        """The wait after `attempts` failed attempts (1 or more)."""
        return min(self.first * 2 ** min(max(attempts, 1) - 1, 30), self.longest)


@dataclass
class DeliveryReport:
    """What one delivery run did, by reference."""

    delivered: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every request that was due went out."""
        return not self.retrying and not self.failed


def check_settings(config: DeliveryConfig) -> None:
    """Refuses to deliver when the staff inbox is not really configured.

    Raises:
        ConfigError: no SMTP settings, a fictional (example.org) staff inbox, which would mark
            requests delivered that nobody receives, or a login without its password.

    """
    if not config.smtp_configured:
        raise ConfigError(
            "delivery is not configured: set delivery.smtp_host, from_address and staff_inbox "
            "in the center configuration (see bot/center/center.yml); requests stay stored "
            "until then"
        )
    domain = (config.staff_inbox or "").rpartition("@")[2].lower()
    if domain in {"example.org", "example.com", "example.net"} or domain.endswith(".example"):
        raise ConfigError(
            f"delivery.staff_inbox {config.staff_inbox} is a fictional example address; "
            "set the real staff inbox"
        )
    config.password()


def message_id(reference: str, from_address: str) -> str:
    """The Message-ID for a request: the same every time it is sent."""
    domain = from_address.rpartition("@")[2] or "nb-assistant.invalid"
    return f"<callback-request.{reference}@{domain}>"


def compose(request: StoredRequest, config: DeliveryConfig, now: datetime) -> EmailMessage:
    """The e-mail for one request: plain text, only what staff need to call back."""
    reference = request["reference"]
    request_type = REQUEST_TYPE_LABELS.get(request["request_type"], request["request_type"])
    relationship = RELATIONSHIP_LABELS.get(request["relationship"], request["relationship"])
    details = (
        ("Request", request_type),
        ("Caller is the child's", relationship),
        ("Ask for", request["name"]),
        ("Phone", request["phone"]),
        ("Best time to call", request["best_time"]),
        ("Treating hospital", request["treating_hospital"]),
        ("Country", request["country"]),
        ("E-mail", request["email"]),
        ("Language", LANGUAGE_LABELS.get(request["language"] or "", request["language"])),
    )
    received = request["created_at"].replace("T", " ").rstrip("Z")
    lines = [f"Callback request {reference}, received {received} UTC", ""]
    lines += [f"{label + ':':23}{value}" for label, value in details if value]
    lines += [
        "",
        "When the family has been called back, mark it handled:",
        f"  python -m bot requests handled {reference}",
    ]
    message = EmailMessage()
    message["Subject"] = f"Callback request {reference}: {request_type}"
    message["From"] = config.from_address
    message["To"] = config.staff_inbox
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(reference, config.from_address or "")
    # RFC 3834: tells auto-responders not to answer a machine.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content("\n".join(lines) + "\n", cte="quoted-printable")
    return message


def _connect(config: DeliveryConfig, timeout: float) -> smtplib.SMTP:
    password = config.password()
    host = config.smtp_host or ""
    smtp = (
        smtplib.SMTP_SSL(
            host, config.smtp_port, timeout=timeout, context=ssl.create_default_context()
        )
        if config.tls
        else smtplib.SMTP(host, config.smtp_port, timeout=timeout)
    )
    try:
        smtp.ehlo()
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if config.username and password:
            smtp.login(config.username, password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass
class _Run:
    """One delivery run's collaborators, so the per-row steps stay short."""

    store: RequestStore
    config: DeliveryConfig
    clock: Clock
    backoff: Backoff
    report: DeliveryReport

    def failed(self, delivery: Delivery, error: BaseException) -> None:
        reference = delivery.request["reference"]
        now = self.clock()
        reason = _reason(error)
        if delivery.attempts >= self.config.max_attempts:
            self.store.delivery_failed(delivery, reason, retry_at=None, now=now)
            self.report.failed.append(reference)
            DELIVERIES.labels("failed").inc()
            logger.error(
                "giving up on %s after %d attempts: %s", reference, delivery.attempts, reason
            )
            return
        retry_at = now + self.backoff.delay(delivery.attempts)
        self.store.delivery_failed(delivery, reason, retry_at=retry_at, now=now)
        self.report.retrying.append(reference)
        DELIVERIES.labels("retry_later").inc()
        logger.warning(
            "attempt %d for %s failed, next at %s: %s",
            delivery.attempts,
            reference,
            retry_at.isoformat(timespec="seconds"),
            reason,
        )

    def send(self, batch: list[Delivery], timeout: float) -> None:
        try:
            smtp = _connect(self.config, timeout)
        except OSError as error:  # smtplib's errors are OSErrors too
            for delivery in batch:
                self.failed(delivery, error)
            return
        try:
            for index, delivery in enumerate(batch):
                reference = delivery.request["reference"]
                message = compose(delivery.request, self.config, self.clock())
                try:
                    smtp.send_message(
                        message,
                        from_addr=self.config.from_address,
                        to_addrs=[self.config.staff_inbox or ""],
                    )
                except smtplib.SMTPServerDisconnected as error:
                    for rest in batch[index:]:
                        self.failed(rest, error)
                    return
                except smtplib.SMTPException as error:
                    # The server refused this message but the session goes on.
                    self.failed(delivery, error)
                    continue
                except OSError as error:
                    for rest in batch[index:]:
                        self.failed(rest, error)
                    return
                self.store.delivery_succeeded(delivery, message["Message-ID"], now=self.clock())
                self.report.delivered.append(reference)
                DELIVERIES.labels("delivered").inc()
                logger.info("delivered %s", reference)
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def deliver_due(
    store: RequestStore,
    config: DeliveryConfig,
    *,
    clock: Clock | None = None,
    backoff: Backoff | None = None,
    batch_size: int = BATCH_SIZE,
    lease: timedelta = LEASE,
    timeout: float = SMTP_TIMEOUT,
) -> DeliveryReport:
    """Sends every request that is due now, batch by batch, and returns what happened.

    Each batch uses one SMTP session. When the server cannot be reached, every request in the
    batch records a failed attempt and waits for its backoff; so the run always ends, with
    each due request either delivered or scheduled for later.

    Args:
        store: the requests database.
        config: the `delivery:` settings.
        clock: the current time (default: the store's clock); tests pass a fake one.
        backoff: the waits between attempts.
        batch_size: rows claimed at once.
        lease: how long a claim holds before another worker may take the row over.
        timeout: seconds for each SMTP connection and command.

    Raises:
        ConfigError: delivery is not (really) configured; nothing was claimed.
        StorageError: the database failed; claimed rows are retried when their lease ends.

    """
    check_settings(config)
    run = _Run(store, config, clock or store.clock, backoff or Backoff(), DeliveryReport())
    while True:
        batch = store.claim_deliveries(run.clock(), limit=batch_size, lease=lease)
        if not batch:
            return run.report
        run.send(batch, timeout)


def run_forever(
    store: RequestStore,
    config: DeliveryConfig,
    stop: threading.Event,
    *,
    interval: float = 30.0,
    on_report: Callable[[DeliveryReport], None] | None = None,
    daily: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Delivers every `interval` seconds until `stop` is set.

    A database failure is logged and the next round tries again: the worker must outlive a
    database restart. A configuration problem stops it at once. `daily` (the conversation
    store's retention purge, given by `python -m bot`) runs at start and then once a day; its
    failure is logged and never stops delivery.
    """
    check_settings(config)
    next_daily = clock()
    while not stop.is_set():
        if daily is not None and clock() >= next_daily:
            next_daily = clock() + DAY_SECONDS
            _run_daily(daily)
        try:
            report = deliver_due(store, config)
        except StorageError as error:
            logger.error("delivery round failed, trying again in %.0f s: %s", interval, error)
        else:
            if on_report:
                on_report(report)
        stop.wait(interval)


def _run_daily(task: Callable[[], None]) -> None:
    try:
        task()
    except Exception as error:  # noqa: BLE001 - housekeeping must never stop delivery
        logger.error("daily housekeeping failed, trying again tomorrow: %s", error)
