"""A Twilio-compatible SMS channel that checks every request and answers in the same response.

Twilio posts each incoming text to `POST /webhooks/sms/webhook` (form fields `MessageSid`,
`From`, `Body`, ...) and sends what the TwiML answer holds: `<Response><Message>...`. Unlike
Rasa's built-in `twilio` channel, this one checks Twilio's request signature, never blocks the
event loop on a REST call, shows buttons as one numbered list instead of their payloads, keeps
each text within three SMS segments (`bot.channels.sms.text`), answers a retried webhook from
its store instead of twice (also when the retry reaches another replica: it waits for the
reply the first is working out, and answers 503 with Retry-After if none comes in 10 s), and
honours the carrier keywords (STOP, START, HELP, ...).

Turn it on in credentials.yml:

    bot.channels.sms.SmsInput:
      auth_token: ${TWILIO_AUTH_TOKEN}      # signs Twilio's requests
      public_url: ${SMS_PUBLIC_URL}         # the webhook URL exactly as set in Twilio
      sender_key: ${SMS_SENDER_KEY}         # keys the hash that stands for a phone number
      database: ${SMS_DB}                   # SQLite file or SQLAlchemy URL (store.py)
      handle_opt_out: true

`handle_opt_out: true` (the default) means this channel answers the carrier keywords itself:
STOP, STOPALL, UNSUBSCRIBE, CANCEL, END and QUIT opt the number out (kept in the database)
with one confirmation, after which every text gets an empty answer until START, UNSTOP or YES
(confirmed); HELP gets the program's name, phone lines and how to opt out. With `false`, the
gateway answers those keywords (Twilio's Advanced Opt-Out, where HELP's text is set too) and
blocks sending to opted-out numbers; the channel then still records opt-out and opt-in, so it
never answers an opted-out number either, but sends no text of its own for a keyword. Keywords
never reach the conversation. PARAR and CANCELAR (Spanish) opt out like STOP.

The channel's own texts come in the family's language: Spanish after a Spanish keyword or in a
conversation whose `language` slot is Spanish (read from the tracker store for these texts
only). Spanish answers keep their accents and go as UCS-2 (`bot.channels.sms.text`).

FORGET (or FORGET ME; BORRAR in Spanish) is the assistant's own keyword, answered whatever
`handle_opt_out` says: it erases the number's conversation from the tracker store and its stored
replies and numbered list, keeps the opt-out state, and confirms (an opted-out number gets no
text).

Beyond `rate_limit_per_minute` texts a minute from one number (default 10, counted where
`bot.channels.rate_limit` keeps counts: this process, or Redis for every replica), the first
text over the limit gets a short "please wait" answer and later ones an empty answer, so that an
auto-responder cannot loop with the assistant. STOP and START are never limited, nor is a text
that matches a safety pattern (`bot.nlu.safety`), which still goes through the NLU pipeline and
its safety layer like any other.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot.center.config import center_config
from bot.channels.buttons import Button
from bot.channels.erase import CannotErase, erase_conversation
from bot.channels.rate_limit import NotifyOnce, Verdict
from bot.channels.sms import text as sms_text
from bot.channels.sms.store import CLAIM_LEASE, SmsStore, Turn
from bot.nlu import language, safety

logger = logging.getLogger(__name__)

REQUIRED_CREDENTIALS = ("auth_token", "public_url", "sender_key", "database")
RATE_LIMIT_PER_MINUTE = 10
MIN_SENDER_KEY_LENGTH = 16
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
TWIML_CONTENT_TYPE = "application/xml; charset=utf-8"
# A retry that reaches this replica while another answers the message waits this long for that
# reply (Twilio waits 15 s for an answer), polling the store, then asks Twilio to retry later.
ELSEWHERE_WAIT = 10.0
ELSEWHERE_POLL = 0.25


SENDER_PREFIX = "sms-"  # tracker ids of this channel never collide with other channels'


def sender_id(number: str, key: str) -> str:
    """The conversation id for a phone number: a keyed hash, so transcripts never hold it."""
    digest = hmac.new(key.encode("utf-8"), number.strip().encode("utf-8"), hashlib.sha256)
    return f"{SENDER_PREFIX}{digest.hexdigest()}"


def twiml(messages: list[str]) -> HTTPResponse:
    """The TwiML answer that sends `messages` (none: an empty `<Response/>`)."""
    document = MessagingResponse()
    for body in messages:
        document.message(body)
    return response.text(str(document), content_type=TWIML_CONTENT_TYPE)


class AnsweredElsewhere(Exception):
    """Another replica is still answering this message; its reply is not stored yet."""


@dataclass(frozen=True)
class Outcome:
    """The answer to one text and what it changes (see `SmsStore.finish`)."""

    messages: list[str]
    menu: list[Button] | None = None
    opted_out: bool | None = None
    remember: bool = True


@dataclass(frozen=True)
class Incoming:
    """One text as it arrived: where it is stored, the agent, its id, its sender and body."""

    store: SmsStore
    agent: Any
    message_sid: str
    sender: str
    body: str


class SmsOutput(CollectingOutputChannel):
    """Collects the bot's messages for the TwiML answer; "sms" selects `channel: sms` variants."""

    @classmethod
    def name(cls) -> str:
        """The output channel name responses can be specific to."""
        return "sms"

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Rasa's sending, then the answer's language (bot.runtime.nlg) kept with it."""
        before = len(self.messages)
        await super().send_response(recipient_id, message)
        lang = (message.get("metadata") or {}).get("language")
        for sent in self.messages[before:]:
            sent["language"] = lang


class SmsInput(InputChannel):
    """Twilio's incoming-message webhook, answered with TwiML in the same response."""

    @classmethod
    def name(cls) -> str:
        """The URL prefix: /webhooks/sms/."""
        return "sms"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Builds the channel; refuses missing or unusable credentials with a clear error."""
        if not credentials:
            return cls.raise_missing_credentials_exception()  # raises RasaException
        missing = [key for key in REQUIRED_CREDENTIALS if not str(credentials.get(key) or "")]
        if missing:
            raise RasaException(
                f"The sms channel (bot.channels.sms.SmsInput in credentials.yml) needs "
                f"{', '.join(missing)}; set them, e.g. through environment variables."
            )
        public_url = str(credentials["public_url"]).strip()
        if not public_url.startswith(("https://", "http://")):
            raise RasaException(f"sms public_url must be the webhook's full URL: {public_url!r}")
        if len(str(credentials["sender_key"])) < MIN_SENDER_KEY_LENGTH:
            raise RasaException(
                f"sms sender_key must be at least {MIN_SENDER_KEY_LENGTH} characters long"
            )
        handle_opt_out = str(credentials.get("handle_opt_out", True)).strip().lower()
        if handle_opt_out not in {"true", "false"}:
            raise RasaException(f"sms handle_opt_out must be true or false: {handle_opt_out!r}")
        return cls(
            auth_token=str(credentials["auth_token"]),
            public_url=public_url,
            sender_key=str(credentials["sender_key"]),
            database=str(credentials["database"]),
            handle_opt_out=handle_opt_out == "true",
            rate_limit=cls._rate_limit(credentials.get("rate_limit_per_minute")),
        )

    @staticmethod
    def _rate_limit(value: Any) -> int:
        """The optional `rate_limit_per_minute`: a positive whole number, default 10."""
        if value is None or value == "":
            return RATE_LIMIT_PER_MINUTE
        if not str(value).isdigit() or int(value) < 1:
            raise RasaException(f"sms rate_limit_per_minute must be a positive number: {value!r}")
        return int(value)

    def __init__(
        self,
        auth_token: str,
        public_url: str,
        sender_key: str,
        database: str,
        handle_opt_out: bool = True,
        rate_limit: int = RATE_LIMIT_PER_MINUTE,
    ) -> None:
        """Reads the center configuration for the channel's own texts (HELP, STOP, ...)."""
        self.validator = RequestValidator(auth_token)
        self.public_url = public_url
        self.sender_key = sender_key
        self.database = database
        self.handle_opt_out = handle_opt_out
        self.limiter = NotifyOnce(self.name(), rate_limit)
        values = center_config().values
        self.texts = {
            name: sms_text.fill(text, values) for name, text in sms_text.CHANNEL_TEXTS.items()
        }
        self.spanish_texts = {
            name: sms_text.fill(text, values, keep_letters=True)
            for name, text in sms_text.SPANISH_CHANNEL_TEXTS.items()
        }
        # Answers being worked out, by MessageSid and sender: a retry waits for the first.
        self._answering: dict[tuple[str, str], asyncio.Task[list[str]]] = {}

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """`GET /` for health and `POST /webhook` for Twilio."""
        sms = Blueprint("sms_webhook", __name__)

        @sms.listener("before_server_start")
        async def open_store(app: Any, _: Any) -> None:
            app.ctx.sms_store = await asyncio.to_thread(SmsStore.open, self.database)

        @sms.listener("after_server_stop")
        async def close_store(app: Any, _: Any) -> None:
            app.ctx.sms_store.close()

        @sms.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sms.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            form = self._extract_form(request)
            if form is None:
                return response.text("expected a form-encoded body", status=400)
            if not self._has_valid_signature(request, form):
                logger.warning("sms: refused a request with a missing or wrong signature")
                return response.text("invalid signature", status=403)
            number, body, message_sid = (form.get(key) for key in ("From", "Body", "MessageSid"))
            if not number or not message_sid or body is None:
                return response.text("From, Body and MessageSid are required", status=400)
            sender = sender_id(number, self.sender_key)
            store: SmsStore = request.app.ctx.sms_store
            turn = Incoming(store, request.app.ctx.agent, message_sid, sender, body)
            try:
                messages = await self._answer_once(
                    message_sid, sender, lambda: self._answer(turn, on_new_message)
                )
            except AnsweredElsewhere:
                logger.info("sms: %s is still being answered by another replica", message_sid)
                return response.text(
                    "being answered; retry", status=503, headers={"Retry-After": "5"}
                )
            return twiml(messages)

        return sms

    def _extract_form(self, request: Request) -> RequestParameters | None:
        """The form fields, blank ones kept (Twilio signs them too); None if not a form."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != FORM_CONTENT_TYPE:
            return None
        try:
            fields = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return None
        return RequestParameters(fields)

    def _has_valid_signature(self, request: Request, form: RequestParameters) -> bool:
        """Whether Twilio signed this request, for the public URL (not the one behind a proxy)."""
        signature = request.headers.get("X-Twilio-Signature", "")
        return bool(signature) and self.validator.validate(self.public_url, form, signature)

    async def _answer_once(
        self, message_sid: str, sender: str, answer: Callable[[], Coroutine[Any, Any, list[str]]]
    ) -> list[str]:
        """Works out the answer to a message once, however often Twilio posts it.

        The work runs as its own task, so a request that Twilio gives up on (sanic then cancels
        its handler) still finishes and stores the answer for the retry; a retry that arrives
        meanwhile waits for it.
        """
        key = (message_sid, sender)
        task = self._answering.get(key)
        if task is None:
            task = asyncio.create_task(answer())
            self._answering[key] = task
            task.add_done_callback(lambda _: self._answering.pop(key, None))
        return await asyncio.shield(task)

    async def _answer(
        self, incoming: Incoming, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> list[str]:
        """The stored answer to a message, or a new one, stored before it is returned."""
        store, message_sid, sender = incoming.store, incoming.message_sid, incoming.sender
        turn = await asyncio.to_thread(store.begin, message_sid, sender)
        if turn.elsewhere:
            return await self._answered_elsewhere(incoming, on_new_message)
        if turn.reply is not None:
            logger.info("sms: %s repeated, answered from the store", message_sid)
            return turn.reply
        renewing = asyncio.create_task(_keep_claim(store, message_sid, sender))
        try:
            outcome = await self._respond(turn, incoming, on_new_message)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(store.abandon, message_sid, sender))
            raise
        finally:
            renewing.cancel()
        if outcome.remember:
            await asyncio.to_thread(
                store.finish,
                message_sid,
                sender,
                outcome.messages,
                outcome.menu,
                outcome.opted_out,
            )
        else:
            await asyncio.to_thread(store.abandon, message_sid, sender)
        return outcome.messages

    async def _answered_elsewhere(
        self, incoming: Incoming, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> list[str]:
        """The reply another replica is working out, once it is stored.

        When that replica drops its claim (its answer failed) this one answers instead.

        Raises:
            AnsweredElsewhere: no reply within `ELSEWHERE_WAIT` seconds.

        """
        store, message_sid, sender = incoming.store, incoming.message_sid, incoming.sender
        deadline = asyncio.get_running_loop().time() + ELSEWHERE_WAIT
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(ELSEWHERE_POLL)
            claimed, reply = await asyncio.to_thread(store.reply_of, message_sid, sender)
            if reply is not None:
                logger.info("sms: %s repeated, answered with another replica's reply", message_sid)
                return reply
            if not claimed:
                return await self._answer(incoming, on_new_message)
        raise AnsweredElsewhere(message_sid)

    async def _respond(
        self,
        turn: Turn,
        incoming: Incoming,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> Outcome:
        """What to send for one new text: a keyword's answer, nothing, or the assistant's."""
        message_sid, sender, body = incoming.message_sid, incoming.sender, incoming.body
        word = sms_text.keyword(body)
        own_texts = self.handle_opt_out
        if word in sms_text.FORGET_KEYWORDS:
            return await self._forget(turn, incoming)
        if word in sms_text.OPT_OUT_KEYWORDS:
            logger.info("sms: %s opted out", sender)
            texts = await self._texts(incoming, word)
            return Outcome([texts["opt_out"]] if own_texts else [], menu=[], opted_out=True)
        if word in sms_text.OPT_IN_KEYWORDS and (word != "YES" or turn.opted_out):
            logger.info("sms: %s opted in", sender)
            texts = await self._texts(incoming, word)
            return Outcome([texts["opt_in"]] if own_texts else [], menu=[], opted_out=False)
        if turn.opted_out:
            return Outcome([])
        verdict = await self.limiter.check(sender)
        if verdict is not Verdict.ALLOW and not safety.detect(body):
            logger.info("sms: %s is over the rate limit", sender)
            if verdict is not Verdict.NOTIFY:
                return Outcome([], remember=False)
            texts = await self._texts(incoming, word)
            return Outcome([texts["rate_limit"]], remember=False)
        if word in sms_text.HELP_KEYWORDS:
            return Outcome([(await self._texts(incoming, word))["help"]] if own_texts else [])
        if not body.strip():
            return Outcome([(await self._texts(incoming, word))["empty"]])
        text = sms_text.chosen_payload(body, turn.menu) or body
        output = SmsOutput()
        await on_new_message(
            UserMessage(
                text,
                output,
                sender,
                input_channel=self.name(),
                message_id=message_sid,
                metadata=language.metadata_for(text),
            )
        )
        reply = sms_text.format_reply(output.messages)
        return Outcome(reply.messages, menu=reply.buttons)

    async def _texts(self, incoming: Incoming, word: str | None) -> dict[str, str]:
        """The channel's own texts in the family's language.

        Spanish after a Spanish keyword, else the conversation's language (its `language` slot,
        read from the tracker store only for these texts, not for every message).
        """
        if word in sms_text.SPANISH_OPT_OUT_KEYWORDS:
            return self.spanish_texts
        try:
            tracker = await incoming.agent.tracker_store.retrieve(incoming.sender)
        except Exception:  # the texts must go out even when the store is down
            logger.exception("sms: the conversation's language could not be read")
            tracker = None
        spoken = tracker.get_slot(language.SLOT) if tracker is not None else None
        return self.spanish_texts if language.of_slot(spoken) == language.SPANISH else self.texts

    async def _forget(self, turn: Turn, incoming: Incoming) -> Outcome:
        """FORGET: erases the conversation, then the number's stored replies and numbered list.

        The opt-out state stays (the law requires it). An opted-out number is erased too, but
        gets no text, as it gets none for anything else.
        """
        texts = await self._texts(incoming, None)
        try:
            await erase_conversation(incoming.agent, incoming.sender)
        except CannotErase:
            logger.error("sms: FORGET, but the tracker store cannot delete conversations")
            return Outcome([] if turn.opted_out else [texts["cannot_forget"]], remember=False)
        await asyncio.to_thread(incoming.store.forget, incoming.sender, incoming.message_sid)
        logger.info("sms: %s erased its conversation", incoming.sender)
        return Outcome([] if turn.opted_out else [texts["forget"]], menu=[])


async def _keep_claim(store: SmsStore, message_sid: str, sender: str) -> None:
    """Renews this process's claim on a message while it is answered (cancelled when done)."""
    while True:
        await asyncio.sleep(CLAIM_LEASE.total_seconds() / 3)
        try:
            await asyncio.to_thread(store.renew, message_sid, sender)
        except Exception:  # the store is down: the answer goes on; a retry may answer twice
            logger.exception("sms: the claim on %s could not be renewed", message_sid)
