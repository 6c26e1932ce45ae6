"""Closed doors: what a deployment started as shipped (`python -m bot run`) does not offer.

Rasa's REST channel takes any sender id without authentication (a web session's id included), so
it is on only where tests, probes and benchmarks ask for it; Rasa's HTTP API is off, or on only
on loopback with a token that never appears on a command line.
"""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot import paths
from bot.runtime.launcher import RunSettings, Servers, free_port, write_credentials
from tests.conftest import http_json


@pytest.fixture(scope="module")
def as_shipped(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """The assistant started with the shipped settings: no REST channel, no HTTP API."""
    folder = tmp_path_factory.mktemp("as-shipped")
    settings = RunSettings(
        port=free_port(), action_port=free_port(), model=trained_model, tracker_db=folder / "t.db"
    )
    with Servers(settings) as servers:
        servers.start(log_dir=folder)
        yield servers


def _status(url: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_shipped_credentials_have_no_rest_channel():
    shipped = yaml.safe_load(paths.CREDENTIALS.read_text(encoding="utf-8"))
    assert not any("rest" in channel.lower() for channel in shipped)
    settings = RunSettings(tracker_db=Path("/nonexistent/t.db"))
    assert "rest" not in str(settings.credentials)


def test_the_rest_channel_is_only_added_when_asked_for(tmp_path):
    shipped = RunSettings(tracker_db=tmp_path / "t.db")
    with_rest = RunSettings(tracker_db=tmp_path / "t.db", rest=True)
    env = {"TWILIO_AUTH_TOKEN": ""}
    assert "bot.channels.rest.RestInput" not in yaml.safe_load(
        write_credentials(shipped, env).read_text()
    )
    assert "bot.channels.rest.RestInput" in yaml.safe_load(
        write_credentials(with_rest, env).read_text()
    )


def test_a_shipped_server_answers_on_the_web_but_has_no_rest_channel_and_no_api(as_shipped):
    url = as_shipped.settings.url
    body = b'{"sender": "web-session-of-another-family", "message": "hi"}'
    assert _status(f"{url}/webhooks/rest/webhook", body) == 404
    assert _status(f"{url}/conversations/web-session-of-another-family/tracker") == 404
    assert _status(f"{url}/model/parse", b'{"text": "hi"}') == 404
    assert _status(f"{url}/staff") == 404  # no STAFF_SESSION_KEY: no dashboard
    assert http_json(f"{url}/webhooks/web/")["status"] == "ok"


def test_the_http_api_refuses_requests_without_its_token(assistant):
    path = "/conversations/anyone/tracker"
    assert _status(f"{assistant.url}{path}") == 401
    assert _status(f"{assistant.url}{path}?token=wrong-{secrets.token_hex(4)}") == 401
    assert _status(assistant.api(path)) == 200


def test_the_api_token_is_not_on_any_command_line(assistant):
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # the process ended meanwhile
        assert assistant.api_token.encode() not in arguments


def test_the_api_is_refused_without_a_token_or_off_loopback(tmp_path):
    no_token = RunSettings(tracker_db=tmp_path / "t.db", enable_api=True)
    with pytest.raises(RuntimeError, match="RASA_API_TOKEN"):
        Servers(no_token).start()
    public = RunSettings(
        host="0.0.0.0", tracker_db=tmp_path / "t.db", enable_api=True, api_token="x" * 24
    )
    with pytest.raises(RuntimeError, match="loopback only"):
        Servers(public).start()


def test_what_the_servers_write_is_readable_by_their_user_only(assistant):
    folder = assistant.tracker_db.parent
    written = [assistant.tracker_db, Path(assistant.extra_env["SMS_DB"]), *folder.glob("*.log")]
    assert len(written) >= 4
    for path in written:
        assert path.stat().st_mode & 0o077 == 0, f"{path.name}: {oct(path.stat().st_mode)}"
