"""Reviewed groups as NLU training candidates, in Rasa's YAML training data format.

The file is a proposal, not training data: it is written outside `data/`, every example is
already masked, and its header says what to do before any example moves into `data/nlu/` (read
each one, drop what is not a real question, add a story for a new topic, then `make eval` and
`make test-stories`). A label is an intent of the domain, or `new:<name>` for a topic the
assistant does not have yet (exported as intent `<name>`, flagged in the file).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import regex

from bot.review.groups import Group, normalised
from bot.review.unplaced import Period

NEW_PREFIX = "new:"
RASA_FORMAT_VERSION = "3.1"


class LabelError(ValueError):
    """A reviewer's label is not an intent of the domain, nor `new:<name>`."""


@dataclass(frozen=True)
class Label:
    """The intent a reviewer gave a group."""

    intent: str
    new: bool

    @property
    def mark(self) -> str:
        """How the label is recorded with the reviewed messages."""
        return f"{NEW_PREFIX}{self.intent}" if self.new else self.intent


def parse_label(text: str, intents: Iterable[str]) -> Label:
    """The label `text` names; raises LabelError with the reason when it is not one."""
    value = text.strip()
    if value.startswith(NEW_PREFIX):
        name = value.removeprefix(NEW_PREFIX).strip()
        if not name.isidentifier() or not name.islower():
            raise LabelError(f"new intent names are lower case words joined by _: {name!r}")
        if name in set(intents):
            raise LabelError(f"{name} is already an intent: label the group {name}")
        return Label(name, new=True)
    known = set(intents)
    if value not in known:
        raise LabelError(f"{value!r} is not an intent of domain.yml (a new topic: new:{value})")
    return Label(value, new=False)


def examples(group: Group) -> list[str]:
    """The group's distinct texts, one line each, oldest first."""
    seen: set[str] = set()
    lines: list[str] = []
    for message in group.messages:
        key = normalised(message.text)
        if key and key not in seen:
            seen.add(key)
            lines.append(" ".join(message.text.split()))
    return lines


def candidates_yaml(
    labelled: Mapping[str, tuple[Group, Label]], period: Period, now: datetime | None = None
) -> str:
    """The YAML file for the labelled groups (group id -> group and label)."""
    written = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# NLU candidates from `python -m bot review export`, written " + written + ",",
        f"# from unplaced messages of {_day(period.start)} to {_day(period.end - 1)} (UTC).",
        "# Personal details are masked ([phone], [email], [number], [personal detail]).",
        "# This is NOT training data yet. Before moving an example into data/nlu/:",
        "#   read it, drop what is not a real question or names a person, reword what is too",
        "#   close to one family's story; for a `new` intent add it to domain.yml with a reviewed",
        "#   response and a rule; then run `make eval` and `make test-stories`.",
        "# Never add messages of the evaluation sets (tests/eval/) here.",
        f'version: "{RASA_FORMAT_VERSION}"',
        "nlu:",
    ]
    for group_id, (group, label) in labelled.items():
        lines.append(f"- intent: {label.intent}")
        if label.new:
            lines.append("  # new intent: not in domain.yml yet")
        lines.append("  metadata:")
        lines.append(f"    review_group: {group_id}")
        lines.append(f"    messages: {group.count}")
        lines.append("  examples: |")
        lines.extend(f"    - {_example(text)}" for text in examples(group))
    return "\n".join(lines) + "\n"


def _example(text: str) -> str:
    """One example line of the block: the text as typed, brackets kept apart.

    Rasa reads "[x](y)", "[x]{...}" and "[x][...]" as entity markup, so a closing bracket is
    never followed by another bracket.
    """
    return regex.sub(r"\](?=[({\[])", "] ", text)


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
