"""bot/runtime/rule_index.py: the indexed rule search finds the rules Rasa's search finds."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy
from rasa.shared.core.constants import USER
from rasa.shared.nlu.constants import INTENT

from bot.runtime import rasa_fixes, rule_index

# A question, a greeting, an emergency, and the callback form begun, answered and interrupted.
MESSAGES = [
    "hi",
    "what is mibg therapy",
    "can someone call me back",
    "second opinion",
    "he has a fever of 39.5",
    "my child is not breathing",
    "how long do we stay in the lead room",
    "thanks",
]


@pytest.fixture(scope="module")
def searches(trained_model: Path) -> list[tuple[RulePolicy, dict[str, Any], list[Any]]]:
    """Every (policy, lookup, states) the trained model searched while answering MESSAGES."""
    seen: list[tuple[RulePolicy, dict[str, Any], list[Any]]] = []

    def recorded(self: RulePolicy, lookup: dict[str, Any], states: list[Any]) -> set[str]:
        seen.append((self, lookup, copy.deepcopy(states)))
        return rule_index._rasa_get_possible_keys(self, lookup, states)

    agent = Agent.load(str(trained_model))
    patch = pytest.MonkeyPatch()
    patch.setattr(RulePolicy, "_get_possible_keys", recorded)
    try:
        for text in MESSAGES:
            asyncio.run(agent.handle_text(text, sender_id="rule-index-test"))
    finally:
        patch.undo()
    assert seen
    return seen


def test_the_conversation_finds_the_rules_rasa_finds(searches):
    for policy, lookup, states in searches:
        expected = rule_index._rasa_get_possible_keys(policy, lookup, states)
        assert rule_index.get_possible_keys(policy, lookup, states) == expected, states[-1]


def test_every_rule_and_every_other_intent_finds_what_rasa_finds(searches):
    """Each rule's own states, then with the last intent replaced by every other intent."""
    policy = searches[0][0]
    checked = 0
    for lookup in (policy.lookup[RULES], policy.lookup[RULES_FOR_LOOP_UNHAPPY_PATH]):
        intents = {rule_index._required_intent(policy, key) for key in lookup} - {None}
        for key in lookup:
            for intent in [None, *sorted(intents)[:40]]:
                states = json.loads(key)
                if states and intent is not None:
                    states[-1].setdefault(USER, {})[INTENT] = intent
                expected = rule_index._rasa_get_possible_keys(policy, lookup, states)
                assert rule_index.get_possible_keys(policy, lookup, states) == expected
                checked += 1
    assert checked > 1000


def test_the_index_leaves_out_most_rules_for_a_question(searches):
    policy, lookup, states = next(
        (p, lookup, s) for p, lookup, s in searches if s and s[-1].get(USER, {}).get(INTENT)
    )
    any_intent, by_intent = rule_index._index(policy, lookup)
    named = by_intent.get(states[-1][USER][INTENT], [])
    assert len(any_intent) + len(named) < len(lookup) / 2


def test_rasa_fixes_puts_the_indexed_search_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RulePolicy, "_get_possible_keys", rule_index._rasa_get_possible_keys)
    rasa_fixes.apply_fixes()
    assert RulePolicy._get_possible_keys is rule_index.get_possible_keys
