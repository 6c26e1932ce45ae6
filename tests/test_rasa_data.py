"""Rasa's own checks on the training data and the test stories."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bot import paths
from bot.paths import ROOT
from bot.runtime.launcher import RunSettings, server_env

_UNUSED = re.compile(r"The utterance '(\w+)' is not used in any story or rule")


def _rasa(*args: str) -> subprocess.CompletedProcess:
    env = server_env(RunSettings())
    return subprocess.run(
        [sys.executable, "-m", "bot.runtime.rasa_fixes", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def used_outside_rules(domain: dict) -> set[str]:
    """Responses a form asks with, or code sends (the action server, or the Rasa server's own
    session start and apology in bot/runtime/), which rules never name."""
    form_slots = {
        slot for form in domain.get("forms", {}).values() for slot in form["required_slots"]
    }
    sources = [*(ROOT / "actions").glob("*.py"), *paths.RUNTIME.glob("*.py")]
    action_code = "\n".join(path.read_text() for path in sources)
    named_in_actions = set(re.findall(r"\"(utter_\w+)\"", action_code))
    asked = {f"utter_ask_{slot}" for slot in form_slots}
    explained = (
        {f"utter_why_{slot}" for slot in form_slots} if "utter_why_{" in action_code else set()
    )
    return asked | explained | named_in_actions


@pytest.mark.rasa_process
def test_data_validates_without_warnings(domain):
    result = _rasa("data", "validate", "--fail-on-warnings")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    warnings = [line for line in output.splitlines() if "UserWarning" in line and "rasa" in line]
    unexplained = [
        line
        for line in warnings
        if not ((match := _UNUSED.search(line)) and match.group(1) in used_outside_rules(domain))
    ]
    assert unexplained == []


def test_story_tests_pass_without_prediction_errors(trained_model, tmp_path):
    # --e2e: each `user:` message is classified by the model (without it Rasa checks only the
    # dialogue, from the story's own intents), and only files named test_*.yml are read.
    result = _rasa(
        "test",
        "core",
        "--model",
        str(trained_model),
        "--stories",
        "tests/stories",
        "--e2e",
        "--fail-on-prediction-errors",
        "--out",
        str(tmp_path),
    )
    failed = tmp_path / "failed_test_stories.yml"
    detail = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:] + detail
    assert (tmp_path / "story_report.json").exists()
