"""bot/runtime/rasa_fixes.py: Rasa's command line with the action-response check built once."""

from __future__ import annotations

import argparse

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from bot.devtools.chat import shell_command
from bot.runtime import launcher, rasa_fixes

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
