"""Rasa NLU component that applies `bot.nlu.safety` after the intent classifier.

It runs last in the NLU pipeline (after the FallbackClassifier), so a low-confidence message that
matches an emergency pattern is still answered as an emergency, whatever the conversation was
doing, including inside a form.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu import overrides, safety


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SafetyNet(GraphComponent):
    """Raises a message's intent to a safety intent when a safety pattern matches."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SafetyNet:
        """Builds the component; it has no configuration and nothing to train."""
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        """Overrides the intent of each message that matches an equally or more severe pattern."""
        for message in messages:
            found = safety.detect(message.get(TEXT) or "")
            classified = (message.get(INTENT) or {}).get("name")
            if found is not None and safety.overrides(found, classified):
                overrides.put_first(message, found, safety.PATTERN_SOURCE)
        return messages
