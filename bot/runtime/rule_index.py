"""RulePolicy's search for the rules that apply, started from the rules of the latest intent.

Rasa 3.6's `RulePolicy._get_possible_keys` checks every rule against the conversation's latest
state, then the survivors against the state before, and so on. This assistant has about 210
rules (most of them "intent X: answer X"), and the search runs about three times a message on
the event loop: 2.4 ms a message, a seventh of the loop's time (bench/README.md, 2026-12-03).

Most rules end in a state that names a user intent, and such a rule cannot apply when the
conversation's latest state names another one (`_does_rule_match_state` refuses it at the
first step). The rules are therefore indexed once by that intent, and the search starts from
the rules of the latest state's intent plus those that name none. The checks themselves are
Rasa's own, in Rasa's order, so the same rules are found. (Among several rules of the same
length Rasa picks whichever its set yields first; Python's string hashing changes that order
from one process to the next, so no fixed choice is lost here.)
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET, USER
from rasa.shared.nlu.constants import INTENT

_rasa_get_possible_keys = RulePolicy._get_possible_keys
# Where a policy keeps its indexes: {id(lookup): (lookup, keys of any intent, keys by intent)}.
_INDEXES = "_nb_rule_indexes"


def _required_intent(policy: RulePolicy, key: str) -> str | None:
    """The intent a rule's last state requires of the conversation's latest state, if any."""
    states = policy._rule_key_to_state(key)
    if not states or not states[-1].get(PREVIOUS_ACTION):
        return None  # a conversation-start state, matched by other means
    intent = states[-1].get(USER, {}).get(INTENT)
    if not isinstance(intent, str) or not intent or intent == SHOULD_NOT_BE_SET:
        return None
    return intent


def _index(policy: RulePolicy, lookup: dict[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    """The lookup's rule keys that require no intent, and the others by the intent required.

    Made on first use and kept on the policy; a trained policy's lookups do not change.
    """
    indexes = policy.__dict__.setdefault(_INDEXES, {})
    cached = indexes.get(id(lookup))
    if cached is not None and cached[0] is lookup:
        return cached[1], cached[2]
    any_intent: list[str] = []
    by_intent: dict[str, list[str]] = {}
    for key in lookup:
        intent = _required_intent(policy, key)
        if intent is None:
            any_intent.append(key)
        else:
            by_intent.setdefault(intent, []).append(key)
    indexes[id(lookup)] = (lookup, any_intent, by_intent)
    return any_intent, by_intent


def get_possible_keys(self: RulePolicy, lookup: dict[str, Any], states: list[Any]) -> set[str]:
    """`RulePolicy._get_possible_keys`, checking only rules the latest intent allows."""
    if not states or not states[-1].get(PREVIOUS_ACTION):
        return _rasa_get_possible_keys(self, lookup, states)
    any_intent, by_intent = _index(self, lookup)
    latest_intent = states[-1].get(USER, {}).get(INTENT)
    named = by_intent.get(latest_intent, []) if isinstance(latest_intent, str) else []
    possible_keys = {*any_intent, *named}
    for turn, state in enumerate(reversed(states)):
        possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, turn, state)}
    return possible_keys


def install() -> None:
    """Replaces Rasa's search (idempotent)."""
    RulePolicy._get_possible_keys = get_possible_keys
