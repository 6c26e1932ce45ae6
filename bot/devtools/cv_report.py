"""Per-intent scores from `rasa test nlu --cross-validation` output (`make cross-validate`).

Rasa writes `intent_report.json` with scikit-learn's classification report; this prints it as a
table, weakest intent first, so the intents that need better examples are at the top.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPORT_FILE = "intent_report.json"
_AVERAGES = {"micro avg", "macro avg", "weighted avg"}


class ReportMissing(Exception):
    """The folder holds no cross-validation report."""


def load(folder: Path) -> dict[str, Any]:
    """The parsed report in `folder`.

    Raises:
        ReportMissing: there is no report there.

    """
    path = folder / REPORT_FILE
    if not path.exists():
        raise ReportMissing(f"{path} not found; run `make cross-validate` first")
    return json.loads(path.read_text(encoding="utf-8"))


def intent_scores(report: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The report's rows for intents (averages and accuracy left out)."""
    return {
        name: scores
        for name, scores in report.items()
        if isinstance(scores, dict) and "f1-score" in scores and name not in _AVERAGES
    }


def format_table(report: Mapping[str, Any]) -> str:
    """The per-intent table, weakest F1 first, then macro F1 and accuracy."""
    intents = intent_scores(report)
    lines = [f"{'intent':32} {'f1':>6} {'precision':>9} {'recall':>7} {'support':>7}"]
    for name, scores in sorted(intents.items(), key=lambda item: item[1]["f1-score"]):
        lines.append(
            f"{name:32} {scores['f1-score']:6.3f} {scores['precision']:9.3f} "
            f"{scores['recall']:7.3f} {scores['support']:7}"
        )
    macro = report.get("macro avg", {}).get("f1-score", float("nan"))
    accuracy = report.get("accuracy", float("nan"))
    lines.append(f"\nintents: {len(intents)}  macro F1: {macro:.3f}  accuracy: {accuracy:.3f}")
    return "\n".join(lines)
