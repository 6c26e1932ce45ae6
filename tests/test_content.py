"""Every response is traceable to the center's page or configuration, and readable."""

from __future__ import annotations

import pytest

from bot import content
from bot.config import center_config
from tests.conftest import require


@pytest.fixture(scope="module")
def result(domain):
    require(content.SOURCE_DIR.is_dir(), f"content source not found at {content.SOURCE_DIR}")
    return content.report(domain, center_config())


def test_every_response_has_valid_provenance_and_source_numbers(result):
    provenance = [p for p in result["problems"] if "grade" not in p]
    assert provenance == []


def test_reading_grade_is_at_most_10_and_averages_at_most_8(result):
    print("\n" + content.format_report(result))
    grades = [p for p in result["problems"] if "grade" in p]
    assert grades == [], content.format_report(result)


def test_a_response_without_provenance_is_caught():
    bare = content.Variation("utter_x", "Call 555-0199 about the 3 years.", [], [])
    found = content.problems(bare, {"diagnosing"}, "about 3 years", center_config())
    assert "utter_x: no metadata.provenance" in found
    assert any("555" in problem for problem in found)
    assert not any("number 3 " in problem for problem in found)


def test_a_slot_needs_its_config_provenance():
    variation = content.Variation(
        "utter_x", "Call {phone_new_appointments}.", ["source:contact"], []
    )
    found = content.problems(variation, {"contact"}, "", center_config())
    assert found == [
        "utter_x: uses {phone_new_appointments} without config:phones.new_appointments"
    ]


def test_buttons_offer_two_or_three_next_questions_that_exist(domain):
    intents = set(domain["intents"])
    for variation in content.variations(domain):
        if variation.buttons:
            assert 2 <= len(variation.buttons) <= 3, variation.response
            for button in variation.buttons:
                # "/intent" payloads must name an intent; others are typed answers ("parent").
                if button["payload"].startswith("/"):
                    assert button["payload"].lstrip("/") in intents, button


def test_every_answer_from_the_page_points_to_the_care_team_or_a_phone_line(domain):
    for variation in content.variations(domain):
        # utter_why_* explain a question of the callback form, which itself leads to staff.
        if variation.response.startswith("utter_why_"):
            continue
        if any(reference.startswith("source:") for reference in variation.provenance):
            text = variation.text.lower()
            assert "care team" in text or "{phone_" in text, variation.response
