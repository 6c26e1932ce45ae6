"""`python -m bot chat` (`make chat`): talk to the assistant in the terminal.

Starts the action server the way `python -m bot run` does (bot/runtime/launcher.py), then Rasa's own
`rasa shell` on the trained model, with the same tracker store, so the conversation is kept in
`var/tracker.db` under a conversation id printed at the start; `python -m bot story export` turns
it into a test story. Both stop when the shell ends (type /stop or press Ctrl-C).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from bot import paths
from bot.paths import ROOT
from bot.runtime.launcher import (
    RunSettings,
    commands,
    free_port,
    rasa_command,
    server_env,
    wait_until_up,
    write_credentials,
)


def shell_command(settings: RunSettings, conversation_id: str, credentials: Path) -> list[str]:
    """The `rasa shell` command line for these settings."""
    return [*rasa_command("shell", settings, credentials), "--conversation-id", conversation_id]


def export_hint(conversation_id: str) -> str:
    """The command that turns this conversation into a story file Rasa's story tests read.

    Rasa reads test stories only from files named test_*.yml, hence the name.
    """
    python = Path(sys.executable)
    shown = python.relative_to(ROOT) if python.is_relative_to(ROOT) else python
    story = paths.STORIES / f"test_{conversation_id.replace('-', '_')}.yml"
    return (
        "To make it a test story:\n"
        f"  {shown} -m bot story export {conversation_id} --out {story.relative_to(ROOT)}"
    )


def main(model: Path | None = None) -> int:
    """Runs the action server and `rasa shell` until the shell ends; returns its exit code."""
    settings = RunSettings(port=free_port(), action_port=free_port())
    if model:
        settings.model = model
    if not settings.model.exists():
        print(f"error: no trained model at {settings.model}: run `make train`", file=sys.stderr)
        return 1
    settings.tracker_db.parent.mkdir(parents=True, exist_ok=True)
    env = server_env(settings)
    # Only the channels whose secrets are set (a laptop has no SMS gateway token).
    credentials = write_credentials(settings, env)
    conversation_id = f"chat-{uuid.uuid4().hex[:8]}"
    actions = subprocess.Popen(
        commands(settings, settings.credentials)["actions"], cwd=ROOT, env=env
    )
    try:
        health = f"http://127.0.0.1:{settings.action_port}/health"
        if not wait_until_up(health, [actions], timeout=120):
            print("error: the action server did not start", file=sys.stderr)
            return 1
        print(
            f"\nConversation id: {conversation_id} (kept in {settings.tracker_db}).\n"
            f"{export_hint(conversation_id)}\n"
            "When an answer offers buttons, they appear as a menu: choose one with the arrow keys\n"
            "and Enter (it sends the button, as a tap on the web page would), or choose\n"
            "'Type out your own message...' to write instead.\n"
            "Type /stop or press Ctrl-C to end.\n",
            flush=True,
        )
        try:
            return subprocess.call(
                shell_command(settings, conversation_id, credentials), cwd=ROOT, env=env
            )
        except KeyboardInterrupt:
            return 0
        finally:
            print(f"\n{export_hint(conversation_id)}", flush=True)
    finally:
        actions.terminate()
        try:
            actions.wait(timeout=20)
        except subprocess.TimeoutExpired:
            actions.kill()
            actions.wait()
