"""`python -m bot conversations ...`: retention and "forget me" for the conversation store.

Commands:
  purge [--older-than DAYS]       delete conversations whose last message is DAYS days old or more
                                  (default: privacy.retention_days in the center configuration)
  forget --session ID             erase one conversation (a web session, an SMS conversation id)
  forget --reference REF          erase the conversation a callback request came from; the
                                  request itself is kept for staff

The conversation store is --db (a SQLite file or a database URL) if given, else $TRACKER_DB_URL,
else $TRACKER_DB, else var/tracker.db, the file `python -m bot run` uses. Exit status: 0 done,
1 failed (unknown reference, database unavailable), 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot import paths
from bot.callbacks.cli import MAX_DAYS
from bot.callbacks.store import RequestStore, StorageError, normalise_reference
from bot.center.config import ConfigError, center_config, requests_db_url
from bot.channels.inputs import Refusal, check_sender

if TYPE_CHECKING:
    from bot.conversations.store import ConversationStore

logger = logging.getLogger(__name__)

OK, FAILED, BAD_INPUT = 0, 1, 2
URL_ENV = "TRACKER_DB_URL"
FILE_ENV = "TRACKER_DB"


class _Refused(Exception):
    """A command cannot go on; carries the message and the exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def tracker_db(explicit: str | None = None) -> str:
    """Where the conversations are: --db, $TRACKER_DB_URL, $TRACKER_DB, else var/tracker.db."""
    for value in (explicit, os.environ.get(URL_ENV), os.environ.get(FILE_ENV)):
        if value and value.strip():
            return value.strip()
    return str(paths.TRACKER_DB)


def daily_purge() -> None:
    """The delivery service's daily task: delete conversations past the retention period.

    Logs counts only, never a conversation id or text.
    """
    from bot.conversations.store import ConversationStore

    days = center_config().privacy.retention_days
    store = ConversationStore(tracker_db())
    try:
        purged = store.purge(timedelta(days=days))
    finally:
        store.close()
    logger.info(
        "retention: deleted %d conversation(s) older than %d day(s)", purged.conversations, days
    )


def _purge(args: argparse.Namespace, store: ConversationStore) -> int:
    days = args.older_than
    if days is None:
        try:
            days = center_config().privacy.retention_days
        except ConfigError as error:
            raise _Refused(str(error), BAD_INPUT) from None
    if not 0 <= days <= MAX_DAYS:
        raise _Refused(f"--older-than must be 0 to {MAX_DAYS} days", BAD_INPUT)
    purged = store.purge(timedelta(days=days))
    print(
        f"Deleted {purged.conversations} conversation(s) ({purged.events} events) "
        f"whose last message was {days} day(s) ago or more."
    )
    return OK


def _conversation_of(reference_text: str, db: str | None) -> str:
    reference = normalise_reference(reference_text)
    if reference is None:
        raise _Refused(
            f"{reference_text!r} is not a request reference (they look like CB-7K3M-Q9)",
            BAD_INPUT,
        )
    try:
        requests = RequestStore.from_url(db or requests_db_url())
    except ConfigError as error:
        raise _Refused(str(error), BAD_INPUT) from None
    try:
        request = requests.get(reference)
    except StorageError as error:
        raise _Refused(str(error), FAILED) from None
    finally:
        requests.close()
    if request is None:
        raise _Refused(f"no callback request {reference}", FAILED)
    if not request["conversation"]:
        raise _Refused(f"callback request {reference} names no conversation", FAILED)
    return request["conversation"]


def _forget(args: argparse.Namespace, store: ConversationStore) -> int:
    if args.reference:
        session = _conversation_of(args.reference, args.requests_db)
        kept = f" Callback request {normalise_reference(args.reference)} is kept for staff."
    else:
        try:
            session = check_sender(args.session)
        except Refusal as refused:
            raise _Refused(f"not a conversation id: {refused.message}", BAD_INPUT) from None
        kept = ""
    deleted = store.forget(session)
    if not deleted:
        print(f"No stored conversation {session}; nothing to erase.{kept}")
    else:
        print(f"Erased conversation {session} ({deleted} events).{kept}")
    return OK


Handler = Callable[[argparse.Namespace, "ConversationStore"], int]


def _guarded(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """Runs a command with the store, turning expected failures into a message and a status."""

    def run(args: argparse.Namespace) -> int:
        # Rasa's tracker store model is imported only when a command runs: `python -m bot`
        # builds this parser for every command, and importing Rasa is slow and noisy.
        from bot.conversations.store import ConversationStore, ConversationStoreError

        try:
            store = ConversationStore(tracker_db(args.db))
            try:
                return handler(args, store)
            finally:
                store.close()
        except _Refused as refused:
            print(f"error: {refused}", file=sys.stderr)
            return refused.status
        except ConversationStoreError as error:
            print(f"error: {error}", file=sys.stderr)
            return FAILED

    return run


def add_parser(commands: Any) -> None:
    """Adds `conversations` and its subcommands to the `python -m bot` parser."""
    conversations = commands.add_parser(
        "conversations",
        help="conversation store: purge old conversations, forget one",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    conversations.add_argument("--db", help="SQLite file or database URL (default: see above)")
    sub = conversations.add_subparsers(
        dest="conversations_command", required=True, metavar="COMMAND"
    )

    purge = sub.add_parser("purge", help="delete conversations older than the retention period")
    purge.add_argument("--older-than", type=int, metavar="DAYS")
    purge.set_defaults(handler=_guarded(_purge))

    forget = sub.add_parser("forget", help="erase one conversation")
    which = forget.add_mutually_exclusive_group(required=True)
    which.add_argument("--session", metavar="ID", help="the conversation (sender) id")
    which.add_argument("--reference", metavar="REF", help="a callback request's reference")
    forget.add_argument(
        "--requests-db", help="callback requests database (default: as `requests` uses)"
    )
    forget.set_defaults(handler=_guarded(_forget))
