"""Every response is traceable to the center's page or configuration, and readable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot import paths
from bot.center.config import center_config
from bot.devtools import content_check


@pytest.fixture(scope="module")
def result(domain):
    return content_check.report(domain, center_config())


def test_every_response_has_valid_provenance_and_source_numbers(result):
    provenance = [p for p in result["problems"] if "grade" not in p]
    assert provenance == []


def test_reading_grade_is_at_most_10_and_averages_at_most_8(result):
    print("\n" + content_check.format_report(result))
    grades = [p for p in result["problems"] if "grade" in p]
    assert grades == [], content_check.format_report(result)


def test_a_response_without_provenance_is_caught():
    bare = content_check.Variation("utter_x", "Call 555-0199 about the 3 years.", [], [])
    found = content_check.problems(bare, {"diagnosing"}, "about 3 years", center_config())
    assert "utter_x: no metadata.provenance" in found
    assert any("555" in problem for problem in found)
    assert not any("number 3 " in problem for problem in found)


def test_a_slot_needs_its_config_provenance():
    variation = content_check.Variation(
        "utter_x", "Call {phone_new_appointments}.", ["source:contact"], []
    )
    found = content_check.problems(variation, {"contact"}, "", center_config())
    assert found == [
        "utter_x: uses {phone_new_appointments} without config:phones.new_appointments"
    ]


def test_buttons_offer_two_or_three_next_questions_that_exist(domain):
    intents = set(domain["intents"])
    for variation in content_check.variations(domain):
        if variation.buttons:
            assert 2 <= len(variation.buttons) <= 3, variation.response
            for button in variation.buttons:
                # "/intent" payloads must name an intent; others are typed answers ("parent").
                if button["payload"].startswith("/"):
                    assert button["payload"].lstrip("/") in intents, button


def test_every_answer_from_the_page_points_to_the_care_team_or_a_phone_line(domain):
    for variation in content_check.variations(domain):
        # utter_why_* explain a question of the callback form, which itself leads to staff.
        if variation.response.startswith("utter_why_"):
            continue
        if any(reference.startswith("source:") for reference in variation.provenance):
            text = variation.text.lower()
            team = "equipo médico" if variation.language == "es" else "care team"
            assert team in text or "{phone_" in text, variation.response


def test_the_page_is_kept_in_the_repository():
    source = content_check.load_source(paths.CONTENT_SOURCE)
    assert {"mibg", "trials", "contact"} <= source.sections
    assert "MIBG" in source.text


def test_the_repository_copy_is_the_shared_page_when_it_is_there():
    shared = paths.ROOT.parent / "shared" / "content-source"
    if not shared.is_dir():
        pytest.skip("no ../shared/content-source beside this clone to compare with")
    for name in (content_check.SOURCE_README, content_check.SOURCE_TEXT):
        assert (paths.CONTENT_SOURCE / name).read_bytes() == (shared / name).read_bytes(), name


def test_content_source_setting_points_elsewhere(tmp_path, monkeypatch):
    (tmp_path / content_check.SOURCE_README).write_text("- mibg: I-131 MIBG\n")
    (tmp_path / content_check.SOURCE_TEXT).write_text("MIBG therapy")
    monkeypatch.setenv(content_check.SOURCE_ENV, str(tmp_path))
    assert content_check.load_source().sections == {"mibg"}


def test_a_missing_page_is_one_line_naming_the_setting(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "content-check"],
        cwd=paths.ROOT,
        env={**os.environ, content_check.SOURCE_ENV: str(tmp_path / "nowhere")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "CONTENT_SOURCE" in lines[0] and "Traceback" not in result.stderr
