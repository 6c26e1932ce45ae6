"""`python -m bot review ...`: what families asked that the assistant could not place.

Commands:
  review [PERIOD] [--all] [--examples N]     groups of unplaced messages, most frequent first
  review export GROUP=LABEL ... --out FILE   the groups as NLU candidates (Rasa YAML), masked
                [--mark]                     and record them as reviewed with their labels
  review mark GROUP ... [--label LABEL]      record groups as reviewed, so they are not shown again

PERIOD is --days N (the last N days, default 30), or --since YYYY-MM-DD [--until YYYY-MM-DD]
(UTC days, both included). A LABEL is an intent of domain.yml, or new:<name> for a topic the
assistant does not have yet. Group ids (G1042) come from `review`, for the same period.

Unplaced: read as a fallback (and not helped by the offered topics), "Something else", or out of
scope. Phone numbers, e-mail addresses, long numbers and what families typed into the callback
form are masked before anything is printed or written; form answers are never shown.

The conversation store is --db (SQLite file or URL), else $TRACKER_DB_URL, $TRACKER_DB, else
var/tracker.db; the callback requests (whose details are masked too) are --requests-db, else as
`requests` uses. Exit status: 0 done, 1 failed (a store unavailable), 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot import paths
from bot.center.config import ConfigError, requests_db_url
from bot.conversations.cli import tracker_db

if TYPE_CHECKING:
    from bot.review.groups import Group, Grouping
    from bot.review.service import Review, ReviewService
    from bot.review.unplaced import Period

OK, FAILED, BAD_INPUT = 0, 1, 2
DEFAULT_DAYS = 30
LONGEST_DAYS = 3660
EXAMPLE_WIDTH = 100
# Candidates are proposals: never written where Rasa would train on them or into the blind sets.
_REFUSED_FOLDERS = (paths.ROOT / "data", paths.ROOT / "tests" / "eval")


class _Refused(Exception):
    def __init__(self, message: str, status: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.status = status


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def period_of(args: argparse.Namespace, today: date | None = None) -> Period:
    """The period the arguments name (UTC days, both ends included)."""
    from bot.review.unplaced import Period

    today = today or datetime.now(timezone.utc).date()
    if args.since is None and args.until is not None:
        raise _Refused("--until needs --since")
    if args.since is not None:
        first, last = args.since, args.until or today
    else:
        days = DEFAULT_DAYS if args.days is None else args.days
        if not 1 <= days <= LONGEST_DAYS:
            raise _Refused(f"--days must be 1 to {LONGEST_DAYS}")
        first, last = today - timedelta(days=days - 1), today
    if last < first:
        raise _Refused("--until is before --since")
    start = datetime.combine(first, time(), timezone.utc)
    end = datetime.combine(last + timedelta(days=1), time(), timezone.utc)
    return Period.between(start, end)


def _service(args: argparse.Namespace) -> ReviewService:
    from bot.review.service import ReviewService

    try:
        requests = args.requests_db or requests_db_url()
    except ConfigError as error:
        raise _Refused(str(error)) from None
    return ReviewService(tracker_db(args.db), requests)


def _describe(counts: Any) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.most_common())


def _quoted(text: str) -> str:
    flat = " ".join(text.split())
    return f'"{flat[: EXAMPLE_WIDTH - 1]}…"' if len(flat) > EXAMPLE_WIDTH else f'"{flat}"'


def format_review(review: Review, grouping: Grouping, examples: int) -> str:
    """The review as staff read it: totals, then each group with its count and examples."""
    start = datetime.fromtimestamp(review.period.start, timezone.utc).date()
    last = datetime.fromtimestamp(review.period.end, timezone.utc).date() - timedelta(days=1)
    shown = len(review.messages)
    lines = [
        f"Unplaced messages {start} to {last} (UTC): {review.unplaced} of "
        f"{review.user_messages} messages ({review.unplaced_share:.1%}).",
        f"Shown: {shown} in {len(grouping.groups)} group(s); "
        f"reviewed before and not shown: {review.unplaced - shown}.",
    ]
    if grouping.left_out:
        lines.append(
            f"Too many to group at once: {grouping.left_out} older distinct texts left out; "
            "review a shorter period."
        )
    for group in grouping.groups:
        lines.append("")
        lines.append(
            f"{group.id}  {group.count} message(s) in {group.conversations} conversation(s)  "
            f"[{_describe(group.share('reason'))}; {_describe(group.share('language'))}; "
            f"{_describe(group.share('channel'))}]"
        )
        texts = _distinct_texts(group)
        lines.append(f"    {_quoted(group.example)}")
        for text in [t for t in texts if t != group.example][: max(0, examples - 1)]:
            lines.append(f"    {_quoted(text)}")
        if group.chosen:
            lines.append(f"    then chose: {_describe(group.chosen)}")
    if not grouping.groups:
        lines.append("Nothing new to review.")
    return "\n".join(lines)


def _distinct_texts(group: Group) -> list[str]:
    from bot.review.export import examples

    return list(reversed(examples(group)))


def _load(args: argparse.Namespace) -> tuple[Review, Grouping]:
    from bot.review.groups import group
    from bot.review.service import ReviewError

    period = period_of(args)
    service = _service(args)
    try:
        review = service.review(period, include_marked=args.all)
    except ReviewError as error:
        raise _Refused(str(error), FAILED) from None
    finally:
        service.close()
    return review, group(review.messages)


def _show(args: argparse.Namespace) -> int:
    review, grouping = _load(args)
    print(format_review(review, grouping, args.examples))
    return OK


def _chosen(grouping: Grouping, ids: list[str]) -> dict[str, Group]:
    by_id = {group.id: group for group in grouping.groups}
    missing = [group_id for group_id in ids if group_id.upper() not in by_id]
    if missing:
        raise _Refused(
            f"no group {', '.join(missing)} in this period (run `review` with the same period)"
        )
    return {group_id.upper(): by_id[group_id.upper()] for group_id in ids}


def _domain_intents() -> list[str]:
    domain = yaml.safe_load(paths.DOMAIN.read_text(encoding="utf-8"))
    return [str(intent) for intent in domain.get("intents") or []]


def _writable(out: str) -> Path | None:
    if out == "-":
        return None
    path = Path(out).resolve()
    for folder in _REFUSED_FOLDERS:
        if path.is_relative_to(folder.resolve()):
            raise _Refused(
                f"{out} is inside {folder.relative_to(paths.ROOT)}/: candidates are reviewed "
                "first, then moved into data/nlu/ by hand (never into tests/eval/)"
            )
    return path


def _export(args: argparse.Namespace) -> int:
    from bot.review.export import LabelError, candidates_yaml, parse_label

    pairs: list[tuple[str, str]] = []
    for item in args.labelled:
        group_id, separator, label = item.partition("=")
        if not separator or not label.strip():
            raise _Refused(f"{item!r}: give GROUP=LABEL, for example G1042=ask_mibg_room")
        pairs.append((group_id.strip(), label))
    intents = _domain_intents()
    try:
        labels = {group_id.upper(): parse_label(label, intents) for group_id, label in pairs}
    except LabelError as error:
        raise _Refused(str(error)) from None
    out = _writable(args.out)
    review, grouping = _load(args)
    groups = _chosen(grouping, [group_id for group_id, _ in pairs])
    text = candidates_yaml({gid: (groups[gid], labels[gid]) for gid in groups}, review.period)
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        except OSError as error:
            raise _Refused(f"cannot write {args.out}: {error.strerror}", FAILED) from None
        examples = text.count("\n    - ")
        print(f"Wrote {len(groups)} group(s), {examples} example(s), to {args.out}.")
    if args.mark:
        for gid, group in groups.items():
            _mark(args, group, labels[gid].mark)
    return OK


def _mark(args: argparse.Namespace, group: Group, label: str | None) -> None:
    from bot.review.service import ReviewError

    service = _service(args)
    try:
        count = service.mark((message.event_id for message in group.messages), label)
    except ReviewError as error:
        raise _Refused(str(error), FAILED) from None
    finally:
        service.close()
    labelled = f" as {label}" if label else ""
    print(f"Marked {group.id} reviewed{labelled}: {count} message(s).", file=sys.stderr)


def _mark_command(args: argparse.Namespace) -> int:
    from bot.review.export import LabelError, parse_label

    label = None
    if args.label:
        try:
            label = parse_label(args.label, _domain_intents()).mark
        except LabelError as error:
            raise _Refused(str(error)) from None
    _, grouping = _load(args)
    for group in _chosen(grouping, args.groups).values():
        _mark(args, group, label)
    return OK


def _guarded(handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(handler(args))
        except _Refused as refused:
            print(f"error: {refused}", file=sys.stderr)
            return refused.status

    return run


def _period_arguments(parser: argparse.ArgumentParser, *, inherited: bool = False) -> None:
    """The period and store options; a subcommand's own leave the parent's values alone."""
    keep: dict[str, Any] = {"default": argparse.SUPPRESS} if inherited else {}
    parser.add_argument(
        "--days", type=int, help=f"the last N days (default {DEFAULT_DAYS})", **keep
    )
    parser.add_argument("--since", type=_day, help="first day, YYYY-MM-DD (UTC)", **keep)
    parser.add_argument("--until", type=_day, help="last day, YYYY-MM-DD (default: today)", **keep)
    parser.add_argument("--db", help="conversation store: SQLite file or database URL", **keep)
    parser.add_argument("--requests-db", help="callback requests database URL", **keep)
    parser.add_argument("--all", action="store_true", help="also messages reviewed before", **keep)


def add_parser(commands: Any) -> None:
    """Adds `review` and its subcommands to the `python -m bot` parser."""
    review = commands.add_parser(
        "review",
        help="what families asked that the assistant could not place",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _period_arguments(review)
    review.add_argument("--examples", type=int, default=3, help="texts shown per group")
    review.set_defaults(handler=_guarded(_show))
    sub = review.add_subparsers(dest="review_command", metavar="COMMAND")

    export = sub.add_parser("export", help="write groups as NLU candidates (Rasa YAML)")
    export.add_argument("labelled", nargs="+", metavar="GROUP=LABEL")
    export.add_argument("--out", required=True, help="file to write ('-': standard output)")
    export.add_argument("--mark", action="store_true", help="record the groups as reviewed")
    _period_arguments(export, inherited=True)
    export.set_defaults(handler=_guarded(_export))

    mark = sub.add_parser("mark", help="record groups as reviewed")
    mark.add_argument("groups", nargs="+", metavar="GROUP")
    mark.add_argument("--label", help="the intent they were labelled with (or new:<name>)")
    _period_arguments(mark, inherited=True)
    mark.set_defaults(handler=_guarded(_mark_command))
