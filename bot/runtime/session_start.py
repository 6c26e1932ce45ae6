"""The session start, run inside the Rasa server: the disclaimer, then Rasa's own session start.

It used to be a custom action on the action server. When that server was down, a new
conversation's session start failed, its events were lost, and "my son is not breathing" got
the fallback instead of the emergency answer. The disclaimer is a plain response, so it needs no
action server: `bot.runtime.rasa_fixes` puts this class in the place of Rasa's default
`action_session_start` (domain.yml no longer lists a custom one). The disclaimer is given in the
conversation's language, which the new session keeps.
"""

from __future__ import annotations

from typing import Any

from rasa.core.actions import action as rasa_actions
from rasa.shared.core.constants import SESSION_START_METADATA_SLOT
from rasa.shared.core.events import Event, SessionStarted, SlotSet

from bot.nlu import language

DISCLAIMER = "utter_disclaimer"


class SessionStartWithDisclaimer(rasa_actions.ActionSessionStart):
    """Rasa's session start, opened by the disclaimer (what this is, what to do in an emergency)."""

    async def run(self, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> list[Event]:
        """The disclaimer, then `SessionStarted` and `action_listen` as Rasa's default has them.

        The disclaimer comes first, as it did from the action server (Rasa puts an action's
        messages before its events), so what a family sees and what is stored are unchanged.
        It is said in the session's language (`session_language`).
        """
        spoken = session_language(tracker, domain)
        preview = tracker.copy()
        preview.update(SlotSet(language.SLOT, spoken))
        disclaimer = rasa_actions.ActionBotResponse(DISCLAIMER)
        uttered = await disclaimer.run(output_channel, nlg, preview, domain)
        events = await super().run(output_channel, nlg, tracker, domain)
        if spoken == language.DEFAULT:
            return [*uttered, *events]
        at = next(
            (index + 1 for index, event in enumerate(events) if isinstance(event, SessionStarted)),
            len(events),
        )
        return [*uttered, *events[:at], SlotSet(language.SLOT, spoken), *events[at:]]


def session_language(tracker: Any, domain: Any) -> str:
    """The language a new session opens in.

    The language of the message that opens it, when its channel read one (the web and SMS
    channels put `bot.nlu.language.read` into the message's metadata, which Rasa hands to the
    session start), so that a Spanish first message gets a Spanish disclaimer; else the last
    session's. No other slot is carried over (domain.yml), but a Spanish-speaking family coming
    back an hour later should not be answered in English until they write a long enough message.
    """
    if language.SLOT not in {slot.name for slot in domain.slots}:
        return language.DEFAULT
    metadata = tracker.get_slot(SESSION_START_METADATA_SLOT) or {}
    opening = metadata.get(language.METADATA_KEY) if isinstance(metadata, dict) else None
    if opening in language.LANGUAGES:
        return str(opening)
    return language.of_slot(tracker.get_slot(language.SLOT))
