"""Rasa NLU component that applies `bot.nlu.safety` after the intent classifier.

It runs last in the NLU pipeline (after the FallbackClassifier), so a low-confidence message that
matches an emergency pattern is still answered as an emergency, whatever the conversation was
doing, including inside a form.

It corrects the classifier in one direction only otherwise: a fever the classifier read in a
message with no sign of a fever now ("tiene 39 meses", a normal 36.9, a fever that is over), an
emergency in a message that says it is none or tells only of a seizure or a faint that is over,
with no word of a danger now, and a distress in a message without a single one of the broad
words of a feeling or of a danger to a life (`safety.distress_unfounded`: "i'm her father" in
the form), are false alarms that would break the callback form. The message gets the
classifier's next intent instead (or the fallback, when that one is not confident). A crisis the
classifier read is never lowered, nor anything a pattern found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.fallback_classifier import THRESHOLD_KEY
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu import overrides, safety

# Mark the intent given in place of the classifier's unfounded fever, emergency or distress.
UNFOUNDED_FEVER_SOURCE = "safety_net:fever_set_aside"
UNFOUNDED_EMERGENCY_SOURCE = "safety_net:emergency_set_aside"
UNFOUNDED_DISTRESS_SOURCE = "safety_net:distress_set_aside"
# config.yml sets the FallbackClassifier's threshold here too (tests/test_safety.py checks).
DEFAULT_THRESHOLD = 0.4


# What the classifier alone may have read wrongly, the check that says so, and the mark.
_UNFOUNDED: dict[str, tuple[Callable[[str], bool], str]] = {
    safety.FEVER: (safety.fever_unfounded, UNFOUNDED_FEVER_SOURCE),
    safety.EMERGENCY: (safety.emergency_unfounded, UNFOUNDED_EMERGENCY_SOURCE),
    safety.DISTRESS: (safety.distress_unfounded, UNFOUNDED_DISTRESS_SOURCE),
}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SafetyNet(GraphComponent):
    """Raises a message's intent to a safety intent when a safety pattern matches.

    Lowers only the classifier's fever or emergency, and only when `safety.fever_unfounded` or
    `safety.emergency_unfounded` says so.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The confidence below which a replacing intent is the fallback (FallbackClassifier's)."""
        return {THRESHOLD_KEY: DEFAULT_THRESHOLD}

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        """`threshold`: config.yml's FallbackClassifier threshold, for the same meaning."""
        self._threshold = threshold

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SafetyNet:
        """Builds the component; nothing to train."""
        return cls(float(config[THRESHOLD_KEY]))

    def process(self, messages: list[Message]) -> list[Message]:
        """Overrides the intent of each message that matches an equally or more severe pattern."""
        for message in messages:
            text = message.get(TEXT) or ""
            found = safety.detect(text)
            classified = (message.get(INTENT) or {}).get("name")
            if found is not None:
                if safety.overrides(found, classified):
                    overrides.put_first(message, found, safety.PATTERN_SOURCE)
            elif classified in _UNFOUNDED:
                unfounded, source = _UNFOUNDED[classified]
                if unfounded(text):
                    self._set_aside(message, source, classified)
        return messages

    def _set_aside(self, message: Message, source: str, unfounded: str) -> None:
        """The classifier's best intent that is not an alarm nor `unfounded`, or the fallback."""
        ranking = message.get(INTENT_RANKING_KEY) or []
        others = [
            entry
            for entry in ranking
            if entry.get("name") not in safety.SEVERITY and entry.get("name") != unfounded
        ]
        best = others[0] if others else None
        if best is None or float(best.get("confidence") or 0.0) < self._threshold:
            name, confidence = DEFAULT_NLU_FALLBACK_INTENT_NAME, self._threshold
        else:
            name, confidence = str(best["name"]), float(best["confidence"])
        overrides.put_first(message, name, source, confidence)
