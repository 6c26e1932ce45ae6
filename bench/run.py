"""`make bench`: measure pipelines on this assistant's data, against Rasa's default pipeline.

For each config (the project's `config.yml` unless told otherwise, plus the baseline in the same
run, on the same data) it measures:

- NLU: k-fold cross-validation intent accuracy and macro F1, and the fallback rate on held-out
  out-of-scope messages (bench/heldout_out_of_scope.txt, never used in training);
- training time from an empty cache, and the time to retrain after one response's wording changed;
- ready time: from starting the servers to the first answered message;
- latency at a fixed arrival rate (open loop), the highest rate one server process sustains with
  p95 under 250 ms, and the resident memory of both servers after the load.

Each timing is repeated and the median reported: the machine is shared and noisy. Results go to
bench/results/<date>.json and a Markdown table is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.load import run_open_loop
from bot import paths
from bot.paths import ROOT
from bot.runtime.launcher import RunSettings, Servers, server_env

HELDOUT = ROOT / "bench" / "heldout_out_of_scope.txt"
RESULTS = ROOT / "bench" / "results"
BASELINE = ROOT / "bench" / "configs" / "rasa-default.yml"
P95_LIMIT_MS = 250.0
SUSTAIN_RATES = [10, 20, 30, 40, 50, 60, 80, 100, 120, 150, 200]
# A wording change that touches no intent, rule or NLU example.
CHANGED_RESPONSE = "utter_goodbye"


@dataclass
class Plan:
    """How much to measure; `--quick` shrinks everything for a smoke run."""

    repeats: int = 3
    train_repeats: int = 3
    folds: int = 5
    load_seconds: float = 20.0
    sustain_seconds: float = 10.0
    rate: float = 10.0


def _rasa(args: list[str], env: dict[str, str]) -> float:
    """Runs a rasa command; returns its wall time; raises with its output if it fails."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "rasa", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"rasa {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return time.perf_counter() - started


def _env(cache: Path) -> dict[str, str]:
    return {**server_env(RunSettings()), "RASA_CACHE_DIRECTORY": str(cache)}


def train_times(config: Path, work: Path, plan: Plan) -> dict[str, Any]:
    """Full training from an empty cache, then a retrain after one response's wording changed."""
    changed_domain = work / "domain-changed.yml"
    domain = yaml.safe_load(paths.DOMAIN.read_text())
    domain["responses"][CHANGED_RESPONSE][0]["text"] += " Be well."
    changed_domain.write_text(yaml.safe_dump(domain, sort_keys=False))

    full, retrain = [], []
    for run in range(plan.train_repeats):
        cache = work / f"cache-{run}"
        env = _env(cache)
        common = ["train", "--config", str(config), "--data", "data", "--out", str(work), "--quiet"]
        full.append(_rasa([*common, "--domain", "domain.yml", "--fixed-model-name", "full"], env))
        retrain.append(
            _rasa([*common, "--domain", str(changed_domain), "--fixed-model-name", "changed"], env)
        )
        shutil.rmtree(cache, ignore_errors=True)
    return {
        "train_s": statistics.median(full),
        "retrain_wording_s": statistics.median(retrain),
        "train_runs_s": full,
        "retrain_runs_s": retrain,
        "model": str(work / "full.tar.gz"),
    }


def cross_validation(config: Path, work: Path, plan: Plan) -> dict[str, Any]:
    """Intent accuracy and macro F1 over k folds (NLU only)."""
    out = work / "cv"
    args = ["test", "nlu", "--config", str(config), "--nlu", "data", "--cross-validation"]
    _rasa(
        [*args, "--folds", str(plan.folds), "--out", str(out), "--quiet"], _env(work / "cv-cache")
    )
    report = json.loads((out / "intent_report.json").read_text())
    per_intent = {
        name: scores["f1-score"]
        for name, scores in report.items()
        if isinstance(scores, dict) and name not in {"macro avg", "weighted avg", "micro avg"}
    }
    weakest = sorted(per_intent.items(), key=lambda item: item[1])[:5]
    return {
        "cv_accuracy": report["accuracy"],
        "cv_macro_f1": report["macro avg"]["f1-score"],
        "cv_weakest": weakest,
    }


def post_json(url: str, payload: dict) -> Any:
    """POSTs JSON to the server and decodes its JSON answer."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def sample_messages(count: int = 200, senders: int = 400) -> list[dict]:
    """Realistic messages (training examples, fixed sample) from a pool of conversations."""
    texts = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text())["nlu"]:
            texts += [line[2:].strip() for line in block["examples"].splitlines() if line.strip()]
    sample = random.Random(0).sample(texts, min(count, len(texts)))
    stamp = time.monotonic_ns()
    return [
        {"sender": f"bench-{stamp}-{index % senders}", "message": text}
        for index, text in enumerate(sample)
    ]


def _fallback_rate(settings: RunSettings) -> float:
    messages = [line for line in HELDOUT.read_text().splitlines() if line.strip()]
    handled = 0
    for text in messages:
        intent = post_json(settings.api("/model/parse"), {"text": text})["intent"]["name"]
        handled += intent in {"nlu_fallback", "out_of_scope"}
    return handled / len(messages)


def _start(model: Path, work: Path, run: int) -> tuple[Servers, float]:
    """Starts a fresh server pair; returns it and the seconds to its first answered message."""
    settings = RunSettings(
        port=5205,
        action_port=5255,
        model=model,
        tracker_db=work / f"tracker-{run}.db",
        rest=True,
        enable_api=True,
        api_token=secrets.token_urlsafe(24),
    )
    servers = Servers(settings)
    started = time.perf_counter()
    servers.start(timeout=600, log_dir=work)
    post_json(
        f"{settings.url}/webhooks/rest/webhook", {"sender": f"ready-{run}", "message": "hello"}
    )
    return servers, time.perf_counter() - started


def serving(model: Path, work: Path, plan: Plan, endpoint: str) -> dict[str, Any]:
    """Ready time, held-out fallback rate, latency under load, sustained rate and memory."""
    ready = []
    for run in range(plan.repeats - 1):
        servers, seconds = _start(model, work, run)
        servers.stop()
        ready.append(seconds)
    servers, seconds = _start(model, work, plan.repeats)
    ready.append(seconds)
    try:
        url = servers.settings.url
        payloads = sample_messages()
        fallback = _fallback_rate(servers.settings)
        runs = [
            run_open_loop(url + endpoint, payloads, plan.rate, plan.load_seconds).summary()
            for _ in range(plan.repeats)
        ]
        sustained, steps = 0, []
        for rate in SUSTAIN_RATES:
            step = run_open_loop(url + endpoint, payloads, rate, plan.sustain_seconds).summary()
            steps.append(step)
            if step["errors"] or step["answered"] < step["sent"] or step["p95_ms"] > P95_LIMIT_MS:
                break
            sustained = rate
        pids = {name: process.pid for name, process in servers.processes.items()}
        memory = {f"rss_{name}_mb": _rss_mb(pid) for name, pid in pids.items()}
    finally:
        servers.stop()
    return {
        "ready_s": statistics.median(ready),
        "ready_runs_s": ready,
        "heldout_fallback_rate": fallback,
        **{
            key: statistics.median(run[key] for run in runs)
            for key in ("p50_ms", "p95_ms", "p99_ms")
        },
        "load_runs": runs,
        "sustained_rate": sustained,
        "sustain_steps": steps,
        **memory,
    }


def measure(config: Path, plan: Plan, endpoint: str) -> dict[str, Any]:
    """Every figure for one config."""
    work = Path(tempfile.mkdtemp(prefix=f"bench-{config.stem}-"))
    try:
        print(f"-- {config}: training", flush=True)
        figures = train_times(config, work, plan)
        print(f"-- {config}: cross-validation", flush=True)
        figures.update(cross_validation(config, work, plan))
        print(f"-- {config}: serving", flush=True)
        figures.update(serving(Path(figures.pop("model")), work, plan, endpoint))
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


# (label, key, format, lower is better)
ROWS = [
    ("CV intent accuracy", "cv_accuracy", "{:.3f}", False),
    ("CV macro F1", "cv_macro_f1", "{:.3f}", False),
    ("held-out out-of-scope fallback rate", "heldout_fallback_rate", "{:.2f}", False),
    ("full training (s)", "train_s", "{:.0f}", True),
    ("retrain after wording change (s)", "retrain_wording_s", "{:.0f}", True),
    ("ready: start to first answer (s)", "ready_s", "{:.1f}", True),
    ("p50 at 10 msg/s (ms)", "p50_ms", "{:.0f}", True),
    ("p95 at 10 msg/s (ms)", "p95_ms", "{:.0f}", True),
    ("p99 at 10 msg/s (ms)", "p99_ms", "{:.0f}", True),
    ("sustained rate, p95 < 250 ms (msg/s)", "sustained_rate", "{:.0f}", False),
    ("Rasa server RSS after load (MB)", "rss_rasa_mb", "{:.0f}", True),
    ("action server RSS after load (MB)", "rss_actions_mb", "{:.0f}", True),
]


def table(results: dict[str, dict[str, Any]], baseline: str | None) -> str:
    """Markdown: one row per figure, one column per config, with the ratio to the baseline."""
    names = list(results)
    lines = ["| figure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, key, fmt, _ in ROWS:
        cells = []
        for name in names:
            value = results[name].get(key)
            base = results[baseline].get(key) if baseline in results else None
            cell = fmt.format(value) if value is not None else "n/a"
            if name != baseline and value is not None and base:
                cell += f" ({value / base:.2f}x)"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measures the configs and the baseline, writes the JSON, prints the table."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("configs", nargs="*", default=["config.yml"], help="configs to measure")
    parser.add_argument(
        "--baseline",
        default=str(BASELINE.relative_to(ROOT)),
        help='a config, or "none" to measure only the given configs',
    )
    parser.add_argument(
        "--endpoint", default="/webhooks/rest/webhook", help="channel the load goes through"
    )
    parser.add_argument("--repeats", type=int, default=Plan.repeats)
    parser.add_argument("--train-repeats", type=int, default=Plan.train_repeats)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    plan = Plan(repeats=args.repeats, train_repeats=args.train_repeats)
    if args.quick:
        plan = Plan(repeats=1, train_repeats=1, folds=2, load_seconds=3, sustain_seconds=2)

    # The baseline first: it is the slowest, and a run stopped later still has the reference.
    configs = ([] if args.baseline == "none" else [args.baseline]) + list(args.configs)
    baseline = Path(args.baseline).stem if args.baseline != "none" else None
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{dt.date.today().isoformat()}.json"
    results: dict[str, dict[str, Any]] = {}
    for config in configs:
        name = Path(config).stem if config != "config.yml" else "config.yml"
        results[name] = measure(ROOT / config, plan, args.endpoint)
        # Written after every config, so a stopped run keeps what it measured.
        record = {
            "plan": plan.__dict__,
            "endpoint": args.endpoint,
            "baseline": baseline,
            "results": results,
        }
        path.write_text(json.dumps(record, indent=2))
    print(f"\nwritten to {path.relative_to(ROOT)}\n")
    print(table(results, baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
