"""What a channel's section in credentials.yml may hold, checked when Rasa builds the channel.

Rasa hands `from_credentials` the section as parsed YAML; a typo in a key or a limit of "20" (a
string) would otherwise be ignored or fail later, in front of a family.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import ValidationError

from bot.center.config import StrictSettings, describe

Settings = TypeVar("Settings", bound="ChannelSettings")


def positive_whole_number(value: Any) -> int:
    """The value when it is a whole number of at least 1 (not a bool, not a string)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"must be a positive whole number, not {value!r}")
    return value


class ChannelSettings(StrictSettings):
    """Base of a channel's settings: unknown keys refused, every problem named at once."""

    # How the error messages name the section, e.g. "credentials.yml bot.channels.rest".
    section: ClassVar[str] = "credentials.yml"

    @classmethod
    def parse(cls: type[Settings], raw: Mapping[str, Any] | None) -> Settings:
        """Validates the credentials.yml section; raises ValueError naming each bad key."""
        try:
            return cls.parse_obj(dict(raw or {}))
        except ValidationError as error:
            raise ValueError(describe(error, cls, cls.section)) from None
