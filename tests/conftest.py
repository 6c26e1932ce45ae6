"""Shared fixtures: one trained model and one running assistant per test run.

`make test` trains the model (only when its inputs changed) before pytest starts; the session
fixture here starts the real action server and the real Rasa server on free loopback ports, with
a fresh SQLite tracker store, and every conversation test talks to it over HTTP.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import paths
from bot.runtime.launcher import RunSettings, Servers, free_port

# The request store's `clock` and `store` fixtures, shared by several test modules.
pytest_plugins = ["tests.request_stores"]

MODEL = paths.MODEL

# `.ci/run` sets this, so that a test that would skip for a missing service fails instead.
STRICT = os.environ.get("NB_REQUIRE_ALL") == "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks every test that uses the trained model (directly or through the running assistant)
    `model`, so `make test-fast` can leave them out without anyone keeping a list."""
    for item in items:
        if "trained_model" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.model)


def require(condition: bool, reason: str) -> None:
    """Skips the test with a visible reason when a prerequisite is missing (fails in CI)."""
    if not condition:
        (pytest.fail if STRICT else pytest.skip)(f"{reason} (required when NB_REQUIRE_ALL=1)")


def http_json(url: str, payload: Any = None, timeout: float = 30) -> Any:
    """GET (no payload) or POST JSON, and decode the JSON answer."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode())


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """The parsed domain.yml."""
    return yaml.safe_load(paths.DOMAIN.read_text())


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The model `make test` trained; the suite never trains a second one."""
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run the suite with `make test`")
    return MODEL


# Secrets the channels read from the environment (credentials.yml); test values only.
TWILIO_AUTH_TOKEN = "test-twilio-auth-token"
SMS_SENDER_KEY = "test-sms-sender-key"
STAFF_SESSION_KEY = "test-staff-session-key-of-32-characters-or-more"


def channel_env(settings: RunSettings, folder: Path) -> dict[str, str]:
    """The environment that turns on every channel in credentials.yml for the test servers,
    and gives the action server its own request database."""
    return {
        "REQUESTS_DB_URL": f"sqlite:///{folder / 'requests.db'}",
        "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        "SMS_PUBLIC_URL": f"{settings.url}/webhooks/sms/webhook",
        "SMS_SENDER_KEY": SMS_SENDER_KEY,
        "SMS_DB": str(folder / "sms.db"),
        "STAFF_SESSION_KEY": STAFF_SESSION_KEY,
    }


def plain_http_credentials(folder: Path) -> Path:
    """credentials.yml as shipped, except that the staff cookies may travel over plain HTTP
    (the test servers listen on loopback without TLS)."""
    credentials = yaml.safe_load(paths.CREDENTIALS.read_text())
    credentials["bot.staff.channel.StaffDashboard"]["secure_cookies"] = False
    path = folder / "credentials.tests.yml"
    path.write_text(yaml.safe_dump(credentials))
    return path


def server_settings(model: Path, folder: Path) -> RunSettings:
    """A server pair of the tests' own: free loopback ports, every channel on, files in folder."""
    settings = RunSettings(
        port=free_port(),
        action_port=free_port(),
        model=model,
        tracker_db=folder / "tracker.db",
        rest=True,
        enable_api=True,
        api_token=secrets.token_urlsafe(24),
        credentials=plain_http_credentials(folder),
    )
    settings.extra_env.update(channel_env(settings, folder))
    return settings


@pytest.fixture(scope="session")
def assistant(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunSettings]:
    """The real action server and Rasa server, running for the whole session."""
    folder = tmp_path_factory.mktemp("assistant")
    settings = server_settings(trained_model, folder)
    with Servers(settings) as servers:
        try:
            servers.start(log_dir=folder)
        except RuntimeError:
            logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in folder.glob("*.log"))
            pytest.fail(f"the assistant did not start:\n{logs}")
        yield settings


class Conversation:
    """One family's conversation over Rasa's REST channel."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.sender = f"test-{uuid.uuid4().hex[:12]}"
        self.seen = 0
        self.last_messages: list[dict[str, Any]] = []

    def say(self, text: str) -> list[dict[str, Any]]:
        """Sends a message; returns the bot's messages as the REST channel gives them."""
        self.ask(text)
        return self.last_messages

    def _post(self, text: str) -> None:
        url = f"{self.settings.url}/webhooks/rest/webhook"
        self.last_messages = http_json(url, {"sender": self.sender, "message": text})

    def tracker(self) -> dict[str, Any]:
        """The whole stored conversation, as Rasa's HTTP API gives it."""
        url = self.settings.api(f"/conversations/{self.sender}/tracker?include_events=ALL")
        return http_json(url)

    def bot_events(self) -> list[dict[str, Any]]:
        """Every bot utterance stored in the tracker, with its metadata (provenance).

        Fetching the tracker of a new conversation starts its session, so call this only after
        the first message.
        """
        return [e for e in self.tracker()["events"] if e["event"] == "bot"]

    def ask(self, text: str) -> list[str]:
        """Sends a message; returns the names of the responses the bot answered with."""
        self._post(text)
        events = self.bot_events()
        new, self.seen = events[self.seen :], len(events)
        return [e["metadata"].get("utter_action") for e in new]


@pytest.fixture
def conversation(assistant: RunSettings) -> Conversation:
    """A new conversation with the running assistant."""
    return Conversation(assistant)
