"""Callback requests from families: stored in one transaction with their outbox row, never lost.

A family is told a request was received only after `RequestStore.save` has returned its
reference, and `save` writes the request and its outbox row (which `bot.callbacks.outbox`
e-mails to the staff inbox) in the same transaction: every stored request gets delivered, and
nothing is delivered that was not stored. Any failure to store raises `StorageError`, so a caller
has one exception to catch before it tells the family to phone instead.

Two tables, on SQLite (the default: a file readable and writable by its owner only) or
PostgreSQL:

- `callback_requests`: what staff need to call back and route the request, nothing more (no
  conversation text; `conversation` is an opaque reference the caller may pass);
- `callback_outbox`: one row per request with its delivery state (pending, delivered, failed),
  the attempts so far, when to try next, and the claim that keeps two workers from sending it.

The methods are synchronous and short; the action server calls them in a thread executor, so
one engine is shared safely between threads. On SQLite every write transaction starts with a
write, never a read followed by a write, so that a writer waiting for another one waits for the
busy timeout instead of failing at once with "database is locked".
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection, Engine, Row, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql import Select

from bot.center.config import ConfigError, requests_db_url
from bot.database import create_tables, durable_wal

logger = logging.getLogger(__name__)

REQUEST_TYPES = (
    "appointment",
    "second_opinion",
    "existing_patient",
    "referral",
    "international",
    "other",
)
RELATIONSHIPS = ("parent", "guardian", "physician", "other")
# The family's language, so that someone who speaks it calls back (bot.nlu.language).
LANGUAGES = ("en", "es")
LANGUAGE_LABELS = {"en": "English", "es": "Spanish"}
# What staff filter on: waiting for a call back, called back, or never reached the inbox.
STATUSES = ("pending", "handled", "failed")
DELIVERY_PENDING, DELIVERED, DELIVERY_FAILED = "pending", "delivered", "failed"

# Crockford's base32 leaves out I, L, O and U, so a reference read out over the phone or typed
# from an e-mail cannot be confused (and `normalise_reference` reads O as 0, I and L as 1).
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_REFERENCE_TRIES = 5
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Free-text fields and their longest accepted length; a longer value is refused, not cut.
_TEXT_LIMITS = {
    "name": 100,
    "best_time": 200,
    "email": 254,
    "treating_hospital": 200,
    "country": 100,
    "conversation": 128,
}
_REQUIRED_TEXT = ("name", "best_time")
# The columns that hold what the family typed about itself (masked in staff review).
PERSONAL_COLUMNS = ("name", "phone", "best_time", "email", "treating_hospital", "country")

Clock = Callable[[], datetime]

metadata = MetaData()
callback_requests = Table(
    "callback_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", String(16), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("request_type", String(32), nullable=False),
    Column("relationship", String(16), nullable=False),
    Column("name", String(_TEXT_LIMITS["name"]), nullable=False),
    Column("phone", String(16), nullable=False),
    Column("best_time", String(_TEXT_LIMITS["best_time"]), nullable=False),
    Column("email", String(_TEXT_LIMITS["email"])),
    Column("treating_hospital", String(_TEXT_LIMITS["treating_hospital"])),
    Column("country", String(_TEXT_LIMITS["country"])),
    Column("conversation", String(_TEXT_LIMITS["conversation"])),
    # Added after the first release: `_add_language_column` adds it to older databases.
    Column("language", String(8)),
    Column("consent_at", DateTime, nullable=False),
    Column("handled_at", DateTime),
)
callback_outbox = Table(
    "callback_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", Integer, ForeignKey(callback_requests.c.id), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("claim", String(32)),
    Column("claimed_until", DateTime),
    Column("last_error", String(500)),
    Column("delivered_at", DateTime),
    Column("message_id", String(200)),
    Index("callback_outbox_due", "status", "next_attempt_at"),
)
# One row per submitted form: a consent that is sent again (a retry after a timeout, a double
# tap) finds the request it already stored instead of storing a second one. Its own table, so
# databases created before it need no migration.
callback_submissions = Table(
    "callback_submissions",
    metadata,
    Column("submission", String(200), primary_key=True),
    Column("request_id", Integer, ForeignKey(callback_requests.c.id), nullable=False),
)


def _add_language_column(engine: Engine) -> None:
    """Adds `callback_requests.language` to a database created before it existed.

    Older rows keep NULL (not recorded). Asked with a query rather than the inspector, so that it
    finds the table wherever the connection's search path puts it. Two processes may both try:
    the loser's ALTER fails, and the column is there all the same.
    """

    def present() -> bool:
        try:
            with engine.connect() as db:
                db.execute(select(callback_requests.c.language).limit(0))
            return True
        except DBAPIError:
            return False

    if present():
        return
    try:
        with engine.begin() as db:
            db.execute(sql_text("ALTER TABLE callback_requests ADD COLUMN language VARCHAR(8)"))
    except DBAPIError:
        if not present():
            raise


class StorageError(Exception):
    """A callback request could not be stored or read; the family must not be told it was.

    Raised for every failure (database down, locked, read-only, misconfigured, and requests the
    store refuses), so that callers need a single `except` before telling the family to phone.
    Messages name the problem, never the family's details.
    """


class InvalidRequest(StorageError, ValueError):
    """The request was refused before touching the database (no consent, a malformed field)."""


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC (the default clock)."""
    return datetime.now(timezone.utc)


def _naive_utc(moment: datetime) -> datetime:
    """UTC without tzinfo, the form stored: SQLite keeps no zone, and both backends agree."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_reference() -> str:
    """A random reference such as `CB-7K3M-Q9` (32**6, about a billion, possible values)."""
    body = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))
    return f"CB-{body[:4]}-{body[4:]}"


def normalise_reference(text: str) -> str | None:
    """The canonical form of a reference as staff may type it (`cb7k3mq9`), or None.

    Case, spaces and dashes are ignored, and O, I and L are read as 0, 1 and 1, because those
    letters never appear in a reference but are easily typed for the digits.
    """
    compact = re.sub(r"[\s-]", "", text or "").upper()
    if not compact.startswith("CB"):
        return None
    body = compact[2:].translate(str.maketrans("OIL", "011"))
    if len(body) != 6 or any(char not in _REFERENCE_ALPHABET for char in body):
        return None
    return f"CB-{body[:4]}-{body[4:]}"


@dataclass(frozen=True)
class CallbackRequest:
    """What a family (or a referring physician) asked for, as the callback form collected it.

    The form has already validated and normalised the values (the phone number to E.164);
    `validate` checks them again because this is the last step before personal data is stored.
    """

    request_type: str
    relationship: str
    name: str
    phone: str
    best_time: str
    consent: bool
    email: str | None = None
    treating_hospital: str | None = None
    country: str | None = None
    conversation: str | None = None
    language: str | None = None

    def validate(self) -> None:
        """Refuses a request that must not be stored.

        Raises:
            InvalidRequest: without explicit consent, or with a field that is missing, too long,
                holds control characters, or is not one of the known values. The message names
                the field, never its value.

        """
        if self.consent is not True:
            raise InvalidRequest(
                "the family has not consented to being contacted and to these details being "
                "stored; nothing was stored"
            )
        if self.request_type not in REQUEST_TYPES:
            raise InvalidRequest(f"request_type must be one of {', '.join(REQUEST_TYPES)}")
        if self.relationship not in RELATIONSHIPS:
            raise InvalidRequest(f"relationship must be one of {', '.join(RELATIONSHIPS)}")
        if self.language is not None and self.language not in LANGUAGES:
            raise InvalidRequest(f"language must be one of {', '.join(LANGUAGES)}")
        if not isinstance(self.phone, str) or not _E164.fullmatch(self.phone):
            raise InvalidRequest("phone must be an E.164 number such as +12155550123")
        for name, limit in _TEXT_LIMITS.items():
            value = getattr(self, name)
            if value is None or (isinstance(value, str) and not value.strip()):
                if name in _REQUIRED_TEXT:
                    raise InvalidRequest(f"{name} is required")
                continue
            if not isinstance(value, str):
                raise InvalidRequest(f"{name} must be text")
            if len(value.strip()) > limit:
                raise InvalidRequest(f"{name} is longer than {limit} characters")
            if _CONTROL.search(value.strip()):
                raise InvalidRequest(f"{name} holds control characters")
        if self.email is not None and self.email.strip():
            try:
                validate_email(self.email.strip(), check_deliverability=False)
            except EmailNotValidError:
                raise InvalidRequest("email is not an e-mail address") from None

    def _columns(self) -> dict[str, Any]:
        """The stored values: stripped, empty optional fields as NULL, consent as its time."""
        values: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "consent":
                continue
            if isinstance(value, str):
                value = value.strip() or None
            values[item.name] = value
        return values


class StoredRequest(TypedDict):
    """A stored request as `get` and `list` return it (times as ISO 8601 UTC strings).

    `status` is what staff work from: `pending` (waiting for a call back), `handled`, or
    `failed` (not handled, and the e-mail to the staff inbox gave up: only the command line
    shows it). `delivery` is the e-mail's own state: pending, delivered or failed.
    """

    reference: str
    status: str
    created_at: str
    request_type: str
    relationship: str
    name: str
    phone: str
    best_time: str
    email: str | None
    treating_hospital: str | None
    country: str | None
    conversation: str | None
    language: str | None
    consent_at: str
    handled_at: str | None
    delivery: str
    delivery_attempts: int
    next_attempt_at: str | None
    delivered_at: str | None
    delivery_error: str | None
    message_id: str | None


@dataclass(frozen=True)
class Delivery:
    """One outbox row claimed by a delivery worker.

    Attributes:
        outbox_id: the row.
        claim: the worker's claim token; recording the outcome needs it, so a worker whose
            lease ran out (and whose row another worker took over) cannot overwrite the result.
        attempts: attempts so far, this one included.
        request: the request to send.

    """

    outbox_id: int
    claim: str
    attempts: int
    request: StoredRequest


def _describe(error: BaseException) -> str:
    """A one-line reason for logs and messages, without SQL text or the parameters."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


@contextmanager
def _storage(action: str) -> Iterator[None]:
    """Turns every database or file-system failure into a `StorageError`."""
    try:
        yield
    except StorageError:
        raise
    except (SQLAlchemyError, OSError) as error:
        raise StorageError(f"could not {action}: {_describe(error)}") from error


def _private_file(path: Path) -> None:
    """Creates the SQLite file readable and writable by its owner only (and new folders 700).

    SQLite creates its journal and WAL files with the database file's permissions, so they
    stay private too. An existing file that others can read is tightened, with a warning.
    """
    missing = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            logger.warning("%s was readable by others (mode %o); setting it to 600", path, mode)
            os.chmod(path, 0o600)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets the staff command line read while the service writes; FULL sync loses nothing."""
    durable_wal(connection, "PRAGMA foreign_keys=ON")


def _joined() -> Select:
    """Requests with their delivery state, oldest first."""
    r, o = callback_requests.c, callback_outbox.c
    return (
        select(
            r.reference,
            r.created_at,
            r.request_type,
            r.relationship,
            r.name,
            r.phone,
            r.best_time,
            r.email,
            r.treating_hospital,
            r.country,
            r.conversation,
            r.language,
            r.consent_at,
            r.handled_at,
            o.id.label("outbox_id"),
            o.claim,
            o.status.label("delivery"),
            o.attempts,
            o.next_attempt_at,
            o.delivered_at,
            o.last_error,
            o.message_id,
        )
        .select_from(callback_requests.outerjoin(callback_outbox, o.request_id == r.id))
        .order_by(r.created_at, r.id)
    )


def _as_dict(row: Row) -> StoredRequest:
    delivery = row.delivery or DELIVERY_PENDING
    if row.handled_at is not None:
        status = "handled"
    elif delivery == DELIVERY_FAILED:
        status = "failed"
    else:
        status = "pending"
    return StoredRequest(
        reference=row.reference,
        status=status,
        created_at=_iso(row.created_at) or "",
        request_type=row.request_type,
        relationship=row.relationship,
        name=row.name,
        phone=row.phone,
        best_time=row.best_time,
        email=row.email,
        treating_hospital=row.treating_hospital,
        country=row.country,
        conversation=row.conversation,
        language=row.language,
        consent_at=_iso(row.consent_at) or "",
        handled_at=_iso(row.handled_at),
        delivery=delivery,
        delivery_attempts=row.attempts or 0,
        next_attempt_at=_iso(row.next_attempt_at) if delivery == DELIVERY_PENDING else None,
        delivered_at=_iso(row.delivered_at),
        delivery_error=row.last_error,
        message_id=row.message_id,
    )


def _status_filter(status: str | None) -> Any:
    if status is None:
        return None
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    handled = callback_requests.c.handled_at
    failed = callback_outbox.c.status == DELIVERY_FAILED
    if status == "handled":
        return handled.is_not(None)
    if status == "failed":
        return and_(handled.is_(None), failed)
    return and_(handled.is_(None), or_(callback_outbox.c.status.is_(None), ~failed))


class RequestStore:
    """Stores callback requests and their outbox; create with `RequestStore.from_url`.

    The connection is made, and the tables created, on first use, so that an action server can
    start while the database is down and still tell each family plainly that saving failed.
    """

    def __init__(
        self, engine: Engine, *, sqlite_path: Path | None = None, clock: Clock = utc_now
    ) -> None:
        self.engine = engine
        self.clock = clock
        self._sqlite_path = sqlite_path
        self._schema_lock = threading.Lock()
        self._schema_ready = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        schema: str | None = None,
        busy_timeout: float = 30.0,
        clock: Clock = utc_now,
    ) -> RequestStore:
        """A store on `sqlite:///path` or `postgresql://...`; nothing is connected yet.

        Args:
            url: SQLAlchemy database URL.
            schema: PostgreSQL schema holding the tables (default: the connection's own).
            busy_timeout: seconds a writer waits for another on SQLite, and for a free pooled
                connection on either backend.
            clock: the current time (tests pass a fake one to check retry times).

        Raises:
            StorageError: the URL is malformed, names an in-memory SQLite database (which would
                lose requests on restart), or its driver is not installed.

        """
        try:
            parsed = make_url(url)
        except ArgumentError as error:
            raise StorageError(f"not a database URL: {error}") from None
        options: dict[str, Any] = {
            "future": True,
            # Exceptions and logs then never carry a family's details.
            "hide_parameters": True,
            "poolclass": QueuePool,
            "pool_size": 5,
            "max_overflow": 10,
            "pool_timeout": busy_timeout,
        }
        sqlite_path = None
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file:"):
                raise StorageError(
                    "callback requests need a SQLite file (sqlite:///path/requests.db); "
                    "an in-memory database would lose them"
                )
            sqlite_path = Path(database).expanduser().absolute()
            options["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout}
        else:
            options["pool_pre_ping"] = True
            if parsed.get_backend_name() == "postgresql":
                # A family is waiting for the answer: give up on an unreachable server soon.
                options["connect_args"] = {"connect_timeout": max(1, round(min(busy_timeout, 10)))}
        try:
            engine = create_engine(parsed, **options)
        except (SQLAlchemyError, ImportError) as error:
            raise StorageError(f"cannot use {parsed.drivername}: {_describe(error)}") from None
        if sqlite_path is not None:
            event.listen(engine, "connect", _sqlite_pragmas)
        if schema:
            engine = engine.execution_options(schema_translate_map={None: schema})
        return cls(engine, sqlite_path=sqlite_path, clock=clock)

    def close(self) -> None:
        """Closes the pooled connections."""
        self.engine.dispose()

    def _now(self, moment: datetime | None = None) -> datetime:
        return _naive_utc(moment or self.clock())

    def prepare(self) -> None:
        """Creates the database file and the tables now (the staff accounts live beside them)."""
        with _storage("open the request store"):
            self._ready()

    def _ready(self) -> None:
        """Creates the file and the tables on first use (once per process)."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            if self._sqlite_path is not None:
                _private_file(self._sqlite_path)
            create_tables(metadata, self.engine)
            _add_language_column(self.engine)
            self._schema_ready = True

    def save(self, request: CallbackRequest) -> str:
        """Stores a request and its outbox row in one transaction.

        Returns:
            The reference to give the family, such as `CB-7K3M-Q9`.

        Raises:
            StorageError: nothing was stored (`InvalidRequest` when the request was refused).

        """
        return self.save_once(request, None)[0]

    def save_once(self, request: CallbackRequest, submission: str | None) -> tuple[str, bool]:
        """Stores a request once per `submission` (the form it was typed into).

        Returns:
            The reference, and whether the request was stored now (False: this submission was
            stored before, and that request's reference is returned; nothing new is stored).

        Raises:
            StorageError: nothing was stored (`InvalidRequest` when the request was refused).

        """
        request.validate()
        now = self._now()
        values = request._columns()
        with _storage("store the callback request"):
            self._ready()
            for _ in range(_REFERENCE_TRIES):
                earlier = self._submitted(submission)
                if earlier:
                    return earlier, False
                reference = new_reference()
                try:
                    with self.engine.begin() as db:
                        self._insert(db, reference, values, now, submission)
                    return reference, True
                except IntegrityError:
                    earlier = self._submitted(submission)
                    if earlier:  # the same submission, stored by a concurrent retry
                        return earlier, False
                    if not self._exists(reference):
                        raise
                    logger.info("reference %s was taken; drawing another", reference)
        raise StorageError("could not draw a free reference; nothing was stored")

    def _submitted(self, submission: str | None) -> str | None:
        """The reference already stored for a submission, if any."""
        if submission is None:
            return None
        query = (
            select(callback_requests.c.reference)
            .join(callback_submissions, callback_submissions.c.request_id == callback_requests.c.id)
            .where(callback_submissions.c.submission == submission)
        )
        with self.engine.connect() as db:
            return db.execute(query).scalar()

    @staticmethod
    def _insert(
        db: Connection,
        reference: str,
        values: dict[str, Any],
        now: datetime,
        submission: str | None = None,
    ) -> None:
        result = db.execute(
            insert(callback_requests).values(
                reference=reference, created_at=now, consent_at=now, **values
            )
        )
        request_id = result.inserted_primary_key[0]
        if submission is not None:
            db.execute(
                insert(callback_submissions).values(submission=submission, request_id=request_id)
            )
        db.execute(
            insert(callback_outbox).values(
                request_id=request_id,
                status=DELIVERY_PENDING,
                attempts=0,
                next_attempt_at=now,
            )
        )

    def _exists(self, reference: str) -> bool:
        with self.engine.connect() as db:
            found = db.execute(
                select(callback_requests.c.id).where(callback_requests.c.reference == reference)
            ).first()
        return found is not None

    def get(self, reference: str) -> StoredRequest | None:
        """One request by its reference (as staff may type it), or None when there is none."""
        canonical = normalise_reference(reference)
        if canonical is None:
            return None
        with _storage("read the callback request"):
            self._ready()
            with self.engine.connect() as db:
                row = db.execute(
                    _joined().where(callback_requests.c.reference == canonical)
                ).first()
        return None if row is None else _as_dict(row)

    def mark_handled(self, reference: str) -> bool:
        """Records that staff called back; False only when there is no such request.

        Marking a request handled twice keeps the first time.
        """
        canonical = normalise_reference(reference)
        if canonical is None:
            return False
        with _storage("mark the callback request handled"):
            self._ready()
            with self.engine.begin() as db:
                db.execute(
                    update(callback_requests)
                    .where(
                        callback_requests.c.reference == canonical,
                        callback_requests.c.handled_at.is_(None),
                    )
                    .values(handled_at=self._now())
                )
                found = db.execute(
                    select(callback_requests.c.id).where(callback_requests.c.reference == canonical)
                ).first()
        return found is not None

    def claim_deliveries(
        self,
        now: datetime | None = None,
        *,
        limit: int = 20,
        lease: timedelta = timedelta(minutes=15),
    ) -> list[Delivery]:
        """Claims due outbox rows for one worker, atomically, and counts the attempt.

        A row is due when its delivery is pending, its next attempt time has come, and no
        other worker holds an unexpired claim. The claim is one UPDATE (on PostgreSQL the rows
        are picked with FOR UPDATE SKIP LOCKED, and the UPDATE re-checks them), so two workers
        never claim the same row. A worker that stops holding a claim loses it when `lease`
        runs out, and the row is tried again.
        """
        now = self._now(now)
        token = uuid.uuid4().hex
        o = callback_outbox.c
        due = and_(
            o.status == DELIVERY_PENDING,
            o.next_attempt_at <= now,
            or_(o.claimed_until.is_(None), o.claimed_until <= now),
        )
        chosen = (
            select(o.id)
            .where(due)
            .order_by(o.next_attempt_at, o.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with _storage("claim callback requests for delivery"):
            self._ready()
            with self.engine.begin() as db:
                db.execute(
                    update(callback_outbox)
                    .where(due, o.id.in_(chosen))
                    .values(claim=token, claimed_until=now + lease, attempts=o.attempts + 1)
                )
                rows = db.execute(_joined().where(o.claim == token)).all()
        return [
            Delivery(
                outbox_id=row.outbox_id, claim=token, attempts=row.attempts, request=_as_dict(row)
            )
            for row in rows
        ]

    def delivery_succeeded(
        self, delivery: Delivery, message_id: str, now: datetime | None = None
    ) -> bool:
        """Records a sent e-mail; False when the claim had run out and another worker took it."""
        return self._finish(
            delivery,
            status=DELIVERED,
            delivered_at=self._now(now),
            message_id=message_id,
            last_error=None,
        )

    def delivery_failed(
        self,
        delivery: Delivery,
        error: str,
        retry_at: datetime | None,
        now: datetime | None = None,
    ) -> bool:
        """Records a failed attempt: tried again from `retry_at`, or failed for good if None."""
        return self._finish(
            delivery,
            status=DELIVERY_PENDING if retry_at else DELIVERY_FAILED,
            next_attempt_at=self._now(retry_at or now),
            last_error=error[:500],
        )

    def _finish(self, delivery: Delivery, **values: Any) -> bool:
        o = callback_outbox.c
        with _storage("record the delivery"):
            with self.engine.begin() as db:
                result = db.execute(
                    update(callback_outbox)
                    .where(o.id == delivery.outbox_id, o.claim == delivery.claim)
                    .values(claim=None, claimed_until=None, **values)
                )
        if result.rowcount != 1:
            logger.warning(
                "the claim on %s ran out before its outcome was recorded",
                delivery.request["reference"],
            )
        return result.rowcount == 1

    def retry_delivery(self, reference: str) -> bool:
        """Queues the e-mail of a request again now, with a fresh count of attempts.

        Returns False when there is no such request, its e-mail was delivered, or a worker is
        sending it right now (resetting that claim could send it twice).
        """
        canonical = normalise_reference(reference)
        if canonical is None:
            return False
        request_id = (
            select(callback_requests.c.id)
            .where(callback_requests.c.reference == canonical)
            .scalar_subquery()
        )
        o = callback_outbox.c
        now = self._now()
        retryable = or_(
            o.status == DELIVERY_FAILED,
            and_(
                o.status == DELIVERY_PENDING,
                or_(o.claimed_until.is_(None), o.claimed_until <= now),
            ),
        )
        with _storage("queue the delivery again"):
            self._ready()
            with self.engine.begin() as db:
                result = db.execute(
                    update(callback_outbox)
                    .where(o.request_id == request_id, retryable)
                    .values(
                        status=DELIVERY_PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        claim=None,
                        claimed_until=None,
                        last_error=None,
                    )
                )
        return result.rowcount == 1

    def purge_handled(self, handled_before: datetime) -> int:
        """Deletes requests handled before the given time; returns how many.

        Unhandled requests are never deleted, whatever their age: a family is still waiting.
        """
        before = _naive_utc(handled_before)
        old = select(callback_requests.c.id).where(
            callback_requests.c.handled_at.is_not(None),
            callback_requests.c.handled_at < before,
        )
        with _storage("delete handled callback requests"):
            self._ready()
            with self.engine.begin() as db:
                db.execute(delete(callback_outbox).where(callback_outbox.c.request_id.in_(old)))
                db.execute(
                    delete(callback_submissions).where(callback_submissions.c.request_id.in_(old))
                )
                result = db.execute(
                    delete(callback_requests).where(callback_requests.c.id.in_(old))
                )
        return result.rowcount

    def counts(self, start: datetime, end: datetime) -> dict[tuple[str, str], int]:
        """(route, status) -> how many requests were made in [start, end), for the dashboard.

        Status as `list` gives it: handled, failed (the e-mail never reached the inbox), or
        pending; also `retrying` for pending ones whose e-mail failed at least once.
        """
        r, o = callback_requests.c, callback_outbox.c
        retrying = and_(o.status != DELIVERY_FAILED, o.last_error.is_not(None))
        query = (
            select(
                r.request_type,
                r.handled_at.is_not(None).label("handled"),
                (o.status == DELIVERY_FAILED).label("failed"),
                retrying.label("retrying"),
                func.count(),
            )
            .select_from(callback_requests.outerjoin(callback_outbox, o.request_id == r.id))
            .where(r.created_at >= _naive_utc(start), r.created_at < _naive_utc(end))
            .group_by("request_type", "handled", "failed", "retrying")
        )
        found: dict[tuple[str, str], int] = {}
        with _storage("count callback requests"):
            self._ready()
            with self.engine.connect() as db:
                for route, handled, failed, retry, count in db.execute(query):
                    status = (
                        "handled"
                        if handled
                        else "failed"
                        if failed
                        else "retrying"
                        if retry
                        else "pending"
                    )
                    key = (str(route), status)
                    found[key] = found.get(key, 0) + int(count)
        return found

    def personal_values(self, conversations: Iterable[str]) -> dict[str, list[str]]:
        """The personal details of the requests made in `conversations` (id -> values).

        Staff review masks them in what those conversations' families typed elsewhere
        (bot.review); nothing else reads them here.
        """
        wanted = sorted(set(conversations))
        columns = [callback_requests.c[name] for name in PERSONAL_COLUMNS]
        found: dict[str, list[str]] = {}
        with _storage("read callback requests"):
            self._ready()
            with self.engine.connect() as db:
                for start in range(0, len(wanted), 500):
                    query = select(callback_requests.c.conversation, *columns).where(
                        callback_requests.c.conversation.in_(wanted[start : start + 500])
                    )
                    for conversation, *values in db.execute(query):
                        found.setdefault(conversation, []).extend(v for v in values if v)
        return found

    # Last, because the name shadows the built-in `list` in the rest of the class body.
    def list(self, status: str | None = None) -> list[StoredRequest]:
        """Every request, oldest first, or those with one status (pending, handled, failed)."""
        where = _status_filter(status)
        query = _joined() if where is None else _joined().where(where)
        with _storage("list callback requests"):
            self._ready()
            with self.engine.connect() as db:
                rows = db.execute(query).all()
        return [_as_dict(row) for row in rows]


@lru_cache(maxsize=1)
def _store_for(url: str) -> RequestStore:
    return RequestStore.from_url(url)


def default_store() -> RequestStore:
    """The process-wide store: $REQUESTS_DB_URL, `delivery.requests_db`, or var/requests.db.

    One store per URL and process, so that every caller shares one connection pool.

    Raises:
        StorageError: the configuration cannot be read or names an unusable database.

    """
    try:
        url = requests_db_url()
    except ConfigError as error:
        raise StorageError(f"cannot read the requests database setting: {error}") from None
    return _store_for(url)
