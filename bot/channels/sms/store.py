"""What the SMS channel must remember across messages and restarts, in one small SQL database.

Three tables, all keyed by the keyed hash of the phone number (never the number itself):

- `sms_opt_outs`: numbers that texted STOP, until they text START;
- `sms_menus`: the buttons of the last numbered list each number was sent, so that "1" can be
  mapped back to a payload;
- `sms_sent_replies`: the texts sent for each Twilio `MessageSid` from each number, so that a
  retried webhook gets the same reply without the message reaching the conversation twice. The
  key is the pair: a `MessageSid` sent again from another number is another message and never
  gets the first number's reply. A row with no reply yet is
  a message being answered. Replies are kept for `REPLY_RETENTION`, far longer than Twilio
  retries a webhook (seconds to minutes) and no longer: they hold only the assistant's texts,
  never what the family wrote, but the callback form's read-back repeats a name and a number.

The methods are synchronous and short (SQLite); the channel calls them in a worker thread.
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

REPLY_RETENTION = timedelta(hours=1)

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


@dataclass(frozen=True)
class Turn:
    """What the store knows when a message arrives.

    Attributes:
        reply: the texts already sent for this `MessageSid`, or None when it is new.
        opted_out: whether the number has opted out.
        menu: the buttons of the last numbered list the number was sent.

    """

    reply: list[str] | None
    opted_out: bool = False
    menu: list[Button] = field(default_factory=list)


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
        Table(_OLD_REPLIES, MetaData()).drop(engine, checkfirst=True)
        _metadata.create_all(engine)
        return cls(engine)

    def close(self) -> None:
        """Closes the database connections."""
        self.engine.dispose()

    def begin(self, message_sid: str, sender: str) -> Turn:
        """Claims a message for answering, or returns the reply it already got.

        A claim left unanswered by a process that stopped mid-message is taken over: that
        message never got a reply, and the family should get one. (Concurrent duplicates within
        one process never get here twice: the channel makes them wait for the first.)
        """
        try:
            return self._begin(message_sid, sender)
        except IntegrityError:
            # Another process claimed it between our read and our insert: read it again.
            return self._begin(message_sid, sender)

    def _begin(self, message_sid: str, sender: str) -> Turn:
        with self.engine.begin() as db:
            row = db.execute(
                select(replies.c.messages).where(_reply_key(message_sid, sender))
            ).first()
            if row is not None and row.messages is not None:
                return Turn(reply=json.loads(row.messages))
            if row is None:
                db.execute(
                    insert(replies).values(message_sid=message_sid, sender=sender, received=_now())
                )
            return Turn(
                reply=None, opted_out=self._opted_out(db, sender), menu=self._menu(db, sender)
            )

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
