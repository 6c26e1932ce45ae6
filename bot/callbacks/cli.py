"""`python -m bot requests ...`: the staff's command line for callback requests.

Commands:
  list [--status pending|handled|failed] [--json]   requests, oldest first (--json: one a line)
  show REF [--json]                                  one request and its e-mail's delivery
  handled REF                                        mark a request as called back
  retry REF                                          send a failed e-mail again
  export FILE.csv [--status ...]                     CSV for a spreadsheet ("-": standard output)
  deliver [--once] [--interval SECONDS] [--metrics-port N]
                                                     e-mail pending requests to the staff inbox
  purge --older-than DAYS                            delete requests handled DAYS days ago or more

The database is --db URL if given, else $REQUESTS_DB_URL, else `delivery.requests_db` in the
center configuration (default: var/requests.db). References may be typed in any case, with or
without dashes. Exit status: 0 done, 1 failed (unknown reference, database or mail server
unavailable, unwritable file), 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import IO, Any

import prometheus_client

from bot.callbacks import outbox
from bot.callbacks.store import (
    LANGUAGE_LABELS,
    STATUSES,
    RequestStore,
    StorageError,
    StoredRequest,
    normalise_reference,
    utc_now,
)
from bot.center.config import ConfigError, center_config, requests_db_url

OK, FAILED, BAD_INPUT = 0, 1, 2

# Columns of `export`, in order; the conversation reference is for tooling, not spreadsheets.
CSV_COLUMNS = (
    "reference",
    "status",
    "created_at",
    "request_type",
    "relationship",
    "name",
    "phone",
    "best_time",
    "email",
    "treating_hospital",
    "country",
    "language",
    "handled_at",
    "delivery",
    "delivered_at",
)
# Family-typed values a spreadsheet would run as a formula ("=HYPERLINK(...)"), neutralised by a
# leading apostrophe (OWASP's advice for CSV injection). Phones are E.164 digits, never text.
_FREE_TEXT = {"name", "best_time", "email", "treating_hospital", "country"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_TABLE = (
    ("REFERENCE", "reference"),
    ("RECEIVED (UTC)", "created_at"),
    ("STATUS", "status"),
    ("DELIVERY", "delivery"),
    ("TYPE", "request_type"),
    ("FROM", "relationship"),
    ("ASK FOR", "name"),
    ("PHONE", "phone"),
    ("LANG", "language"),
)


# A century: anything longer is a typing error, and would overflow the date arithmetic.
MAX_DAYS = 36500


class _Refused(Exception):
    """A command cannot go on; carries the message and the exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _store(args: argparse.Namespace) -> RequestStore:
    try:
        return RequestStore.from_url(args.db or requests_db_url())
    except ConfigError as error:
        raise _Refused(str(error), BAD_INPUT) from None


def _reference(text: str) -> str:
    reference = normalise_reference(text)
    if reference is None:
        raise _Refused(
            f"{text!r} is not a request reference (they look like CB-7K3M-Q9)", BAD_INPUT
        )
    return reference


def _existing(store: RequestStore, text: str) -> StoredRequest:
    reference = _reference(text)
    request = store.get(reference)
    if request is None:
        raise _Refused(
            f"no callback request {reference}; `python -m bot requests list` shows them all",
            FAILED,
        )
    return request


def _when(value: str | None) -> str:
    return value.replace("T", " ").rstrip("Z") if value else "-"


def _table(rows: list[StoredRequest]) -> str:
    cells = [[title for title, _ in _TABLE]]
    for row in rows:
        values = {**row, "created_at": _when(row["created_at"])[:16]}
        cells.append([str(values[key]) for _, key in _TABLE])
    widths = [max(len(line[i]) for line in cells) for i in range(len(_TABLE))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def _list(args: argparse.Namespace, store: RequestStore) -> int:
    rows = store.list(args.status)
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return OK
    if not rows:
        which = f" {args.status}" if args.status else ""
        print(f"No{which} callback requests.")
        return OK
    print(_table(rows))
    return OK


def _show(args: argparse.Namespace, store: RequestStore) -> int:
    request = _existing(store, args.reference)
    if args.json:
        print(json.dumps(request, ensure_ascii=False))
        return OK
    delivery = request["delivery"]
    if delivery == "delivered":
        delivery += f" {_when(request['delivered_at'])} UTC as {request['message_id']}"
    elif request["delivery_attempts"]:
        delivery += f" after {request['delivery_attempts']} attempt(s)"
        if request["next_attempt_at"]:
            delivery += f", next {_when(request['next_attempt_at'])} UTC"
        delivery += f" ({request['delivery_error']})"
    lines = {
        "Reference": request["reference"],
        "Status": request["status"],
        "Received": f"{_when(request['created_at'])} UTC",
        "Request type": request["request_type"],
        "Caller is the child's": request["relationship"],
        "Ask for": request["name"],
        "Phone": request["phone"],
        "Best time": request["best_time"],
        "E-mail": request["email"],
        "Treating hospital": request["treating_hospital"],
        "Country": request["country"],
        "Language": LANGUAGE_LABELS.get(request["language"] or "", request["language"]),
        "Consent given": f"{_when(request['consent_at'])} UTC",
        "Handled": f"{_when(request['handled_at'])} UTC" if request["handled_at"] else "no",
        "E-mail to staff": delivery,
    }
    for label, value in lines.items():
        if value:
            print(f"{label + ':':23}{value}")
    return OK


def _handled(args: argparse.Namespace, store: RequestStore) -> int:
    request = _existing(store, args.reference)
    if request["handled_at"]:
        when = _when(request["handled_at"])
        print(f"{request['reference']} was already marked handled ({when} UTC).")
        return OK
    store.mark_handled(request["reference"])
    print(f"{request['reference']} marked handled.")
    return OK


def _retry(args: argparse.Namespace, store: RequestStore) -> int:
    request = _existing(store, args.reference)
    if request["delivery"] == "delivered":
        raise _Refused(
            f"{request['reference']} was already delivered ({_when(request['delivered_at'])} "
            f"UTC as {request['message_id']}); nothing to send again",
            FAILED,
        )
    if not store.retry_delivery(request["reference"]):
        raise _Refused(f"{request['reference']} is being sent right now; try again later", FAILED)
    print(f"{request['reference']} queued; `python -m bot requests deliver` sends it.")
    return OK


def _csv_value(column: str, value: Any) -> str:
    text = "" if value is None else str(value)
    if column in _FREE_TEXT and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def write_csv(rows: Iterable[StoredRequest], stream: IO[str]) -> int:
    """Writes requests as CSV with a header line; returns how many rows were written."""
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        values: dict[str, Any] = dict(row)
        writer.writerow([_csv_value(column, values[column]) for column in CSV_COLUMNS])
        count += 1
    return count


def _export(args: argparse.Namespace, store: RequestStore) -> int:
    rows = store.list(args.status)
    if args.file == "-":
        write_csv(rows, sys.stdout)
        return OK
    try:
        # The file holds families' phone numbers: readable by its owner only, like the database.
        descriptor = os.open(args.file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        # The BOM lets spreadsheet programs read names with accents as UTF-8.
        with open(descriptor, "w", encoding="utf-8-sig", newline="") as stream:
            count = write_csv(rows, stream)
    except OSError as error:
        raise _Refused(f"cannot write {args.file}: {error.strerror or error}", FAILED) from None
    print(f"Exported {count} request(s) to {args.file} (readable by you only).")
    return OK


def _summary(report: outbox.DeliveryReport) -> str:
    parts = [f"delivered {len(report.delivered)}"]
    if report.retrying:
        parts.append(f"will retry {len(report.retrying)} ({', '.join(report.retrying)})")
    if report.failed:
        parts.append(f"gave up on {len(report.failed)} ({', '.join(report.failed)})")
    return ", ".join(parts)


def _deliver(args: argparse.Namespace, store: RequestStore) -> int:
    try:
        config = center_config().delivery
        outbox.check_settings(config)
    except ConfigError as error:
        raise _Refused(str(error), BAD_INPUT) from None
    if args.once:
        report = outbox.deliver_due(store, config)
        print(_summary(report))
        return OK if report.ok else FAILED
    # The service's log: one line per delivery or failed attempt, references only.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.metrics_port:
        # Outcomes counted in bot.metrics; loopback only: monitoring scrapes it on the host.
        prometheus_client.start_http_server(args.metrics_port, addr="127.0.0.1")
    print(
        f"Delivering to {config.staff_inbox} every {args.interval:g} s; Ctrl-C stops.",
        flush=True,
    )
    try:
        outbox.run_forever(store, config, stop, interval=args.interval, daily=args.daily)
    except KeyboardInterrupt:
        pass
    return OK


def _purge(args: argparse.Namespace, store: RequestStore) -> int:
    if not 0 <= args.older_than <= MAX_DAYS:
        raise _Refused(f"--older-than must be 0 to {MAX_DAYS} days", BAD_INPUT)
    before = utc_now() - timedelta(days=args.older_than)
    count = store.purge_handled(before)
    print(f"Deleted {count} request(s) handled before {before:%Y-%m-%d %H:%M} UTC.")
    return OK


Handler = Callable[[argparse.Namespace, RequestStore], int]


def _guarded(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """Runs a command with the store, turning expected failures into a message and a status."""

    def run(args: argparse.Namespace) -> int:
        try:
            store = _store(args)
            try:
                return handler(args, store)
            finally:
                store.close()
        except _Refused as refused:
            print(f"error: {refused}", file=sys.stderr)
            return refused.status
        except StorageError as error:
            print(f"error: {error}", file=sys.stderr)
            return FAILED

    return run


def add_parser(commands: Any, daily: Callable[[], None] | None = None) -> None:
    """Adds `requests` and its subcommands to the `python -m bot` parser.

    `daily` is what the long-running `deliver` service does once a day besides delivering (the
    conversation store's retention purge); it is passed in because that store is not this
    package's concern.
    """
    requests = commands.add_parser(
        "requests",
        help="callback requests: list, show, mark handled, export, deliver",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    requests.add_argument("--db", help="database URL (default: see above)")
    sub = requests.add_subparsers(dest="requests_command", required=True, metavar="COMMAND")

    listing = sub.add_parser("list", help="list requests, oldest first")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    listing.set_defaults(handler=_guarded(_list))

    show = sub.add_parser("show", help="show one request")
    show.add_argument("reference", metavar="REF")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_guarded(_show))

    handled = sub.add_parser("handled", help="mark a request as called back")
    handled.add_argument("reference", metavar="REF")
    handled.set_defaults(handler=_guarded(_handled))

    retry = sub.add_parser("retry", help="send a request's e-mail again after it failed")
    retry.add_argument("reference", metavar="REF")
    retry.set_defaults(handler=_guarded(_retry))

    export = sub.add_parser("export", help="write requests as CSV")
    export.add_argument("file", metavar="FILE.csv", help='"-" for standard output')
    export.add_argument("--status", choices=STATUSES)
    export.set_defaults(handler=_guarded(_export))

    deliver = sub.add_parser("deliver", help="e-mail pending requests to the staff inbox")
    deliver.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    deliver.add_argument("--interval", type=float, default=30.0, help="seconds between rounds")
    deliver.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus metrics (deliveries by outcome) on 127.0.0.1:PORT/metrics",
    )
    deliver.set_defaults(handler=_guarded(_deliver), daily=daily)

    purge = sub.add_parser("purge", help="delete requests handled long ago")
    purge.add_argument("--older-than", type=int, required=True, metavar="DAYS")
    purge.set_defaults(handler=_guarded(_purge))
