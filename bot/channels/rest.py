"""Rasa's REST channel (POST /webhooks/rest/webhook), checking what it is given first.

Rasa's own `RestInput` passes whatever JSON arrives to Rasa: a body that is a list or `null`
became a 500, a lone surrogate in the sender id reached the tracker store, and a megabyte of text
held the NLU pipeline for seconds. This one answers the same requests the same way
(`{"sender": ..., "message": ...}` in, the bot's messages out), and refuses anything else with a
4xx that says why (`bot.channels.inputs`). The conversation's channel is always "rest" (a client
cannot claim to be another channel), no client metadata is stored, and each sender has a rate
limit. Streaming (`?stream=true`) is not offered.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from pydantic import validator
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.inputs import Refusal, check_message, check_sender
from bot.channels.rate_limit import SlidingWindow
from bot.channels.settings import ChannelSettings, positive_whole_number
from bot.nlu import safety

logger = logging.getLogger(__name__)


class RestSettings(ChannelSettings):
    """The channel's settings from credentials.yml; all optional."""

    section: ClassVar[str] = "credentials.yml bot.channels.rest.RestInput"
    max_message_length: int = 1000
    rate_limit_messages: int = 30
    rate_limit_seconds: int = 60

    _positive = validator(
        "max_message_length",
        "rate_limit_messages",
        "rate_limit_seconds",
        pre=True,
        allow_reuse=True,
    )(positive_whole_number)


def _refuse(refusal: Refusal, **headers: str) -> HTTPResponse:
    body = {"error": refusal.error, "message": refusal.message}
    return response.json(body, refusal.status, headers=headers)


class RestInput(InputChannel):
    """POST /webhooks/rest/webhook with `{"sender": "...", "message": "..."}`."""

    def __init__(self, settings: RestSettings | None = None) -> None:
        self.settings = settings or RestSettings()
        self.limiter = SlidingWindow(
            self.name(), self.settings.rate_limit_messages, self.settings.rate_limit_seconds
        )

    @classmethod
    def name(cls) -> str:
        """The URL prefix (/webhooks/rest/) and the conversations' channel."""
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Builds the channel from its credentials.yml section (no secrets; all optional)."""
        return cls(RestSettings.parse(credentials))

    async def _read(self, request: Request) -> tuple[str, str]:
        """The sender and the message, checked.

        Raises:
            Refusal: the body is not a JSON object, or its sender, message or rate is wrong.

        """
        try:
            body = request.json
        except InvalidUsage:
            body = None
        if not isinstance(body, dict):
            raise Refusal(400, "bad_request", 'Send a JSON object: {"sender": ..., "message": ...}')
        sender = check_sender(body.get("sender"))
        text = check_message(body.get("message"), self.settings.max_message_length)
        wait = await self.limiter.hit(sender)
        if wait and safety.detect(text) is None:
            raise Refusal(429, "rate_limited", f"Too many messages; retry in {int(wait) + 1} s.")
        return sender, text

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """GET / (health) and POST /webhook, as Rasa's REST channel has them."""
        rest = Blueprint("nb_rest", __name__)

        @rest.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @rest.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text = await self._read(request)
            except Refusal as refusal:
                return _refuse(refusal)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(text, collector, sender, input_channel=self.name())
                )
            except Exception:
                logger.exception("rest: the assistant failed to answer a message")
                return _refuse(Refusal(500, "server_error", "Something went wrong on our side."))
            return response.json(collector.messages)

        return rest
