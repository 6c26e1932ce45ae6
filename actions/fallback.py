"""When the assistant is unsure what was asked, it offers its two best guesses as buttons.

Below the FallbackClassifier's threshold a guessed answer would often be a confident answer to a
question nobody asked; the plain "I did not understand" makes the family rephrase blind. Rasa's
two-stage fallback asks about one guess; here the two most likely topics are offered at once
("Did you mean: How long is the stay? / Can others visit?") with "Something else", which leads
to the honest fallback with the phone lines (data/rules/conversation.yml).

Only questions are offered (intents starting with `ask_` or `not_covered_`, and "talk to a
person"), never a form's answers such as "Yes, send it", and only when the domain already gives
them a button title (the answers' follow-up buttons), so each title has one home, domain.yml.
When a safety intent is among the likeliest, no topic is offered: the plain fallback, with its
phone lines, is said instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.callback import QUESTION_PREFIXES
from bot.nlu import language
from bot.nlu.safety import SAFETY_INTENTS

GUESSES = 2
SOMETHING_ELSE = {"title": "Something else", "payload": "/something_else"}
SOMETHING_ELSE_TITLES = {language.ENGLISH: "Something else", language.SPANISH: "Otra cosa"}
OFFERABLE = {"request_human"}


def offerable(intent: str) -> bool:
    """Whether an intent is a question that may be offered as a guess."""
    return intent.startswith(QUESTION_PREFIXES) or intent in OFFERABLE


def topic_titles(domain: Mapping[str, Any], lang: str = language.DEFAULT) -> dict[str, str]:
    """Question intent -> the button title the domain's responses give it (the first found).

    Titles come from the variations in the family's language (`lang`).
    """
    titles: dict[str, str] = {}
    for variants in (domain.get("responses") or {}).values():
        for variant in variants or []:
            if language.of_variation(variant) != lang:
                continue
            for button in variant.get("buttons") or []:
                payload = str(button.get("payload") or "")
                intent = payload.removeprefix("/")
                if payload.startswith("/") and intent.isidentifier() and offerable(intent):
                    titles.setdefault(intent, str(button.get("title")))
    return titles


def best_guesses(ranking: Iterable[Mapping[str, Any]], titles: Mapping[str, str]) -> list[str]:
    """The most likely intents that have a title, best first, at most GUESSES of them.

    None when a safety intent is among the GUESSES likeliest (nlu_fallback aside): a message
    that may be about danger is never answered with topic buttons.
    """
    names = [str(item.get("name")) for item in ranking if item.get("name") != "nlu_fallback"]
    if SAFETY_INTENTS & set(names[:GUESSES]):
        return []
    return [name for name in names if name in titles][:GUESSES]


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
        lang = language.of_slot(tracker.get_slot(language.SLOT))
        titles = topic_titles(domain, lang)
        guesses = best_guesses(ranking, titles)
        if not guesses:
            dispatcher.utter_message(response="utter_default")
            return []
        buttons = [{"title": titles[intent], "payload": f"/{intent}"} for intent in guesses]
        other = {**SOMETHING_ELSE, "title": SOMETHING_ELSE_TITLES[lang]}
        dispatcher.utter_message(response="utter_did_you_mean", buttons=[*buttons, other])
        return []
