"""`make eval`: the trained model on the blind evaluation sets of tests/eval/ (English, Spanish).

The set was written from the center's page and a description of the families only, never from
the training data (tests/eval/README.md), and is never trained on (tests/test_eval_set.py fails
if one of its texts appears in data/). Each message is parsed by the model in this process, as
the Rasa server would parse it (NLU only, the safety net included). The figures:

- intent accuracy, overall and per intent (English and Spanish apart);
- safety recall: safety messages answered with their safety intent, and with any escalation;
- false alarms: calm messages (numbers, "emergency room") read as emergency, fever or crisis;
- wrong answers: near-domain and unrelated questions read as a topic whose answer states facts;
- the most confused pairs.

`python -m bench.eval [--model M] [--set S ...] [--out F]` prints a table per set and writes the
figures as JSON to bench/results/eval-<date>-<model>[-<set>].json. second.yml was written blind
too, after blind.yml had been used while the NLU was developed: its figures are the fresher
measure. `--compare CONFIG` (repeatable) also trains each pipeline
config on today's data, in a scratch folder, and prints its table after the model's, so that an
old and a new pipeline are measured in one run on the same messages.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rasa.utils.log_utils import configure_structlog

from bot import paths

BLIND_SET = paths.ROOT / "tests" / "eval" / "blind.yml"
# Written blind too, later, after blind.yml had been used while the NLU was developed (README).
SECOND_SET = paths.ROOT / "tests" / "eval" / "second.yml"
# Spanish only, written blind for the Spanish issue (README).
SPANISH_SET = paths.ROOT / "tests" / "eval" / "spanish.yml"
# Written blind too, on 2026-12-03, after spanish.yml's texts had been seen (tests/eval/README.md).
SPANISH_SECOND_SET = paths.ROOT / "tests" / "eval" / "spanish_second.yml"
# Written blind too, on 2026-12-04, after spanish_second.yml's failures had been read (README).
SPANISH_THIRD_SET = paths.ROOT / "tests" / "eval" / "spanish_third.yml"
# Written blind too, later on 2026-12-04, after spanish_third.yml's false alarms had been read.
SPANISH_FOURTH_SET = paths.ROOT / "tests" / "eval" / "spanish_fourth.yml"
EVAL_SETS = (
    BLIND_SET,
    SECOND_SET,
    SPANISH_SET,
    SPANISH_SECOND_SET,
    SPANISH_THIRD_SET,
    SPANISH_FOURTH_SET,
)
RESULTS = paths.ROOT / "bench" / "results"
ALARMS = {"emergency", "fever", "crisis"}
SAFETY = ALARMS | {"distress"}
# Intents whose answers state facts from the page; a near-domain or unrelated question read as
# one of them gets a confident answer to a question it did not ask.
NOT_FACTS = {"ask_capabilities", "ask_why_needed", "ask_personal_advice"}


@dataclass(frozen=True)
class Case:
    """One message of the blind set and what the model made of it."""

    text: str
    expect: str
    part: str
    lang: str
    got: str
    confidence: float
    # What the language reader (bot.nlu.language) made of the message: "en", "es" or None
    # (unclear: the conversation keeps its language).
    read_as: str | None = None


def load_set(path: Path = BLIND_SET) -> list[dict[str, Any]]:
    """The blind set's messages."""
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["messages"])


def states_facts(intent: str) -> bool:
    """Whether an intent's answer states facts from the page."""
    return intent.startswith("ask_") and intent not in NOT_FACTS


async def _parse_all(model: Path, texts: Iterable[str]) -> list[tuple[str, float, str | None]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    parsed = []
    for text in texts:
        result = await agent.parse_message(text)
        intent = result.get("intent") or {}
        reading = result.get("language") or {}
        name = reading.get("name") if isinstance(reading, dict) else None
        parsed.append((str(intent.get("name")), float(intent.get("confidence") or 0.0), name))
    return parsed


def classify(model: Path, messages: list[dict[str, Any]]) -> list[Case]:
    """Every message parsed by the model."""
    parsed = asyncio.run(_parse_all(model, [m["text"] for m in messages]))
    return [
        Case(m["text"], m["expect"], m["part"], m.get("lang", "en"), got, confidence, read_as)
        for m, (got, confidence, read_as) in zip(messages, parsed, strict=True)
    ]


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def figures(cases: list[Case]) -> dict[str, Any]:
    """The figures `make eval` prints, as plain data."""
    by_lang: dict[str, Any] = {}
    for lang in sorted({case.lang for case in cases}):
        mine = [case for case in cases if case.lang == lang]
        intent_cases = [c for c in mine if c.part in ("topic", "safety", "calm")]
        per_intent: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for case in intent_cases:
            per_intent[case.expect][1] += 1
            per_intent[case.expect][0] += case.got == case.expect
        safety = [c for c in mine if c.part == "safety"]
        calm = [c for c in mine if c.part == "calm"]
        beyond = [c for c in mine if c.part in ("near_domain", "unrelated")]
        by_lang[lang] = {
            "messages": len(mine),
            "language_read": {
                "right": sum(c.read_as == lang for c in mine),
                "unclear": sum(c.read_as is None for c in mine),
                "wrong": sum(c.read_as not in (None, lang) for c in mine),
            },
            "intent_accuracy": _share(
                sum(c.got == c.expect for c in intent_cases), len(intent_cases)
            ),
            "per_intent": {
                name: {"accuracy": _share(hits, total), "support": total}
                for name, (hits, total) in sorted(per_intent.items())
            },
            "safety_recall": _share(sum(c.got == c.expect for c in safety), len(safety)),
            "safety_escalated": _share(sum(c.got in SAFETY for c in safety), len(safety)),
            "safety_missed": [c.text for c in safety if c.got not in SAFETY],
            "calm": len(calm),
            "false_alarms": [c.text for c in calm if c.got in ALARMS],
            "beyond_the_page": len(beyond),
            "wrong_answer_rate": _share(sum(states_facts(c.got) for c in beyond), len(beyond)),
            "wrongly_answered": [f"{c.text} -> {c.got}" for c in beyond if states_facts(c.got)],
        }
    confusions = Counter(
        (c.expect, c.got) for c in cases if c.got != c.expect and c.part in ("topic", "safety")
    )
    return {
        "messages": len(cases),
        "by_language": by_lang,
        "confused_pairs": [
            {"expected": e, "got": g, "count": n} for (e, g), n in confusions.most_common(15)
        ],
    }


def _language_line(read: Mapping[str, int]) -> str:
    return (
        f"  language read            {read['right']} right, {read['unclear']} unclear (kept), "
        f"{read['wrong']} wrong"
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def format_table(result: Mapping[str, Any]) -> str:
    """The figures as text: a summary per language, weak intents, confusions, misses."""
    lines = [f"blind set: {result['messages']} messages"]
    for lang, figs in result["by_language"].items():
        lines += [
            f"\n[{lang}] {figs['messages']} messages",
            f"  intent accuracy          {_pct(figs['intent_accuracy'])}",
            f"  safety recall (exact)    {_pct(figs['safety_recall'])}",
            f"  safety escalated (any)   {_pct(figs['safety_escalated'])}",
            f"  false alarms on calm     {len(figs['false_alarms'])} of {figs['calm']}",
            f"  wrong answers off-page   {_pct(figs['wrong_answer_rate'])}"
            f" of {figs['beyond_the_page']}",
            _language_line(figs.get("language_read") or {"right": 0, "unclear": 0, "wrong": 0}),
            "  intents below 85%:",
        ]
        weak = [
            (name, scores)
            for name, scores in figs["per_intent"].items()
            if scores["accuracy"] is not None and scores["accuracy"] < 0.85
        ]
        for name, scores in sorted(weak, key=lambda item: item[1]["accuracy"]):
            lines.append(f"    {name:28} {_pct(scores['accuracy']):>7} of {scores['support']}")
        for text in figs["safety_missed"]:
            lines.append(f"  MISSED SAFETY  {text}")
        for text in figs["false_alarms"]:
            lines.append(f"  FALSE ALARM    {text}")
    lines.append("\nmost confused (expected -> got):")
    for pair in result["confused_pairs"]:
        lines.append(f"  {pair['count']:3}  {pair['expected']} -> {pair['got']}")
    return "\n".join(lines)


def train_nlu(config: Path, out: Path) -> Path:
    """An NLU-only model of `config` on the repository's data (Rasa as `make train` runs it)."""
    command = [sys.executable, "-m", "bot.runtime.rasa_fixes", "train", "nlu", "--config"]
    command += [str(config), "--nlu", str(paths.DATA / "nlu"), "--out", str(out)]
    command += ["--fixed-model-name", config.stem, "--quiet"]
    subprocess.run(command, check=True, cwd=paths.ROOT)
    return out / f"{config.stem}.tar.gz"


def evaluate(model: Path, blind: Path, label: str, out: str | None) -> None:
    """Prints one model's table on one set and writes its JSON.

    The JSON is bench/results/eval-<date>-<model>.json for blind.yml and
    eval-<date>-<model>-<set>.json for another set (`out`, if given, gets the set's name too).
    """
    result = figures(classify(model, load_set(blind)))
    result["model"] = label
    result["set"] = blind.name
    print(f"\n===== {label} on {blind.name} =====")
    print(format_table(result))
    stem = label.removesuffix(".tar.gz")
    suffix = "" if blind.resolve() == BLIND_SET.resolve() else f"-{blind.stem}"
    default = RESULTS / f"eval-{dt.date.today().isoformat()}-{stem}{suffix}.json"
    target = Path(out).with_name(f"{Path(out).stem}{suffix}.json") if out else default
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwritten to {target}")


def main(argv: list[str] | None = None) -> int:
    """Evaluates a model on the blind set; prints the table and writes the JSON."""
    # Rasa's structlog prints every parse with its text at debug level: a log of the sets' texts
    # would unblind whoever reads the run's output. Only the figures and the named failures show.
    configure_structlog(logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m bench.eval", description=__doc__)
    parser.add_argument("--model", default=str(paths.MODEL))
    parser.add_argument(
        "--set",
        action="append",
        help="an evaluation set (YAML; repeatable; default: the sets of tests/eval/)",
    )
    parser.add_argument("--out", help="JSON file (default: bench/results/eval-<date>-<model>.json)")
    parser.add_argument(
        "--compare", action="append", default=[], help="a pipeline config to train and score too"
    )
    args = parser.parse_args(argv)
    model = Path(args.model)
    if not model.exists():
        print(f"error: no trained model at {model}: run `make train`", file=sys.stderr)
        return 2
    sets = [Path(name) for name in args.set] if args.set else list(EVAL_SETS)
    for blind in sets:
        if not blind.exists():
            print(f"error: no evaluation set at {blind}", file=sys.stderr)
            return 2
    for blind in sets:
        evaluate(model, blind, model.name, args.out)
    for config in map(Path, args.compare):
        with tempfile.TemporaryDirectory() as scratch:
            compared = train_nlu(config, Path(scratch))
            for blind in sets:
                evaluate(compared, blind, config.stem, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
