"""A readable summary of a `rasa test core` run on the story tests, for staff.

`rasa test core --successes --out FOLDER` writes `failed_test_stories.yml` (each failed story,
with `# predicted: ...` comments on the steps the assistant got wrong),
`successful_test_stories.yml`, `story_report.json` (per-action precision and recall) and
confusion-matrix images. `python -m bot story-report FOLDER` turns them into
`FOLDER/summary.md`: how many stories passed and failed, and for each failed story the turn
where it went wrong, what was expected and what the assistant did.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from bot.devtools import story_replay
from bot.devtools.story_replay import story_turns

FAILED_FILE = "failed_test_stories.yml"
PASSED_FILE = "successful_test_stories.yml"
REPORT_FILE = "story_report.json"
SUMMARY_FILE = "summary.md"
FALLBACK_INTENT = "nlu_fallback"

# Rasa appends the story's file to its name: "story name (/path/to/tests/stories/x.yml)".
_NAME_AND_FILE = re.compile(r"^(?P<name>.*?)\s*\((?P<file>[^()]*\.ya?ml)\)$")
_PREDICTED = re.compile(r"#\s*predicted:\s*(?P<value>.*)$")
# For a wrong intent Rasa writes "predicted: <intent>: <message as understood>".
_INTENT_PREDICTED = re.compile(r"^(?P<intent>[\w/]+)(?::\s*(?P<text>.*))?$")
_MARKUP = re.compile(r"\[([^\]]+)\]\([^)]*\)")


def plain(text: str) -> str:
    """A message without Rasa's entity mark-up: `[mibg](therapy)` becomes `mibg`."""
    return _MARKUP.sub(r"\1", text).strip()


def story_messages(path: Path) -> dict[str, list[str]]:
    """For each story in a test-story file, the parent's messages in order (as written)."""
    if not path.is_file():
        return {}
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    return {
        str(story.get("story")): [
            str(step.get("user", "")).strip()
            for step in story.get("steps") or []
            if "user" in step or "intent" in step
        ]
        for story in data.get("stories") or []
    }


@dataclass(frozen=True)
class Mismatch:
    """One step the assistant got wrong."""

    step: int
    kind: str  # "action", "intent" or "entities"
    expected: str
    predicted: str
    user_message: str | None
    turn: int


@dataclass
class FailedStory:
    """A failed story and every step it went wrong at."""

    name: str
    file: str | None
    mismatches: list[Mismatch] = field(default_factory=list)
    # What the parent sent at each turn (from the story's file), for replaying the story.
    turns: list[str] = field(default_factory=list)
    # The assistant's real replies at each turn, once replayed (bot.devtools.story_replay).
    replies: list[list[str]] = field(default_factory=list)

    @property
    def misread(self) -> bool:
        """Whether a message of the story was understood as another intent."""
        return any(mismatch.kind == "intent" for mismatch in self.mismatches)


@dataclass
class StoryRun:
    """What one `rasa test core` run found."""

    passed: list[str]
    failed: list[FailedStory]
    images: list[str]
    action_scores: dict[str, dict[str, float]]


def _split_name(raw: str) -> tuple[str, str | None]:
    match = _NAME_AND_FILE.match(raw.strip())
    if not match:
        return raw.strip(), None
    return match.group("name"), match.group("file")


def _comment(step: Any, key: str) -> str | None:
    """The `# predicted: ...` value on `key` of one step, if Rasa wrote one."""
    items = getattr(step, "ca", None)
    tokens = items.items.get(key) if items is not None else None
    if not tokens:
        return None
    texts = [token.value for token in tokens if token is not None and hasattr(token, "value")]
    for text in texts:
        match = _PREDICTED.search(text.strip().splitlines()[0])
        if match:
            return match.group("value").strip()
    return None


def _load(path: Path) -> list[Any]:
    if not path.exists():
        return []
    data = YAML(typ="rt").load(path.read_text(encoding="utf-8")) or {}
    return list(data.get("stories") or [])


def parse_failed_stories(path: Path, root: Path | None = None) -> list[FailedStory]:
    """The failed stories in a `failed_test_stories.yml`, with the steps that went wrong.

    Rasa's file gives intents only; the parent's message of each turn is read from the story's
    own file (named in the story's name), or from Rasa's comment on a misunderstood message.

    Args:
        path: the file Rasa wrote (missing or "all good": no failed stories).
        root: the folder `rasa test` ran in, for story files named relative to it.

    Returns:
        One entry per failed story; steps and turns are counted from 1.

    """
    failed: list[FailedStory] = []
    for story in _load(path):
        name, file = _split_name(str(story.get("story", "")))
        entry = FailedStory(name=name, file=file)
        source = Path(file) if file else None
        if source is not None and root is not None and not source.is_absolute():
            source = root / source
        messages = story_messages(source).get(name, []) if source else []
        entry.turns = story_turns(source).get(name, []) if source else []
        last_user: str | None = None
        turn = 0
        for number, step in enumerate(story.get("steps") or [], start=1):
            if "user" in step or "intent" in step:
                turn += 1
                written = messages[turn - 1] if turn <= len(messages) else ""
                last_user = plain(str(step.get("user") or written)) or None
                predicted = _comment(step, "intent")
                if predicted:
                    match = _INTENT_PREDICTED.match(predicted)
                    intent = match.group("intent") if match else predicted
                    understood = (match.group("text") or "") if match else ""
                    last_user = last_user or plain(understood) or None
                    if intent == str(step["intent"]):
                        mismatch = Mismatch(
                            number, "entities", written or "(none)", understood, last_user, turn
                        )
                    else:
                        mismatch = Mismatch(
                            number, "intent", str(step["intent"]), intent, last_user, turn
                        )
                    entry.mismatches.append(mismatch)
            elif "action" in step:
                predicted = _comment(step, "action")
                if predicted:
                    entry.mismatches.append(
                        Mismatch(number, "action", str(step["action"]), predicted, last_user, turn)
                    )
        failed.append(entry)
    return failed


def parse_passed_stories(path: Path) -> list[str]:
    """Names of the stories in a `successful_test_stories.yml`."""
    return [_split_name(str(story.get("story", "")))[0] for story in _load(path)]


def action_scores(path: Path) -> dict[str, dict[str, float]]:
    """Per-action precision, recall, F1 and support from `story_report.json`."""
    if not path.exists():
        return {}
    report = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: scores
        for name, scores in report.items()
        if isinstance(scores, dict)
        and "f1-score" in scores
        and name not in {"micro avg", "macro avg", "weighted avg"}
    }


def read_run(folder: Path, root: Path | None = None) -> StoryRun:
    """Everything `rasa test core` wrote into `folder` (`root`: where it ran)."""
    return StoryRun(
        passed=parse_passed_stories(folder / PASSED_FILE),
        failed=parse_failed_stories(folder / FAILED_FILE, root or Path.cwd()),
        images=sorted(path.name for path in folder.glob("*.png")),
        action_scores=action_scores(folder / REPORT_FILE),
    )


def replay_misread(run: StoryRun) -> None:
    """Replays each failed story that has a misread message with the real assistant."""
    stories = {story.name: story.turns for story in run.failed if story.misread and story.turns}
    if not stories:
        return
    replies = story_replay.replay(stories)
    for story in run.failed:
        story.replies = replies.get(story.name, [])


def _understood(intent: str) -> str:
    if intent == FALLBACK_INTENT:
        return f"`{intent}` (it was unsure what the message meant)"
    return f"`{intent}`"


def _family_got(story: FailedStory, mismatch: Mismatch) -> list[str]:
    """The real replies at a misread turn, as the report shows them."""
    if mismatch.kind != "intent" or not story.replies or mismatch.turn > len(story.replies):
        return []
    said = story.replies[mismatch.turn - 1]
    if not said:
        return ["  - In a real conversation the family got no answer at this turn."]
    quoted = " / ".join(f"“{' '.join(text.split())}”" for text in said)
    return [f"  - In a real conversation the family got: {quoted}"]


def _describe(mismatch: Mismatch) -> str:
    said = f'"{mismatch.user_message}"' if mismatch.user_message else "(no message)"
    where = f"Step {mismatch.step} (turn {mismatch.turn}, after the parent wrote {said})"
    if mismatch.kind == "entities":
        return (
            f"- {where}: the right topic, but the marked terms differ: the story has "
            f'"{mismatch.expected}", the assistant found "{mismatch.predicted}".'
        )
    if mismatch.kind == "intent":
        return (
            f"- {where}: the message should be understood as `{mismatch.expected}`, "
            f"but the assistant understood it as {_understood(mismatch.predicted)}. The answers "
            "after it are scored as if it had been read right."
        )
    return (
        f"- {where}: expected `{mismatch.expected}`, but the assistant did `{mismatch.predicted}`."
    )


def format_summary(run: StoryRun) -> str:
    """The Markdown summary staff read."""
    total = len(run.passed) + len(run.failed)
    verdict = "All stories passed." if not run.failed else f"{len(run.failed)} stories FAILED."
    lines = [
        "# Story test report",
        "",
        f"{verdict} Passed: {len(run.passed)}. Failed: {len(run.failed)}. Total: {total}.",
        "",
    ]
    if run.failed:
        lines += ["## Failed stories", ""]
        for story in run.failed:
            lines.append(f"### {story.name}")
            if story.file:
                lines.append(f"File: `{story.file}`")
            lines.append("")
            for mismatch in story.mismatches:
                lines.append(_describe(mismatch))
                lines += _family_got(story, mismatch)
            if not story.mismatches:
                unnamed = f"see `{FAILED_FILE}`"
                lines.append(
                    f"- Rasa marked this story as failed without naming a step; {unnamed}."
                )
            lines.append("")
        lines += [
            "`action_listen` means the assistant would have stopped and waited for the parent;",
            "`action_default_fallback` means it was unsure what to do next.",
            "",
        ]
    if run.passed:
        lines += ["## Passed stories", ""] + [f"- {name}" for name in run.passed] + [""]
    weak = {name: s for name, s in run.action_scores.items() if s.get("f1-score", 1.0) < 1.0}
    if weak:
        lines += ["## Answers that were not always predicted right", ""]
        lines += ["| answer | precision | recall | times expected |", "| --- | --- | --- | --- |"]
        for name, scores in sorted(weak.items(), key=lambda item: item[1]["f1-score"]):
            lines.append(
                f"| `{name}` | {scores['precision']:.2f} | {scores['recall']:.2f} "
                f"| {scores['support']} |"
            )
        lines.append("")
    lines += ["## Files in this folder", ""]
    lines += [f"- `{name}` (image)" for name in run.images]
    lines += [f"- `{FAILED_FILE}`, `{PASSED_FILE}`, `{REPORT_FILE}` (Rasa's raw output)", ""]
    return "\n".join(lines)


def write_summary(folder: Path, root: Path | None = None, *, replay: bool = False) -> StoryRun:
    """Reads the run in `folder` and writes `folder/summary.md`; returns the run.

    `replay`: replay the stories with a misread message through the real assistant, so that
    the summary says what the family would really have been answered.
    """
    run = read_run(folder, root)
    if replay:
        replay_misread(run)
    (folder / SUMMARY_FILE).write_text(format_summary(run), encoding="utf-8")
    return run
