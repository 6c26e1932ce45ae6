"""The dashboard's data for a period: read from the stores, shaped for the page.

Reading is blocking SQL, so the channel runs `read` in a worker thread; it holds only counts
and the review groups' masked examples.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.callbacks.store import STATUSES, RequestStore
from bot.nlu.safety import SAFETY_INTENTS
from bot.review.groups import Group, group
from bot.review.service import ReviewService
from bot.review.unplaced import Period
from bot.staff import figures as counting
from bot.staff.figures import Figures

PERIODS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
REVIEW_GROUPS_SHOWN = 10
REQUEST_STATUSES = (*STATUSES, "retrying")
# Requests whose e-mail to staff has not arrived: given up on, or failing and retried.
FAILING = ("failed", "retrying")


@dataclass(frozen=True)
class Snapshot:
    """What the dashboard shows for one period."""

    figures: Figures
    groups: tuple[Group, ...]


def period_for(days: int, now: datetime | None = None) -> Period:
    """The last `days` whole UTC days, today included."""
    today = (now or datetime.now(timezone.utc)).date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=timezone.utc)
    return Period(start.timestamp(), start.timestamp() + days * counting.DAY_SECONDS)


def days_asked(value: str | None) -> int:
    """The period a request asks for, one of PERIODS (else the default)."""
    try:
        days = int(value or DEFAULT_DAYS)
    except ValueError:
        return DEFAULT_DAYS
    return days if days in PERIODS else DEFAULT_DAYS


def read(
    reviews: ReviewService, requests: RequestStore, period: Period, with_review: bool = True
) -> Snapshot:
    """Counts from both stores, and the review groups if asked (run off the event loop)."""
    result = Figures(period)
    with reviews.connection() as db:
        if db is not None:
            counting.conversation_figures(db, period, result)
    start = datetime.fromtimestamp(period.start, timezone.utc)
    end = datetime.fromtimestamp(period.end, timezone.utc)
    result.requests = requests.counts(start, end)
    if not with_review:
        return Snapshot(result, ())
    review = reviews.review(period)
    return Snapshot(result, group(review.messages).groups[:REVIEW_GROUPS_SHOWN])


def context(snapshot: Snapshot, days: int) -> dict[str, Any]:
    """The template's values."""
    figures = snapshot.figures
    channels = sorted({name for counts in figures.conversations.values() for name in counts})
    routes = sorted({route for route, _ in figures.requests})
    return {
        "days": days,
        "periods": PERIODS,
        "first": figures.days[0],
        "last": figures.days[-1],
        "channels": channels,
        "total_conversations": sum(sum(c.values()) for c in figures.conversations.values()),
        "conversation_rows": [
            {"day": day, "values": [figures.conversations.get(day, Counter())[c] for c in channels]}
            for day in figures.days
        ],
        "message_total": sum(figures.messages.values()),
        "unplaced_total": sum(figures.unplaced.values()),
        "unplaced_share": f"{figures.unplaced_share():.1%}",
        "unplaced_rows": [
            {
                "day": day,
                "messages": figures.messages.get(day, 0),
                "unplaced": figures.unplaced.get(day, 0),
                "share": f"{figures.unplaced_share(day):.1%}",
            }
            for day in figures.days
        ],
        "topics": figures.topics.most_common(),
        "safety": [(kind, figures.safety.get(kind, 0)) for kind in sorted(SAFETY_INTENTS)],
        "statuses": REQUEST_STATUSES,
        "request_rows": [
            {
                "route": route,
                "values": [figures.requests.get((route, s), 0) for s in REQUEST_STATUSES],
            }
            for route in routes
        ],
        "delivery_failures": sum(
            count for (_, status), count in figures.requests.items() if status in FAILING
        ),
        "groups": [
            {
                "id": item.id,
                "count": item.count,
                "example": item.example,
                "reasons": ", ".join(f"{k} {v}" for k, v in item.share("reason").most_common()),
            }
            for item in snapshot.groups
        ],
    }
