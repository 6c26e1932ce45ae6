"""The center's configuration: the one place center-specific facts come from.

Responses never hard-code a phone number, name or link; they name a slot, and the action server
fills every such slot from this file when a conversation session starts. The file is read once per
process (`center_config()`), validated on load so a typo fails at start-up, not in front of a
family.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import phonenumbers
import yaml

DEFAULT_PATH = Path(__file__).with_name("center.yml")
ENV_VAR = "CENTER_CONFIG"

# Slot name -> (section, key) in the YAML file. The slot names are what responses in domain.yml
# interpolate, and "config:<section>.<key>" is the provenance a response gives for them.
SLOT_KEYS: dict[str, tuple] = {
    "center_name": ("center", "name"),
    "program_name": ("center", "program_name"),
    "phone_existing_patients": ("phones", "existing_patients"),
    "phone_new_appointments": ("phones", "new_appointments"),
    "phone_referring_physicians": ("phones", "referring_physicians"),
    "phone_international": ("phones", "international"),
    "phone_psychosocial_support": ("phones", "psychosocial_support"),
    "url_website": ("links", "website"),
    "url_mibg_resources": ("links", "mibg_resources"),
    "emergency_number": ("safety", "emergency_number"),
    "crisis_line": ("safety", "crisis_line"),
}

# 555-0100 to 555-0199 are reserved for fiction in North America; example.org is reserved too.
_FICTIONAL = re.compile(r"555-?01\d\d|example\.(org|com|net)")


class ConfigError(ValueError):
    """The center configuration is missing a value or holds one that cannot be used."""


@dataclass(frozen=True)
class CenterConfig:
    """Validated center details, keyed by the slot names responses use."""

    values: Mapping[str, str]
    phone_region: str
    path: Path

    def provenance_key(self, slot: str) -> str:
        """The `config:<section>.<key>` reference for a slot."""
        section, key = SLOT_KEYS[slot]
        return f"config:{section}.{key}"

    def fictional_values(self) -> list[str]:
        """Keys whose values are the shipped placeholders, which must not reach families."""
        return [
            self.provenance_key(slot)
            for slot, value in self.values.items()
            if _FICTIONAL.search(value)
        ]


def _format_phone(raw: str, region: str, where: str) -> str:
    """Normalise a phone line for display; refuse anything that is not a possible number.

    A number written with a country code keeps it (the international line is dialled from
    abroad); others are shown the way callers in the center's region dial them.
    """
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise ConfigError(f"{where}: {raw!r} is not a phone number ({error})") from None
    if not phonenumbers.is_possible_number(number):
        raise ConfigError(f"{where}: {raw!r} is not a possible phone number")
    written_international = raw.startswith("+")
    if not written_international and phonenumbers.region_code_for_number(number) == region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def parse_center_config(data: Mapping[str, Any], path: Path) -> CenterConfig:
    """Validate the parsed YAML and build the configuration."""
    region = str((data.get("center") or {}).get("phone_region") or "US").upper()
    values: dict[str, str] = {}
    for slot, (section, key) in SLOT_KEYS.items():
        raw = (data.get(section) or {}).get(key)
        where = f"{path}: {section}.{key}"
        if raw is None or not str(raw).strip():
            raise ConfigError(f"{where} is missing; every center detail must be configured")
        raw = str(raw).strip()
        is_phone = section == "phones"
        values[slot] = _format_phone(raw, region, where) if is_phone else raw
    return CenterConfig(values=values, phone_region=region, path=path)


def load_center_config(path: Path | str | None = None) -> CenterConfig:
    """Read and validate a configuration file (default: $CENTER_CONFIG or bot/center.yml)."""
    path = Path(path or os.environ.get(ENV_VAR) or DEFAULT_PATH)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ConfigError(f"cannot read the center configuration {path}: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a YAML mapping of sections")
    return parse_center_config(data, path)


@lru_cache(maxsize=1)
def center_config() -> CenterConfig:
    """The process-wide configuration, read on first use."""
    return load_center_config()
