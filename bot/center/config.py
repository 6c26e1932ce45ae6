"""The center's configuration: the one place center-specific facts come from.

Responses never hard-code a phone number, name or link; they name a slot, and the action server
fills every such slot from this file when a conversation session starts. The file is read once per
process (`center_config()`), validated on load so a typo fails at start-up, not in front of a
family.

The optional `delivery:` section says where callback requests are stored and how they reach the
staff inbox (`bot.callbacks.store`, `bot.callbacks.outbox`). It holds no secret: the SMTP
password is read from the environment variable the section names. The optional `privacy:`
section says how long conversations are kept (`bot.conversations`).
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
from pydantic import (
    BaseModel,
    Extra,
    StrictBool,
    StrictInt,
    ValidationError,
    root_validator,
    validator,
)

from bot import paths

DEFAULT_PATH = Path(__file__).with_name("center.yml")
ENV_VAR = "CENTER_CONFIG"

# Callback requests: REQUESTS_DB_URL overrides `delivery.requests_db`, which defaults to a SQLite
# file in the repository's var/ (ignored by git, like the tracker store).
REQUESTS_DB_ENV = "REQUESTS_DB_URL"
DEFAULT_REQUESTS_DB = f"sqlite:///{paths.REQUESTS_DB}"

# Slot name -> (section, key) in the YAML file. The slot names are what responses in domain.yml
# interpolate, and "config:<section>.<key>" is the provenance a response gives for them.
SLOT_KEYS: dict[str, tuple[str, str]] = {
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
    "crisis_line_spanish_option": ("safety", "crisis_line_spanish_option"),
    "crisis_text_spanish": ("safety", "crisis_text_spanish"),
    # A sentence naming the Spanish line or interpreter service, or nothing (`spanish_line`).
    "spanish_line": ("spanish", "line"),
}

# 555-0100 to 555-0199 are reserved for fiction in North America; example.org is reserved too.
_FICTIONAL = re.compile(r"555-?01\d\d|example\.(org|com|net)")


MISSING = "is missing; every center detail must be configured"
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ConfigError(ValueError):
    """The center configuration is missing a value or holds one that cannot be used."""


class StrictSettings(BaseModel):
    """Base of every settings model: unknown keys refused, values fixed once read.

    A typo in a key would otherwise be silently ignored and its default used.
    """

    class Config:
        """Pydantic's settings for every subclass."""

        extra = Extra.forbid
        allow_mutation = False
        anystr_strip_whitespace = True


def _known_keys(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    """The keys a model accepts at `location` (the section a mistaken key was found in)."""
    for part in location:
        field = model.__fields__.get(str(part))
        if (
            field is None
            or not isinstance(field.type_, type)
            or not issubclass(field.type_, BaseModel)
        ):
            break
        model = field.type_
    return sorted(model.__fields__)


def describe(error: ValidationError, model: type[BaseModel], where: str) -> str:
    """Pydantic's errors as lines that name the file and the key, never a stack trace."""
    lines = []
    for item in error.errors():
        location = tuple(part for part in item["loc"] if part != "__root__")
        key = ".".join(map(str, location))
        place = f"{where}: {key}" if key else where
        if item["type"] == "value_error.extra":
            known = ", ".join(_known_keys(model, location[:-1]))
            lines.append(f"{place}: unknown setting; known: {known}")
        elif item["type"] in ("value_error.missing", "type_error.none.not_allowed"):
            lines.append(f"{place} {MISSING}")
        elif item["msg"] == MISSING:
            lines.append(f"{place} {MISSING}")
        else:
            lines.append(f"{place}: {item['msg']}")
    return "; ".join(lines)


def _format_phone(raw: str, region: str, where: str) -> str:
    """Normalise a phone line for display; refuse anything that is not a possible number.

    A number written with a country code keeps it (the international line is dialled from
    abroad); others are shown the way callers in the center's region dial them.
    """
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise ValueError(f"{where}: {raw!r} is not a phone number ({error})") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"{where}: {raw!r} is not a possible phone number")
    written_international = raw.startswith("+")
    if not written_international and phonenumbers.region_code_for_number(number) == region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


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


def _address(raw: str) -> str:
    try:
        return validate_email(
            raw, check_deliverability=False, globally_deliverable=False
        ).normalized
    except EmailNotValidError as error:
        raise ValueError(f"{raw!r} is not an e-mail address ({error})") from None


def _within(value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(f"{value!r} must be a whole number from {low} to {high}")
    return value


class DeliveryConfig(StrictSettings):
    """Where callback requests are stored and how they are e-mailed to the staff inbox.

    Every field is optional: without `smtp_host`, `from_address` and `staff_inbox`, requests are
    still stored (and listed by `python -m bot requests list`) but nothing is e-mailed.
    """

    requests_db: str = DEFAULT_REQUESTS_DB
    smtp_host: str | None = None
    smtp_port: StrictInt = 25
    starttls: StrictBool = False  # upgrade the connection with STARTTLS (port 587)
    tls: StrictBool = False  # TLS from the first byte (SMTPS, port 465)
    username: str | None = None
    password_env: str | None = None
    from_address: str | None = None
    staff_inbox: str | None = None
    max_attempts: StrictInt = 8

    @root_validator(pre=True)
    def _no_secret_and_blank_is_unset(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Refuses a password in the file; an empty value means "not set"."""
        if any("password" in str(key) and key != "password_env" for key in values):
            raise ValueError(
                "never put a password in this file; name the environment variable that "
                "holds it in delivery.password_env"
            )
        return {key: value for key, value in values.items() if value not in (None, "")}

    @validator("requests_db")
    def _absolute_database(cls, value: str) -> str:
        return _database_url(value)

    @validator("smtp_port")
    def _port(cls, value: int) -> int:
        return _within(value, 1, 65535)

    @validator("max_attempts")
    def _attempts(cls, value: int) -> int:
        return _within(value, 1, 100)

    @validator("from_address", "staff_inbox")
    def _email(cls, value: str) -> str:
        return _address(value)

    @root_validator(skip_on_failure=True)
    def _complete_and_safe(cls, values: dict[str, Any]) -> dict[str, Any]:
        """SMTP settings come together, and nothing crosses the network in clear text.

        Every staff e-mail carries a family's name and phone number, so a mail server other than
        this machine is reached over TLS (STARTTLS or SMTPS) or not at all.
        """
        required = ("smtp_host", "from_address", "staff_inbox")
        present = [key for key in required if values.get(key)]
        if present and len(present) < len(required):
            missing = [key for key in required if not values.get(key)]
            raise ValueError(f"{', '.join(missing)} missing (needed with {present[0]})")
        if values.get("starttls") and values.get("tls"):
            raise ValueError("set starttls or tls, not both")
        host = values.get("smtp_host")
        encrypted = values.get("starttls") or values.get("tls")
        if host and host not in _LOOPBACK and not encrypted:
            raise ValueError(
                f"smtp_host {host} is not this machine, so the e-mails (a family's name and "
                "phone number) need TLS: set starttls: true (port 587) or tls: true (port 465)"
            )
        if values.get("username"):
            if not _ENV_NAME.fullmatch(values.get("password_env") or ""):
                raise ValueError(
                    "password_env must name the environment variable holding the SMTP "
                    "password (for example NB_SMTP_PASSWORD)"
                )
            if not values.get("starttls") and values.get("smtp_host") not in _LOOPBACK:
                raise ValueError(
                    "username needs starttls: true; the password would otherwise cross the "
                    "network in clear text"
                )
        return values

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


class _Details(StrictSettings):
    """A section of center details: every key required, none blank."""

    @validator("*", pre=True)
    def _required(cls, value: Any) -> Any:
        if value is None or not str(value).strip():
            raise ValueError(MISSING)
        return value


class CenterSection(_Details):
    """`center:` the names families see, and the region phone numbers are read in."""

    name: str
    program_name: str
    # ISO 3166 code of the region for numbers written without a country code.
    phone_region: str = "US"

    @validator("phone_region")
    def _known_region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region code such as US or GB")
        return region


class PhonesSection(_Details):
    """`phones:` the lines responses give, normalised for display in `CenterFile`."""

    existing_patients: str
    new_appointments: str
    referring_physicians: str
    international: str
    psychosocial_support: str


class LinksSection(_Details):
    """`links:` pages responses point to."""

    website: str
    mibg_resources: str


class SafetySection(_Details):
    """`safety:` the emergency number and the crisis line, with how to reach it in Spanish."""

    emergency_number: str
    crisis_line: str
    # The 988 Lifeline answers in Spanish after the caller presses 2, and by text to the word
    # AYUDA; a center whose crisis line is another one sets its own.
    crisis_line_spanish_option: str = "2"
    crisis_text_spanish: str = "AYUDA"


class SpanishSection(StrictSettings):
    """`spanish:` (optional) a line answered in Spanish, and a note on interpreters, in Spanish."""

    line: str | None = None
    interpreter_note: str | None = None

    @validator("line", "interpreter_note", pre=True)
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if value is None or not str(value).strip() else str(value).strip()

    def sentence(self) -> str:
        """What Spanish answers add after their contact lines (with a leading space), or ""."""
        parts = []
        if self.line:
            parts.append(f"Para hablar con alguien en español, llame al {self.line}.")
        if self.interpreter_note:
            parts.append(self.interpreter_note)
        return "".join(f" {part}" for part in parts)


class PrivacyConfig(StrictSettings):
    """`privacy:` how long what families type is kept (bot.conversations)."""

    # Conversations whose last message is older than this are deleted from the tracker store.
    retention_days: StrictInt = 30

    @validator("retention_days")
    def _at_least_a_day(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be 1 day or more")
        return value


class CenterFile(StrictSettings):
    """center.yml as a whole."""

    center: CenterSection
    phones: PhonesSection
    links: LinksSection
    safety: SafetySection
    spanish: SpanishSection = SpanishSection()
    delivery: DeliveryConfig = DeliveryConfig()
    privacy: PrivacyConfig = PrivacyConfig()

    @root_validator(skip_on_failure=True)
    def _phones_for_display(cls, values: dict[str, Any]) -> dict[str, Any]:
        region = values["center"].phone_region
        phones = values["phones"]
        shown = {
            key: _format_phone(number, region, f"phones.{key}")
            for key, number in phones.dict().items()
        }
        values["phones"] = PhonesSection(**shown)
        spanish = values.get("spanish") or SpanishSection()
        if spanish.line:
            line = _format_phone(spanish.line, region, "spanish.line")
            values["spanish"] = SpanishSection(line=line, interpreter_note=spanish.interpreter_note)
        return values


@dataclass(frozen=True)
class CenterConfig:
    """Validated center details, keyed by the slot names responses use."""

    values: Mapping[str, str]
    phone_region: str
    path: Path
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)

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


def parse_center_config(data: Mapping[str, Any], path: Path) -> CenterConfig:
    """Validate the parsed YAML and build the configuration.

    Raises:
        ConfigError: naming the file and every key that is missing, unknown or unusable.

    """
    try:
        parsed = CenterFile.parse_obj(data)
    except ValidationError as error:
        raise ConfigError(describe(error, CenterFile, str(path))) from None
    values = {
        slot: str(getattr(getattr(parsed, section), key))
        for slot, (section, key) in SLOT_KEYS.items()
        if section != "spanish"
    }
    values["spanish_line"] = parsed.spanish.sentence()
    return CenterConfig(
        values=values,
        phone_region=parsed.center.phone_region,
        path=path,
        delivery=parsed.delivery,
        privacy=parsed.privacy,
    )


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
