"""Property-based tests (hypothesis): what families and attackers may send never breaks a parser.

Every parser either accepts and returns something of the promised shape, or refuses in the one
way its caller handles; none raises anything else, whatever the input (lone surrogates, control
characters, emoji, megabytes, JSON of any shape).
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.callback import (
    MAX_TEXT,
    SKIP_EMAIL,
    is_answer,
    looks_like_a_time,
    normalise_email,
    normalise_phone,
    normalise_relationship,
    short_text,
)
from bot import cli
from bot.channels.buttons import Button
from bot.channels.inputs import MAX_SENDER_LENGTH, Refusal, check_message, check_sender, is_text
from bot.channels.sms import text as sms_text
from tests.test_sms import Phone
from tests.test_web import call

# Any text, including what JSON can carry and UTF-8 cannot: lone surrogates, NUL, controls.
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=300)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["sender", "message", "session", "x"]), children, max_size=4
        )
    ),
    max_leaves=8,
)


@given(ANY_TEXT, st.integers(min_value=1, max_value=50))
def test_check_message_returns_clean_text_or_refuses(value, limit):
    try:
        text = check_message(value, limit)
    except Refusal as refusal:
        assert refusal.status in (400, 413) and refusal.message
        return
    assert is_text(text) and text == text.strip() and text
    assert len(text) <= limit * 10
    assert not any(ord(char) < 32 and char not in "\n\t" for char in text)


@given(st.one_of(ANY_TEXT, st.integers(), st.none(), st.lists(ANY_TEXT)))
def test_check_sender_returns_a_short_ascii_id_or_refuses(value):
    try:
        sender = check_sender(value)
    except Refusal as refusal:
        assert refusal.status == 400
        return
    assert sender == value and 0 < len(sender) <= MAX_SENDER_LENGTH
    assert sender.isascii() and sender.isprintable() and " " not in sender


@given(ANY_TEXT)
def test_form_answer_parsers_never_raise_and_keep_their_promises(text):
    phone = normalise_phone(text, "US")
    assert phone is None or (phone.startswith("+") and phone[1:].isdigit())
    email = normalise_email(text)
    assert email is None or email == SKIP_EMAIL or "@" in email
    assert normalise_relationship(text) in (None, "parent", "guardian", "physician")
    kept = short_text(text)
    assert kept is None or 0 < len(kept) <= MAX_TEXT
    assert looks_like_a_time(text) in (True, False)


@given(
    ANY_TEXT,
    st.sampled_from(["ask_mibg_stay_length", "fever", "emergency", "affirm", None]),
    st.floats(min_value=0, max_value=1),
    st.booleans(),
    st.booleans(),
)
def test_a_safety_pattern_is_never_an_answer(text, intent, confidence, shaped, pattern):
    answer = is_answer(text, intent, confidence, shaped, pattern)
    if pattern:
        assert answer is False


@given(ANY_TEXT, st.lists(st.tuples(ANY_TEXT, ANY_TEXT), max_size=9))
def test_sms_choices_pick_a_listed_payload_or_none(text, pairs):
    buttons = [Button(title=title, payload=payload) for title, payload in pairs]
    chosen = sms_text.chosen_payload(text, buttons)
    assert chosen is None or chosen in [button["payload"] for button in buttons]
    readable = text.encode("utf-8", "replace").decode()  # Twilio's form body is UTF-8
    assert sms_text.segment_count(sms_text.to_gsm7(readable)) >= 0


# --- against the running server --------------------------------------------------------------

# Each example is an HTTP request to the session's assistant: no deadline, and the session
# fixture is the same for every example.
AGAINST_A_SERVER: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture],
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=JSON_VALUES)
def test_the_rest_channel_answers_any_json_with_200_or_a_4xx(assistant, body):
    if isinstance(body, dict) and isinstance(body.get("sender"), str):
        body["sender"] = f"prop-{uuid.uuid4().hex[:8]}"  # no shared rate limit between examples
    reply = call(assistant, "/webhooks/rest/webhook", raw=json.dumps(body).encode())
    assert reply.status in (200, 400, 413), reply.body
    if reply.status != 200:
        assert reply.body["error"] and reply.body["message"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=JSON_VALUES)
def test_the_web_channel_answers_any_json_with_200_or_a_4xx(assistant, body: Any):
    reply = call(assistant, "/webhooks/web/message", raw=json.dumps(body).encode())
    assert reply.status in (200, 400, 413, 429), reply.body
    assert reply.body.get("message") if reply.status != 200 else "messages" in reply.body


# SMS webhook form fields: Twilio's names, others, and any text as values (NUL and controls too).
SMS_FIELDS = st.dictionaries(
    st.sampled_from(["From", "Body", "MessageSid", "To", "NumMedia", "x"]), ANY_TEXT, max_size=6
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fields=SMS_FIELDS, signed=st.booleans())
def test_the_sms_webhook_answers_any_form_with_twiml_or_a_4xx(assistant, fields, signed):
    phone = Phone(assistant)
    if "From" in fields:
        fields["From"] = phone.number  # its own number: no shared rate limit or opt-out
    clean = {key: value.encode("utf-8", "replace").decode() for key, value in fields.items()}
    answer = phone.post(clean, signature="sign" if signed else "forged")
    assert answer.status in (200, 400, 403), answer.body
    if answer.status == 200:
        assert answer.content_type.startswith("application/xml")
    assert phone.post(phone.form("hello")).status == 200  # and the server goes on answering


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(session=ANY_TEXT)
def test_the_web_forget_answers_any_session_header_with_200_or_a_4xx(assistant, session):
    header = session.encode("latin-1", "replace").decode("latin-1")  # what HTTP can carry
    header = "".join(ch for ch in header if ch.isprintable())
    reply = call(assistant, "/webhooks/web/forget", {}, headers={"X-Chat-Session": header})
    assert reply.status in (200, 400), reply.body
    assert reply.body["message"]


# An argument as a real command line delivers it: any bytes but NUL, decoded as Python decodes
# argv (undecodable bytes become lone surrogates, which printing must survive).
ARGV_TEXT = st.one_of(
    st.binary(max_size=60).map(lambda raw: os.fsdecode(raw.replace(b"\x00", b""))),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
)


@settings(max_examples=60, deadline=None)
@given(
    command=st.sampled_from(
        [
            ["requests", "show"],
            ["requests", "handled"],
            ["requests", "purge", "--older-than"],
            ["conversations", "forget", "--reference"],
            ["conversations", "forget", "--session"],
            ["conversations", "purge", "--older-than"],
        ]
    ),
    argument=ARGV_TEXT,
)
def test_the_staff_commands_answer_any_argument_with_a_status_not_a_traceback(
    command, argument, tmp_path_factory
):
    folder = tmp_path_factory.mktemp("cli")
    databases = ["--db", f"sqlite:///{folder / 'db.sqlite'}"]
    argv = [command[0], *databases, *command[1:], argument]
    if command[0] == "conversations" and "--reference" in command:
        argv += ["--requests-db", f"sqlite:///{folder / 'requests.sqlite'}"]
    try:
        status = cli.main(argv)
    except SystemExit as refused:  # argparse: a usage message and status 2
        status = refused.code
    assert status in (0, 1, 2)
