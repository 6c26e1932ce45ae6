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
from rasa.shared.core.events import Event, SessionStarted, SlotSet

from bot.nlu import language

DISCLAIMER = "utter_disclaimer"


class SessionStartWithDisclaimer(rasa_actions.ActionSessionStart):
    """Rasa's session start, opened by the disclaimer (what this is, what to do in an emergency)."""

    async def run(self, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> list[Event]:
        """The disclaimer, then `SessionStarted` and `action_listen` as Rasa's default has them.

        The disclaimer comes first, as it did from the action server (Rasa puts an action's
        messages before its events), so what a family sees and what is stored are unchanged.
        """
        disclaimer = rasa_actions.ActionBotResponse(DISCLAIMER)
        uttered = await disclaimer.run(output_channel, nlg, tracker, domain)
        events = await super().run(output_channel, nlg, tracker, domain)
        return [*uttered, *_keep_language(events, tracker, domain)]


def _keep_language(events: list[Event], tracker: Any, domain: Any) -> list[Event]:
    """The session's events, with the family's language carried over from the last session.

    No other slot is carried over (domain.yml), but a Spanish-speaking family coming back an
    hour later should not be answered in English until they write a long enough message.
    """
    kept = (
        tracker.get_slot(language.SLOT)
        if language.SLOT in {slot.name for slot in domain.slots}
        else None
    )
    if language.of_slot(kept) == language.DEFAULT:
        return events
    at = next(
        (index + 1 for index, event in enumerate(events) if isinstance(event, SessionStarted)),
        len(events),
    )
    return [*events[:at], SlotSet(language.SLOT, kept), *events[at:]]
