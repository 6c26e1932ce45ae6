"""`make bench-cluster`: the sustained rate of one process and of replicas behind nginx.

Three set-ups serve the same open-loop load (bench.load: arrivals on a clock, each message in
its own request, latency from its scheduled send time) through the website channel, the one
families use and the one nginx passes:

- one process on SQLite (`make run`);
- one process on the production profile (PostgreSQL conversations, Redis locks, rate limits);
- two replicas behind nginx (`make run-cluster`), on the same PostgreSQL and Redis.

Rates rise in steps (10, 20, 30, ... msg/s, `--seconds` each); a set-up sustains a rate when
every message is answered and the p95 latency stays under 250 ms. After the cluster's steps the
conversations are read back from PostgreSQL: every answered message must be stored exactly
once, none lost, none doubled. The figures go to bench/results/cluster-<date>.json and a
Markdown table. The machine's cores bound what a second replica can add: on 2 cores the two
replicas and nginx share what one process had.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from bench.load import run_open_loop
from bench.run import P95_LIMIT_MS, RESULTS, sample_messages
from bot import paths
from bot.runtime.cluster import Cluster, ClusterSettings, ensure_database, shared_state_env
from bot.runtime.launcher import RunSettings, Servers, free_port

RATES = [10, 20, 30, 40, 50, 60, 70, 80, 100, 120]
WEB_PATH = "/webhooks/web/message"
CONVERSATIONS = 50  # concurrent conversations of the no-loss check
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def web_payloads(count: int, conversations: int) -> list[dict[str, Any]]:
    """Realistic messages (bench.run's sample) spread over `conversations` web sessions."""
    stamp = uuid.uuid4().hex[:12]
    return [
        {"session": f"bench{stamp}{index % conversations:08d}", "message": item["message"]}
        for index, item in enumerate(sample_messages(count))
    ]


@contextmanager
def scratch_database(server: str) -> Iterator[URL]:
    """A new PostgreSQL database on `server`, dropped afterwards."""
    database = make_url(server).set(database=f"nb_bench_{uuid.uuid4().hex[:10]}")
    ensure_database(database)
    try:
        yield database
    finally:
        admin = sa.create_engine(make_url(server), isolation_level="AUTOCOMMIT", future=True)
        with admin.connect() as db:
            db.execute(sa.text(f'DROP DATABASE "{database.database}" WITH (FORCE)'))
        admin.dispose()


def sustained(url: str, seconds: float, payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """Steps through RATES until one fails; the highest that held, and every step's figures."""
    for warm in payloads[:5]:  # the first messages of a process load TensorFlow's graphs
        run_open_loop(url, [warm], 1, 1)
    best, steps = 0, []
    for rate in RATES:
        step = run_open_loop(url, payloads, rate, seconds).summary()
        steps.append(step)
        print(
            f"   {rate:>4} msg/s: answered {step['answered']}/{step['sent']}, "
            f"p95 {step['p95_ms'] or 0:.0f} ms",
            flush=True,
        )
        if step["errors"] or step["answered"] < step["sent"] or step["p95_ms"] > P95_LIMIT_MS:
            break
        best = rate
    return {"sustained_rate": best, "steps": steps}


def stored_once(database: URL, payloads: list[dict[str, Any]], answered: int) -> dict[str, int]:
    """Messages of the benchmark's sessions in PostgreSQL against those answered."""
    prefix = str(payloads[0]["session"])[:17]
    engine = sa.create_engine(database, future=True)
    with engine.connect() as db:
        stored = db.execute(
            sa.text("SELECT count(*) FROM events WHERE type_name = 'user' AND sender_id LIKE :p"),
            {"p": f"web-{prefix}%"},
        ).scalar_one()
    engine.dispose()
    return {
        "answered": answered,
        "stored": int(stored),
        "lost": max(answered - stored, 0),
        "doubled": max(stored - answered, 0),
    }


def one_process(model: Path, work: Path, seconds: float, production: URL | None) -> dict:
    """One server pair: SQLite, or the production profile on `production`."""
    settings = RunSettings(
        port=free_port(), action_port=free_port(), model=model, tracker_db=work / "tracker.db"
    )
    settings.extra_env["REQUESTS_DB_URL"] = f"sqlite:///{work / 'requests.db'}"
    if production is not None:
        settings.endpoints = paths.ENDPOINTS_PRODUCTION
        settings.extra_env.update(shared_state_env(production, f"bench{uuid.uuid4().hex}"))
    with Servers(settings) as servers:
        servers.start(timeout=600, log_dir=work)
        return sustained(settings.url + WEB_PATH, seconds, web_payloads(400, 400))


def two_replicas(model: Path, work: Path, seconds: float, database: URL) -> dict:
    """Two replicas behind nginx; then the no-loss check with 50 conversations at once."""
    settings = ClusterSettings(
        replicas=2,
        port=free_port(),
        ports=[(free_port(), free_port()), (free_port(), free_port())],
        state=work / "cluster",
        model=model,
    )
    settings.extra_env.update(shared_state_env(database, f"bench{uuid.uuid4().hex}"))
    with Cluster(settings) as cluster:
        cluster.start(timeout=600)
        figures = sustained(settings.url + WEB_PATH, seconds, web_payloads(400, 400))
        rate = max(figures["sustained_rate"], 10)
        payloads = web_payloads(int(rate * seconds), CONVERSATIONS)
        load = run_open_loop(settings.url + WEB_PATH, payloads, rate, seconds).summary()
        time.sleep(1)
        figures["no_loss"] = {"rate": rate, **stored_once(database, payloads, load["answered"])}
        figures["no_loss"]["errors"] = load["errors"]
    return figures


def table(results: dict[str, dict]) -> str:
    """The Markdown table of the run."""
    one = results["one process, SQLite"]["sustained_rate"]
    lines = [
        "| set-up | sustained msg/s (p95 < 250 ms) | vs one process (SQLite) |",
        "| --- | --- | --- |",
    ]
    for name, figures in results.items():
        rate = figures["sustained_rate"]
        ratio = f"{rate / one:.2f}x" if one else "-"
        lines.append(f"| {name} | {rate} | {ratio} |")
    check = results["two replicas behind nginx"]["no_loss"]
    lines.append("")
    lines.append(
        f"{CONVERSATIONS} conversations at {check['rate']} msg/s through nginx: answered "
        f"{check['answered']}, stored {check['stored']}, lost {check['lost']}, doubled "
        f"{check['doubled']}, errors {check['errors']}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs the three set-ups and writes the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per rate step")
    parser.add_argument("--postgres", default=DEFAULT_PG, help="a PostgreSQL server URL")
    parser.add_argument("--model", default=str(paths.MODEL))
    args = parser.parse_args(argv)
    model = Path(args.model).resolve()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as folder:
        work = Path(folder)
        print("-- one process, SQLite", flush=True)
        (work / "sqlite").mkdir()
        results["one process, SQLite"] = one_process(model, work / "sqlite", args.seconds, None)
        with scratch_database(args.postgres) as database:
            print("-- one process, PostgreSQL and Redis", flush=True)
            (work / "pg").mkdir()
            results["one process, PostgreSQL and Redis"] = one_process(
                model, work / "pg", args.seconds, database
            )
        with scratch_database(args.postgres) as database:
            print("-- two replicas behind nginx", flush=True)
            results["two replicas behind nginx"] = two_replicas(model, work, args.seconds, database)
    out = RESULTS / f"cluster-{dt.date.today().isoformat()}-{secrets.token_hex(2)}.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\n{table(results)}\n\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
