"""The staff dashboard at /staff on the Rasa server, apart from the family pages.

Registered like a channel in credentials.yml (Rasa mounts its routes), it never takes a
family's message. Routes:

  GET  /staff                     the dashboard (`?days=7|30|90|365`); without a session: 303 to
                                  the sign-in page
  GET  /staff/login, POST         sign-in (account name, password, the form's CSRF token)
  POST /staff/logout              sign-out (CSRF token)
  GET  /staff/charts/<name>.svg   a chart of the dashboard (session needed)
  GET  /staff/assets/staff.css    the page's style sheet

Every answer carries a strict Content-Security-Policy (own files only, no script at all),
`Cache-Control: no-store` and no referrer. Sign-in attempts are limited per client address as
well as locked per account (bot.staff.accounts). The figures come from the tracker store Rasa
runs with and the request store (bot.staff.dashboard).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.callbacks.store import RequestStore, StorageError
from bot.center.config import ConfigError, center_config, requests_db_url
from bot.channels.erase import erasable_store
from bot.channels.rate_limit import SlidingWindow
from bot.review.service import ReviewError, ReviewService
from bot.staff import charts, dashboard
from bot.staff.accounts import LOCK_MINUTES, AccountStore, SignIn
from bot.staff.session import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    KeyTooShort,
    Session,
    Sessions,
    same,
)

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).with_name("assets")
SESSION_HOURS = 8
SIGN_INS_PER_MINUTE = 10
PAGE_POLICY = (
    "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# A chart is an image: its own styles only, nothing loaded.
CHART_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
REFUSED = "The account name or the password is wrong."
LOCKED = (
    f"Too many wrong passwords: this account is locked for {LOCK_MINUTES} minutes. "
    "An administrator can unlock it now with `python -m bot staff unlock NAME`."
)
SLOW_DOWN = "Too many sign-in attempts from here. Wait a minute, then try again."
EXPIRED = "The sign-in form had expired. Please sign in again."
UNAVAILABLE = "The figures cannot be read right now (a database is unreachable). Try again soon."
CHARTS = {"conversations": charts.conversations_svg, "unplaced": charts.unplaced_svg}


class StaffDashboard(InputChannel):
    """The staff dashboard; see the module docstring for its routes."""

    def __init__(self, session_key: str, secure_cookies: bool = True) -> None:
        self.sessions = Sessions(session_key, max_age=SESSION_HOURS * 3600, secure=secure_cookies)
        self.limiter = SlidingWindow("staff-sign-in", SIGN_INS_PER_MINUTE, 60)
        self._review_service: ReviewService | None = None
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(ASSETS),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    @classmethod
    def name(cls) -> str:
        """The channel's name (no family message ever arrives on it)."""
        return "staff"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Builds the dashboard; refuses a missing or short session key with a clear error."""
        credentials = credentials or {}
        secure = str(credentials.get("secure_cookies", True)).strip().lower()
        if secure not in {"true", "false"}:
            raise RasaException(f"staff secure_cookies must be true or false: {secure!r}")
        try:
            return cls(str(credentials.get("session_key") or ""), secure_cookies=secure == "true")
        except KeyTooShort as error:
            raise RasaException(f"staff dashboard: {error} (STAFF_SESSION_KEY)") from None

    def url_prefix(self) -> str:
        """Routes are absolute, under /staff."""
        return "/"

    @cached_property
    def _stores(self) -> tuple[AccountStore, RequestStore]:
        requests = RequestStore.from_url(requests_db_url())
        return AccountStore(requests), requests

    def _reviews(self, request: Request) -> ReviewService:
        """One review service for the process: its connection pools serve every page."""
        if self._review_service is None:
            self._review_service = self._open_reviews(request)
        return self._review_service

    def _open_reviews(self, request: Request) -> ReviewService:
        # Rasa wraps the configured store (FailSafeTrackerStore); ours is the SQL one inside.
        store = erasable_store(request.app.ctx.agent.tracker_store)
        engine = getattr(store, "engine", None)
        if engine is None:
            raise ReviewError("the dashboard needs Rasa's SQL tracker store (endpoints.yml)")
        url = engine.url.render_as_string(hide_password=False)
        return ReviewService(url, requests_db_url())

    def _session(self, request: Request) -> Session | None:
        return self.sessions.read(request.cookies.get(SESSION_COOKIE))

    def _page(self, name: str, status: int = 200, **values: Any) -> HTTPResponse:
        values.setdefault("program", center_config().values["program_name"])
        html = self.templates.get_template(name).render(**values)
        return response.html(html, status=status, headers={"Content-Security-Policy": PAGE_POLICY})

    def _login_page(self, message: str = "", status: int = 200, username: str = "") -> HTTPResponse:
        token, cookie = self.sessions.login_token()
        page = self._page("login.html", status, csrf=token, message=message, username=username)
        _set_cookie(page, LOGIN_COOKIE, cookie, self.sessions.cookie_options())
        return page

    async def _sign_in(self, request: Request) -> HTTPResponse:
        client = request.remote_addr or request.ip or "unknown"
        if await self.limiter.hit(client):
            return self._login_page(SLOW_DOWN, 429)
        form = request.form or {}
        username = str(form.get("username") or "").strip().lower()[:40]
        password = str(form.get("password") or "")[:256]
        if not self.sessions.login_token_valid(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
            return self._login_page(EXPIRED, 400, username)
        accounts, _ = self._stores
        outcome = await asyncio.to_thread(accounts.sign_in, username, password)
        if outcome is SignIn.LOCKED:
            logger.warning("staff sign-in refused: account locked")
            return self._login_page(LOCKED, 423, username)
        if outcome is SignIn.REFUSED:
            logger.info("staff sign-in refused: wrong name or password")
            return self._login_page(REFUSED, 401, username)
        _, cookie = self.sessions.new(username)
        done = response.redirect("/staff", status=303)
        _set_cookie(done, SESSION_COOKIE, cookie, self.sessions.cookie_options())
        _set_cookie(done, LOGIN_COOKIE, "", self.sessions.cookie_options(max_age=0))
        return done

    async def _dashboard(self, request: Request, session: Session) -> HTTPResponse:
        days = dashboard.days_asked(request.args.get("days"))
        try:
            snapshot = await self._snapshot(request, days)
        except (ReviewError, StorageError, ConfigError) as error:
            logger.warning("staff dashboard: %s", error)
            return response.text(UNAVAILABLE, status=503)
        values = dashboard.context(snapshot, days)
        return self._page("dashboard.html", username=session.username, csrf=session.csrf, **values)

    async def _snapshot(
        self, request: Request, days: int, *, with_review: bool = True
    ) -> dashboard.Snapshot:
        reviews = self._reviews(request)
        _, requests = self._stores
        period = dashboard.period_for(days)
        return await asyncio.to_thread(dashboard.read, reviews, requests, period, with_review)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The dashboard's routes, with their security headers."""
        staff = Blueprint("nb_staff", __name__)
        style = (ASSETS / "staff.css").read_bytes()

        @staff.middleware("response")
        async def headers(request: Request, resp: HTTPResponse) -> None:
            for header, value in HEADERS.items():
                resp.headers.setdefault(header, value)
            resp.headers.setdefault("Content-Security-Policy", PAGE_POLICY)

        @staff.route("/staff", methods=["GET"])
        async def home(request: Request) -> HTTPResponse:
            session = self._session(request)
            if session is None:
                return response.redirect("/staff/login", status=303)
            return await self._dashboard(request, session)

        @staff.route("/staff/login", methods=["GET", "POST"])
        async def login(request: Request) -> HTTPResponse:
            if request.method == "POST":
                return await self._sign_in(request)
            if self._session(request) is not None:
                return response.redirect("/staff", status=303)
            return self._login_page()

        @staff.route("/staff/logout", methods=["POST"])
        async def logout(request: Request) -> HTTPResponse:
            session = self._session(request)
            if session is not None and not same(session.csrf, (request.form or {}).get("csrf")):
                return response.text("The sign-out form had expired.", status=400)
            done = response.redirect("/staff/login", status=303)
            _set_cookie(done, SESSION_COOKIE, "", self.sessions.cookie_options(max_age=0))
            return done

        @staff.route("/staff/charts/<name>", methods=["GET"])
        async def chart(request: Request, name: str) -> HTTPResponse:
            draw = CHARTS.get(name.removesuffix(".svg")) if name.endswith(".svg") else None
            if self._session(request) is None:
                return response.text("Sign in first.", status=401)
            if draw is None:
                return response.text("No such chart.", status=404)
            days = dashboard.days_asked(request.args.get("days"))
            try:
                snapshot = await self._snapshot(request, days, with_review=False)
            except (ReviewError, StorageError, ConfigError):
                return response.text(UNAVAILABLE, status=503)
            svg = await asyncio.to_thread(draw, snapshot.figures)
            return response.raw(
                svg,
                content_type="image/svg+xml",
                headers={"Content-Security-Policy": CHART_POLICY},
            )

        @staff.route("/staff/assets/staff.css", methods=["GET"])
        async def stylesheet(request: Request) -> HTTPResponse:
            return response.raw(style, content_type="text/css; charset=utf-8")

        return staff


def _set_cookie(resp: HTTPResponse, name: str, value: str, options: dict[str, Any]) -> None:
    resp.cookies[name] = value
    for key, option in options.items():
        resp.cookies[name][key] = option
