"""Rasa NLU component that reads each message's language (`bot.nlu.language`).

It adds `language: {name, confidence, explicit}` to the parse data when a message is clearly in
English or Spanish, and nothing when it is not (short or mixed messages). An explicit request
("en español", "ENGLISH") also becomes the `switch_language` intent at full confidence, so that
the classifier cannot take "español" for an answer or a topic. It runs before the SafetyNet, which
still has the last word. `bot.runtime.language_slot` turns the reading into the `language` slot.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu import language, overrides

# Marks an intent set by this component, as opposed to the classifier.
READER_SOURCE = "language_reader"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class LanguageReader(GraphComponent):
    """Adds each message's language to its parse data; explicit requests become an intent."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageReader:
        """Builds the component; it has no configuration and nothing to train."""
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        """Reads the language of each message."""
        for message in messages:
            reading = language.read(message.get(TEXT) or "")
            if reading is None:
                continue
            message.set(language.SLOT, reading.as_dict(), add_to_output=True)
            if reading.explicit:
                overrides.put_first(message, language.SWITCH_INTENT, READER_SOURCE)
        return messages
