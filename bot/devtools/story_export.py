"""Turns a real conversation from the tracker store into a test story staff can review.

`python -m bot story export SENDER_ID` reads the conversation's latest session from the SQLite
tracker store (Rasa's own `SQLTrackerStore`, the store `make run` writes to) and writes it in
Rasa's test-story format with Rasa's own `YAMLStoryWriter`: each message the family typed with
the intent it was understood as, then the assistant's actions, and the callback form's steps.
Session starts, "wait for the next message" (`action_listen`) and the slots that do not steer
the conversation are left out, so what remains is what a story test checks, and personal
details typed into the form are not repeated as slot values (they are still in the messages:
review before committing). Entities the pipeline found stay marked up in the messages
(`what is [mibg therapy](therapy)`), as `rasa test core --e2e` checks them too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import (
    ACTION_LISTEN_NAME,
    ACTION_SESSION_START_NAME,
    REQUESTED_SLOT,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_writer.yaml_story_writer import YAMLStoryWriter
from rasa.shared.core.training_data.structures import Story

from bot import paths

DEFAULT_DB = paths.TRACKER_DB
DEFAULT_DOMAIN = paths.DOMAIN
_SKIPPED_ACTIONS = {ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME}


class ExportError(Exception):
    """The conversation cannot be exported (no such file or conversation)."""


def load_tracker(
    sender_id: str, db: Path = DEFAULT_DB, domain_path: Path = DEFAULT_DOMAIN
) -> DialogueStateTracker:
    """The latest session of one conversation, as Rasa stored it.

    Raises:
        ExportError: the database file or the conversation does not exist.

    """
    if not db.exists():
        raise ExportError(f"no tracker store at {db}")
    store = SQLTrackerStore(domain=Domain.load(str(domain_path)), dialect="sqlite", db=str(db))
    tracker = asyncio.run(store.retrieve(sender_id))
    if tracker is None:
        raise ExportError(f"no conversation {sender_id!r} in {db}")
    return tracker


def session_events(tracker: DialogueStateTracker) -> list[Event]:
    """The latest session's events as they happened, with reverted ones taken out.

    Unlike `tracker.applied_events()`, this keeps the family's answers inside the callback
    form (Rasa folds a form's happy path away for its own predictions).
    """
    events: list[Event] = []
    for event in tracker.events:
        if isinstance(event, (SessionStarted, Restarted)):
            events = []
        elif isinstance(event, UserUtteranceReverted):
            while events and not isinstance(events.pop(), UserUttered):
                pass
        elif isinstance(event, ActionReverted):
            while events and not isinstance(events.pop(), ActionExecuted):
                pass
        else:
            events.append(event)
    return events


def story_events(tracker: DialogueStateTracker, slots: list[Slot]) -> list[Event]:
    """The events a test story checks: messages, actions, the form and slots that matter.

    Args:
        tracker: the conversation.
        slots: the domain's slots; a slot is kept when it influences the conversation.

    """
    steering = {REQUESTED_SLOT} | {slot.name for slot in slots if slot.influence_conversation}
    events: list[Event] = []
    for event in session_events(tracker):
        if isinstance(event, UserUttered) and event.intent_name:
            events.append(event)
        elif isinstance(event, ActionExecuted):
            if event.action_name and event.action_name not in _SKIPPED_ACTIONS:
                events.append(event)
        elif isinstance(event, ActiveLoop):
            events.append(event)
        elif isinstance(event, SlotSet) and event.key in steering:
            events.append(event)
    return events


def _default_name(tracker: DialogueStateTracker) -> str:
    intents = [e.intent_name for e in session_events(tracker) if isinstance(e, UserUttered)]
    topics = " then ".join(dict.fromkeys(name for name in intents if name))
    return f"conversation {tracker.sender_id}: {topics}" if topics else tracker.sender_id


def export_story(
    sender_id: str,
    db: Path = DEFAULT_DB,
    name: str | None = None,
    domain_path: Path = DEFAULT_DOMAIN,
) -> str:
    """The conversation as a YAML test-story file (`version`, `stories:` with one story).

    Args:
        sender_id: the conversation's id (the REST channel's `sender`).
        db: the SQLite tracker store.
        name: the story's name (default: the sender and the intents in order).
        domain_path: the domain, for the slots.

    Returns:
        The YAML text.

    Raises:
        ExportError: no such database or conversation, or nothing the family said.

    """
    tracker = load_tracker(sender_id, db, domain_path)
    domain = Domain.load(str(domain_path))
    events = story_events(tracker, domain.slots)
    if not any(isinstance(event, UserUttered) for event in events):
        raise ExportError(f"conversation {sender_id!r} has no messages from the family")
    story = Story.from_events(events, name or _default_name(tracker))
    text = YAMLStoryWriter().dumps(story.story_steps, is_test_story=True)
    header = (
        f"# Exported from conversation {sender_id!r} by `python -m bot story export`.\n"
        "# Review before committing: rename the story, check each intent and answer is the\n"
        "# right one, and replace names, phone numbers and e-mails with made-up ones.\n"
    )
    return header + text


def unread_story_file(out: Path) -> str | None:
    """Why the story tests would never read a file named like `out`, or None.

    Rasa's story tests read only files named test_*.yml (or .yaml).
    """
    if out.name.startswith("test_") and out.suffix in (".yml", ".yaml"):
        return None
    return (
        f"{out} would not be read by the story tests: name the file test_<something>.yml, "
        f"for example tests/stories/test_{out.stem.removeprefix('test_') or 'story'}.yml"
    )


def outside_stories(out: Path) -> str | None:
    """A reminder when `out` is not where `make test-stories` looks, or None."""
    if out.resolve().is_relative_to(paths.STORIES.resolve()):
        return None
    folder = paths.STORIES.relative_to(paths.ROOT)
    return f"note: {out} is outside {folder}/; move it there for `make test-stories` to run it"
