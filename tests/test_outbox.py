"""Delivery to the staff inbox through a real SMTP server (aiosmtpd) in the test process.

Retry times are checked with a fake clock, never by sleeping. Every test taking `store` runs on
SQLite and, with TEST_POSTGRES_URL, on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from prometheus_client import REGISTRY

from bot.callbacks.outbox import Backoff, check_settings, deliver_due, message_id, run_forever
from bot.callbacks.store import RequestStore
from bot.center.config import DEFAULT_PATH, ConfigError, DeliveryConfig, load_center_config
from bot.metrics import DELIVERY_OUTCOMES
from bot.paths import ROOT
from tests.conftest import free_port
from tests.request_stores import FakeClock, second_opinion

STAFF_INBOX = "callbacks@nb.hospital.internal"
FROM_ADDRESS = "assistant@nb.hospital.internal"
BACKOFF = Backoff(first=timedelta(minutes=1), longest=timedelta(minutes=10))


class SmtpSink:
    """A real SMTP server on a loopback port that keeps every message it accepts.

    It can be stopped and started again on the same port, to play a mail server outage.
    """

    def __init__(self, port: int | None = None, reject: bool = False, **smtp: Any) -> None:
        self.port = port or free_port()
        self.reject = reject
        self.smtp = smtp
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:  # noqa: N802
        if self.reject:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        with self.lock:
            self.messages.append(message_from_bytes(envelope.original_content))
        return "250 Message accepted"

    def start(self) -> SmtpSink:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **self.smtp)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def message_ids(self) -> list[str]:
        with self.lock:
            return [message["Message-ID"] for message in self.messages]


def settings(port: int, **changes: Any) -> DeliveryConfig:
    """Delivery settings for a sink on `port`."""
    config = DeliveryConfig(
        smtp_host="127.0.0.1",
        smtp_port=port,
        from_address=FROM_ADDRESS,
        staff_inbox=STAFF_INBOX,
        max_attempts=4,
    )
    return config.copy(update=changes)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


def test_each_request_is_delivered_once_with_only_what_staff_need(
    store: RequestStore, sink: SmtpSink, clock: FakeClock
) -> None:
    reference = store.save(second_opinion(country="Portugal"))
    config = settings(sink.port)

    report = deliver_due(store, config)
    assert report.delivered == [reference] and report.ok
    assert deliver_due(store, config).delivered == []
    assert len(sink.messages) == 1

    (mail,) = sink.messages
    assert mail["To"] == STAFF_INBOX and mail["From"] == FROM_ADDRESS
    assert mail["Message-ID"] == message_id(reference, FROM_ADDRESS)
    assert reference in mail["Subject"] and "Second opinion" in mail["Subject"]
    assert "Ana" not in mail["Subject"]  # names stay out of headers
    body = mail.get_payload(decode=True).decode("utf-8")
    for shown in (
        reference,
        "Ana María",
        "+12155550123",
        "weekday mornings",
        "Lakeside Children's Hospital",
        "Portugal",
        "ana@family.example",
        "Parent",
    ):
        assert shown in body
    assert "conv-5f2a9c" not in mail.as_string()  # no conversation reference or text

    stored = store.get(reference)
    assert stored is not None
    assert stored["delivery"] == "delivered" and stored["status"] == "pending"
    assert stored["message_id"] == mail["Message-ID"]
    assert stored["delivery_attempts"] == 1


def test_server_down_then_up_delivers_exactly_once_after_backoff(
    store: RequestStore, clock: FakeClock
) -> None:
    sink = SmtpSink()  # not started: nothing listens on its port yet
    config = settings(sink.port, max_attempts=10)
    references = {store.save(second_opinion()), store.save(second_opinion(name="Sam"))}

    report = deliver_due(store, config, backoff=BACKOFF)
    assert set(report.retrying) == references and report.delivered == []
    # Waits of 1, 2 and 4 minutes: nothing is tried before its time, each try when it comes.
    for wait in (1, 2, 4):
        clock.advance(minutes=wait, seconds=-1)
        assert deliver_due(store, config, backoff=BACKOFF).retrying == []
        clock.advance(seconds=1)
        assert set(deliver_due(store, config, backoff=BACKOFF).retrying) == references
    waiting = store.get(next(iter(references)))
    assert waiting is not None
    assert waiting["delivery_attempts"] == 4 and waiting["status"] == "pending"
    assert "ConnectionRefusedError" in (waiting["delivery_error"] or "")
    assert waiting["next_attempt_at"] == (clock() + timedelta(minutes=8)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )

    sink.start()
    try:
        clock.advance(minutes=7)
        assert deliver_due(store, config, backoff=BACKOFF).delivered == []  # not yet due
        clock.advance(minutes=1)
        assert set(deliver_due(store, config, backoff=BACKOFF).delivered) == references
        clock.advance(hours=2)
        assert deliver_due(store, config, backoff=BACKOFF).delivered == []
    finally:
        sink.stop()
    assert sorted(sink.message_ids()) == sorted(message_id(r, FROM_ADDRESS) for r in references)


def test_backoff_doubles_up_to_its_longest_wait() -> None:
    assert [BACKOFF.delay(n) for n in range(1, 7)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8, 10, 10)
    ]
    with pytest.raises(ValueError):
        Backoff(first=timedelta(0))


def test_a_request_that_keeps_failing_is_marked_failed_and_can_be_retried(
    store: RequestStore, clock: FakeClock
) -> None:
    sink = SmtpSink()
    config = settings(sink.port, max_attempts=3)
    reference = store.save(second_opinion())
    before = _deliveries()
    outcomes = []
    for _ in range(3):
        report = deliver_due(store, config, backoff=BACKOFF)
        outcomes.append((report.retrying, report.failed))
        clock.advance(hours=1)
    assert outcomes == [([reference], []), ([reference], []), ([], [reference])]
    assert [row["reference"] for row in store.list("failed")] == [reference]
    assert store.list("pending") == []
    clock.advance(days=1)
    assert deliver_due(store, config, backoff=BACKOFF).failed == []  # given up: not tried

    sink.start()
    try:
        assert store.retry_delivery(reference) is True
        assert deliver_due(store, config, backoff=BACKOFF).delivered == [reference]
        assert store.retry_delivery(reference) is False  # delivered: nothing to retry
    finally:
        sink.stop()
    assert len(sink.messages) == 1
    assert store.list("failed") == []
    # What the worker's /metrics (--metrics-port) counts: every attempt, by outcome.
    after = _deliveries()
    assert {k: after[k] - before[k] for k in after} == {
        "delivered": 1,
        "retry_later": 2,
        "failed": 1,
    }


def _deliveries() -> dict[str, float]:
    return {
        outcome: REGISTRY.get_sample_value("nb_callback_deliveries_total", {"outcome": outcome})
        or 0.0
        for outcome in DELIVERY_OUTCOMES
    }


def test_a_refused_message_is_retried_and_the_rest_go_through(
    store: RequestStore, clock: FakeClock
) -> None:
    refusing = SmtpSink(reject=True).start()
    try:
        reference = store.save(second_opinion())
        report = deliver_due(store, settings(refusing.port), backoff=BACKOFF)
    finally:
        refusing.stop()
    assert report.retrying == [reference]
    stored = store.get(reference)
    assert stored is not None and "SMTPRecipientsRefused" in (stored["delivery_error"] or "")
    assert refusing.messages == []


def test_a_stalled_worker_loses_its_claim_after_the_lease(
    store: RequestStore, sink: SmtpSink, clock: FakeClock
) -> None:
    reference = store.save(second_opinion())
    (stalled,) = store.claim_deliveries(lease=timedelta(minutes=15))  # then the worker stops
    config = settings(sink.port)
    assert deliver_due(store, config).delivered == []
    clock.advance(minutes=15)
    assert deliver_due(store, config).delivered == [reference]
    assert store.delivery_succeeded(stalled, "<late@x>") is False
    assert len(sink.messages) == 1


def test_fifty_concurrent_requests_are_each_delivered_once_by_competing_workers(
    store: RequestStore, sink: SmtpSink
) -> None:
    barrier = threading.Barrier(50)
    references: list[str] = []
    errors: list[BaseException] = []

    def run(work: Any) -> None:
        try:
            work()
        except BaseException as error:  # collected, so the assertion shows it
            errors.append(error)

    def save(number: int) -> None:
        barrier.wait()
        references.append(store.save(second_opinion(name=f"Parent {number}")))

    savers = [threading.Thread(target=run, args=(lambda n=n: save(n),)) for n in range(50)]
    for thread in savers:
        thread.start()
    for thread in savers:
        thread.join(timeout=120)
    assert errors == [] and len(set(references)) == 50

    config = settings(sink.port)
    delivered: list[str] = []

    def work() -> None:
        delivered.extend(deliver_due(store, config, batch_size=5).delivered)

    workers = [threading.Thread(target=run, args=(work,)) for _ in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(delivered) == sorted(references)
    ids = sink.message_ids()
    assert len(ids) == 50
    assert sorted(ids) == sorted(message_id(r, FROM_ADDRESS) for r in references)
    assert all(row["delivery"] == "delivered" for row in store.list())


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_uses_the_password_from_the_environment(
    store: RequestStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def authenticate(server, session, envelope, mechanism, data) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"nb-assistant",
            b"s3cret",
        )
        return AuthResult(success=ok)

    sink = SmtpSink(auth_required=True, auth_require_tls=False, authenticator=authenticate).start()
    try:
        config = settings(sink.port, username="nb-assistant", password_env="NB_TEST_SMTP_PW")
        monkeypatch.delenv("NB_TEST_SMTP_PW", raising=False)
        with pytest.raises(ConfigError, match="NB_TEST_SMTP_PW"):
            deliver_due(store, config)
        reference = store.save(second_opinion())
        monkeypatch.setenv("NB_TEST_SMTP_PW", "wrong")
        # aiosmtpd stalls a failed login (against guessing); a short timeout ends the attempt.
        assert deliver_due(store, config, backoff=BACKOFF, timeout=1).retrying == [reference]
        monkeypatch.setenv("NB_TEST_SMTP_PW", "s3cret")
        store.retry_delivery(reference)
        assert deliver_due(store, config).delivered == [reference]
    finally:
        sink.stop()
    assert len(sink.messages) == 1


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (DeliveryConfig(), "not configured"),
        (settings(25, staff_inbox="callbacks@example.org"), "fictional"),
    ],
)
def test_delivery_refuses_to_start_without_a_real_inbox(
    store: RequestStore, config: DeliveryConfig, problem: str
) -> None:
    reference = store.save(second_opinion())
    with pytest.raises(ConfigError, match=problem):
        deliver_due(store, config)
    stored = store.get(reference)
    assert stored is not None and stored["delivery_attempts"] == 0  # nothing was claimed


# --- the `delivery:` section of the center configuration ---------------------------------------


def _config_with(tmp_path: Path, delivery: dict[str, Any]) -> Path:
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    data["delivery"] = delivery
    path = tmp_path / "center.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_shipped_configuration_stores_but_does_not_deliver() -> None:
    delivery = load_center_config(DEFAULT_PATH).delivery
    assert delivery == DeliveryConfig()
    assert not delivery.smtp_configured
    with pytest.raises(ConfigError, match="not configured"):
        check_settings(delivery)


def test_a_full_delivery_section_is_read(tmp_path: Path) -> None:
    path = _config_with(
        tmp_path,
        {
            "requests_db": "var/other.db",
            "smtp_host": "smtp.hospital.internal",
            "smtp_port": 587,
            "starttls": True,
            "username": "nb-assistant",
            "password_env": "NB_SMTP_PASSWORD",
            "from_address": FROM_ADDRESS,
            "staff_inbox": STAFF_INBOX,
            "max_attempts": 5,
        },
    )
    delivery = load_center_config(path).delivery
    assert delivery.requests_db == f"sqlite:///{ROOT / 'var' / 'other.db'}"
    assert (delivery.smtp_host, delivery.smtp_port, delivery.starttls) == (
        "smtp.hospital.internal",
        587,
        True,
    )
    assert delivery.password_env == "NB_SMTP_PASSWORD" and delivery.max_attempts == 5
    assert delivery.smtp_configured


@pytest.mark.parametrize(
    ("delivery", "problem"),
    [
        ({"smtp_host": "smtp.x.internal", "smtp_password": "hunter2"}, "never put a password"),
        ({"smtp_hots": "smtp.x.internal"}, "unknown setting"),
        ({"smtp_host": "smtp.x.internal", "from_address": FROM_ADDRESS}, "staff_inbox missing"),
        (
            {"smtp_host": "smtp.x.internal", "from_address": "nope", "staff_inbox": STAFF_INBOX},
            "from_address",
        ),
        ({"smtp_port": 70000}, "smtp_port"),
        ({"starttls": "yes"}, "starttls"),
        (
            {
                "smtp_host": "smtp.x.internal",
                "from_address": FROM_ADDRESS,
                "staff_inbox": STAFF_INBOX,
                "username": "nb",
                "password_env": "NB_SMTP_PASSWORD",
            },
            "starttls: true",
        ),
        ({"username": "nb", "starttls": True}, "password_env"),
        (
            {
                "smtp_host": "smtp.x.internal",
                "from_address": FROM_ADDRESS,
                "staff_inbox": STAFF_INBOX,
            },
            "need TLS: set starttls: true",
        ),
        ({"starttls": True, "tls": True}, "not both"),
    ],
)
def test_a_wrong_delivery_section_is_refused_at_start_up(
    tmp_path: Path, delivery: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_center_config(_config_with(tmp_path, delivery))


def test_the_delivery_service_runs_its_daily_task_at_start_then_once_a_day(store, sink):
    """The retention purge rides on the long-running delivery service (`daily`); a failing
    task is logged and delivery goes on."""
    now = [0.0]
    runs: list[float] = []
    stop = threading.Event()

    def daily() -> None:
        runs.append(now[0])
        if len(runs) == 2:
            raise RuntimeError("tracker store down")

    rounds = iter(range(8))

    def clock() -> float:
        return now[0]

    def on_report(report: Any) -> None:
        now[0] += 6 * 3600  # each round, a quarter of a day passes
        if next(rounds, None) is None:
            stop.set()

    store.save(second_opinion())
    run_forever(
        store, settings(sink.port), stop, interval=0, on_report=on_report, daily=daily, clock=clock
    )
    assert runs == [0.0, 24 * 3600.0, 48 * 3600.0]
    assert len(sink.message_ids()) == 1
