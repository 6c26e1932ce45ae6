"""What a family would really have been answered, for the stories that failed.

Rasa's story tests score each answer as if the parent's message before it had been read right:
after a misread message the story goes on with the story's own intent, so the answers that
follow can line up and look passed while the family, in a real conversation, would already
have had the fallback. This replays a failed story's messages, in order, as one conversation
with the real assistant (the trained model, the action server, Rasa's REST channel on a free
loopback port, a scratch conversation store) and keeps the texts of each answer, so that the
report can say what the family would have seen at each misread step.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

from ruamel.yaml import YAML

from bot import paths
from bot.runtime.launcher import RunSettings, Servers, free_port


def story_turns(path: Path) -> dict[str, list[str]]:
    """For each story in a test-story file, what the parent sent at each turn.

    A written message as written; a step with an intent only (a button) as its payload.
    """
    if not path.is_file():
        return {}
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    turns: dict[str, list[str]] = {}
    for story in data.get("stories") or []:
        sent = []
        for step in story.get("steps") or []:
            if "user" in step:
                sent.append(str(step["user"]).strip())
            elif "intent" in step:
                sent.append(f"/{step['intent']}")
        turns[str(story.get("story"))] = sent
    return turns


def _answer(url: str, sender: str, text: str) -> list[str]:
    body = json.dumps({"sender": sender, "message": text}).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        messages = json.loads(response.read().decode("utf-8")) or []
    replies = []
    for message in messages:
        text = str(message.get("text") or "")
        buttons = [str(button.get("title")) for button in message.get("buttons") or []]
        replies.append(text + (f" [buttons: {' | '.join(buttons)}]" if buttons else ""))
    return replies


def replay(
    stories: Mapping[str, Iterable[str]], model: Path = paths.MODEL
) -> dict[str, list[list[str]]]:
    """Story name -> the assistant's replies at each turn, from a real conversation."""
    with tempfile.TemporaryDirectory(prefix="story-replay-") as folder:
        settings = RunSettings(
            port=free_port(),
            action_port=free_port(),
            model=model,
            tracker_db=Path(folder) / "tracker.db",
            rest=True,
        )
        settings.extra_env["REQUESTS_DB_URL"] = f"sqlite:///{Path(folder) / 'requests.db'}"
        url = f"{settings.url}/webhooks/rest/webhook"
        replies: dict[str, list[list[str]]] = {}
        with Servers(settings) as servers:
            servers.start(log_dir=Path(folder))
            for name, messages in stories.items():
                sender = f"story-replay-{secrets.token_hex(6)}"
                replies[name] = [_answer(url, sender, message) for message in messages]
        return replies
