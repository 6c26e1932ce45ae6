"""Rasa's own checks on the training data and the test stories."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.launcher import ROOT, RunSettings, server_env


def _rasa(*args: str) -> subprocess.CompletedProcess:
    env = server_env(RunSettings())
    return subprocess.run(
        [sys.executable, "-m", "rasa", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_data_validates_without_warnings():
    result = _rasa("data", "validate", "--fail-on-warnings")
    output = result.stdout + result.stderr
    rasa_warnings = [
        line for line in output.splitlines() if "UserWarning" in line and "rasa" in line
    ]
    assert result.returncode == 0, output[-3000:]
    assert rasa_warnings == []


def test_story_tests_pass_without_prediction_errors(trained_model, tmp_path):
    result = _rasa(
        "test",
        "core",
        "--model",
        str(trained_model),
        "--stories",
        "tests/stories",
        "--fail-on-prediction-errors",
        "--out",
        str(tmp_path),
    )
    failed = tmp_path / "failed_test_stories.yml"
    detail = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:] + detail
    assert os.path.exists(tmp_path / "story_report.json")
