"""The button both channels handle: the web page draws it, SMS turns it into a numbered choice."""

from __future__ import annotations

from typing import TypedDict


class Button(TypedDict):
    """A button as Rasa sends it: what the family reads, and what the assistant receives."""

    title: str
    payload: str
