"""The website chat: an HTTP channel, the chat page at /chat and the embeddable widget.

Plain request/response keeps every server replica interchangeable behind a load balancer:

- `POST /webhooks/web/message` with `{"session": "<id or null>", "message": "..."}` answers
  `{"session": "<id>", "messages": [{"sender", "text", "buttons", "provenance"}]}`. Without a
  session the server starts one with a random, unguessable id; the page keeps it in localStorage,
  so a reload or a second tab continues the conversation.
- `GET /webhooks/web/history` with the id in the `X-Chat-Session` header (never in a URL, so it
  stays out of access logs) answers the conversation so far from the tracker store, so a
  reloaded page can redraw it.
- `POST /webhooks/web/forget` with the id in that header erases the conversation from the
  tracker store ("Delete this conversation"); the page then forgets the id.
- `GET /chat` is the page (center details rendered in by the server), `/chat/widget.js` the
  one-line embed, which opens /chat in an iframe.

credentials.yml enables it (`bot.channels.web.WebInput:`) with the settings of `WebSettings`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import validator
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.center.config import center_config
from bot.channels.erase import CannotErase, erase_conversation
from bot.channels.inputs import Refusal, check_message, is_text
from bot.channels.rate_limit import SlidingWindow
from bot.channels.settings import ChannelSettings, positive_whole_number
from bot.channels.web.messages import ChatError, WebOutput, history
from bot.channels.web.page import ASSETS, WEB_DIR, page_policy, render_page
from bot.nlu import language, safety

logger = logging.getLogger(__name__)

SESSION_HEADER = "X-Chat-Session"
HISTORY_LIMIT = 200  # messages redrawn after a reload, across Rasa sessions
SENDER_PREFIX = "web-"  # tracker ids of this channel never collide with other channels'
_SESSION = re.compile(r"[A-Za-z0-9_-]{22,64}")
_ORIGIN = re.compile(r"https?://[^/\s]+")
NOT_ALLOWED = "This site may not use the chat."
BAD_SESSION = "This chat session is not valid. Please reload the page."
ERASED = (
    "This conversation was deleted from this device and from the assistant. A callback request "
    "you already sent is kept, so that staff can call you back."
)
CANNOT_ERASE = "This conversation could not be deleted here. Please call us and we will do it."
# Headers on every response of this channel, unless it sets its own (the page its policy).
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",  # conversations are private
}


class WebSettings(ChannelSettings):
    """The channel's settings from credentials.yml (none are secret); defaults are safe."""

    section: ClassVar[str] = "credentials.yml bot.channels.web.WebInput"
    max_message_length: int = 1000
    rate_limit_messages: int = 20
    rate_limit_seconds: int = 60
    reply_timeout_seconds: int = 20
    allowed_origins: tuple[str, ...] = ()

    _positive = validator(
        "max_message_length",
        "rate_limit_messages",
        "rate_limit_seconds",
        "reply_timeout_seconds",
        pre=True,
        allow_reuse=True,
    )(positive_whole_number)

    @validator("allowed_origins", pre=True)
    def _origins(cls, value: Any) -> tuple[str, ...]:
        """Origins as browsers send them: lower case, no trailing slash, no path."""
        value = value or []
        if isinstance(value, str) or not all(isinstance(origin, str) for origin in value):
            raise ValueError("must be a list of origins such as https://x.org")
        cleaned = tuple(origin.strip().rstrip("/").lower() for origin in value)
        for origin in cleaned:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not scheme://host[:port]")
        return cleaned


class WebInput(InputChannel):
    """The website chat channel; see the module docstring for its routes."""

    def __init__(self, settings: WebSettings | None = None) -> None:
        self.settings = settings or WebSettings()
        limit, window = self.settings.rate_limit_messages, self.settings.rate_limit_seconds
        self.limiter = SlidingWindow(self.name(), limit, window)

    @classmethod
    def name(cls) -> str:
        """The channel's name in the tracker (`input_channel`)."""
        return "web"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebInput:
        """Builds the channel from its credentials.yml section (no secrets; all optional)."""
        return cls(WebSettings.parse(credentials))

    def url_prefix(self) -> str:
        """Routes are absolute: the page lives at /chat, the API under /webhooks/web/."""
        return "/"

    def _extract_session(self, value: Any) -> str | None:
        """A valid session id, a new one for None, or None when the value is unusable."""
        if value is None or value == "":
            return secrets.token_urlsafe(24)
        return value if isinstance(value, str) and _SESSION.fullmatch(value) else None

    def _origin_refused(self, request: Request) -> bool:
        """Whether a browser's request comes from another origin that is not allowed."""
        origin = (request.headers.get("origin") or "").rstrip("/").lower()
        if not origin:
            return False  # not a browser's cross-site request: browsers send Origin on those
        same = urlsplit(origin).netloc == (request.headers.get("host") or "").lower()
        return not same and origin not in self.settings.allowed_origins

    def _cors(self, request: Request) -> dict[str, str]:
        """CORS headers for an allowed origin (none for the page's own origin)."""
        origin = (request.headers.get("origin") or "").rstrip("/").lower()
        if origin not in self.settings.allowed_origins:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": f"Content-Type, {SESSION_HEADER}",
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }

    def _json(self, request: Request, body: Any, status: int = 200, **headers: str) -> HTTPResponse:
        """A JSON answer with the CORS headers its origin gets."""
        return response.json(body, status, {**headers, **self._cors(request)})

    def _refuse(self, request: Request, status: int, error: str, message: str) -> HTTPResponse:
        """A refusal the page shows: a reason and a sentence for the family."""
        return self._json(request, ChatError(error=error, message=message), status)

    async def _rate_limited(self, request: Request, session: str, text: str) -> HTTPResponse | None:
        """A refusal for a message over the rate limit (never a safety message), or None."""
        wait = await self.limiter.hit(session)
        if wait and safety.detect(text) is None:
            when = "a minute" if wait <= 60 else f"{int(wait // 60) + 1} minutes"
            message = f"You sent many messages in a short time. Please wait {when}, then try again."
            body = ChatError(error="rate_limited", message=message)
            return self._json(request, body, 429, **{"Retry-After": str(int(wait) + 1)})
        return None

    async def _answer(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        """Checks a message, passes it to Rasa and answers with the bot's messages."""
        try:
            body = request.json
        except InvalidUsage:  # not JSON
            body = None
        if not isinstance(body, dict):
            return self._refuse(request, 400, "bad_request", "The server can't read this request.")
        session = self._extract_session(body.get("session"))
        text = body.get("message")
        if session is None:
            return self._refuse(request, 400, "bad_session", BAD_SESSION)
        if not isinstance(text, str) or not text.strip():
            return self._refuse(request, 400, "empty", "Please type your question first.")
        if not is_text(text):
            return self._refuse(request, 400, "bad_text", "The message is not readable text.")
        refusal = await self._rate_limited(request, session, text)
        if refusal:
            return refusal
        try:
            text = check_message(text, self.settings.max_message_length)
        except Refusal as refused:
            return self._refuse(request, refused.status, refused.error, refused.message)
        collector = WebOutput()
        sender = SENDER_PREFIX + session
        # The message's language, for the disclaimer of a session this message opens.
        message = UserMessage(
            text, collector, sender, input_channel=self.name(), metadata=language.metadata_for(text)
        )
        # Its own task, shielded: when the page stops waiting (sanic then cancels this handler)
        # the message is still answered and its answer stored, and the page reads it from the
        # history. A cancelled answer would lose a stored request's confirmation, and a retried
        # consent would then store the request again.
        answering = asyncio.ensure_future(on_new_message(message))
        try:
            await asyncio.shield(answering)
        except Exception:
            logger.exception("web chat: the assistant failed to answer a message")
            return self._refuse(request, 500, "server_error", "Something went wrong on our side.")
        return self._json(request, {"session": session, "messages": collector.messages})

    async def _history(self, request: Request) -> HTTPResponse:
        """The conversation so far, read from the tracker store, for a reloaded page."""
        session = request.headers.get(SESSION_HEADER, "")
        if not _SESSION.fullmatch(session):
            return self._refuse(request, 400, "bad_session", BAD_SESSION)
        store = request.app.ctx.agent.tracker_store
        tracker = await store.retrieve_full_tracker(SENDER_PREFIX + session)
        messages = history(list(tracker.events))[-HISTORY_LIMIT:] if tracker else []
        return self._json(request, {"session": session, "messages": messages})

    async def _forget(self, request: Request) -> HTTPResponse:
        """Erases the conversation from the tracker store ("Delete this conversation")."""
        session = request.headers.get(SESSION_HEADER, "")
        if not _SESSION.fullmatch(session):
            return self._refuse(request, 400, "bad_session", BAD_SESSION)
        try:
            await erase_conversation(request.app.ctx.agent, SENDER_PREFIX + session)
        except CannotErase:
            return self._refuse(request, 501, "cannot_erase", CANNOT_ERASE)
        except Exception:
            logger.exception("web chat: a conversation could not be erased")
            return self._refuse(request, 500, "server_error", CANNOT_ERASE)
        return self._json(request, {"session": None, "message": ERASED})

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The page, its assets and the message API, with their security headers."""
        template = (WEB_DIR / "chat.html").read_text(encoding="utf-8")
        settings = self.settings
        page = render_page(
            template, center_config(), settings.max_message_length, settings.reply_timeout_seconds
        )
        assets = {name: (WEB_DIR / name).read_bytes() for name in ASSETS}
        policy = page_policy(settings.allowed_origins)
        web = Blueprint("nb_web_chat", __name__)

        @web.middleware("response")
        async def finish(request: Request, resp: HTTPResponse) -> HTTPResponse | None:
            # Rasa's CORS middleware answers every OPTIONS request before any route does; this
            # middleware runs last and puts the channel's own preflight answer in its place.
            preflight = None
            if request.method == "OPTIONS":
                refused = self._origin_refused(request)
                preflight = resp = (
                    self._refuse(request, 403, "origin_not_allowed", NOT_ALLOWED)
                    if refused
                    else response.empty(headers=self._cors(request))
                )
            for header, value in COMMON_HEADERS.items():
                resp.headers.setdefault(header, value)
            return preflight

        @web.route("/chat", methods=["GET"])
        async def chat_page(request: Request) -> HTTPResponse:
            return response.html(page, headers={"Content-Security-Policy": policy})

        @web.route("/chat/<name>", methods=["GET"])
        async def asset(request: Request, name: str) -> HTTPResponse:
            if name not in assets:
                return self._refuse(request, 404, "not_found", "There is no such file.")
            headers = {"Cache-Control": "no-cache"}
            return response.raw(assets[name], content_type=ASSETS[name], headers=headers)

        @web.route("/webhooks/web/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @web.route("/webhooks/web/message", methods=["POST", "OPTIONS"])
        async def message(request: Request) -> HTTPResponse:
            if self._origin_refused(request):
                return self._refuse(request, 403, "origin_not_allowed", NOT_ALLOWED)
            return await self._answer(request, on_new_message)

        @web.route("/webhooks/web/history", methods=["GET", "OPTIONS"])
        async def conversation(request: Request) -> HTTPResponse:
            if self._origin_refused(request):
                return self._refuse(request, 403, "origin_not_allowed", NOT_ALLOWED)
            return await self._history(request)

        @web.route("/webhooks/web/forget", methods=["POST", "OPTIONS"])
        async def forget(request: Request) -> HTTPResponse:
            if self._origin_refused(request):
                return self._refuse(request, 403, "origin_not_allowed", NOT_ALLOWED)
            return await self._forget(request)

        return web
