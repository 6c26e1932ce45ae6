"""The website chat channel (bot/channels/web/): its HTTP API, page, headers and limits."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered

from bot import paths
from bot.center.config import DEFAULT_PATH, center_config, parse_center_config
from bot.channels.web.channel import WebSettings
from bot.channels.web.messages import history
from bot.channels.web.page import ASSETS, WEB_DIR, page_policy, render_page, tel
from bot.runtime.launcher import RunSettings

SETTINGS = WebSettings.parse(
    yaml.safe_load(paths.CREDENTIALS.read_text())["bot.channels.web.WebInput"]
)
SESSION = re.compile(r"[A-Za-z0-9_-]{32,}")


@dataclass
class Reply:
    """An HTTP answer: status, headers and the decoded body (JSON when it is JSON)."""

    status: int
    headers: Any
    body: Any


def call(
    settings: RunSettings,
    path: str,
    payload: Any = None,
    method: str | None = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Reply:
    """One request to the running assistant; HTTP errors are answers too."""
    data = raw if raw is not None else None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        settings.url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, head, content = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, head, content = error.code, error.headers, error.read()
    is_json = head.get("Content-Type", "").startswith("application/json")
    return Reply(status, head, json.loads(content) if is_json and content else content)


def send(settings: RunSettings, message: str, session: str | None = None, **kw: Any) -> Reply:
    """POSTs a chat message."""
    return call(settings, "/webhooks/web/message", {"session": session, "message": message}, **kw)


# --- the page and its assets -----------------------------------------------------------------


def test_the_page_is_served_at_chat_with_security_headers(assistant):
    reply = call(assistant, "/chat")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    policy = reply.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "require-trusted-types-for 'script'" in policy
    ancestors = policy.split("frame-ancestors")[1].split()
    assert ancestors == ["'self'", *SETTINGS.allowed_origins]
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert reply.headers["Cache-Control"] == "no-store"


def test_the_page_has_no_inline_script_or_style(assistant):
    page = call(assistant, "/chat").body.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
    assert "<style" not in page and " style=" not in page and "onclick" not in page.lower()


def test_the_page_shows_the_configured_emergency_and_phone_lines(assistant):
    config = center_config().values
    page = call(assistant, "/chat").body.decode()
    assert f'In an emergency call <a href="tel:{config["emergency_number"]}">' in page
    for slot in ("emergency_number", "phone_existing_patients", "phone_new_appointments"):
        assert config[slot] in page
    assert "{{" not in page


def test_static_files_never_hard_code_center_details():
    config = center_config().values
    for path in WEB_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        for slot, value in config.items():
            if len(value) < 3:  # "2" (the Lifeline's Spanish option), an unset Spanish line
                continue
            assert value not in text, f"{path.name} hard-codes {slot}"


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_assets_are_served_with_their_type_and_nosniff(assistant, name):
    reply = call(assistant, f"/chat/{name}")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == ASSETS[name]
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.body == (WEB_DIR / name).read_bytes()


@pytest.mark.parametrize("name", ["chat.html", "example.html", "..%2Fchannels%2Fweb.py", "x.js"])
def test_only_the_listed_assets_are_served(assistant, name):
    assert call(assistant, f"/chat/{name}").status == 404


# --- messages ----------------------------------------------------------------------------------


def test_a_first_message_starts_a_session_and_gets_the_disclaimer_and_answer(assistant):
    reply = send(assistant, "what is mibg therapy")
    assert reply.status == 200
    assert reply.headers["Cache-Control"] == "no-store"
    assert SESSION.fullmatch(reply.body["session"])
    disclaimer, answer = reply.body["messages"]
    assert center_config().values["emergency_number"] in disclaimer["text"]
    assert "config:safety.emergency_number" in disclaimer["provenance"]
    assert "source:mibg" in answer["provenance"]
    assert {"title": "Why the special room?", "payload": "/ask_mibg_room"} in answer["buttons"]
    assert {m["sender"] for m in reply.body["messages"]} == {"bot"}


def test_session_ids_are_random(assistant):
    first, second = (send(assistant, "hello").body["session"] for _ in range(2))
    assert first != second


def test_the_same_session_continues_and_its_history_can_be_redrawn(assistant):
    session = send(assistant, "what is mibg therapy").body["session"]
    reply = send(assistant, "/ask_mibg_room", session)
    assert reply.body["session"] == session
    assert [m["provenance"] for m in reply.body["messages"]] == [["source:mibg"]]
    redrawn = call(assistant, "/webhooks/web/history", headers={"X-Chat-Session": session})
    assert redrawn.status == 200 and redrawn.headers["Cache-Control"] == "no-store"
    messages = redrawn.body["messages"]
    assert [m["sender"] for m in messages] == ["user", "bot", "bot", "user", "bot"]
    assert messages[0]["text"] == "what is mibg therapy"
    assert messages[3]["text"] == "Why the special room?"  # the button's title, not its payload
    assert messages[4] == reply.body["messages"][0]
    assert all(m["provenance"] for m in messages if m["sender"] == "bot")


def test_an_unknown_session_has_an_empty_history(assistant):
    reply = call(assistant, "/webhooks/web/history", headers={"X-Chat-Session": "a" * 32})
    assert reply.status == 200 and reply.body["messages"] == []


@pytest.mark.parametrize(
    ("request_args", "error"),
    [
        ({"payload": {"session": "short", "message": "hi"}}, "bad_session"),
        (
            {"payload": {"session": "../../etc/passwd-xxxxxxxxxxxxxx", "message": "hi"}},
            "bad_session",
        ),
        ({"payload": {"session": None, "message": "   "}}, "empty"),
        ({"payload": {"session": None, "message": 42}}, "empty"),
        ({"payload": ["not", "an", "object"]}, "bad_request"),
        ({"raw": b"message=hello"}, "bad_request"),
    ],
)
def test_bad_requests_get_a_clear_error(assistant, request_args, error):
    reply = call(assistant, "/webhooks/web/message", **request_args)
    assert reply.status == 400
    assert reply.body["error"] == error and reply.body["message"]


def test_history_needs_a_valid_session_header(assistant):
    assert call(assistant, "/webhooks/web/history").status == 400
    bad = call(assistant, "/webhooks/web/history", headers={"X-Chat-Session": "x"})
    assert bad.status == 400 and bad.body["error"] == "bad_session"


# --- limits ----------------------------------------------------------------------------------


def test_a_message_over_the_length_limit_is_refused_clearly(assistant):
    limit = SETTINGS.max_message_length
    reply = send(assistant, "a" * (limit + 1))
    assert reply.status == 413
    assert reply.body["error"] == "too_long"
    assert f"{limit:,}" in reply.body["message"]
    assert send(assistant, "what is relapse " + "a" * (limit - 16)).status == 200


def test_a_long_message_about_an_emergency_is_still_answered(assistant):
    reply = send(assistant, "a" * SETTINGS.max_message_length + " my son is not breathing")
    assert reply.status == 200
    assert reply.body["messages"][-1]["provenance"] == [
        "config:safety.emergency_number",
        "config:phones.existing_patients",
    ]


def test_a_session_over_the_rate_limit_is_refused_but_emergencies_get_through(assistant):
    session = send(assistant, "hello").body["session"]
    too_long = "a" * (SETTINGS.max_message_length + 1)  # refused fast, but counted
    for _ in range(SETTINGS.rate_limit_messages - 1):
        assert send(assistant, too_long, session).status == 413
    limited = send(assistant, "what is mibg", session)
    assert limited.status == 429
    assert limited.body["error"] == "rate_limited" and "wait" in limited.body["message"]
    assert 1 <= int(limited.headers["Retry-After"]) <= SETTINGS.rate_limit_seconds
    urgent = send(assistant, "my son is not breathing", session)
    assert urgent.status == 200
    assert "config:safety.emergency_number" in urgent.body["messages"][-1]["provenance"]
    assert send(assistant, "what is mibg").status == 200  # other sessions are not limited


# --- origins -----------------------------------------------------------------------------------


def test_a_page_on_an_origin_not_allowed_is_refused(assistant):
    reply = send(assistant, "hello", headers={"Origin": "https://evil.example"})
    assert reply.status == 403 and reply.body["error"] == "origin_not_allowed"
    history_reply = call(
        assistant,
        "/webhooks/web/history",
        headers={"Origin": "https://evil.example", "X-Chat-Session": "a" * 32},
    )
    assert history_reply.status == 403
    preflight = call(
        assistant, "/webhooks/web/message", method="OPTIONS", headers={"Origin": "null"}
    )
    assert preflight.status == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_an_allowed_origin_gets_cors_headers(assistant):
    origin = SETTINGS.allowed_origins[0]
    preflight = call(
        assistant,
        "/webhooks/web/message",
        method="OPTIONS",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "X-Chat-Session" in preflight.headers["Access-Control-Allow-Headers"]
    reply = send(assistant, "hello", headers={"Origin": origin})
    assert reply.status == 200
    assert reply.headers["Access-Control-Allow-Origin"] == origin
    assert reply.headers["Vary"] == "Origin"


def test_the_page_itself_is_its_own_allowed_origin(assistant):
    reply = send(assistant, "hello", headers={"Origin": assistant.url})
    assert reply.status == 200
    assert "Access-Control-Allow-Origin" not in reply.headers


# --- units -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"max_mesage_length": 10}, "max_mesage_length: unknown setting; known: allowed_origins"),
        ({"max_message_length": 0}, "positive whole number"),
        ({"rate_limit_messages": "20"}, "positive whole number"),
        ({"allowed_origins": "https://a.org"}, "list of origins"),
        ({"allowed_origins": ["https://a.org/page"]}, "scheme://host"),
        ({"allowed_origins": ["a.org"]}, "scheme://host"),
    ],
)
def test_settings_refuse_mistakes(raw, problem):
    with pytest.raises(ValueError, match=problem):
        WebSettings.parse(raw)


def test_settings_default_and_normalise_origins():
    assert WebSettings.parse(None) == WebSettings()
    parsed = WebSettings.parse({"allowed_origins": ["HTTPS://Www.Example.org/"]})
    assert parsed.allowed_origins == ("https://www.example.org",)
    assert "frame-ancestors 'self' https://www.example.org" in page_policy(parsed.allowed_origins)


def test_the_page_escapes_center_details():
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    data["center"]["name"] = 'St. <script>alert("x")</script> & Co'
    config = parse_center_config(data, DEFAULT_PATH)
    page = render_page((WEB_DIR / "chat.html").read_text(), config, 1000, 20)
    assert "<script>alert" not in page
    assert "St. &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in page


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("911", "911"),
        ("988", "988"),
        ("(215) 555-0100", "+12155550100"),
        ("+44 20 7946 0000", "+442079460000"),
    ],
)
def test_tel_links(number, expected):
    assert tel(number, "US") == expected


def test_history_shows_button_titles_and_the_disclaimer_after_the_first_message():
    buttons = [{"title": "Why the special room?", "payload": "/ask_mibg_room"}]
    events = [
        ActionExecuted("action_session_start"),
        BotUttered("I am an automated assistant.", {}, {"metadata": {"provenance": ["config:x"]}}),
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered("what is mibg"),
        BotUttered(
            "MIBG is ...", {"buttons": buttons}, {"metadata": {"provenance": ["source:mibg"]}}
        ),
        UserUttered("/ask_mibg_room"),
        UserUttered("/ask_team"),
    ]

    def said(sender, text, buttons=(), provenance=()):
        return {
            "sender": sender,
            "text": text,
            "buttons": list(buttons),
            "provenance": list(provenance),
            "language": "en" if sender == "bot" else "",
        }

    assert history(events) == [
        said("user", "what is mibg"),
        said("bot", "I am an automated assistant.", provenance=["config:x"]),
        said("bot", "MIBG is ...", buttons, ["source:mibg"]),
        said("user", "Why the special room?"),
        said("user", "/ask_team"),
    ]


def test_a_template_naming_an_unknown_detail_fails_at_start():
    with pytest.raises(ValueError, match="phone_typo"):
        render_page("<p>{{phone_typo}}</p>", center_config(), 1000, 20)


# --- "Delete this conversation" ----------------------------------------------------------------


def _stored_texts(settings: RunSettings, sender: str) -> list[str]:
    """What the family typed, as stored (reading a conversation that is not there starts one,
    with its disclaimer, so only the family's messages are compared)."""
    tracker = call(settings, settings.api_path(f"/conversations/{sender}/tracker")).body
    return [e.get("text") or "" for e in tracker["events"] if e["event"] == "user"]


def test_delete_this_conversation_erases_it_from_the_tracker_store(assistant):
    session = send(assistant, "my daughter Ana relapsed, what does that mean").body["session"]
    other = send(assistant, "what is mibg therapy").body["session"]
    assert any("Ana" in text for text in _stored_texts(assistant, f"web-{session}"))

    reply = call(assistant, "/webhooks/web/forget", {}, headers={"X-Chat-Session": session})
    assert reply.status == 200 and reply.body["session"] is None
    assert "callback request you already sent is kept" in reply.body["message"]
    assert _stored_texts(assistant, f"web-{session}") == []
    history = call(assistant, "/webhooks/web/history", headers={"X-Chat-Session": session})
    assert history.body["messages"] == []
    # Only that conversation: another family's is untouched.
    assert _stored_texts(assistant, f"web-{other}")
    # The same session id may start again, as a new conversation.
    again = send(assistant, "what is mibg therapy", session)
    assert again.status == 200 and again.body["messages"]


def test_delete_needs_a_valid_session_and_an_allowed_origin(assistant):
    bad = call(assistant, "/webhooks/web/forget", {}, headers={"X-Chat-Session": "short"})
    assert bad.status == 400 and bad.body["error"] == "bad_session"
    foreign = call(
        assistant,
        "/webhooks/web/forget",
        {},
        headers={"X-Chat-Session": "a" * 32, "Origin": "https://evil.example"},
    )
    assert foreign.status == 403


def test_the_language_button_payload_switches_and_answers_carry_the_language(assistant):
    reply = send(assistant, '/switch_language{"language": "es"}')
    assert reply.status == 200
    last = reply.body["messages"][-1]
    assert last["language"] == "es" and "español" in last["text"]
    session = reply.body["session"]
    answer = send(assistant, "/ask_mibg", session=session).body["messages"][-1]
    assert answer["language"] == "es" and "medicamento" in answer["text"]
    back = send(assistant, "in English please", session=session).body["messages"][-1]
    assert back["language"] == "en" and back["text"].startswith("Okay, I will answer in English")


def test_a_first_message_in_spanish_opens_with_the_spanish_disclaimer(assistant):
    messages = send(assistant, "qué significa que el cáncer de mi hijo regresó").body["messages"]
    assert [m["language"] for m in messages] == ["es", "es"]
    assert "asistente automático" in messages[0]["text"]
    assert "911" in messages[0]["text"]
