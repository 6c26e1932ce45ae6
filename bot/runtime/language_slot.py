"""Keeps the conversation's language in the `language` slot, inside the Rasa server.

Rasa's `action_extract_slots` runs after every message, before anything is answered. This
subclass adds one step: when the message's parse data carries a language reading
(`bot.nlu.language_reader`) that differs from the slot, the slot changes, so that this very
message is answered in the family's language (domain.yml's responses have Spanish variations
conditioned on the slot). It runs in the Rasa server, not on the action server, so an emergency
typed in Spanish is answered in Spanish even when the action server is down.

When the change came from the detector rather than an explicit request, the family is told in
the new language (`utter_language_changed`), with how to switch back; an explicit request is
answered by its own rule (`switch_language` -> `utter_language_switched`). `bot.runtime.rasa_fixes`
puts this class in the place of Rasa's default.
"""

from __future__ import annotations

from typing import Any

from rasa.core.actions import action as rasa_actions
from rasa.shared.core.events import Event, SlotSet

from bot.nlu import language

CHANGED = "utter_language_changed"


def reading_of(tracker: Any) -> dict[str, Any] | None:
    """The language reading of the latest message, if the language reader gave one."""
    message = tracker.latest_message
    reading = (message.parse_data or {}).get(language.SLOT) if message else None
    if not isinstance(reading, dict) or reading.get("name") not in language.LANGUAGES:
        return None
    return reading


class ExtractSlotsAndLanguage(rasa_actions.ActionExtractSlots):
    """Rasa's slot extraction, then the `language` slot from the message's language reading."""

    async def run(self, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> list[Event]:
        """Rasa's events, then a `SlotSet` (and a note in the new language) on a change."""
        events = await super().run(output_channel, nlg, tracker, domain)
        if language.SLOT not in {slot.name for slot in domain.slots}:
            return events
        reading = reading_of(tracker)
        current = language.of_slot(self._latest_value(tracker, events))
        if reading is None or reading["name"] == current:
            return events
        changed = SlotSet(language.SLOT, reading["name"])
        asked = (tracker.latest_message.intent or {}).get("name") == language.SWITCH_INTENT
        if reading.get("explicit") or asked:
            return [*events, changed]
        preview = tracker.copy()
        preview.update_with_events([*events, changed], domain)
        note = await rasa_actions.ActionBotResponse(CHANGED).run(
            output_channel, nlg, preview, domain
        )
        return [*events, changed, *note]

    @staticmethod
    def _latest_value(tracker: Any, events: list[Event]) -> Any:
        """The slot's value after Rasa's own extraction (a button may have set it)."""
        for event in reversed(events):
            if isinstance(event, SlotSet) and event.key == language.SLOT:
                return event.value
        return tracker.get_slot(language.SLOT)
