"""`python -m bot requests ...`, run in-process (`main`) and once as a real process.

The commands work on a real SQLite file; `deliver` sends to a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.callbacks.cli import CSV_COLUMNS
from bot.callbacks.store import RequestStore
from bot.center.config import DEFAULT_PATH, ENV_VAR, REQUESTS_DB_ENV, center_config
from bot.cli import main
from bot.paths import ROOT
from tests.test_outbox import FROM_ADDRESS, STAFF_INBOX, SmtpSink
from tests.test_requests_store import second_opinion


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'requests.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[RequestStore]:
    opened = RequestStore.from_url(db_url)
    yield opened
    opened.close()


@pytest.fixture
def run(db_url: str, capsys: pytest.CaptureFixture[str]) -> Any:
    """Runs `python -m bot requests --db <the test database> ...`; returns (status, out, err)."""

    def command(*args: str) -> tuple[int, str, str]:
        status = main(["requests", "--db", db_url, *args])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return command


def _center_with_delivery(tmp_path: Path, port: int, **extra: Any) -> Path:
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    data["delivery"] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "from_address": FROM_ADDRESS,
        "staff_inbox": STAFF_INBOX,
        **extra,
    }
    path = tmp_path / "center.yml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Points the (cached) center configuration at a copy with a delivery section."""

    def use(port: int, **extra: Any) -> Path:
        path = _center_with_delivery(tmp_path, port, **extra)
        monkeypatch.setenv(ENV_VAR, str(path))
        center_config.cache_clear()
        return path

    yield use
    center_config.cache_clear()


def test_list_as_a_table_and_as_json_lines(run: Any, store: RequestStore) -> None:
    first = store.save(second_opinion())
    second = store.save(second_opinion(request_type="international", name="Sam", country="Peru"))

    status, out, _ = run("list")
    assert status == 0
    header, *lines = out.splitlines()
    assert header.split()[:3] == ["REFERENCE", "RECEIVED", "(UTC)"]
    assert [line.split()[0] for line in lines] == [first, second]

    status, out, _ = run("list", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["reference"] for row in rows] == [first, second]
    assert rows[0]["name"] == "Ana María" and rows[1]["country"] == "Peru"
    assert all(row["status"] == "pending" for row in rows)

    assert run("list", "--status", "handled", "--json") == (0, "", "")
    assert run("list", "--status", "handled")[1] == "No handled callback requests.\n"


def test_show_and_mark_handled(run: Any, store: RequestStore) -> None:
    reference = store.save(second_opinion())

    status, out, _ = run("show", reference.lower())
    assert status == 0
    assert f"Reference:             {reference}" in out
    assert "Ana María" in out and "Lakeside Children's Hospital" in out
    assert "Status:                pending" in out

    assert run("show", reference, "--json")[1].count("\n") == 1

    status, out, _ = run("handled", reference)
    assert (status, out) == (0, f"{reference} marked handled.\n")
    status, out, _ = run("handled", reference)
    assert status == 0 and "already marked handled" in out
    status, out, _ = run("list", "--status", "handled", "--json")
    assert json.loads(out)["reference"] == reference


@pytest.mark.parametrize("command", ["show", "handled", "retry"])
def test_unknown_and_malformed_references_are_clear_errors(
    run: Any, store: RequestStore, command: str
) -> None:
    store.save(second_opinion())
    status, out, err = run(command, "CB-0000-00")
    assert status == 1 and out == ""
    assert (
        err
        == "error: no callback request CB-0000-00; `python -m bot requests list` shows them all\n"
    )
    status, _, err = run(command, "tomorrow")
    assert status == 2 and "is not a request reference (they look like CB-7K3M-Q9)" in err


def test_bad_status_is_a_usage_error(run: Any) -> None:
    with pytest.raises(SystemExit) as exited:
        run("list", "--status", "done")
    assert exited.value.code == 2


def test_export_writes_a_private_csv_that_spreadsheets_cannot_run(
    run: Any, store: RequestStore, tmp_path: Path
) -> None:
    first = store.save(second_opinion())
    second = store.save(second_opinion(name='=HYPERLINK("http://evil.test")', email=None))
    store.mark_handled(second)
    target = tmp_path / "requests.csv"

    status, out, _ = run("export", str(target))
    assert status == 0 and out == f"Exported 2 request(s) to {target} (readable by you only).\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with target.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [row["reference"] for row in rows] == [first, second]
    assert rows[0]["name"] == "Ana María" and rows[0]["phone"] == "+12155550123"
    assert rows[1]["name"] == '\'=HYPERLINK("http://evil.test")'
    assert rows[1]["status"] == "handled" and rows[1]["email"] == ""
    assert "conversation" not in rows[0]

    status, out, _ = run("export", "-", "--status", "handled")
    assert status == 0 and len(out.splitlines()) == 2


@pytest.mark.parametrize("where", ["missing folder", "below a file"])
def test_export_to_an_unwritable_file_is_a_clear_error(
    run: Any, store: RequestStore, tmp_path: Path, where: str
) -> None:
    store.save(second_opinion())
    if where == "below a file":
        (tmp_path / "plain").write_text("")
        target = tmp_path / "plain" / "out.csv"
    else:
        target = tmp_path / "missing" / "out.csv"
    status, out, err = run("export", str(target))
    assert status == 1 and out == ""
    assert err.startswith(f"error: cannot write {target}: ")
    assert "Traceback" not in err


def test_an_unavailable_database_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "plain").write_text("")
    status = main(["requests", "--db", f"sqlite:///{tmp_path / 'plain' / 'r.db'}", "list"])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("error: could not list callback requests: ")


def test_deliver_once_sends_each_request_once(
    run: Any, store: RequestStore, configure: Any
) -> None:
    sink = SmtpSink().start()
    try:
        configure(sink.port)
        reference = store.save(second_opinion())
        status, out, _ = run("deliver", "--once")
        assert (status, out) == (0, "delivered 1\n")
        assert run("deliver", "--once")[:2] == (0, "delivered 0\n")
    finally:
        sink.stop()
    assert len(sink.messages) == 1 and reference in sink.messages[0]["Subject"]
    status, out, _ = run("show", reference)
    assert "E-mail to staff:       delivered" in out


def test_deliver_failures_are_visible_and_can_be_retried(
    run: Any, store: RequestStore, configure: Any
) -> None:
    sink = SmtpSink()  # nothing listening yet
    configure(sink.port, max_attempts=1)
    reference = store.save(second_opinion())

    status, out, _ = run("deliver", "--once")
    assert (status, out) == (1, f"delivered 0, gave up on 1 ({reference})\n")
    status, out, _ = run("list", "--status", "failed")
    assert status == 0 and reference in out
    assert "ConnectionRefusedError" in run("show", reference)[1]

    sink.start()
    try:
        assert run("retry", reference)[:2] == (
            0,
            f"{reference} queued; `python -m bot requests deliver` sends it.\n",
        )
        assert run("deliver", "--once")[:2] == (0, "delivered 1\n")
        status, _, err = run("retry", reference)
        assert status == 1 and "already delivered" in err
    finally:
        sink.stop()
    assert len(sink.messages) == 1


def test_deliver_without_delivery_settings_says_what_to_configure(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    center_config.cache_clear()
    status, out, err = run("deliver", "--once")
    assert status == 2 and out == ""
    assert "delivery is not configured: set delivery.smtp_host" in err


def test_purge_keeps_unhandled_requests(run: Any, store: RequestStore) -> None:
    handled = store.save(second_opinion())
    waiting = store.save(second_opinion())
    store.mark_handled(handled)
    status, out, _ = run("purge", "--older-than", "0")
    assert status == 0 and out.startswith("Deleted 1 request(s) handled before ")
    assert [row["reference"] for row in store.list()] == [waiting]


@pytest.mark.parametrize("days", ["-1", "36501", "1000000"])
def test_purge_refuses_a_period_out_of_range(run: Any, store: RequestStore, days: str) -> None:
    store.mark_handled(store.save(second_opinion()))
    status, _, err = run("purge", "--older-than", days)
    assert status == 2 and "0 to 36500 days" in err
    assert len(store.list()) == 1


def _bot(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "requests", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_real_command_line_and_the_delivery_loop(
    store: RequestStore, db_url: str, tmp_path: Path
) -> None:
    reference = store.save(second_opinion())
    env = {REQUESTS_DB_ENV: db_url}

    listing = _bot("list", "--json", env=env)
    out, err = listing.communicate(timeout=60)
    assert listing.returncode == 0, err
    assert json.loads(out)["reference"] == reference

    usage = _bot(env=env)
    usage.communicate(timeout=60)
    assert usage.returncode == 2

    sink = SmtpSink().start()
    loop = _bot(
        "deliver",
        "--interval",
        "0.2",
        env={**env, ENV_VAR: str(_center_with_delivery(tmp_path, sink.port))},
    )
    try:
        deadline = time.monotonic() + 30
        while not sink.messages and time.monotonic() < deadline and loop.poll() is None:
            time.sleep(0.1)
        second = store.save(second_opinion(name="Sam"))
        while len(sink.messages) < 2 and time.monotonic() < deadline and loop.poll() is None:
            time.sleep(0.1)
        loop.send_signal(signal.SIGTERM)
        out, err = loop.communicate(timeout=30)
    finally:
        if loop.poll() is None:
            loop.kill()
        sink.stop()
    assert loop.returncode == 0, err
    assert sorted(m["Subject"].split()[2].rstrip(":") for m in sink.messages) == sorted(
        [reference, second]
    )
    assert f"delivered {reference}" in err and f"Delivering to {STAFF_INBOX}" in out
