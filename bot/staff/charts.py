"""The dashboard's charts, drawn on the server as SVG with matplotlib (which Rasa installs).

Each chart is served as an image from the dashboard itself, never from a third party, and the
page puts a text table with the same numbers beside it for screen readers and for exact
values. Figures are made with matplotlib's object API, not pyplot: no screen, and no global
state shared between the server's threads.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bot.staff.figures import Figures

# Colours that stay apart for the common colour-vision deficiencies (Okabe-Ito).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9")
WIDTH, HEIGHT = 7.0, 2.6


def conversations_svg(figures: Figures) -> bytes:
    """Conversations per day, stacked by channel."""
    days = figures.days
    channels = sorted({name for counts in figures.conversations.values() for name in counts})
    axes, figure = _axes()
    bottom = [0] * len(days)
    for index, channel in enumerate(channels):
        values = [figures.conversations.get(day, Counter())[channel] for day in days]
        axes.bar(range(len(days)), values, bottom=bottom, label=channel, color=_colour(index))
        bottom = [low + value for low, value in zip(bottom, values, strict=True)]
    if channels:
        axes.legend(loc="upper left", frameon=False, fontsize=8)
    _days_axis(axes, days)
    axes.set_ylabel("conversations")
    return _svg(figure)


def unplaced_svg(figures: Figures) -> bytes:
    """The share of messages not placed, day by day."""
    days = figures.days
    axes, figure = _axes()
    shares = [100 * figures.unplaced_share(day) for day in days]
    axes.plot(range(len(days)), shares, marker="o", markersize=3, color=COLOURS[0])
    axes.set_ylim(0, max(10.0, max(shares, default=0) * 1.2))
    _days_axis(axes, days)
    axes.set_ylabel("% not placed")
    return _svg(figure)


def _axes() -> tuple[Axes, Figure]:
    figure = Figure(figsize=(WIDTH, HEIGHT))
    axes = figure.add_subplot()
    axes.spines["top"].set_visible(False)
    axes.spines["right"].set_visible(False)
    return axes, figure


def _days_axis(axes: Axes, days: Sequence[object]) -> None:
    step = max(1, len(days) // 8)
    ticks = list(range(0, len(days), step))
    axes.set_xticks(ticks)
    axes.set_xticklabels([str(days[tick])[5:] for tick in ticks], fontsize=8)


def _colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def _svg(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()
