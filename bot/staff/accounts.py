"""Staff accounts for the dashboard: Argon2id password hashes and lock-out after failures.

Accounts live in the request store's database (staff data, beside the callback requests), in
their own table, created with the request store's file and tables. A password is never
stored: argon2-cffi's `PasswordHasher` (Argon2id, its default parameters, a random salt per
hash) keeps only its hash, and rehashes at sign-in when those parameters change. After
`MAX_FAILURES` wrong passwords in a row an account is locked for `LOCK_MINUTES`, whoever is
trying; staff can unlock it from the command line. An unknown name costs the same hashing time
as a known one, so timing does not tell which names exist.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import regex
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.callbacks.store import RequestStore
from bot.database import create_tables

MAX_FAILURES = 5
LOCK_MINUTES = 15
SHORTEST_PASSWORD = 12
LONGEST_PASSWORD = 256
NAME = regex.compile(r"[a-z][a-z0-9._-]{1,39}")

_metadata = sa.MetaData()
staff_accounts = sa.Table(
    "staff_accounts",
    _metadata,
    sa.Column("username", sa.String(40), primary_key=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("failed_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.DateTime),
    sa.Column("last_sign_in", sa.DateTime),
)


class AccountError(Exception):
    """An account could not be created or changed; the message says why."""


class SignIn(enum.Enum):
    """The outcome of a sign-in attempt."""

    OK = "ok"
    REFUSED = "refused"  # unknown name or wrong password: the page does not say which
    LOCKED = "locked"


@dataclass(frozen=True)
class Account:
    """An account as staff list it (no hash)."""

    username: str
    created_at: datetime
    locked_until: datetime | None
    last_sign_in: datetime | None


def check_name(username: str) -> str:
    """The name, if it is a valid account name (lower case, 2 to 40 characters)."""
    if not NAME.fullmatch(username):
        raise AccountError(
            "an account name is 2 to 40 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter"
        )
    return username


def check_password(password: str) -> str:
    """The password, if long enough (length is what makes a password strong)."""
    if not SHORTEST_PASSWORD <= len(password) <= LONGEST_PASSWORD:
        raise AccountError(
            f"a password has {SHORTEST_PASSWORD} to {LONGEST_PASSWORD} characters "
            "(a few unrelated words make a good one)"
        )
    return password


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class AccountStore:
    """Creates accounts and checks sign-ins, on SQLite or PostgreSQL."""

    def __init__(self, requests: RequestStore, hasher: PasswordHasher | None = None) -> None:
        self.requests = requests
        self.engine: Engine = requests.engine
        self.hasher = hasher or PasswordHasher()
        self._dummy = self.hasher.hash("not an account: equal time for unknown names")
        self._ready = False

    def _tables(self) -> None:
        if not self._ready:
            self.requests.prepare()  # the file (SQLite, private) and the request tables
            create_tables(_metadata, self.engine)
            self._ready = True

    def add(self, username: str, password: str) -> None:
        """Creates an account; AccountError when the name is taken or a value is refused."""
        row = {
            "username": check_name(username),
            "password_hash": self.hasher.hash(check_password(password)),
            "created_at": _now(),
            "failed_attempts": 0,
        }
        try:
            self._tables()
            with self.engine.begin() as db:
                db.execute(staff_accounts.insert().values(**row))
        except IntegrityError:
            raise AccountError(f"an account {username} exists already") from None

    def remove(self, username: str) -> bool:
        """Deletes an account; whether it existed."""
        self._tables()
        with self.engine.begin() as db:
            gone = db.execute(staff_accounts.delete().where(staff_accounts.c.username == username))
        return bool(gone.rowcount)

    def unlock(self, username: str) -> bool:
        """Clears an account's failures and lock; whether it exists."""
        return self._update(username, failed_attempts=0, locked_until=None)

    def accounts(self) -> list[Account]:
        """Every account, by name."""
        self._tables()
        columns = [staff_accounts.c[name] for name in ("username", "created_at", "locked_until")]
        query = sa.select(*columns, staff_accounts.c.last_sign_in).order_by(
            staff_accounts.c.username
        )
        with self.engine.connect() as db:
            return [Account(*row) for row in db.execute(query)]

    def sign_in(self, username: str, password: str, now: datetime | None = None) -> SignIn:
        """Checks a password, counting failures and locking the account after too many."""
        moment = now or _now()
        self._tables()
        with self.engine.connect() as db:
            row = db.execute(
                sa.select(staff_accounts).where(staff_accounts.c.username == username)
            ).first()
        if row is None:
            self._verify(self._dummy, password)
            return SignIn.REFUSED
        if row.locked_until is not None and row.locked_until > moment:
            return SignIn.LOCKED
        if not self._verify(row.password_hash, password):
            return self._failed(username, moment)
        values: dict[str, object] = {
            "failed_attempts": 0,
            "locked_until": None,
            "last_sign_in": moment,
        }
        if self.hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = self.hasher.hash(password)
        self._update(username, **values)
        return SignIn.OK

    def _failed(self, username: str, moment: datetime) -> SignIn:
        """Counts a failure in one statement (two wrong tries at once both count)."""
        self._tables()
        accounts = staff_accounts
        with self.engine.begin() as db:
            db.execute(
                accounts.update()
                .where(accounts.c.username == username)
                .values(failed_attempts=accounts.c.failed_attempts + 1)
            )
            failures = db.execute(
                sa.select(accounts.c.failed_attempts).where(accounts.c.username == username)
            ).scalar_one()
            if failures < MAX_FAILURES:
                return SignIn.REFUSED
            db.execute(
                accounts.update()
                .where(accounts.c.username == username)
                .values(failed_attempts=0, locked_until=moment + timedelta(minutes=LOCK_MINUTES))
            )
        return SignIn.LOCKED

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    def _update(self, username: str, **values: object) -> bool:
        self._tables()
        with self.engine.begin() as db:
            done = db.execute(
                staff_accounts.update()
                .where(staff_accounts.c.username == username)
                .values(**values)
            )
        return bool(done.rowcount)
