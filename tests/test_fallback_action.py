"""The unsure answer offers the two likeliest topics, titled as the domain titles them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import SOMETHING_ELSE, ActionDidYouMean, best_guesses, topic_titles

TRACKER = Path(__file__).parent / "data" / "trackers" / "callback_form_active.json"


def unsure(ranking: list[tuple[str, float]]) -> Tracker:
    """A conversation whose latest message NLU ranked as given (nlu_fallback on top)."""
    state = json.loads(TRACKER.read_text(encoding="utf-8"))
    state["active_loop"] = {}
    state["slots"]["requested_slot"] = None
    names = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    state["latest_message"] = {
        "text": "the thing from before",
        "intent": names[0],
        "intent_ranking": names,
        "entities": [],
    }
    return Tracker.from_dict(state)


def run(tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionDidYouMean().run(dispatcher, tracker, domain))
    return dispatcher.messages


def test_the_two_likeliest_titled_topics_are_offered_with_something_else(domain):
    ranking = [
        ("nlu_fallback", 1.0),
        ("ask_mibg_stay_length", 0.31),
        ("affirm", 0.2),  # a form's answer ("Yes, send it"), never offered as a guess
        ("ask_mibg_visitors", 0.18),
        ("ask_mibg_room", 0.1),
    ]
    (message,) = run(unsure(ranking), domain)
    assert message["response"] == "utter_did_you_mean"
    assert message["buttons"] == [
        {"title": "How long is the stay?", "payload": "/ask_mibg_stay_length"},
        {"title": "Can others visit?", "payload": "/ask_mibg_visitors"},
        SOMETHING_ELSE,
    ]


def test_a_safety_intent_among_the_likeliest_gets_the_plain_fallback_not_topics(domain):
    ranking = [("nlu_fallback", 1.0), ("ask_mibg", 0.3), ("fever", 0.25), ("ask_team", 0.2)]
    (message,) = run(unsure(ranking), domain)
    assert message["response"] == "utter_default" and not message["buttons"]


def test_every_title_comes_from_a_domain_button_and_names_a_domain_intent(domain):
    titles = topic_titles(domain)
    assert set(titles) <= set(domain["intents"])
    assert not {"affirm", "deny", "stop_form", "request_callback"} & set(titles)
    assert titles["ask_mibg_stay_length"] == "How long is the stay?"
    assert best_guesses([{"name": "greet"}, {"name": "ask_mibg"}], titles) == ["ask_mibg"]
