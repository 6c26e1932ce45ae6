"""bot/runtime/rasa_fixes.py: Rasa's command line with the action-response check built once."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import ActionExecuted, UserUttered

from bot.devtools.chat import shell_command
from bot.runtime import launcher, nlu_worker, rasa_fixes

VALID = {
    "events": [{"event": "slot", "name": "callback_phone", "value": "+12155550100"}],
    "responses": [{"response": "utter_ask_callback_phone"}],
}
INVALID = {"events": [{"event": "slot", "name": 5}], "responses": "not a list"}


def test_valid_response_passes_as_rasa_would() -> None:
    validate(VALID, RemoteAction.action_response_format_spec())
    assert rasa_fixes.validate_action_result(RemoteAction("a", None), VALID) is True


def test_invalid_response_fails_with_rasas_error() -> None:
    with pytest.raises(ValidationError) as rasa_error:
        validate(INVALID, RemoteAction.action_response_format_spec())
    with pytest.raises(ValidationError, match="Failed to validate Action server response") as ours:
        rasa_fixes.validate_action_result(RemoteAction("a", None), INVALID)
    assert ours.value.message.startswith(rasa_error.value.message)


def test_fix_replaces_rasas_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RemoteAction, "_validate_action_result", lambda *_: "rasa's")
    rasa_fixes.apply_fixes()
    assert RemoteAction("a", None)._validate_action_result(VALID) is True


def test_the_launcher_and_make_chat_serve_through_the_fix() -> None:
    settings = launcher.RunSettings()
    command = launcher.commands(settings, settings.credentials)["rasa"]
    assert command[1:4] == ["-m", "bot.runtime.rasa_fixes", "run"]
    shell = shell_command(settings, "conv-1", settings.credentials)
    assert shell[1:4] == ["-m", "bot.runtime.rasa_fixes", "shell"]
    assert shell[-2:] == ["--conversation-id", "conv-1"]


# Runs rasa_fixes.main with Rasa's own command line replaced, then prints the thread settings.
_THREADS_AFTER_MAIN = """
import json, sys
from unittest import mock
import rasa.__main__
from bot.runtime import rasa_fixes
sys.argv = ["rasa", sys.argv[1]]
with mock.patch.object(rasa.__main__, "main", lambda: None):
    rasa_fixes.main()
import tensorflow as tf
from threadpoolctl import threadpool_info
threading = tf.config.threading
print(json.dumps({
    "tensorflow": [
        threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()
    ],
    "blas": [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"],
}))
"""


def _threads_after_main(command: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(launcher.ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _THREADS_AFTER_MAIN, command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_server_keeps_tensorflow_and_blas_to_one_thread_and_training_does_not() -> None:
    served = _threads_after_main("run")
    assert served["tensorflow"] == [1, 1]
    assert served["blas"] and set(served["blas"]) == {1}
    trained = _threads_after_main("train")
    assert trained["tensorflow"] == [0, 0]  # TensorFlow's default: its own choice per machine
    if (os.cpu_count() or 1) > 1:
        assert max(trained["blas"], default=0) > 1


def test_an_api_token_starting_with_a_dash_reaches_rasa_whole(monkeypatch: pytest.MonkeyPatch):
    # A CI run failed to start Rasa: token_urlsafe gave a token beginning with "-", which
    # argparse took for an option ("--auth-token: expected one argument").
    from rasa.cli.arguments.run import add_server_arguments

    monkeypatch.setenv(rasa_fixes.API_TOKEN_ENV, "-starts-with-a-dash")
    argv = ["--enable-api"]
    rasa_fixes._token_from_environment(argv)
    parser = argparse.ArgumentParser()
    add_server_arguments(parser)
    assert parser.parse_args(argv).auth_token == "-starts-with-a-dash"


def test_event_classes_are_found_as_rasas_walk_finds_them() -> None:
    """The cached lookup gives Rasa's classes, its default, and its error for an unknown name."""
    assert rasa_fixes.resolve_event_type("user") is UserUttered
    assert rasa_fixes.resolve_event_type("action") is ActionExecuted
    assert rasa_fixes.resolve_event_type("no-such-event", UserUttered) is UserUttered
    with pytest.raises(ValueError, match="Unknown event name"):
        rasa_fixes.resolve_event_type("no-such-event")


@pytest.fixture(scope="module")
def agent(trained_model: Path) -> Agent:
    """The trained model, loaded in this process."""
    return Agent.load(str(trained_model))


def test_the_nlu_graph_runs_in_its_worker_and_parses_as_rasa_does(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's parse equals Rasa's own, and the graph ran off the event loop's thread."""
    ran_in: list[str] = []
    graph = MessageProcessor._parse_message_with_graph

    def spied(self: MessageProcessor, *args: Any, **kwargs: Any) -> dict[str, Any]:
        ran_in.append(threading.current_thread().name)
        return graph(self, *args, **kwargs)

    monkeypatch.setattr(MessageProcessor, "_parse_message_with_graph", spied)
    message = UserMessage("how long do we stay in the lead room after mibg", sender_id="t")
    ours = asyncio.run(nlu_worker.parse_message(agent.processor, message))
    rasas = asyncio.run(nlu_worker._rasa_parse_message(agent.processor, message))
    assert ours == rasas
    assert ours["intent"]["name"] not in (None, "nlu_fallback")
    assert ran_in[0].startswith("nlu-graph")
    assert ran_in[1] == threading.current_thread().name
