"""The SMS channel, end to end: Twilio-signed requests to the running assistant, TwiML back.

Requests are signed with the twilio package's own `RequestValidator.compute_signature`, and
answers are read as a phone would get them (the `<Message>` bodies).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.exceptions import RasaException
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from bot.center.config import center_config
from bot.channels.sms import text as sms_text
from bot.channels.sms.channel import (
    RATE_LIMIT_PER_MINUTE,
    SmsInput,
    SmsOutput,
    sender_id,
    twiml,
)
from bot.channels.sms.store import CLAIM_LEASE, SmsStore, replies
from bot.devtools.content_check import load_domain, render
from bot.nlu import language
from bot.runtime.launcher import RunSettings, Servers
from bot.runtime.nlg import CenterResponses
from tests.conftest import SMS_SENDER_KEY, TWILIO_AUTH_TOKEN, http_json, server_settings

CENTER = center_config().values


@dataclass
class Answer:
    """One HTTP answer of the webhook."""

    status: int
    content_type: str
    body: str

    @property
    def texts(self) -> list[str]:
        """The bodies of the TwiML `<Message>` elements, as the phone shows them."""
        root = ElementTree.fromstring(self.body)
        assert root.tag == "Response"
        return [message.text or "" for message in root.findall("Message")]


# Every phone of a test run has its own number, so no two tests share opt-out or rate-limit
# state (random numbers could collide); 555-0199 is the assistant's own number below.
_PHONE_NUMBERS = itertools.count(1000)


class Phone:
    """A parent's phone texting the assistant through a (simulated) Twilio gateway."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.url = f"{settings.url}/webhooks/sms/webhook"
        self.public_url = settings.extra_env["SMS_PUBLIC_URL"]
        self.number = f"+1202555{next(_PHONE_NUMBERS):04d}"
        self.sender = sender_id(self.number, SMS_SENDER_KEY)

    def form(self, body: str | None, message_sid: str | None = None) -> dict[str, str]:
        """The fields Twilio posts for an incoming SMS (blank ones included, as Twilio does)."""
        fields = {
            "MessageSid": message_sid or f"SM{uuid.uuid4().hex}",
            "AccountSid": "AC" + "0" * 32,
            "MessagingServiceSid": "",
            "From": self.number,
            "To": "+12025550199",
            "NumMedia": "0",
            "NumSegments": "1",
            "FromCity": "",
            "ApiVersion": "2010-04-01",
        }
        if body is not None:
            fields["Body"] = body
        return fields

    def post(
        self,
        fields: dict[str, str],
        signature: str | None = "sign",
        content_type: str = "application/x-www-form-urlencoded",
        data: bytes | None = None,
    ) -> Answer:
        """Posts a form; `signature="sign"` signs it for the public URL like Twilio does."""
        if signature == "sign":
            signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(
                self.public_url, fields
            )
        headers = {"Content-Type": content_type}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        request = urllib.request.Request(
            self.url, data=data or urllib.parse.urlencode(fields).encode(), headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Answer(
                    response.status, response.headers["Content-Type"], response.read().decode()
                )
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers["Content-Type"], error.read().decode())

    def text(self, body: str, message_sid: str | None = None) -> list[str]:
        """Sends a text; returns the texts the phone gets back."""
        answer = self.post(self.form(body, message_sid))
        assert answer.status == 200, answer.body
        assert answer.content_type.startswith("application/xml")
        return answer.texts

    def tracker(self) -> dict[str, Any]:
        """The conversation as the Rasa server stores it (the HTTP API is on in tests)."""
        return http_json(self.settings.api(f"/conversations/{self.sender}/tracker"))

    def user_texts(self) -> list[str]:
        """What reached the conversation, in order."""
        return [e["text"] for e in self.tracker()["events"] if e["event"] == "user"]

    def bot_responses(self) -> list[str]:
        """The names of the responses the bot answered with, in order."""
        events = self.tracker()["events"]
        return [e["metadata"].get("utter_action") for e in events if e["event"] == "bot"]


@pytest.fixture
def phone(assistant: RunSettings) -> Phone:
    """A new phone number texting the running assistant."""
    return Phone(assistant)


@lru_cache(maxsize=1)
def responses() -> dict[str, Any]:
    """The domain's responses."""
    return load_domain()["responses"]


def said(response: str) -> str:
    """A domain response as the phone shows it (center details filled in, GSM-7)."""
    return sms_text.to_gsm7(render(responses()[response][0]["text"], center_config()))


def first_sentence(response: str) -> str:
    return sms_text.split_sentences(said(response))[0]


def assert_readable(texts: list[str]) -> None:
    assert 1 <= len(texts) <= sms_text.MAX_MESSAGES
    assert all(sms_text.segment_count(text) <= sms_text.MAX_SEGMENTS for text in texts)
    assert all(sms_text.is_gsm7(text) for text in texts)


# --- conversations --------------------------------------------------------------------------------


def test_health(assistant):
    assert http_json(f"{assistant.url}/webhooks/sms/") == {"status": "ok"}


def test_a_question_gets_the_disclaimer_then_the_answer(phone):
    texts = phone.text("what is i-131 mibg therapy?")
    assert_readable(texts)
    whole = " ".join(texts)
    assert first_sentence("utter_disclaimer") in whole
    assert first_sentence("utter_mibg") in whole
    assert whole.index(CENTER["program_name"]) < whole.index(first_sentence("utter_mibg"))
    assert phone.bot_responses() == ["utter_disclaimer", "utter_mibg"]


def test_the_transcript_never_holds_the_phone_number(phone):
    phone.text("who is on the team")
    stored = json.dumps(phone.tracker())
    assert phone.sender.startswith("sms-")
    assert phone.number not in stored
    assert phone.number.lstrip("+") not in stored


@pytest.mark.parametrize("choice", ["1", "1.", "one", " One "])
def test_buttons_become_a_numbered_list_and_a_number_picks_one(phone, choice):
    texts = phone.text("what is mibg")
    assert texts[-1].endswith(
        "Reply 1 for Why the special room?\n"
        "Reply 2 for What is my role?\n"
        "Reply 3 for How does it leave the body?"
    )
    assert "/ask" not in " ".join(texts)

    assert phone.text(choice) == [
        said("utter_mibg_room")
        + "\n\n"
        + sms_text.numbered_list(responses()["utter_mibg_room"][0]["buttons"])
    ]
    assert phone.user_texts() == ["what is mibg", "/ask_mibg_room"]
    # The new list replaces the old one: 3 is now "Can others visit?".
    phone.text("3")
    assert phone.bot_responses()[-1] == "utter_mibg_visitors"


def test_a_number_without_a_list_goes_to_the_assistant_as_text(phone):
    phone.text("thank you")
    texts = phone.text("2")
    assert texts
    assert phone.user_texts()[-1] == "2"


@pytest.mark.parametrize(
    ("message", "response"),
    [
        ("my son is not breathing", "utter_emergency"),
        ("she has a fever of 39 and is on chemo", "utter_fever"),
        ("i dont want to live anymore", "utter_crisis"),
    ],
)
def test_an_emergency_text_gets_the_emergency_answer(phone, message, response):
    texts = phone.text(message)
    assert_readable(texts)
    assert said(response) in " ".join(texts)
    assert phone.bot_responses()[-1] == response


def test_help_names_the_program_the_phone_lines_and_how_to_opt_out(phone):
    (text,) = phone.text(" Help ")
    for detail in ("program_name", "phone_existing_patients", "phone_new_appointments"):
        assert CENTER[detail] in text
    assert "STOP" in text
    assert phone.user_texts() == []


@pytest.mark.parametrize(
    ("stop", "start"),
    [
        ("STOP", "START"),
        (" stop ", "unstop"),
        ("StopAll", "Yes"),
        ("Unsubscribe.", "start"),
        ("cancel", "UNSTOP"),
        ("End", "YES"),
        ("quit", "Start"),
    ],
)
def test_stop_silences_the_number_until_it_opts_back_in(phone, stop, start):
    (confirmation,) = phone.text(stop)
    assert "START" in confirmation
    assert CENTER["emergency_number"] in confirmation

    assert phone.text("what is mibg") == []
    assert phone.text("help") == []
    assert phone.user_texts() == []

    (welcome,) = phone.text(start)
    assert "STOP" in welcome
    assert phone.text("what is mibg")
    assert phone.user_texts() == ["what is mibg"]


def test_yes_from_a_subscribed_number_is_an_ordinary_message(phone):
    phone.text("hello")
    phone.text("yes")
    assert phone.user_texts() == ["hello", "yes"]


def test_an_empty_text_asks_for_words(phone):
    (text,) = phone.text("")
    assert "text" in text
    assert CENTER["emergency_number"] in text
    assert phone.user_texts() == []


def test_the_rate_limit_answers_once_then_stays_quiet_but_never_blocks_safety_or_stop(phone):
    for _ in range(RATE_LIMIT_PER_MINUTE):
        assert len(phone.text("help")) == 1
    (notice,) = phone.text("help")
    assert "wait" in notice
    assert phone.text("what is mibg") == []

    assert said("utter_emergency") in " ".join(phone.text("he is not breathing"))
    assert "START" in phone.text("stop")[0]
    assert phone.user_texts() == ["he is not breathing"]


# --- retries --------------------------------------------------------------------------------------


def test_a_repeated_message_sid_gets_the_same_answer_and_is_processed_once(phone):
    fields = phone.form("why does my child need a special room")
    first = phone.post(fields)
    again = phone.post(fields)
    assert first.status == again.status == 200
    assert again.body == first.body
    assert phone.user_texts() == ["why does my child need a special room"]


def test_the_same_message_sid_from_another_number_is_another_message(assistant):
    first, second = Phone(assistant), Phone(assistant)
    sid = f"SM{uuid.uuid4().hex}"
    first.text("why does my child need a special room", message_sid=sid)
    answer = second.text("who is on the team", message_sid=sid)
    assert answer == second.text("who is on the team", message_sid=sid)  # its own retry
    assert second.user_texts() == ["who is on the team"]
    assert "special room" not in " ".join(answer).lower()
    assert first.user_texts() == ["why does my child need a special room"]


def test_an_old_reply_table_keyed_by_message_sid_alone_is_replaced(tmp_path):
    path = tmp_path / "sms.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE sms_replies (message_sid TEXT PRIMARY KEY, sender TEXT)")
    store = SmsStore.open(str(path))
    try:
        assert store.begin("SM1", "a").reply is None
        store.finish("SM1", "a", ["to a"])
        assert store.begin("SM1", "b").reply is None  # another number: not a retry
        assert store.begin("SM1", "a").reply == ["to a"]
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "sms_replies" not in tables


def test_concurrent_duplicates_are_processed_once(phone):
    fields = phone.form("how long is the mibg stay")
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(phone.post, [fields] * 4))
    assert {answer.status for answer in answers} == {200}
    assert len({answer.body for answer in answers}) == 1
    assert phone.user_texts() == ["how long is the mibg stay"]


# --- refused requests -----------------------------------------------------------------------------


def test_a_bad_or_missing_signature_is_refused_and_reaches_no_conversation(phone):
    fields = phone.form("what is mibg")
    validator = RequestValidator(TWILIO_AUTH_TOKEN)
    other_url = phone.public_url.replace("127.0.0.1", "internal-host")
    refused = [
        phone.post(fields, signature=None),
        phone.post(fields, signature=""),
        phone.post(fields, signature="bm90IGEgc2lnbmF0dXJl"),
        phone.post(
            fields,
            signature=RequestValidator("other-token").compute_signature(phone.public_url, fields),
        ),
        # Signed for the address behind a proxy, not the public URL Twilio calls.
        phone.post(fields, signature=validator.compute_signature(other_url, fields)),
        # Signed, then changed on the way.
        phone.post(
            {**fields, "Body": "STOP"},
            signature=validator.compute_signature(phone.public_url, fields),
        ),
    ]
    assert [answer.status for answer in refused] == [403] * len(refused)
    assert phone.user_texts() == []
    assert phone.text("what is mibg")


@pytest.mark.parametrize("missing", ["Body", "From", "MessageSid"])
def test_a_signed_request_without_a_required_field_is_malformed(phone, missing):
    fields = phone.form("what is mibg")
    del fields[missing]
    assert phone.post(fields).status == 400
    assert phone.user_texts() == []


def test_a_request_that_is_not_a_form_is_malformed(phone):
    data = json.dumps(phone.form("what is mibg")).encode()
    answer = phone.post(phone.form("what is mibg"), content_type="application/json", data=data)
    assert answer.status == 400


# --- a restart ------------------------------------------------------------------------------------


def test_opt_out_and_sent_replies_survive_a_restart(trained_model, tmp_path):
    settings = server_settings(trained_model, tmp_path)
    phone = Phone(settings)
    question = phone.form("what is mibg")
    with Servers(settings) as servers:
        servers.start(log_dir=tmp_path)
        answered = phone.post(question)
        assert answered.texts
        assert "START" in phone.text("STOP")[0]

    with Servers(settings) as servers:
        servers.start(log_dir=tmp_path)
        assert phone.text("why the special room") == []
        # Twilio retrying the first message after the restart gets the stored answer.
        assert phone.post(question).body == answered.body
        assert phone.user_texts() == ["what is mibg"]
        assert "STOP" in phone.text("start")[0]
        assert said("utter_mibg_room") in " ".join(phone.text("why the special room"))


# --- the whole domain, as texts -------------------------------------------------------------------


def sms_variations(
    domain: dict[str, Any], lang: str = "en"
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, variation) for what an SMS user can get in `lang`: `channel: sms` ones if any."""
    for name, items in domain["responses"].items():
        mine = [item for item in items if language.of_variation(item) == lang]
        for_sms = [item for item in mine if item.get("channel") == SmsOutput.name()]
        for item in for_sms or [item for item in mine if not item.get("channel")]:
            yield name, item


# Longest plausible values for the placeholders the callback form fills from the family's answers.
FAMILY_ANSWERS = {
    "callback_reference": "CB-7K3M-Q9",
    "contact_name": "Maria Fernanda Lopez-Gutierrez",
    "phone": "+442079460958",
    "best_time": "weekday mornings before 10, or after 6 in the evening",
}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_response_fits_three_messages_of_three_segments_even_after_the_disclaimer(
    domain, lang
):
    """Spanish keeps its accents and so goes as UCS-2 (70 a segment): the same limits hold."""
    config = center_config()
    (disclaimer,) = [
        item for name, item in sms_variations(domain, lang) if name == "utter_disclaimer"
    ]
    disclaimer = {"text": render(disclaimer["text"], config), "language": lang}
    too_long = []
    for name, item in sms_variations(domain, lang):
        text = render(item["text"], config).format_map(FAMILY_ANSWERS)
        message = {"text": text, "buttons": item.get("buttons") or [], "language": lang}
        for first_turn in ([message], [disclaimer, message]):
            texts = sms_text.format_reply(first_turn).messages
            if not (
                1 <= len(texts) <= sms_text.MAX_MESSAGES
                and all(sms_text.segment_count(text) <= sms_text.MAX_SEGMENTS for text in texts)
                and (lang == "es" or all(sms_text.is_gsm7(text) for text in texts))
            ):
                too_long.append((name, [len(text) for text in texts]))
            assert "{" not in "".join(texts), name
            # "/intent" payloads never show; a typed-answer payload ("parent") is plain text.
            shown = "".join(texts)
            intents = [b["payload"] for b in message["buttons"] if b["payload"].startswith("/")]
            assert not any(payload in shown for payload in intents), name
    assert too_long == []


def test_an_sms_variant_in_the_domain_is_what_this_channel_gets():
    responses = {
        "utter_x": [
            {"text": "The long answer for the web."},
            {"text": "Short: call {phone_existing_patients}.", "channel": "sms"},
        ]
    }
    nlg = CenterResponses(domain=Domain.from_dict({"responses": responses}))
    sms = nlg.generate_from_slots("utter_x", {}, SmsOutput.name())
    assert sms["text"] == f"Short: call {CENTER['phone_existing_patients']}."
    assert nlg.generate_from_slots("utter_x", {}, "rest")["text"] == "The long answer for the web."


def test_the_channel_texts_fit_one_message():
    for name, template in sms_text.CHANNEL_TEXTS.items():
        text = sms_text.fill(template, CENTER)
        assert sms_text.pack([text]) == [text], name
        assert sms_text.is_gsm7(text), name
    assert set(sms_text.SPANISH_CHANNEL_TEXTS) == set(sms_text.CHANNEL_TEXTS)
    for name, template in sms_text.SPANISH_CHANNEL_TEXTS.items():
        text = sms_text.fill(template, CENTER, keep_letters=True)
        assert sms_text.pack([text]) == [text], name


def test_spanish_answers_keep_their_accents_and_count_as_ucs2():
    reply = sms_text.format_reply([{"text": "¿Qué es la recaída? Tiene 3 años.", "language": "es"}])
    assert reply.messages == ["¿Qué es la recaída? Tiene 3 años."]
    assert not sms_text.is_gsm7(reply.messages[0])
    english = sms_text.format_reply([{"text": "Zoë's room"}])
    assert english.messages == ["Zoe's room"]
    long_spanish = "La terapia con I-131 MIBG dura varios días. " * 3
    assert sms_text.segment_count(long_spanish.strip()) == 2  # 134 UCS-2 characters


# --- parts, without the servers -------------------------------------------------------------------


CREDENTIALS = {
    "auth_token": "token",
    "public_url": "https://sms.example.org/webhooks/sms/webhook",
    "sender_key": "a-long-enough-sender-key",
    "database": "/tmp/unused-sms.db",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"auth_token": None}, "auth_token"),
        ({"public_url": ""}, "public_url"),
        ({"database": None, "sender_key": None}, "sender_key, database"),
        ({"public_url": "sms.example.org/webhook"}, "full URL"),
        ({"sender_key": "short"}, "at least 16"),
        ({"handle_opt_out": "sometimes"}, "true or false"),
        ({"rate_limit_per_minute": "0"}, "positive"),
        ({"rate_limit_per_minute": "ten"}, "positive"),
    ],
)
def test_from_credentials_refuses_missing_or_unusable_credentials(change, message):
    with pytest.raises(RasaException, match=message):
        SmsInput.from_credentials({**CREDENTIALS, **change})


def test_from_credentials_refuses_no_credentials():
    with pytest.raises(RasaException, match="credentials"):
        SmsInput.from_credentials(None)


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("false", False), (False, False)])
def test_from_credentials_reads_the_opt_out_switch(value, expected):
    channel = SmsInput.from_credentials({**CREDENTIALS, "handle_opt_out": value})
    assert channel.handle_opt_out is expected
    assert channel.name() == "sms"


def test_sender_id_is_a_keyed_hash_of_the_number():
    number = "+12025550123"
    assert sender_id(number, "key-one-key-one-") == sender_id(f" {number} ", "key-one-key-one-")
    assert sender_id(number, "key-one-key-one-") != sender_id(number, "key-two-key-two-")
    assert "2025550123" not in sender_id(number, "key-one-key-one-")


def test_twiml_escapes_the_text():
    answer = Answer(200, "application/xml", twiml(['a < b & "c" </Message>']).body.decode())
    assert answer.texts == ['a < b & "c" </Message>']
    assert Answer(200, "application/xml", twiml([]).body.decode()).texts == []


def test_store_keeps_opt_outs_menus_and_replies_across_reopening(tmp_path):
    database = str(tmp_path / "sms.db")
    store = SmsStore.open(database)
    turn = store.begin("SM1", "sms-a")
    assert (turn.reply, turn.opted_out, turn.menu) == (None, False, [])
    menu = [{"title": "Why the special room?", "payload": "/ask_mibg_room"}]
    store.finish("SM1", "sms-a", ["answer"], menu=menu)
    store.begin("SM2", "sms-a")
    store.finish("SM2", "sms-a", ["bye"], menu=[], opted_out=True)
    store.close()

    store = SmsStore.open(database)
    assert store.begin("SM1", "sms-a").reply == ["answer"]
    assert store.is_opted_out("sms-a")
    turn = store.begin("SM3", "sms-a")
    assert (turn.reply, turn.opted_out, turn.menu) == (None, True, [])
    store.close()


def _age_claims(store: SmsStore, by: timedelta) -> None:
    """Moves every claim's last renewal back in time, as if its process had stopped then."""
    with store.engine.begin() as db:
        for row in db.execute(select(replies.c.message_sid, replies.c.received)).all():
            db.execute(
                update(replies)
                .where(replies.c.message_sid == row.message_sid)
                .values(received=row.received - by)
            )


def test_store_gives_up_a_claim_and_takes_over_one_whose_lease_ran_out(tmp_path):
    database = str(tmp_path / "sms.db")
    store, other_replica = SmsStore.open(database), SmsStore.open(database)
    store.begin("SM1", "sms-a")
    store.abandon("SM1", "sms-a")
    assert not store.begin("SM1", "sms-a").elsewhere  # dropped: the next attempt answers it
    # A retry reaching another replica while this one answers waits: it must not answer too.
    assert other_replica.begin("SM1", "sms-a").elsewhere
    assert other_replica.reply_of("SM1", "sms-a") == (True, None)
    _age_claims(store, CLAIM_LEASE / 2)
    store.renew("SM1", "sms-a")  # still answering: the lease starts again
    _age_claims(store, CLAIM_LEASE / 2)
    assert other_replica.begin("SM1", "sms-a").elsewhere
    # Left unanswered past its lease (the process stopped mid-message): it is taken over, once.
    _age_claims(store, CLAIM_LEASE)
    takeovers = [other_replica.begin("SM1", "sms-a"), store.begin("SM1", "sms-a")]
    assert [turn.elsewhere for turn in takeovers] == [False, True]
    other_replica.finish("SM1", "sms-a", ["answer"])
    store.abandon("SM1", "sms-a")  # an answered message is never dropped
    assert store.begin("SM1", "sms-a").reply == ["answer"]
    assert store.reply_of("SM1", "sms-a") == (True, ["answer"])
    store.close()
    other_replica.close()


# --- FORGET ------------------------------------------------------------------------------------


def test_forget_erases_the_conversation_replies_and_list_but_keeps_the_opt_out(assistant):
    phone = Phone(assistant)
    first = phone.form("what is mibg")
    assert phone.post(first).texts  # a numbered list of follow-up questions comes with it
    assert phone.user_texts() == ["what is mibg"]

    (confirmation,) = phone.text("Forget me")
    assert "deleted" in confirmation and "kept" in confirmation
    assert CENTER["emergency_number"] in confirmation
    assert phone.user_texts() == []
    store = SmsStore.open(assistant.extra_env["SMS_DB"])
    try:
        # The earlier reply is gone: a retry of that MessageSid is a new message now.
        assert store.begin(first["MessageSid"], phone.sender).reply is None
        store.abandon(first["MessageSid"], phone.sender)
        assert store.begin(f"SM{uuid.uuid4().hex}", phone.sender).menu == []
    finally:
        store.close()
    # "1" no longer picks an old button: the numbered list was forgotten too.
    phone.text("1")
    assert phone.user_texts() == ["1"]

    # An opted-out number is erased as well, gets no text, and stays opted out.
    assert phone.text("STOP")
    assert phone.text("FORGET") == []
    assert phone.text("what is mibg") == []
    assert phone.user_texts() == []


def test_forget_is_only_the_whole_message(phone):
    phone.text("please dont forget to call me")
    assert phone.user_texts() == ["please dont forget to call me"]


def test_borrar_erases_a_spanish_conversation_and_confirms_in_spanish(phone):
    phone.text("qué es la recaída del neuroblastoma")
    assert phone.user_texts()
    (confirmation,) = phone.text("Borrar")
    assert confirmation.startswith("Se borró esta conversación")
    assert CENTER["emergency_number"] in confirmation
    assert phone.user_texts() == []


# --- in Spanish ---------------------------------------------------------------------------------


def test_a_spanish_conversation_by_text(phone):
    """The issue's SMS walk, with signed requests: printed with -s for the note."""
    transcript = []

    def text(body: str) -> list[str]:
        answer = phone.text(body)
        transcript.append((body, answer))
        return answer

    first = text("hola, qué es la terapia con MIBG?")
    whole = " ".join(first)
    assert "asistente automático" in whole and "MIBG" in whole and "Responda 1:" in whole
    assert not all(sms_text.is_gsm7(t) for t in first)  # accents kept: sent as UCS-2
    assert all(sms_text.segment_count(t) <= sms_text.MAX_SEGMENTS for t in first)
    assert text("1")  # the first button, in Spanish
    (help_text,) = text("HELP")
    assert "PARAR" in help_text and CENTER["emergency_number"] in help_text
    emergency = text("mi hija tiene convulsiones ahorita")
    assert CENTER["emergency_number"] in emergency[-1] and "llame" in emergency[-1].lower()
    assert text("ENGLISH")[-1].startswith("Okay, I will answer in English")
    assert text("ESPANOL")[-1].startswith("De acuerdo")
    (stopped,) = text("PARAR")
    assert "No recibirá más textos" in stopped
    assert text("qué es la recaída") == []
    print(
        "\n".join(
            f"> {body}\n" + "\n".join(f"< {t}" for t in answer) for body, answer in transcript
        )
    )
