"""When the assistant is unsure what was asked, it offers its two best guesses as buttons.

Below the FallbackClassifier's threshold a guessed answer would often be a confident answer to a
question nobody asked; the plain "I did not understand" makes the family rephrase blind. Rasa's
two-stage fallback asks about one guess; here the two most likely topics are offered at once
("Did you mean: How long is the stay? / Can others visit?") with "Something else", which leads
to the honest fallback with the phone lines (data/rules/conversation.yml).

A topic can be offered only when the domain already gives it a button title somewhere (the
follow-up buttons of the answers), so each title has one home, domain.yml, and a topic without
a reviewed title is never offered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

GUESSES = 2
SOMETHING_ELSE = {"title": "Something else", "payload": "/something_else"}


def topic_titles(domain: Mapping[str, Any]) -> dict[str, str]:
    """Intent -> the button title the domain's responses give it (the first one found)."""
    titles: dict[str, str] = {}
    for variants in (domain.get("responses") or {}).values():
        for variant in variants or []:
            for button in variant.get("buttons") or []:
                payload = str(button.get("payload") or "")
                intent = payload.removeprefix("/")
                if payload.startswith("/") and intent.isidentifier():
                    titles.setdefault(intent, str(button.get("title")))
    return titles


def best_guesses(ranking: Iterable[Mapping[str, Any]], titles: Mapping[str, str]) -> list[str]:
    """The most likely intents that have a title, best first, at most GUESSES of them."""
    guesses = [str(item.get("name")) for item in ranking if item.get("name") in titles]
    return guesses[:GUESSES]


class ActionDidYouMean(Action):
    """Offers the two most likely topics, and "Something else", when NLU was unsure."""

    def name(self) -> str:
        """The action's name in domain.yml."""
        return "action_did_you_mean"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """Buttons for the best guesses; the plain fallback when no guess has a title."""
        ranking = tracker.latest_message.get("intent_ranking") or []
        titles = topic_titles(domain)
        guesses = best_guesses(ranking, titles)
        if not guesses:
            dispatcher.utter_message(response="utter_default")
            return []
        buttons = [{"title": titles[intent], "payload": f"/{intent}"} for intent in guesses]
        dispatcher.utter_message(response="utter_did_you_mean", buttons=[*buttons, SOMETHING_ELSE])
        return []
