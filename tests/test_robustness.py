"""Nothing a family or an attacker sends takes the assistant down or silences a safety answer.

Each test is one row of the table in issue 12, run against the real servers: the shared
assistant for what it must refuse and survive, and server pairs of these tests' own where the
action server is unreachable or killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.runtime.launcher import RunSettings, Servers, free_port, wait_until_up
from bot.runtime.tracker_store import SQLTrackerStore
from tests.conftest import Conversation, server_settings
from tests.test_web import call, send

REST = "/webhooks/rest/webhook"


def rest(settings: RunSettings, body: bytes) -> tuple[int, object]:
    reply = call(settings, REST, raw=body)
    return reply.status, reply.body


def answered(settings: RunSettings, text: str = "what is mibg therapy") -> list[str]:
    """The texts a new REST conversation gets for `text`."""
    status, body = rest(
        settings, json.dumps({"sender": f"t-{uuid.uuid4().hex}", "message": text}).encode()
    )
    assert status == 200, body
    assert isinstance(body, list)
    return [message.get("text", "") for message in body]


def responses(settings: RunSettings, sender: str) -> list[str]:
    path = settings.api_path(f"/conversations/{sender}/tracker?include_events=ALL")
    tracker = call(settings, path).body
    return [e["metadata"].get("utter_action") for e in tracker["events"] if e["event"] == "bot"]


# --- row 1: a lone surrogate in the sender id ------------------------------------------------


def test_a_lone_surrogate_in_the_sender_is_refused_and_the_server_survives(assistant):
    body = json.dumps({"sender": "x\udfff", "message": "hi"}).encode()  # JSON escapes it
    status, reply = rest(assistant, body)
    assert status == 400 and reply["error"] == "bad_sender"
    assert answered(assistant)  # the same process answers the next family


def test_the_tracker_store_fails_one_request_never_the_process(tmp_path):
    store = SQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(tmp_path / "t.db"))
    tracker = DialogueStateTracker("x\udfff", slots=[])
    tracker.update(UserUttered("hi"))
    with pytest.raises(Exception) as failure:  # Rasa's own store called sys.exit(1) here
        asyncio.run(store.save(tracker))
    assert not isinstance(failure.value, SystemExit)
    good = DialogueStateTracker("family-1", slots=[])
    good.update(UserUttered("hi"))
    asyncio.run(store.save(good))
    assert asyncio.run(store.retrieve("family-1")) is not None


# --- row 2: bodies that are not a message ----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[]", "bad_request"),
        (b'"hello"', "bad_request"),
        (b"null", "bad_request"),
        (b"not json", "bad_request"),
        (b'{"message": "hi"}', "bad_sender"),
        (b'{"sender": 5, "message": "hi"}', "bad_sender"),
        (b'{"sender": "has space", "message": "hi"}', "bad_sender"),
        (json.dumps({"sender": "a" * 129, "message": "hi"}).encode(), "bad_sender"),
        (b'{"sender": "family-2"}', "bad_text"),
        (b'{"sender": "family-2", "message": ["hi"]}', "bad_text"),
        (b'{"sender": "family-2", "message": "   "}', "empty"),
        (b'{"sender": "family-2", "message": "hi \\udfff"}', "bad_text"),
    ],
)
def test_a_rest_body_that_is_not_a_message_gets_a_4xx_saying_why(assistant, body, error):
    status, reply = rest(assistant, body)
    assert status == 400
    assert reply["error"] == error and reply["message"]


def test_rest_conversations_are_always_on_the_rest_channel(assistant):
    sender = f"t-{uuid.uuid4().hex}"
    payload = {"sender": sender, "message": "hello", "input_channel": "web", "metadata": {"x": 1}}
    assert rest(assistant, json.dumps(payload).encode())[0] == 200
    tracker = call(assistant, assistant.api_path(f"/conversations/{sender}/tracker")).body
    user = [e for e in tracker["events"] if e["event"] == "user"]
    assert user[-1]["input_channel"] == "rest"
    assert "x" not in user[-1]["metadata"]  # the client's metadata is not stored


# --- row 3: the web chat and a lone surrogate -------------------------------------------------


def test_a_web_message_with_a_lone_surrogate_is_refused(assistant):
    reply = call(
        assistant, "/webhooks/web/message", raw=b'{"session": null, "message": "hi \\udfff"}'
    )
    assert reply.status == 400 and reply.body["error"] == "bad_text"
    assert send(assistant, "what is mibg therapy").status == 200


# --- row 4: a megabyte of text ---------------------------------------------------------------


def test_a_megabyte_is_refused_before_the_nlu_and_an_emergency_is_still_answered(assistant):
    huge = json.dumps({"sender": "flood-1", "message": "a" * 1_000_000}).encode()
    status, _ = rest(assistant, huge)
    assert status == 413  # sanic's body limit (bot.runtime.launcher.REQUEST_MAX_BYTES)
    just_over = json.dumps({"sender": "flood-1", "message": "a" * 12_000}).encode()
    status, reply = rest(assistant, just_over)
    assert status == 413 and reply["error"] == "too_long"
    sender = f"t-{uuid.uuid4().hex}"
    urgent = {"sender": sender, "message": "my son is not breathing " + "please " * 300}
    assert rest(assistant, json.dumps(urgent).encode())[0] == 200
    assert "utter_emergency" in responses(assistant, sender)


def test_rest_rate_limit_spares_safety_messages(assistant):
    sender = f"t-{uuid.uuid4().hex}"
    statuses = [
        rest(assistant, json.dumps({"sender": sender, "message": "hello"}).encode())[0]
        for _ in range(31)
    ]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
    urgent = json.dumps({"sender": sender, "message": "she is having a seizure"}).encode()
    assert rest(assistant, urgent)[0] == 200


# --- rows 5 and 6: the action server unreachable, or dead -------------------------------------


@pytest.fixture(scope="module")
def without_actions(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunSettings]:
    """Rasa pointed at an action server that is not there (a port nobody listens on)."""
    folder = tmp_path_factory.mktemp("no-actions")
    settings = server_settings(trained_model, folder)
    settings.extra_env["ACTION_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}/webhook"
    with Servers(settings) as servers:
        servers.start(log_dir=folder)
        yield settings


@pytest.mark.parametrize("text", ["my son is not breathing", "she is having a seizure"])
def test_an_emergency_in_a_new_rest_conversation_needs_no_action_server(without_actions, text):
    conversation = Conversation(without_actions)
    assert conversation.ask(text) == ["utter_disclaimer", "utter_emergency"]


def test_an_emergency_in_a_new_web_chat_needs_no_action_server(without_actions):
    reply = send(without_actions, "my daughter is unconscious")
    assert reply.status == 200
    texts = " ".join(message["text"] for message in reply.body["messages"])
    assert "911" in texts


@pytest.mark.parametrize(
    "text", ["mi hijo no respira", "tiene fiebre de 39 y esta en quimio", "ya no quiero vivir"]
)
def test_a_spanish_emergency_is_answered_in_spanish_without_the_action_server(
    without_actions, text
):
    conversation = Conversation(without_actions)
    said = conversation.ask(text)
    assert said[:2] == ["utter_disclaimer", "utter_language_changed"]
    assert said[-1] in {"utter_emergency", "utter_fever", "utter_crisis"}
    answer = conversation.last_messages[-1]["text"]
    assert "llame" in answer.lower() and ("911" in answer or "988" in answer)


def test_what_needs_the_action_server_is_answered_honestly_with_the_phone_line(without_actions):
    conversation = Conversation(without_actions)
    conversation.ask("what is mibg therapy")
    said = conversation.ask("i would like someone to call me back")
    assert "utter_action_server_unavailable" in said
    texts = " ".join(m.get("text", "") for m in conversation.last_messages)
    assert "(215) 555-0101" in texts  # the configured new-appointments line


def test_a_dead_action_server_is_started_again_and_rasa_keeps_answering(trained_model, tmp_path):
    settings = server_settings(trained_model, tmp_path)
    with Servers(settings) as servers:
        servers.start(log_dir=tmp_path)
        first = servers.processes["actions"]
        os.kill(first.pid, signal.SIGKILL)
        assert Conversation(settings).ask("he stopped breathing")[-1] == "utter_emergency"
        deadline = time.monotonic() + 120
        while servers.processes["actions"] is first and time.monotonic() < deadline:
            time.sleep(0.2)
        assert servers.restarts == 1
        assert wait_until_up(servers.action_health, [servers.processes["rasa"]], 120)
        assert servers.processes["rasa"].poll() is None
        # The form needs the action server: it works again.
        conversation = Conversation(settings)
        conversation.ask("can someone call me back")
        assert conversation.ask("/contact_new_appointment") == ["utter_ask_relationship"]
