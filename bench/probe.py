"""Black-box robustness probe (issue 12): each row of the issue's table against a running assistant.

`python -m bench.probe --url http://127.0.0.1:5005 [--label old]` (row 7 signs SMS requests with
the auth token in TWILIO_AUTH_TOKEN, read from the environment so it is never on a command line).
Start today's assistant with `python -m bot run --rest`: the REST channel it probes is off as
shipped.

It speaks only HTTP (the REST, web and SMS channels), so the same probe runs against any version
of the code, before and after the fix; it never imports bot/, whose modules differ between them.
Each row prints what was sent, what came back and PASS, FAIL or SKIP; the exit code is 0 only
when no row failed. A row that gets no answer says so instead of crashing the probe, because the
old code's failure was a server that exited. The rows that could stop a server (lone surrogates)
run last, so that every other row is probed first.

`--no-actions` probes only row 8, against an instance started without its action server: the
other rows need the action server (the callback form, the session start of the old code).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
EMERGENCY = "my son is not breathing"
QUESTION = "what is mibg therapy"
# The callback form up to "When is the best time to call you?" (tests/test_callback.py, both
# versions): an appointment request, parent, name, phone, no e-mail.
TO_BEST_TIME = [
    "can someone call me back",
    "/contact_new_appointment",
    "I am her father",
    "Sam",
    "215 555 0199",
    "skip",
]


@dataclass
class Reply:
    """One HTTP answer: status (None when the server did not answer) and the bot's texts."""

    status: int | None
    texts: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    @property
    def text(self) -> str:
        """Every text of the answer, joined, for looking up a phrase."""
        return " ".join(self.texts)

    def is_refusal(self) -> bool:
        """A 4xx: the server refused the request and stayed up."""
        return self.status is not None and 400 <= self.status < 500

    def show(self) -> str:
        """Status, the first text and the last, shortened, for the report line.

        The last too: a new conversation's first text is always the disclaimer.
        """
        if self.status is None:
            return f"no answer ({self.error})"
        texts = [self.texts[0], self.texts[-1]] if len(self.texts) > 1 else self.texts
        shown = [_short(text) for text in texts or [self.error]]
        more = f" ({len(self.texts)} texts)" if len(self.texts) > 2 else ""
        return f"{self.status} " + " | ".join(shown) + more


def _short(text: str, width: int = 50) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[: width - 3] + "...")


@dataclass
class Row:
    """One line of the report."""

    name: str
    sent: str
    got: str
    verdict: str  # PASS, FAIL or SKIP


def _texts(body: bytes, content_type: str) -> tuple[list[str], str]:
    """The bot's texts in a REST, web or SMS answer, or a refusal's own message."""
    raw = body.decode("utf-8", "replace")
    if "xml" in content_type:
        try:
            return [m.text or "" for m in ElementTree.fromstring(raw).iter("Message")], ""
        except ElementTree.ParseError:
            return [], raw[:200]
    try:
        data = json.loads(raw)
    except ValueError:
        return [], raw[:200]
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        data = data["messages"]  # the web channel
    if isinstance(data, list):
        return [str(m.get("text") or "") for m in data if isinstance(m, dict)], ""
    if isinstance(data, dict):
        return [], str(data.get("message") or data.get("error") or raw[:200])
    return [], raw[:200]


def post(url: str, data: bytes, timeout: float, content_type: str = JSON, **headers: str) -> Reply:
    """POSTs raw bytes; a server that does not answer (or hangs up) is a Reply, not an error."""
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": content_type, **headers}
    )
    started = time.monotonic()
    try:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, kind, body = (
                    response.status,
                    response.headers["Content-Type"],
                    response.read(),
                )
        except urllib.error.HTTPError as error:
            status, kind, body = error.code, error.headers.get("Content-Type", ""), error.read()
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", error)
        return Reply(None, error=type(reason).__name__, seconds=time.monotonic() - started)
    texts, message = _texts(body, kind or "")
    return Reply(status, texts, message, time.monotonic() - started)


class Probe:
    """The rows, against one running assistant."""

    def __init__(self, url: str, timeout: float, sms_token: str | None, sms_url: str) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.sms_token = sms_token
        self.sms_url = sms_url or f"{self.url}/webhooks/sms/webhook"

    def rest(self, body: bytes) -> Reply:
        """POST /webhooks/rest/webhook with a raw body."""
        return post(f"{self.url}/webhooks/rest/webhook", body, self.timeout)

    def conversation(self) -> Callable[[str], Reply]:
        """A new REST conversation: a function that sends one message in it."""
        sender = f"probe-{uuid.uuid4().hex[:12]}"
        return lambda text: self.rest(json.dumps({"sender": sender, "message": text}).encode())

    def web(self, raw_message: str) -> Reply:
        """A message in a new web chat session; `raw_message` is already a JSON string literal."""
        body = f'{{"session": null, "message": {raw_message}}}'.encode()
        return post(f"{self.url}/webhooks/web/message", body, self.timeout)

    def at_best_time(self) -> tuple[Callable[[str], Reply], Reply]:
        """A REST conversation walked to the callback form's best-time question."""
        say = self.conversation()
        reply = Reply(None)
        for text in TO_BEST_TIME:
            reply = say(text)
        return say, reply

    # Rows. Each returns its report lines.

    def surrogate_sender(self) -> list[Row]:
        """1: a lone surrogate in the sender is refused, and the server still answers after."""
        sent = r'{"sender": "x\udfff", "message": "hi"}'
        first = self.rest(sent.encode())
        time.sleep(1.0)  # a process that is going down has gone by then
        after = self.conversation()(QUESTION)
        alive = after.status == 200 and bool(after.text.strip())
        got = f"{first.show()}; then {QUESTION!r}: " + (
            after.show() if after.status is not None else "server no longer answers"
        )
        return [Row("1 surrogate sender", sent, got, _verdict(first.is_refusal() and alive))]

    def not_an_object(self) -> list[Row]:
        """2: a REST body that is JSON but not an object is refused with a 4xx, not a 500."""
        rows = []
        for body in ['["hi"]', '"hi"', "null"]:
            reply = self.rest(body.encode())
            rows.append(
                Row("2 body not an object", body, reply.show(), _verdict(reply.is_refusal()))
            )
        return rows

    def surrogate_web(self) -> list[Row]:
        """3: a web chat message that is not valid Unicode is refused with a 4xx."""
        raw = r'"hi \udfff"'
        reply = self.web(raw)
        sent = f"web {{session: null, message: {raw}}}"
        return [Row("3 surrogate web text", sent, reply.show(), _verdict(reply.is_refusal()))]

    def megabyte(self) -> list[Row]:
        """4: a 1 MB REST message is refused, and an emergency sent meanwhile is answered.

        Elapsed seconds are information only: they depend on the machine.
        """
        text = (QUESTION + " ") * (1_000_000 // (len(QUESTION) + 1))
        body = json.dumps({"sender": f"probe-{uuid.uuid4().hex[:12]}", "message": text})
        result: list[Reply] = []
        worker = threading.Thread(target=lambda: result.append(self.rest(body.encode())))
        worker.start()
        time.sleep(0.2)  # the big body is on its way or being worked on
        emergency = self.web(json.dumps(EMERGENCY))
        worker.join()
        big = result[0]
        return [
            Row(
                "4 1 MB REST message",
                f"{len(body):,} bytes",
                f"{big.show()} in {big.seconds:.1f} s",
                _verdict(big.is_refusal()),
            ),
            Row(
                "4 emergency meanwhile",
                f"web {EMERGENCY!r}",
                f"{emergency.show()} in {emergency.seconds:.1f} s",
                _verdict(emergency.status == 200 and "911" in emergency.text),
            ),
        ]

    def time_as_best_time(self) -> list[Row]:
        """5: a time that sounds like a question is taken as the best time to call."""
        answer = "after 5pm on weekdays"
        say, asked = self.at_best_time()
        if "best time" not in asked.text.lower():
            return [Row("5 time as best time", answer, f"walk: {asked.show()}", "FAIL")]
        reply = say(answer)
        text = reply.text.lower()
        next_step = "may we store" in text or answer in text  # consent repeats the time
        ok = reply.status == 200 and next_step and "mibg" not in text and "best time" not in text
        return [Row("5 time as best time", answer, reply.show(), _verdict(ok))]

    def emergency_as_best_time(self) -> list[Row]:
        """6: an emergency typed as the best time gets 911; nothing is stored, no consent asked."""
        rows = []
        for answer in ["shes not breething", "her lips look grey"]:
            say, asked = self.at_best_time()
            if "best time" not in asked.text.lower():
                rows.append(Row("6 emergency as time", answer, f"walk: {asked.show()}", "FAIL"))
                continue
            reply = say(answer)
            # "yes" would confirm a consent question: its answer shows whether a request was saved.
            confirm = say("yes")
            saved = "request is saved" in confirm.text.lower()
            ok = reply.status == 200 and "911" in reply.text
            ok = ok and "may we store" not in reply.text.lower() and not saved
            got = f"{reply.show()}; then 'yes': {confirm.show()}"
            rows.append(Row("6 emergency as time", answer, got, _verdict(ok)))
        return rows

    def sms_same_sid(self) -> list[Row]:
        """7: a MessageSid sent again from another number never gets the first number's reply."""
        name = "7 SMS same MessageSid"
        if not self.sms_token:
            return [Row(name, "-", "TWILIO_AUTH_TOKEN is not set", "SKIP")]
        try:
            with urllib.request.urlopen(f"{self.url}/webhooks/sms/", timeout=self.timeout):
                pass
        except (urllib.error.URLError, OSError) as error:
            return [Row(name, "GET /webhooks/sms/", f"no SMS channel ({error})", "SKIP")]
        sid = f"SM{uuid.uuid4().hex}"
        first = self.sms(sid, _phone(), QUESTION)
        second = self.sms(sid, _phone(), "what is relapse")
        ok = first.status == 200 and bool(first.texts) and second.status == 200
        ok = ok and second.texts != first.texts
        sent = f"{sid[:10]}... from A {QUESTION!r}, then from B 'what is relapse'"
        got = f"A: {first.show()}; B: {second.show()}"
        return [Row(name, sent, got, _verdict(ok))]

    def sms(self, sid: str, number: str, body: str) -> Reply:
        """One incoming text, signed with the auth token as Twilio signs it."""
        fields = {
            "MessageSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": number,
            "To": "+12025550199",
            "Body": body,
            "NumMedia": "0",
        }
        signature = twilio_signature(self.sms_token or "", self.sms_url, fields)
        data = urllib.parse.urlencode(fields).encode()
        url = f"{self.url}/webhooks/sms/webhook"
        return post(url, data, self.timeout, FORM, **{"X-Twilio-Signature": signature})

    def emergency_without_actions(self) -> list[Row]:
        """8: with no action server, an emergency in a new conversation still gets 911."""
        reply = self.conversation()(EMERGENCY)
        ok = reply.status == 200 and "911" in reply.text
        return [Row("8 no action server", f"REST {EMERGENCY!r}", reply.show(), _verdict(ok))]


def twilio_signature(token: str, url: str, fields: dict[str, str]) -> str:
    """X-Twilio-Signature as Twilio computes it (the project's venv has the twilio package)."""
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(token).compute_signature(url, fields))


def _phone() -> str:
    """A fictional number of its own, so no run shares another's opt-out or rate limit."""
    return f"+1202555{uuid.uuid4().int % 9000 + 1000}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    """Runs the rows, prints one line each and a summary; 0 only when none failed."""
    parser = argparse.ArgumentParser(prog="python -m bench.probe", description=__doc__)
    parser.add_argument("--url", required=True, help="the Rasa server, e.g. http://127.0.0.1:5005")
    parser.add_argument("--sms-public-url", default="", help="SMS webhook URL as signed")
    parser.add_argument("--label", default="", help="a name for this run in the output")
    parser.add_argument("--no-actions", action="store_true", help="only row 8 (no action server)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    args = parser.parse_args(argv)
    probe = Probe(args.url, args.timeout, os.environ.get("TWILIO_AUTH_TOKEN"), args.sms_public_url)
    rows: list[Callable[[], list[Row]]] = (
        [probe.emergency_without_actions]
        if args.no_actions
        else [
            probe.not_an_object,
            probe.megabyte,
            probe.time_as_best_time,
            probe.emergency_as_best_time,
            probe.sms_same_sid,
            probe.surrogate_web,
            probe.surrogate_sender,
        ]
    )
    label = f"[{args.label}] " if args.label else ""
    print(f"{label}probe of {probe.url}", flush=True)
    verdicts = []
    for row in rows:
        for line in row():
            verdicts.append(line.verdict)
            print(f"{label}{line.name:<23} {line.verdict:<4}  sent {line.sent}  ->  {line.got}")
            sys.stdout.flush()
    counts = {v: verdicts.count(v) for v in ("PASS", "FAIL", "SKIP")}
    print(f"{label}" + ", ".join(f"{n} {v}" for v, n in counts.items()), flush=True)
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
