"""The assistant as a hospital runs it: two replicas behind nginx, sharing PostgreSQL and Redis.

One cluster (bot/runtime/cluster.py, what `make run-cluster` starts) serves the whole module, in
a PostgreSQL database of its own that is dropped afterwards and under a Redis key prefix of its
own. Messages go to a chosen replica directly (to move a conversation between replicas at will)
or through nginx (as families reach it). What is checked is read back from the stores: the
events of each conversation in PostgreSQL, and the callback requests.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import URL, make_url
from twilio.request_validator import RequestValidator

from bot import paths
from bot.channels.sms.channel import sender_id
from bot.runtime.cluster import Cluster, ClusterSettings, ensure_database, shared_state_env
from bot.runtime.launcher import free_port
from tests.conftest import SMS_SENDER_KEY, TWILIO_AUTH_TOKEN, require
from tests.request_stores import PG_URL
from tests.test_lock_store import _redis_up
from tests.test_sms import Answer

RETRYABLE = {502, 503, 504}
# The form's questions, recognised by the start of their English text in domain.yml, and what a
# parent answers to each.
ANSWERS = {
    "utter_ask_relationship": "I'm his mom",
    "utter_ask_contact_name": "Maria Lopez",
    "utter_ask_phone": "(215) 555-0142",
    "utter_ask_email": "skip",
    "utter_ask_best_time": "weekday mornings",
    "utter_ask_treating_hospital": "Riverside Children's Hospital",
    "utter_ask_consent": "yes",
}
SAVED = "Your request is saved"


def _question_starts() -> dict[str, list[str]]:
    """The first words of each form question in English, on every channel."""
    responses = yaml.safe_load(paths.DOMAIN.read_text())["responses"]
    return {
        name: [" ".join(v["text"].split())[:20] for v in responses[name] if not v.get("condition")]
        for name in ANSWERS
    }


QUESTION_STARTS = _question_starts()


@dataclass
class Running:
    """The cluster under test and where its state is kept."""

    cluster: Cluster
    database: URL

    @property
    def url(self) -> str:
        return self.cluster.settings.url

    def replica_url(self, index: int) -> str:
        return self.cluster.replicas[index].settings.url

    def engine(self) -> sa.engine.Engine:
        return sa.create_engine(self.database, future=True)


@pytest.fixture(scope="module")
def running(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    require(bool(PG_URL), "TEST_POSTGRES_URL not set")
    require(_redis_up(), "Redis is not running on 127.0.0.1:6379")
    require(bool(shutil.which("nginx") or Path("/usr/sbin/nginx").exists()), "nginx not installed")
    database = make_url(PG_URL).set(database=f"nb_cluster_{uuid.uuid4().hex[:10]}")
    ensure_database(database)
    shared = database.render_as_string(hide_password=False)
    settings = ClusterSettings(
        replicas=2,
        port=free_port(),
        ports=[(free_port(), free_port()), (free_port(), free_port())],
        state=tmp_path_factory.mktemp("cluster"),
        model=trained_model,
        rest=True,
    )
    settings.extra_env.update(shared_state_env(database, f"test{uuid.uuid4().hex}"))
    settings.extra_env.update(
        {
            "SMS_DB": shared,
            "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
            "SMS_PUBLIC_URL": f"{settings.url}/webhooks/sms/webhook",
            "SMS_SENDER_KEY": SMS_SENDER_KEY,
            # A killed replica's conversation locks run out after this, not Rasa's 60 s.
            "TICKET_LOCK_LIFETIME": "15",
        }
    )
    cluster = Cluster(settings)
    try:
        cluster.start()
    except RuntimeError as error:
        logs = "\n".join(
            p.read_text(errors="replace")[-2000:] for p in settings.state.rglob("*.log")
        )
        cluster.stop()
        pytest.fail(f"the cluster did not start: {error}\n{logs}")
    try:
        yield Running(cluster, database)
    finally:
        cluster.stop()
        admin = sa.create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT", future=True)
        with admin.connect() as db:
            db.execute(sa.text(f'DROP DATABASE "{database.database}" WITH (FORCE)'))
        admin.dispose()


# --- talking to it ------------------------------------------------------------------------------


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """The status and body of a POST; a refused or reset connection is status 0."""
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""


def rest(base: str, sender: str, text: str) -> list[str]:
    status, body = post(
        f"{base}/webhooks/rest/webhook",
        json.dumps({"sender": sender, "message": text}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200, body
    return [message.get("text", "") for message in json.loads(body)]


def web(base: str, session: str | None, text: str) -> tuple[int, dict[str, Any]]:
    status, body = post(
        f"{base}/webhooks/web/message",
        json.dumps({"session": session, "message": text}).encode(),
        {"Content-Type": "application/json"},
    )
    return status, (json.loads(body) if body.startswith("{") else {})


class Phone:
    """A parent's phone, its texts signed for the public URL like Twilio's, sent to any replica."""

    def __init__(self, running: Running) -> None:
        self.public_url = running.cluster.settings.extra_env["SMS_PUBLIC_URL"]
        self.number = f"+1202556{uuid.uuid4().int % 10000:04d}"
        self.sender = sender_id(self.number, SMS_SENDER_KEY)

    def send(self, base: str, body: str, message_sid: str | None = None) -> Answer:
        fields = {
            "MessageSid": message_sid or f"SM{uuid.uuid4().hex}",
            "From": self.number,
            "To": "+12025550199",
            "Body": body,
        }
        signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(self.public_url, fields)
        status, text = post(
            f"{base}/webhooks/sms/webhook",
            urllib.parse.urlencode(fields).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        )
        return Answer(status, "application/xml", text)


def next_answer(texts: list[str]) -> str | None:
    """What the parent answers to the form's last question, None when none was asked."""
    last = " ".join(" ".join(texts[-1:]).split())
    for name, starts in QUESTION_STARTS.items():
        if any(start in last for start in starts):
            return ANSWERS[name]
    return None


def user_events(running: Running, sender: str) -> list[tuple[str, str | None]]:
    """The conversation's events in stored order: (type, user text or action name)."""
    engine = running.engine()
    with engine.connect() as db:
        rows = db.execute(
            sa.text(
                "SELECT type_name, action_name, data FROM events WHERE sender_id = :s ORDER BY id"
            ),
            {"s": sender},
        ).all()
    engine.dispose()
    return [
        (
            row.type_name,
            json.loads(row.data).get("text") if row.type_name == "user" else row.action_name,
        )
        for row in rows
    ]


def requests_of(running: Running, conversation: str) -> int:
    engine = running.engine()
    with engine.connect() as db:
        count = db.execute(
            sa.text("SELECT count(*) FROM callback_requests WHERE conversation = :c"),
            {"c": conversation},
        ).scalar_one()
    engine.dispose()
    return int(count)


def start_form(send: Any) -> list[str]:
    """Asks for a second opinion and accepts the callback; returns the first question."""
    send("i would like a second opinion for my son")
    return send("yes")


def fill_in_form(send: Any) -> None:
    """Starts the form and answers each question until the request is saved."""
    texts = start_form(send)
    for _ in range(len(ANSWERS)):
        answer = next_answer(texts)
        assert answer, texts
        texts = send(answer)
        if SAVED in " ".join(texts):
            break
    assert SAVED in " ".join(texts)


# --- the tests ----------------------------------------------------------------------------------


def test_one_conversation_at_both_replicas_at_once_is_processed_one_message_after_another(running):
    sender = f"test-{uuid.uuid4().hex[:12]}"
    questions = ["what is mibg therapy", "what is relapse", "who is on the team"]
    at_once = [f"{questions[i % 3]} {i}" for i in range(12)]
    start = threading.Barrier(2)

    def send(index: int) -> None:
        start.wait()
        rest(running.replica_url(index % 2), sender, at_once[index])

    for pair in range(0, len(at_once), 2):
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(send, [pair, pair + 1]))
    in_turn = [f"{questions[i % 3]} again {i}" for i in range(6)]
    for index, text in enumerate(in_turn):
        rest(running.replica_url(index % 2), sender, text)

    events = user_events(running, sender)
    texts = [value for kind, value in events if kind == "user"]
    assert sorted(texts[: len(at_once)]) == sorted(at_once)  # each once: none lost or doubled
    assert texts[len(at_once) :] == in_turn  # one after another, in the order sent
    # No message was taken up before the one before it was answered and listened for again.
    kinds = [value if kind != "user" else "USER" for kind, value in events]
    turns = " ".join(str(kind) for kind in kinds).split("USER")[1:]
    assert len(turns) == len(texts) and all("action_listen" in turn for turn in turns)


def test_a_web_form_moves_between_replicas_and_is_stored_once(running):
    session = None
    replica = 0

    def send(text: str) -> list[str]:
        nonlocal session, replica
        status, body = web(running.replica_url(replica), session, text)
        assert status == 200, body
        session, replica = body["session"], 1 - replica  # the next message goes to the other
        return [message["text"] for message in body["messages"]]

    fill_in_form(send)
    assert requests_of(running, f"web-{session}") == 1


def test_an_sms_form_moves_between_replicas_and_is_stored_once(running):
    phone, replica = Phone(running), 0

    def send(text: str) -> list[str]:
        nonlocal replica
        answer = phone.send(running.replica_url(replica), text)
        assert answer.status == 200, answer.body
        replica = 1 - replica
        return answer.texts

    fill_in_form(send)
    assert requests_of(running, phone.sender) == 1


def test_a_retried_twilio_webhook_at_the_other_replica_gets_the_stored_reply(running):
    phone = Phone(running)
    first = phone.send(running.replica_url(0), "what is mibg therapy", "SMretry1")
    retried = phone.send(running.replica_url(1), "what is mibg therapy", "SMretry1")
    assert first.status == retried.status == 200
    assert retried.texts == first.texts and first.texts
    # Twilio's retry arriving while the first is still being answered, at the other replica.
    start = threading.Barrier(2)

    def send(index: int) -> Answer:
        start.wait()
        return phone.send(running.replica_url(index), "what is relapse", "SMretry2")

    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(send, [0, 1]))
    assert [answer.status for answer in both] == [200, 200]
    assert both[0].texts == both[1].texts and both[0].texts
    texts = [value for kind, value in user_events(running, phone.sender) if kind == "user"]
    assert texts == ["what is mibg therapy", "what is relapse"]  # each processed once


def test_the_web_rate_limit_holds_across_replicas(running):
    # credentials.yml: 20 messages a minute per session, counted in the shared Redis.
    status, body = web(running.replica_url(0), None, "hello")
    session, statuses = body["session"], [status]
    for index in range(1, 21):
        status, _ = web(running.replica_url(index % 2), session, "hello")
        statuses.append(status)
    assert statuses == [200] * 20 + [429]


def test_a_replica_killed_under_load_loses_no_message_and_no_request(running):
    """50 families fill the form through nginx at once; one replica is killed midway.

    Every message is either answered or refused with a status the page retries (502, 503,
    504, or a dropped connection); retried, every family's request is stored exactly once.
    """
    families, answered, killed = 50, Counter[str](), threading.Event()
    outcomes: Counter[int] = Counter()
    lock = threading.Lock()

    def send_until_answered(session: str | None, text: str) -> tuple[str, list[str]]:
        for _ in range(40):
            status, body = web(running.url, session, text)
            with lock:
                outcomes[status] += 1
            if status == 200:
                with lock:
                    answered["messages"] += 1
                    if answered["messages"] == 120:
                        killed.set()
                return body["session"], [m["text"] for m in body["messages"]]
            assert status in RETRYABLE | {0, 429}, (status, body)
            time.sleep(3)  # the page's own retry waits too; retries count against the limit
        raise AssertionError("a message was never answered")

    def family(_: int) -> str:
        session, texts = send_until_answered(None, "i would like a second opinion for my son")
        session, texts = send_until_answered(session, "yes")
        for _ in range(len(ANSWERS) + 4):  # a retried answer may be asked again
            answer = next_answer(texts)
            if answer is None:
                break
            session, texts = send_until_answered(session, answer)
        return session

    def kill_one_replica() -> None:
        killed.wait(timeout=300)
        running.cluster.replicas[0].processes["rasa"].send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_one_replica)
    killer.start()
    with ThreadPoolExecutor(families) as pool:
        sessions = list(pool.map(family, range(families)))
    killer.join()
    assert killed.is_set()
    stored = {session: requests_of(running, f"web-{session}") for session in sessions}
    assert sorted(Counter(stored.values()).items()) == [(1, families)], outcomes
    assert set(outcomes) <= {200, 429} | RETRYABLE | {0}
    # Shown with `pytest -rP`: how many answers, and how many refusals the families retried.
    print(f"statuses of {sum(outcomes.values())} posts: {dict(sorted(outcomes.items()))}")
    print(f"replica restarts: {running.cluster.restarts}")
