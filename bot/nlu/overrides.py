"""Putting an intent first in a parsed message, as the components that correct the classifier do.

The safety net (an emergency pattern) and the language reader (an explicit "en español") both
replace what the classifier said at full confidence, and mark the intent with their `source` so
that later code (the callback form) can tell a pattern's finding from the classifier's guess.
"""

from __future__ import annotations

from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message


def put_first(message: Message, intent: str, source: str, confidence: float = 1.0) -> None:
    """Sets `intent` (at full confidence unless told) and moves it to the top of the ranking."""
    ranking = [
        entry for entry in message.get(INTENT_RANKING_KEY) or [] if entry.get("name") != intent
    ]
    top = {"name": intent, "confidence": confidence, "source": source}
    message.set(INTENT, top, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [top, *ranking], add_to_output=True)
