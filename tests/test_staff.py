"""The staff dashboard: accounts (Argon2id, lock-out), signed sessions, and the /staff pages of
the running assistant (sign-in refused and accepted, CSRF, what the page shows and never shows).
"""

from __future__ import annotations

import io
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa
from argon2 import PasswordHasher

from bot import cli
from bot.callbacks.store import RequestStore
from bot.staff.accounts import (
    LOCK_MINUTES,
    MAX_FAILURES,
    AccountError,
    AccountStore,
    SignIn,
    staff_accounts,
)
from bot.staff.session import LOGIN_COOKIE, SESSION_COOKIE, Sessions
from tests.conftest import STAFF_SESSION_KEY, Conversation

PASSWORD = "correct horse battery staple"
# Fast hashing for the store tests only; the server uses argon2-cffi's defaults.
QUICK = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def accounts(store: RequestStore) -> AccountStore:
    return AccountStore(store, QUICK)


def test_a_password_is_kept_only_as_an_argon2id_hash(accounts, store):
    accounts.add("nurse.kim", PASSWORD)
    with store.engine.connect() as db:
        [stored] = db.execute(sa.select(staff_accounts.c.password_hash)).scalars().all()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.sign_in("nurse.kim", PASSWORD) is SignIn.OK


def test_wrong_passwords_lock_the_account_then_unlock_restores_it(accounts):
    accounts.add("nurse.kim", PASSWORD)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    outcomes = [accounts.sign_in("nurse.kim", "wrong password!", now) for _ in range(MAX_FAILURES)]
    assert outcomes == [SignIn.REFUSED] * (MAX_FAILURES - 1) + [SignIn.LOCKED]
    assert accounts.sign_in("nurse.kim", PASSWORD, now) is SignIn.LOCKED  # even the right one
    later = now + timedelta(minutes=LOCK_MINUTES, seconds=1)
    assert accounts.sign_in("nurse.kim", PASSWORD, later) is SignIn.OK
    for _ in range(MAX_FAILURES):
        accounts.sign_in("nurse.kim", "wrong password!", later)
    assert accounts.unlock("nurse.kim")
    assert accounts.sign_in("nurse.kim", PASSWORD, later) is SignIn.OK


def test_a_success_clears_the_failures(accounts):
    accounts.add("nurse.kim", PASSWORD)
    for _ in range(MAX_FAILURES - 1):
        accounts.sign_in("nurse.kim", "wrong password!")
    assert accounts.sign_in("nurse.kim", PASSWORD) is SignIn.OK
    assert accounts.sign_in("nurse.kim", "wrong password!") is SignIn.REFUSED


def test_unknown_names_are_refused_like_wrong_passwords(accounts):
    assert accounts.sign_in("nobody", PASSWORD) is SignIn.REFUSED


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("Nurse Kim", PASSWORD, "lower-case"),
        ("k", PASSWORD, "2 to 40"),
        ("nurse.kim", "short", "12 to 256"),
    ],
)
def test_bad_names_and_short_passwords_are_refused(accounts, name, password, message):
    with pytest.raises(AccountError, match=message):
        accounts.add(name, password)


def test_a_name_is_taken_once(accounts):
    accounts.add("nurse.kim", PASSWORD)
    with pytest.raises(AccountError, match="exists already"):
        accounts.add("nurse.kim", PASSWORD + "!")


def test_sessions_are_signed_and_expire():
    sessions = Sessions(STAFF_SESSION_KEY, max_age=60, secure=True)
    session, cookie = sessions.new("nurse.kim")
    assert sessions.read(cookie) == session
    assert sessions.read(cookie[:-2] + "xx") is None
    assert (
        Sessions("another key of at least thirty-two chars", max_age=60, secure=True).read(cookie)
        is None
    )
    assert Sessions(STAFF_SESSION_KEY, max_age=-1, secure=True).read(cookie) is None
    token, login = sessions.login_token()
    assert sessions.login_token_valid(login, token)
    assert not sessions.login_token_valid(login, token + "x")
    assert not sessions.login_token_valid(None, token)


def test_the_command_line_adds_lists_unlocks_and_removes(tmp_path, capsys, monkeypatch):
    db = f"sqlite:///{tmp_path / 'requests.db'}"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["staff", "--db", db, "add", "nurse.kim", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["staff", "--db", db, "add", "nurse.lee", "--password-stdin"]) == 2
    assert cli.main(["staff", "--db", db, "list"]) == 0
    out = capsys.readouterr()
    assert "nurse.kim" in out.out and "never" in out.out and "12 to 256" in out.err
    assert cli.main(["staff", "--db", db, "unlock", "nurse.kim"]) == 0
    assert cli.main(["staff", "--db", db, "remove", "nurse.kim"]) == 0
    assert cli.main(["staff", "--db", db, "remove", "nurse.kim"]) == 1


# --- the pages of the running assistant ------------------------------------------------------


def staff_account(assistant, monkeypatch) -> str:
    """A new account in the running assistant's database; its name."""
    name = f"nurse.{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    db = assistant.extra_env["REQUESTS_DB_URL"]
    assert cli.main(["staff", "--db", db, "add", name, "--password-stdin"]) == 0
    return name


def sign_in(base: str, name: str, password: str) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    form = browser.get(f"{base}/staff/login", timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    answer = browser.post(
        f"{base}/staff/login",
        data={"username": name, "password": password, "csrf": csrf},
        timeout=60,
        allow_redirects=False,
    )
    return browser, answer


def test_nothing_is_visible_without_signing_in(assistant):
    for path in ("/staff", "/staff/charts/conversations.svg"):
        answer = requests.get(f"{assistant.url}{path}", timeout=30, allow_redirects=False)
        assert answer.status_code in (303, 401), path
        assert "Conversations" not in answer.text
    assert (
        requests.get(f"{assistant.url}/staff", timeout=30, allow_redirects=False)
        .headers["Location"]
        .endswith("/staff/login")
    )


def test_a_wrong_password_is_refused_and_a_forged_cookie_is_ignored(assistant, monkeypatch):
    name = staff_account(assistant, monkeypatch)
    browser, answer = sign_in(assistant.url, name, "not the password")
    assert answer.status_code == 401 and "wrong" in answer.text
    assert SESSION_COOKIE not in browser.cookies
    forged = {SESSION_COOKIE: "eyJ1IjoibnVyc2UifQ.forged.signature"}
    page = requests.get(f"{assistant.url}/staff", cookies=forged, timeout=30, allow_redirects=False)
    assert page.status_code == 303


def test_sign_in_without_the_forms_token_is_refused(assistant, monkeypatch):
    name = staff_account(assistant, monkeypatch)
    answer = requests.post(
        f"{assistant.url}/staff/login",
        data={"username": name, "password": PASSWORD},
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 400 and SESSION_COOKIE not in answer.cookies


def test_the_dashboard_after_sign_in_counts_without_showing_what_families_typed(
    assistant, monkeypatch
):
    conversation = Conversation(assistant)
    conversation.ask("what is mibg therapy")
    conversation.ask("my number is 215 555 0177, zxqv plonk")
    conversation.ask("he stopped breathing")
    # A callback form with a name and a number, then the name typed again outside it.
    conversation.ask("i would like a second opinion for my son")
    for answer in ["/affirm", "I'm his mom", "Quintessa Marlowe", "(215) 555-0166", "skip"]:
        conversation.ask(answer)
    for answer in ["weekday mornings", "skip", "yes", "Marlowe again, zxqv plonk?"]:
        conversation.ask(answer)
    name = staff_account(assistant, monkeypatch)
    browser, answer = sign_in(assistant.url, name, PASSWORD)
    assert answer.status_code == 303 and answer.headers["Location"] == "/staff"
    cookie = next(c for c in browser.cookies if c.name == SESSION_COOKIE)
    assert cookie.path == "/staff" and cookie.has_nonstandard_attr("HttpOnly")
    assert LOGIN_COOKIE not in {c.name for c in browser.cookies if c.value}

    page = browser.get(f"{assistant.url}/staff?days=7", timeout=120)
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    for heading in (
        "Conversations per day",
        "could not place",
        "Topics asked",
        "Safety escalations",
        "Callback requests",
        "Review groups",
    ):
        assert heading in page.text
    assert re.search(r"<th scope=\"row\">emergency</th><td class=\"n\">[1-9]", page.text)
    assert re.search(r"<th scope=\"row\">ask_mibg</th><td class=\"n\">[1-9]", page.text)
    for private in ("0177", "0166", "Quintessa", "Marlowe", "he stopped breathing"):
        assert private not in page.text
    assert conversation.sender not in page.text
    assert "<script" not in page.text and "http" not in page.text.replace(assistant.url, "")

    chart = browser.get(f"{assistant.url}/staff/charts/unplaced.svg?days=7", timeout=120)
    assert chart.status_code == 200 and chart.headers["Content-Type"] == "image/svg+xml"
    assert chart.content.lstrip().startswith(b"<?xml")

    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert (
        browser.post(
            f"{assistant.url}/staff/logout",
            data={"csrf": "wrong"},
            timeout=30,
            allow_redirects=False,
        ).status_code
        == 400
    )
    out = browser.post(
        f"{assistant.url}/staff/logout", data={"csrf": csrf}, timeout=30, allow_redirects=False
    )
    assert out.status_code == 303
    assert (
        browser.get(f"{assistant.url}/staff", timeout=30, allow_redirects=False).status_code == 303
    )
