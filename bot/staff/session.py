"""Staff sessions in signed cookies, and the CSRF token every form carries.

The cookie holds the account name, a random CSRF token and the time of sign-in, signed with
itsdangerous (HMAC-SHA1 over a key derived from `session_key`, with a salt of its own) and only
accepted for `max_age` seconds; the server keeps no session table. Changing the key signs
everyone out. Before sign-in, a second signed cookie carries the CSRF token of the sign-in
form, so that another site cannot sign a staff member's browser into an account of its
choosing. The cookies are HttpOnly, SameSite=Strict, limited to /staff, and Secure unless
turned off for a plain-HTTP test on loopback.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "nb_staff"
LOGIN_COOKIE = "nb_staff_login"
PATH = "/staff"
SHORTEST_KEY = 32


class KeyTooShort(ValueError):
    """The session key is missing or too short to sign with."""


@dataclass(frozen=True)
class Session:
    """A signed-in staff member."""

    username: str
    csrf: str


class Sessions:
    """Signs and reads the staff cookies."""

    def __init__(self, key: str, *, max_age: int, secure: bool) -> None:
        if len(key or "") < SHORTEST_KEY:
            raise KeyTooShort(f"the staff session key needs at least {SHORTEST_KEY} characters")
        self.max_age = max_age
        self.secure = secure
        self._session = URLSafeTimedSerializer(key, salt="nb-staff-session")
        self._login = URLSafeTimedSerializer(key, salt="nb-staff-login")

    def new(self, username: str) -> tuple[Session, str]:
        """A session for a staff member who just signed in, and its cookie value."""
        session = Session(username, secrets.token_urlsafe(24))
        return session, self._session.dumps({"u": username, "c": session.csrf})

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, or None (absent, forged, expired)."""
        data = _loads(self._session, cookie, self.max_age)
        if not isinstance(data, dict) or not isinstance(data.get("u"), str):
            return None
        return Session(data["u"], str(data.get("c") or ""))

    def login_token(self) -> tuple[str, str]:
        """A CSRF token for the sign-in form, and the cookie value that vouches for it."""
        token = secrets.token_urlsafe(24)
        return token, self._login.dumps(token)

    def login_token_valid(self, cookie: str | None, token: str | None) -> bool:
        """Whether the sign-in form's token is the one its cookie vouches for."""
        expected = _loads(self._login, cookie, self.max_age)
        return isinstance(expected, str) and same(expected, token)

    def cookie_options(self, max_age: int | None = None) -> dict[str, Any]:
        """The attributes every staff cookie is set with."""
        return {
            "path": PATH,
            "httponly": True,
            "samesite": "Strict",
            "secure": self.secure,
            "max-age": self.max_age if max_age is None else max_age,
        }


def same(expected: str, given: str | None) -> bool:
    """Compares tokens in constant time."""
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


def _loads(serializer: URLSafeTimedSerializer, cookie: str | None, max_age: int) -> Any:
    if not cookie:
        return None
    try:
        return serializer.loads(cookie, max_age=max_age)
    except BadSignature:  # SignatureExpired is one
        return None
