"""Keyword and pattern back-up for the safety intents.

The NLU classifier recognises emergencies, fevers and crises from examples, but a classifier can
miss a phrasing it has not seen. Missing "he stopped breathing" is far worse than a false alarm,
so these patterns are checked on every message, on every channel, in every conversation state
(see `bot.nlu.safety_net`), and they can only raise the severity of what the classifier said.
"""

from __future__ import annotations

import re
from re import Pattern

# Marks an intent set by these patterns (bot.nlu.safety_net), as opposed to the classifier.
PATTERN_SOURCE = "safety_patterns"

EMERGENCY = "emergency"
CRISIS = "crisis"
FEVER = "fever"

# Most severe first: a message that matches several gets the most urgent answer.
SEVERITY: dict[str, int] = {EMERGENCY: 3, CRISIS: 2, FEVER: 1}


def _words(*alternatives: str) -> Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


PATTERNS: dict[str, Pattern[str]] = {
    EMERGENCY: _words(
        r"(?:not|isn'?t|stopped|stop|no longer) breathing",
        r"(?:can'?t|cannot|can not|trouble|struggling to|hard to) breath(?:e|ing)?",
        r"unconscious",
        r"unresponsive",
        r"passed out",
        r"fainted",
        r"collapsed",
        r"(?:won'?t|will not|can'?t|cannot|not) wak(?:e|ing)(?: up)?",
        r"seizures?",
        r"seizing",
        r"convulsions?",
        r"convulsing",
        r"turning blue",
        r"(?:lips|face) (?:is |are )?(?:turning )?blue",
        r"blue lips",
        r"choking",
        r"overdosed?",
        r"bleeding (?:a lot|heavily|badly|everywhere)",
        r"(?:won'?t|will not) stop bleeding",
        r"call(?:ing)? 911",
        r"emergency",
    ),
    CRISIS: _words(
        r"suicid(?:e|al)",
        r"kill(?:ing)? myself",
        r"end(?:ing)? (?:my|it) (?:own )?(?:life|all)",
        r"take my (?:own )?life",
        r"(?:want|wanna|going) to die",
        r"(?:don'?t|do not) want to (?:live|be alive|be here)",
        r"better off dead",
        r"(?:hurt|harm|cut)(?:ing)? myself",
        r"self[- ]?harm",
        r"no reason to live",
    ),
    FEVER: _words(
        r"fevers?",
        r"feverish",
        r"febrile",
        r"chills",
        r"rigors",
        r"shivering",
        r"(?:high |a )?temp(?:erature)? (?:of|is|was|at) \d",
        r"high temp(?:erature)?",
        r"10[0-4](?:\.\d)? ?(?:°|deg|degrees)? ?f?",
        r"3[89](?:\.\d)? ?(?:°|deg|degrees)? ?c",
    ),
}


def detect(text: str) -> str | None:
    """The most severe safety intent whose pattern the text matches, or None."""
    for intent in sorted(SEVERITY, key=SEVERITY.__getitem__, reverse=True):
        if PATTERNS[intent].search(text or ""):
            return intent
    return None


def overrides(pattern_intent: str | None, classified_intent: str | None) -> bool:
    """Whether the pattern's finding should replace what the classifier said.

    An equally severe finding replaces it too: the intent is then confirmed by a pattern, at
    full confidence, which the callback form relies on to tell a real emergency from an answer.
    """
    if pattern_intent is None:
        return False
    return SEVERITY[pattern_intent] >= SEVERITY.get(classified_intent or "", 0)
