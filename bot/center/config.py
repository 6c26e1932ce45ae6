"""The center's configuration: the one place center-specific facts come from.

Responses never hard-code a phone number, name or link; they name a slot, and the action server
fills every such slot from this file when a conversation session starts. The file is read once per
process (`center_config()`), validated on load so a typo fails at start-up, not in front of a
family.

The optional `delivery:` section says where callback requests are stored and how they reach the
staff inbox (`bot.callbacks.store`, `bot.callbacks.outbox`). It holds no secret: the SMTP
password is read from the environment variable the section names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import phonenumbers
import yaml
from email_validator import EmailNotValidError, validate_email

from bot import paths

DEFAULT_PATH = Path(__file__).with_name("center.yml")
ENV_VAR = "CENTER_CONFIG"

# Callback requests: REQUESTS_DB_URL overrides `delivery.requests_db`, which defaults to a SQLite
# file in the repository's var/ (ignored by git, like the tracker store).
REQUESTS_DB_ENV = "REQUESTS_DB_URL"
DEFAULT_REQUESTS_DB = f"sqlite:///{paths.REQUESTS_DB}"

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
class DeliveryConfig:
    """Where callback requests are stored and how they are e-mailed to the staff inbox.

    Every field is optional: without `smtp_host`, `from_address` and `staff_inbox`, requests are
    still stored (and listed by `python -m bot requests list`) but nothing is e-mailed.
    """

    requests_db: str = DEFAULT_REQUESTS_DB
    smtp_host: str | None = None
    smtp_port: int = 25
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None
    from_address: str | None = None
    staff_inbox: str | None = None
    max_attempts: int = 8

    @property
    def smtp_configured(self) -> bool:
        """Whether requests can be e-mailed at all."""
        return bool(self.smtp_host and self.from_address and self.staff_inbox)

    def password(self) -> str | None:
        """The SMTP password from the environment variable the file names (None: no login).

        Read at send time, not at load time, so that a rotated secret needs no restart.
        """
        if not self.username:
            return None
        value = os.environ.get(self.password_env or "")
        if not value:
            raise ConfigError(
                f"delivery.username is set but the environment variable {self.password_env} "
                "holding the SMTP password is not"
            )
        return value


@dataclass(frozen=True)
class CenterConfig:
    """Validated center details, keyed by the slot names responses use."""

    values: Mapping[str, str]
    phone_region: str
    path: Path
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)

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


_DELIVERY_KEYS = {
    "requests_db",
    "smtp_host",
    "smtp_port",
    "starttls",
    "username",
    "password_env",
    "from_address",
    "staff_inbox",
    "max_attempts",
}
_SMTP_REQUIRED = ("smtp_host", "from_address", "staff_inbox")
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _database_url(raw: str) -> str:
    """A database URL with relative SQLite paths made absolute against the repository root.

    Without this, `sqlite:///var/requests.db` would name a different file for every working
    directory the service or a staff member happens to start from.
    """
    if "://" not in raw:
        path = Path(raw).expanduser()
        return f"sqlite:///{path if path.is_absolute() else paths.ROOT / path}"
    prefix = "sqlite:///"
    if raw.startswith(prefix):
        rest = raw[len(prefix) :]
        if rest and not rest.startswith("/") and not rest.startswith(":memory:"):
            return f"{prefix}{paths.ROOT / rest}"
    return raw


def _address(raw: Any, where: str) -> str:
    try:
        return validate_email(
            str(raw).strip(), check_deliverability=False, globally_deliverable=False
        ).normalized
    except EmailNotValidError as error:
        raise ConfigError(f"{where}: {raw!r} is not an e-mail address ({error})") from None


def _integer(raw: Any, where: str, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise ConfigError(f"{where}: {raw!r} must be a whole number from {low} to {high}")
    return raw


def parse_delivery(section: Any, path: Path) -> DeliveryConfig:
    """Validate the optional `delivery:` section.

    Typos and secrets are refused here, at start-up: an unknown key would otherwise be silently
    ignored, and a password in the file would sit next to the code.
    """
    if section is None:
        return DeliveryConfig()
    where = f"{path}: delivery"
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where} must be a mapping of settings")
    if any("password" in str(key) and key != "password_env" for key in section):
        raise ConfigError(
            f"{where}: never put a password in this file; name the environment variable "
            "that holds it in delivery.password_env"
        )
    unknown = sorted(set(map(str, section)) - _DELIVERY_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_DELIVERY_KEYS))}"
        )
    given = {key: value for key, value in section.items() if value not in (None, "")}
    present = [key for key in _SMTP_REQUIRED if key in given]
    if present and len(present) < len(_SMTP_REQUIRED):
        missing = [key for key in _SMTP_REQUIRED if key not in given]
        raise ConfigError(f"{where}: {', '.join(missing)} missing (needed with {present[0]})")
    settings: dict[str, Any] = {}
    if "requests_db" in given:
        settings["requests_db"] = _database_url(str(given["requests_db"]).strip())
    if "smtp_host" in given:
        settings["smtp_host"] = str(given["smtp_host"]).strip()
        settings["from_address"] = _address(given["from_address"], f"{where}.from_address")
        settings["staff_inbox"] = _address(given["staff_inbox"], f"{where}.staff_inbox")
    if "smtp_port" in given:
        settings["smtp_port"] = _integer(given["smtp_port"], f"{where}.smtp_port", 1, 65535)
    if "max_attempts" in given:
        settings["max_attempts"] = _integer(given["max_attempts"], f"{where}.max_attempts", 1, 100)
    if "starttls" in given:
        if not isinstance(given["starttls"], bool):
            raise ConfigError(f"{where}.starttls must be true or false")
        settings["starttls"] = given["starttls"]
    if "username" in given:
        settings["username"] = str(given["username"]).strip()
        password_env = str(given.get("password_env") or "")
        if not _ENV_NAME.fullmatch(password_env):
            raise ConfigError(
                f"{where}.password_env must name the environment variable holding the "
                "SMTP password (for example NB_SMTP_PASSWORD)"
            )
        settings["password_env"] = password_env
        if not settings.get("starttls") and settings.get("smtp_host") not in _LOOPBACK:
            raise ConfigError(
                f"{where}.username needs starttls: true; the password would otherwise cross "
                "the network in clear text"
            )
    return DeliveryConfig(**settings)


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
    delivery = parse_delivery(data.get("delivery"), path)
    return CenterConfig(values=values, phone_region=region, path=path, delivery=delivery)


def load_center_config(path: Path | str | None = None) -> CenterConfig:
    """Read and validate a configuration file (default: $CENTER_CONFIG or bot/center/center.yml)."""
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


def requests_db_url(config: CenterConfig | None = None) -> str:
    """The callback requests database: $REQUESTS_DB_URL, else `delivery.requests_db`.

    The variable is checked first so that a deployment (or a test) can point the service at a
    database without touching the center's file.
    """
    url = os.environ.get(REQUESTS_DB_ENV, "").strip()
    if url:
        return _database_url(url)
    return (config or center_config()).delivery.requests_db
