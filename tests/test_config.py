"""The center configuration: validated on load, fictional values flagged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.center.config import DEFAULT_PATH, SLOT_KEYS, ConfigError, load_center_config
from bot.runtime.launcher import fictional_warning


def _write(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    change(data)
    path = tmp_path / "center.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_shipped_example_is_complete_and_flagged_as_fictional():
    config = load_center_config(DEFAULT_PATH)
    assert set(config.values) == set(SLOT_KEYS)
    assert "config:phones.existing_patients" in config.fictional_values()
    assert "FICTIONAL" in fictional_warning(config)


def test_real_values_raise_no_warning(tmp_path):
    def real(data):
        data["phones"] = {key: "+1 212 639 2000" for key in data["phones"]}
        data["links"] = {key: "https://hospital.test/nb" for key in data["links"]}

    config = load_center_config(_write(tmp_path, real))
    assert config.fictional_values() == []
    assert fictional_warning(config) is None


def test_phone_numbers_are_normalised_for_the_region_and_abroad():
    config = load_center_config(DEFAULT_PATH)
    assert config.values["phone_existing_patients"] == "(215) 555-0100"
    assert config.values["phone_international"] == "+1 215-555-0103"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda data: data["phones"].pop("international"), "phones.international is missing"),
        (lambda data: data["safety"].update(crisis_line=" "), "safety.crisis_line is missing"),
        (
            lambda data: data["phones"].update(new_appointments="12"),
            "phones.new_appointments: '12' is not a possible phone number",
        ),
        (
            lambda data: data["phones"].update(existing_patient="215-555-0100"),
            "phones.existing_patient: unknown setting; known: existing_patients, international",
        ),
        (
            lambda data: data["center"].update(phone_region="XX"),
            "center.phone_region: 'XX' is not a region code",
        ),
    ],
)
def test_a_wrong_value_is_refused_naming_its_key(tmp_path, change, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)):
        load_center_config(_write(tmp_path, change))


def test_an_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_center_config(tmp_path / "missing.yml")


def test_every_problem_is_named_at_once(tmp_path):
    def two_mistakes(data):
        data["safety"]["crisis_line"] = ""
        data["links"].pop("website")

    with pytest.raises(ConfigError) as error:
        load_center_config(_write(tmp_path, two_mistakes))
    assert "links.website is missing" in str(error.value)
    assert "safety.crisis_line is missing" in str(error.value)
