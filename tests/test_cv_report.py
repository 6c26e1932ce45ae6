"""`python -m bot cv-report`: Rasa's cross-validation report as a table, weakest intent first."""

from __future__ import annotations

import json

from bot.cli import main

REPORT = {
    "affirm": {"precision": 1.0, "recall": 0.9, "f1-score": 0.947, "support": 20},
    "ask_mibg_stay": {"precision": 0.7, "recall": 0.6, "f1-score": 0.646, "support": 41},
    "accuracy": 0.81,
    "macro avg": {"precision": 0.85, "recall": 0.75, "f1-score": 0.797, "support": 61},
    "weighted avg": {"precision": 0.8, "recall": 0.7, "f1-score": 0.75, "support": 61},
}


def test_table_lists_intents_weakest_first_with_the_averages(tmp_path, capsys):
    (tmp_path / "intent_report.json").write_text(json.dumps(REPORT))
    assert main(["cv-report", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split()[0] for line in lines[1:3]]
    assert rows == ["ask_mibg_stay", "affirm"]
    assert "weighted" not in "\n".join(lines[1:-1])
    assert lines[-1] == "intents: 2  macro F1: 0.797  accuracy: 0.810"


def test_a_folder_without_a_report_says_what_to_run(tmp_path, capsys):
    assert main(["cv-report", str(tmp_path)]) == 2
    assert "make cross-validate" in capsys.readouterr().err
