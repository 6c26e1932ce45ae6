"""Replays an evaluation set through the real assistant, so staff review can be tried on it.

`python -m bench.replay --set tests/eval/blind.yml --db var/replay/tracker.db` starts the action
server and the Rasa server (with the REST channel, on free loopback ports) on a conversation
store of its own, sends every message of the set as the first message of its own conversation,
and stops. `python -m bot review --db var/replay/tracker.db --requests-db sqlite:///...` then
shows what the assistant could not place, as it would after a week of real families.

The store it writes holds the set's texts: keep it out of `data/` and out of anything the NLU is
trained on (tests/eval/README.md). Only sets whose misses may be read should be replayed:
`blind.yml` was already read while the NLU was developed; `second.yml` and `spanish.yml` are
kept unread so that they still measure honestly.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import urllib.request
from pathlib import Path

import yaml

from bot.runtime.launcher import RunSettings, Servers


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _send(url: str, sender: str, text: str) -> None:
    body = json.dumps({"sender": sender, "message": text}).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        answer.read()


def main(argv: list[str] | None = None) -> int:
    """Replays the set; prints how many messages were sent."""
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__)
    parser.add_argument("--set", required=True, help="an evaluation set (YAML)")
    parser.add_argument("--db", required=True, help="the SQLite conversation store to write")
    args = parser.parse_args(argv)
    messages = yaml.safe_load(Path(args.set).read_text(encoding="utf-8"))["messages"]
    tracker_db = Path(args.db).resolve()
    tracker_db.parent.mkdir(parents=True, exist_ok=True)
    settings = RunSettings(
        port=_free_port(),
        action_port=_free_port(),
        tracker_db=tracker_db,
        rest=True,
    )
    settings.extra_env["REQUESTS_DB_URL"] = f"sqlite:///{tracker_db.parent / 'requests.db'}"
    url = f"{settings.url}/webhooks/rest/webhook"
    with Servers(settings) as servers:
        servers.start(log_dir=tracker_db.parent)
        for message in messages:
            _send(url, f"replay-{secrets.token_hex(6)}", str(message["text"]))
    print(
        f"Sent {len(messages)} messages to {tracker_db}; now: python -m bot review --db {args.db}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
