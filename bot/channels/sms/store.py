"""What the SMS channel must remember across messages and restarts, in one small SQL database.

Three tables, all keyed by the keyed hash of the phone number (never the number itself):

- `sms_opt_outs`: numbers that texted STOP, until they text START;
- `sms_menus`: the buttons of the last numbered list each number was sent, so that "1" can be
  mapped back to a payload;
- `sms_sent_replies`: the texts sent for each Twilio `MessageSid` from each number, so that a
  retried webhook gets the same reply without the message reaching the conversation twice. The
  key is the pair: a `MessageSid` sent again from another number is another message and never
  gets the first number's reply. A row with no reply yet is a claim: a message being answered.
  Replies are kept for `REPLY_RETENTION`, far longer than Twilio retries a webhook (seconds to
  minutes) and no longer: they hold only the assistant's texts, never what the family wrote,
  but the callback form's read-back repeats a name and a number.

Several replicas share one database (PostgreSQL in production), so a retry that reaches another
replica while the first is still answering must not answer again: the claim carries a lease of
`CLAIM_LEASE`, which the answering process renews (`renew`) while it works, and another process
takes a claim over only once its lease has run out, that is, when the process holding it stopped.
Until then the retry is told the message is being answered elsewhere and waits for its reply.

The methods are synchronous and short; the channel calls them in a worker thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.channels.buttons import Button
from bot.database import create_tables

REPLY_RETENTION = timedelta(hours=1)
# A claim not renewed for this long belongs to a process that stopped; the answering process
# renews it every third of this.
CLAIM_LEASE = timedelta(seconds=15)

_metadata = MetaData()
opt_outs = Table(
    "sms_opt_outs",
    _metadata,
    Column("sender", String(80), primary_key=True),
    Column("since", DateTime, nullable=False),
)
menus = Table(
    "sms_menus",
    _metadata,
    Column("sender", String(80), primary_key=True),
    Column("buttons", Text, nullable=False),
    Column("updated", DateTime, nullable=False),
)
# Replaces `sms_replies`, which was keyed by MessageSid alone (dropped on open: it held only
# replies to retries of the last minutes).
_OLD_REPLIES = "sms_replies"
replies = Table(
    "sms_sent_replies",
    _metadata,
    Column("message_sid", String(64), primary_key=True),
    Column("sender", String(80), primary_key=True),
    # JSON list of message bodies; NULL while the message is being answered.
    Column("messages", Text, nullable=True),
    # When the message arrived; while it is being answered, when its claim was last renewed.
    Column("received", DateTime, nullable=False, index=True),
)


def _reply_key(message_sid: str, sender: str) -> Any:
    """The reply row of one message: its MessageSid from its number."""
    return and_(replies.c.message_sid == message_sid, replies.c.sender == sender)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def database_url(database: str) -> str:
    """An SQLAlchemy URL for a credentials value: a SQLite file path, or already a URL."""
    if "://" in database:
        return database
    path = Path(database).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _drop_old_replies(db: Connection) -> None:
    Table(_OLD_REPLIES, MetaData()).drop(db, checkfirst=True)


@dataclass(frozen=True)
class Turn:
    """What the store knows when a message arrives.

    Attributes:
        reply: the texts already sent for this `MessageSid`, or None when it is new.
        opted_out: whether the number has opted out.
        menu: the buttons of the last numbered list the number was sent.
        elsewhere: another process holds a live claim on it: wait for its reply, do not answer.

    """

    reply: list[str] | None
    opted_out: bool = False
    menu: list[Button] = field(default_factory=list)
    elsewhere: bool = False


class SmsStore:
    """Opt-outs, numbered lists and replies by `MessageSid`; create with `SmsStore.open`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, database: str) -> SmsStore:
        """Connects to the database (a SQLite path or an SQLAlchemy URL) and creates the tables."""
        url = database_url(database)
        options = {"connect_args": {"timeout": 15}} if url.startswith("sqlite") else {}
        engine = create_engine(url, future=True, **options)
        create_tables(_metadata, engine, before=_drop_old_replies)
        return cls(engine)

    def close(self) -> None:
        """Closes the database connections."""
        self.engine.dispose()

    def begin(self, message_sid: str, sender: str) -> Turn:
        """Claims a message for answering, or returns the reply it already got.

        A claim whose lease ran out (its process stopped mid-message) is taken over: that
        message never got a reply, and the family should get one. A live claim of another
        process gives `Turn(elsewhere=True)`. (Concurrent duplicates within one process never
        get here twice: the channel makes them wait for the first.)
        """
        try:
            return self._begin(message_sid, sender)
        except IntegrityError:
            # Another process claimed it between our read and our insert: read it again.
            return self._begin(message_sid, sender)

    def _begin(self, message_sid: str, sender: str) -> Turn:
        now = _now()
        with self.engine.begin() as db:
            row = db.execute(
                select(replies.c.messages, replies.c.received).where(
                    _reply_key(message_sid, sender)
                )
            ).first()
            if row is not None and row.messages is not None:
                return Turn(reply=json.loads(row.messages))
            if row is None:
                db.execute(
                    insert(replies).values(message_sid=message_sid, sender=sender, received=now)
                )
            elif not self._take_over(db, message_sid, sender, row.received, now):
                return Turn(reply=None, elsewhere=True)
            return Turn(
                reply=None, opted_out=self._opted_out(db, sender), menu=self._menu(db, sender)
            )

    @staticmethod
    def _take_over(
        db: Connection, message_sid: str, sender: str, renewed: datetime, now: datetime
    ) -> bool:
        """Takes over a claim whose lease ran out; False while it is live or another took it.

        The UPDATE re-checks the time read, so of two processes taking over at once one wins.
        """
        if renewed > now - CLAIM_LEASE:
            return False
        taken = db.execute(
            update(replies)
            .where(
                _reply_key(message_sid, sender),
                replies.c.messages.is_(None),
                replies.c.received == renewed,
            )
            .values(received=now)
        )
        return bool(taken.rowcount == 1)

    def renew(self, message_sid: str, sender: str) -> None:
        """Extends this process's claim on a message it is still answering."""
        with self.engine.begin() as db:
            db.execute(
                update(replies)
                .where(_reply_key(message_sid, sender), replies.c.messages.is_(None))
                .values(received=_now())
            )

    def reply_of(self, message_sid: str, sender: str) -> tuple[bool, list[str] | None]:
        """Whether a claim or reply exists for the message, and its reply when there is one."""
        with self.engine.connect() as db:
            row = db.execute(
                select(replies.c.messages).where(_reply_key(message_sid, sender))
            ).first()
        if row is None:
            return False, None
        return True, (json.loads(row.messages) if row.messages is not None else None)

    def finish(
        self,
        message_sid: str,
        sender: str,
        messages: list[str],
        menu: list[Button] | None = None,
        opted_out: bool | None = None,
    ) -> None:
        """Stores the reply to a message, and what it changed.

        Args:
            message_sid: the message answered.
            sender: the keyed hash of the number.
            messages: the texts sent (empty when nothing was sent).
            menu: the buttons of the numbered list sent ([] clears it; None keeps the last).
            opted_out: True after STOP, False after START, None when unchanged.

        """
        now = _now()
        with self.engine.begin() as db:
            db.execute(
                update(replies)
                .where(_reply_key(message_sid, sender))
                .values(messages=json.dumps(messages))
            )
            db.execute(delete(replies).where(replies.c.received < now - REPLY_RETENTION))
            if menu is not None:
                db.execute(delete(menus).where(menus.c.sender == sender))
                if menu:
                    db.execute(
                        insert(menus).values(sender=sender, buttons=json.dumps(menu), updated=now)
                    )
            if opted_out is not None:
                db.execute(delete(opt_outs).where(opt_outs.c.sender == sender))
                if opted_out:
                    db.execute(insert(opt_outs).values(sender=sender, since=now))

    def forget(self, sender: str, keep_message_sid: str) -> None:
        """Deletes a number's stored replies and numbered list ("forget me").

        The opt-out state is kept: the law requires it, and it holds no conversation. So is the
        claim on the FORGET message itself, which then stores the confirmation.
        """
        with self.engine.begin() as db:
            db.execute(
                delete(replies).where(
                    replies.c.sender == sender, replies.c.message_sid != keep_message_sid
                )
            )
            db.execute(delete(menus).where(menus.c.sender == sender))

    def abandon(self, message_sid: str, sender: str) -> None:
        """Drops the claim on a message that got no reply, so that a retry is answered."""
        with self.engine.begin() as db:
            db.execute(
                delete(replies).where(_reply_key(message_sid, sender), replies.c.messages.is_(None))
            )

    def is_opted_out(self, sender: str) -> bool:
        """Whether the number has opted out."""
        with self.engine.connect() as db:
            return self._opted_out(db, sender)

    @staticmethod
    def _opted_out(db: Connection, sender: str) -> bool:
        return (
            db.execute(select(opt_outs.c.sender).where(opt_outs.c.sender == sender)).first()
            is not None
        )

    @staticmethod
    def _menu(db: Connection, sender: str) -> list[Button]:
        row = db.execute(select(menus.c.buttons).where(menus.c.sender == sender)).first()
        return json.loads(row.buttons) if row else []
