"""`make profile`: where the Rasa server spends its time under open-loop load.

The benchmark says how fast the server is; this says why. It starts the trained model with the
action server (as `make run` does, on a scratch tracker database), sends messages at a fixed rate
through the REST channel, and samples the Rasa server with py-spy meanwhile. It prints the
functions with the largest share of samples, counting a function once per sample however deep it
recurs (inclusive), saves that report in bench/results/, and keeps the raw collapsed stacks (large)
in var/ for a flame graph tool.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.load import run_open_loop
from bench.run import RESULTS, post_json, sample_messages
from bot.paths import ROOT
from bot.runtime.launcher import RunSettings, Servers, free_port

PY_SPY = str(Path(sys.executable).parent / "py-spy")
# Frames of these files are where time goes, not just wrappers around it.
UNINTERESTING = ("asyncio/", "sanic/", "dask/", "runpy.py", "threading.py", "concurrent/futures")


def _frame_name(frame: str) -> str:
    """`function (path/to/file.py:12)` -> `function (to/file.py)`: lines differ per sample."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0].rstrip(")")
    short = "/".join(Path(path).parts[-2:])
    return f"{name} ({short})"


def shares(collapsed: str) -> tuple[int, collections.Counter, collections.Counter]:
    """Total samples, and samples per function: inclusive and own (leaf)."""
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(frame) for frame in stack.split(";")]
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    return total, inclusive, own


def report(collapsed: str, top: int) -> str:
    """A plain-text table of the largest inclusive and own shares."""
    total, inclusive, own = shares(collapsed)
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "inclusive share (function and everything it calls):"]
    shown = 0
    for name, count in inclusive.most_common():
        # Entry points (main, serve, ...) are in every sample and say nothing.
        if count >= 0.99 * total or any(part in name for part in UNINTERESTING):
            continue
        lines.append(f"  {count / total:6.1%}  {name}")
        shown += 1
        if shown == top:
            break
    lines += ["", "own share (samples where the function itself was running):"]
    lines += [f"  {count / total:6.1%}  {name}" for name, count in own.most_common(top)]
    return "\n".join(lines)


def profile(rate: float, seconds: float, model: Path, top: int) -> str:
    """Runs the load while py-spy samples the Rasa server; returns the report."""
    raw = ROOT / "var" / f"profile-{dt.date.today().isoformat()}-{rate:g}msgs.collapsed"
    raw.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nb-profile-") as scratch:
        work = Path(scratch)
        settings = RunSettings(
            port=free_port(),
            action_port=free_port(),
            model=model,
            tracker_db=work / "tracker.db",
            rest=True,
        )
        with Servers(settings) as servers:
            servers.start(timeout=600, log_dir=work)
            url = f"{settings.url}/webhooks/rest/webhook"
            post_json(url, {"sender": "warm-up", "message": "hello"})
            pid = str(servers.processes["rasa"].pid)
            # py-spy samples in its own process while the load runs here.
            spy = subprocess.Popen(
                [
                    PY_SPY,
                    "record",
                    "--pid",
                    pid,
                    "--rate",
                    "200",
                    "--duration",
                    str(int(seconds)),
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            load = run_open_loop(url, sample_messages(), rate, seconds).summary()
            _, errors = spy.communicate(timeout=seconds + 60)
    if spy.returncode != 0:
        raise RuntimeError(f"py-spy failed: {errors}")
    header = (
        f"load at {rate:g} msg/s for {seconds:g} s: answered {load['answered']}/{load['sent']}, "
        f"p50 {load['p50_ms']:.0f} ms, p95 {load['p95_ms']:.0f} ms\n"
        f"raw stacks: {raw.relative_to(ROOT)}\n"
    )
    return header + report(raw.read_text(), top)


def main(argv: list[str] | None = None) -> int:
    """Profiles the trained model at one arrival rate and prints where the time went."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the load")
    parser.add_argument("--model", type=Path, default=RunSettings().model)
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    args = parser.parse_args(argv)
    text = profile(args.rate, args.seconds, args.model, args.top)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"profile-{dt.date.today().isoformat()}-{args.rate:g}msgs.txt"
    path.write_text(text + "\n")
    print(text)
    print(f"\nwritten to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
