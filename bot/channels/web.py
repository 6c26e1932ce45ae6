"""The website chat: an HTTP channel, the chat page at /chat and the embeddable widget.

Plain request/response keeps every server replica interchangeable behind a load balancer:

- `POST /webhooks/web/message` with `{"session": "<id or null>", "message": "..."}` answers
  `{"session": "<id>", "messages": [{"sender", "text", "buttons", "provenance"}]}`. Without a
  session the server starts one with a random, unguessable id; the page keeps it in localStorage,
  so a reload or a second tab continues the conversation.
- `GET /webhooks/web/history` with the id in the `X-Chat-Session` header (never in a URL, so it
  stays out of access logs) answers the conversation so far from the tracker store, so a
  reloaded page can redraw it.
- `GET /chat` is the page (center details rendered in by the server), `/chat/widget.js` the
  one-line embed, which opens /chat in an iframe.

credentials.yml enables it (`bot.channels.web.WebInput:`) with the settings of `WebSettings`.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, TypedDict
from urllib.parse import urlsplit

import phonenumbers
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import safety
from bot.config import CenterConfig, center_config

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
ASSETS = {  # file -> content type; the only files served from bot/web/
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
    "widget.js": "text/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
SESSION_HEADER = "X-Chat-Session"
HISTORY_LIMIT = 200  # messages redrawn after a reload, across Rasa sessions
SENDER_PREFIX = "web-"  # tracker ids of this channel never collide with other channels'
_SESSION = re.compile(r"[A-Za-z0-9_-]{22,64}")
_ORIGIN = re.compile(r"https?://[^/\s]+")
NOT_ALLOWED = "This site may not use the chat."
BAD_SESSION = "This chat session is not valid. Please reload the page."
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# A message that names an emergency, fever or crisis is answered even past the length or rate
# limit (up to this many times the length limit): refusing it would be the worst answer.
SAFETY_LENGTH_FACTOR = 10
# Headers on every response of this channel, unless it sets its own (the page its policy).
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",  # conversations are private
}


class Button(TypedDict):
    """A suggested next question; the page sends `payload` when it is pressed."""

    title: str
    payload: str


class ChatMessage(TypedDict):
    """One message of the conversation as the page draws it."""

    sender: Literal["user", "bot"]
    text: str
    buttons: list[Button]
    provenance: list[str]


class ChatError(TypedDict):
    """A refused request: a machine-readable reason and a sentence for the family."""

    error: str
    message: str


@dataclass(frozen=True)
class WebSettings:
    """The channel's settings from credentials.yml (none are secret); defaults are safe."""

    max_message_length: int = 1000
    rate_limit_messages: int = 20
    rate_limit_seconds: int = 60
    reply_timeout_seconds: int = 20
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> WebSettings:
        """Validates the credentials.yml section; raises ValueError naming the bad key."""
        raw = dict(raw or {})
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown settings {unknown}; known: {sorted(known)}")
        origins = raw.pop("allowed_origins", None) or []
        if isinstance(origins, str) or not all(isinstance(o, str) for o in origins):
            raise ValueError("allowed_origins must be a list of origins such as https://x.org")
        cleaned = tuple(origin.strip().rstrip("/").lower() for origin in origins)
        for origin in cleaned:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(f"allowed_origins: {origin!r} is not scheme://host[:port]")
        for key, value in raw.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{key} must be a positive whole number, not {value!r}")
        return cls(**raw, allowed_origins=cleaned)


class RateLimiter:
    """Allows `limit` hits per key in any sliding window of `window` seconds, in this process.

    Sessions are free to make, so this is a courtesy limit against runaway clients; flooding
    belongs to the reverse proxy in front of the assistant.
    """

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> float:
        """Counts a hit and returns 0, or returns the seconds to wait when over the limit."""
        now = self.clock()
        if len(self._hits) > 10_000:  # forget idle keys now and then
            self._hits = {k: q for k, q in self._hits.items() if q and q[-1] > now - self.window}
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        return 0.0


class WebOutput(CollectingOutputChannel):
    """Collects the bot's messages with their buttons and `metadata.provenance`."""

    @classmethod
    def name(cls) -> str:
        """Name of the output channel."""
        return "web"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Keeps a message whole (paragraphs included) with its provenance."""
        self.messages.append(bot_message(text, [], kwargs.get("metadata")))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Keeps the text, the buttons and the response's provenance."""
        self.messages.append(bot_message(text, buttons, kwargs.get("metadata")))


def bot_message(text: str, buttons: Any, metadata: Any) -> ChatMessage:
    """A bot message from a response's text, buttons and `metadata` mapping."""
    provenance = (metadata or {}).get("provenance") if isinstance(metadata, dict) else None
    return ChatMessage(
        sender="bot",
        text=text or "",
        buttons=[Button(title=str(b["title"]), payload=str(b["payload"])) for b in buttons or []],
        provenance=[str(p) for p in provenance or []],
    )


def history(events: list[Any]) -> list[ChatMessage]:
    """The user and bot messages of tracker events, in the order the page first showed them.

    A pressed button shows as its title. The disclaimer that opens a session is stored before
    the message that started it; it is drawn after that message, as it was when it arrived.
    """
    titles: dict[str, str] = {}
    messages: list[ChatMessage] = []
    opening: list[ChatMessage] | None = None  # bot messages of a session start, held back
    for event in events:
        if isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME:
            opening = []
        elif isinstance(event, BotUttered):
            message = bot_message(
                event.text, event.data.get("buttons"), event.metadata.get("metadata")
            )
            titles.update({b["payload"]: b["title"] for b in message["buttons"]})
            (messages if opening is None else opening).append(message)
        elif isinstance(event, UserUttered) and event.text is not None:
            text = titles.get(event.text, event.text)
            messages.append(ChatMessage(sender="user", text=text, buttons=[], provenance=[]))
            messages.extend(opening or [])
            opening = None
    return messages + (opening or [])


def tel(number: str, region: str) -> str:
    """The `tel:` form of a configured number (short codes such as 911 stay as dialled)."""
    digits = re.sub(r"\D", "", number)
    if len(digits) <= 6:
        return digits
    parsed = phonenumbers.parse(number, region)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def render_page(template: str, config: CenterConfig, settings: WebSettings) -> str:
    """Fills `{{name}}` in chat.html with HTML-escaped center details and settings."""
    values = dict(config.values)
    region = config.phone_region
    for slot in ("emergency_number", "phone_existing_patients", "phone_new_appointments"):
        values[f"tel_{slot}"] = tel(config.values[slot], region)
    values["max_message_length"] = str(settings.max_message_length)
    values["reply_timeout_ms"] = str(settings.reply_timeout_seconds * 1000)
    unknown = set(_PLACEHOLDER.findall(template)) - set(values)
    if unknown:
        raise ValueError(f"chat.html names {sorted(unknown)}, which are no center details")
    return _PLACEHOLDER.sub(lambda m: html.escape(values[m.group(1)], quote=True), template)


def page_policy(settings: WebSettings) -> str:
    """The page's Content-Security-Policy: own files only, framed by itself and the site.

    `frame-ancestors` lists the allowed origins so the widget's iframe works on the center's
    site and nowhere else (no X-Frame-Options: it cannot name several origins).
    """
    ancestors = " ".join(("'self'", *settings.allowed_origins))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; "
        f"require-trusted-types-for 'script'; trusted-types 'none'; frame-ancestors {ancestors}"
    )


class WebInput(InputChannel):
    """The website chat channel; see the module docstring for its routes."""

    def __init__(self, settings: WebSettings | None = None) -> None:
        self.settings = settings or WebSettings()
        limit, window = self.settings.rate_limit_messages, self.settings.rate_limit_seconds
        self.limiter = RateLimiter(limit, window)

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

    def _limits(self, request: Request, session: str, text: str) -> HTTPResponse | None:
        """A refusal for a message over the rate or length limit, or None to answer it."""
        limit = self.settings.max_message_length
        urgent = safety.detect(text) is not None
        wait = self.limiter.hit(session)
        if wait and not urgent:
            when = "a minute" if wait <= 60 else f"{int(wait // 60) + 1} minutes"
            message = f"You sent many messages in a short time. Please wait {when}, then try again."
            body = ChatError(error="rate_limited", message=message)
            return self._json(request, body, 429, **{"Retry-After": str(int(wait) + 1)})
        if len(text) > limit * (SAFETY_LENGTH_FACTOR if urgent else 1):
            message = (
                f"Your message is too long ({len(text):,} characters). Please keep it under "
                f"{limit:,} characters, or send it in parts."
            )
            return self._refuse(request, 413, "too_long", message)
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
        refusal = self._limits(request, session, text.strip())
        if refusal:
            return refusal
        collector = WebOutput()
        sender = SENDER_PREFIX + session
        try:
            await on_new_message(UserMessage(text, collector, sender, input_channel=self.name()))
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

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The page, its assets and the message API, with their security headers."""
        template = (WEB_DIR / "chat.html").read_text(encoding="utf-8")
        page = render_page(template, center_config(), self.settings)
        assets = {name: (WEB_DIR / name).read_bytes() for name in ASSETS}
        policy = page_policy(self.settings)
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

        return web
