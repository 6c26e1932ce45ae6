"""`python -m bot staff ...`: the dashboard's accounts.

Commands:
  add NAME [--password-stdin]   create an account; the password is asked twice (not echoed), or
                                read from the first line of standard input (scripts)
  list                          the accounts, when each last signed in, and any lock
  unlock NAME                   clear a lock after too many wrong passwords
  remove NAME                   delete an account

Accounts live in the callback requests' database: --db URL, else $REQUESTS_DB_URL, else
`delivery.requests_db` in the center configuration. Exit status: 0 done, 1 failed (database
unavailable, no such account), 2 bad input.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from bot.center.config import ConfigError, requests_db_url

OK, FAILED, BAD_INPUT = 0, 1, 2


def _accounts(args: argparse.Namespace) -> Any:
    from bot.callbacks.store import RequestStore
    from bot.staff.accounts import AccountStore

    return AccountStore(RequestStore.from_url(args.db or requests_db_url()))


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (12 characters or more): ")
    if getpass.getpass("The same password again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _add(args: argparse.Namespace) -> int:
    from bot.staff.accounts import AccountError

    try:
        password = _password(args)
        _accounts(args).add(args.name, password)
    except (AccountError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    print(f"Account {args.name} created. Sign in at /staff on the assistant's server.")
    return OK


def _list(args: argparse.Namespace) -> int:
    accounts = _accounts(args).accounts()
    if not accounts:
        print("No accounts yet: python -m bot staff add NAME")
    for account in accounts:
        last = account.last_sign_in.isoformat(" ", "minutes") if account.last_sign_in else "never"
        lock = (
            f"  locked until {account.locked_until:%Y-%m-%d %H:%M} UTC"
            if account.locked_until
            else ""
        )
        print(f"{account.username:<20} last sign-in {last}{lock}")
    return OK


def _change(done: str) -> Any:
    """A command that changes one account (`unlock`, `remove`) and says it was `done`."""

    def run(args: argparse.Namespace) -> int:
        if not getattr(_accounts(args), args.staff_command)(args.name):
            print(f"error: no account {args.name}", file=sys.stderr)
            return FAILED
        print(f"Account {args.name} {done}.")
        return OK

    return run


def _guarded(handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        from bot.callbacks.store import StorageError

        try:
            return int(handler(args))
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return BAD_INPUT
        except (StorageError, SQLAlchemyError) as error:
            print(
                f"error: the accounts database failed: {str(error).splitlines()[0]}",
                file=sys.stderr,
            )
            return FAILED

    return run


def add_parser(commands: Any) -> None:
    """Adds `staff` and its subcommands to the `python -m bot` parser."""
    staff = commands.add_parser(
        "staff",
        help="staff dashboard accounts: add, list, unlock, remove",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    staff.add_argument("--db", help="the callback requests database URL (default: see above)")
    sub = staff.add_subparsers(dest="staff_command", required=True, metavar="COMMAND")
    add = sub.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=_guarded(_add))
    listing = sub.add_parser("list", help="the accounts")
    listing.set_defaults(handler=_guarded(_list))
    for name, done, text in (
        ("unlock", "unlocked", "clear an account's lock"),
        ("remove", "removed", "delete an account"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("name")
        command.set_defaults(handler=_guarded(_change(done)))
