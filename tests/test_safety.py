"""The safety patterns and the NLU component that applies them."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu import safety
from bot.nlu.safety_net import SafetyNet


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("he stopped breathing", "emergency"),
        ("she is unresponsive", "emergency"),
        ("my son is having a seizure", "emergency"),
        ("her lips are turning blue", "emergency"),
        ("he has a fever", "fever"),
        ("temp of 101.5 after chemo", "fever"),
        ("she has chills", "fever"),
        ("38.7 c tonight", "fever"),
        ("i want to die", "crisis"),
        ("I have been thinking about SUICIDE", "crisis"),
        ("i might hurt myself", "crisis"),
        ("fever and now she won't wake up", "emergency"),
        ("i want to die, he has a fever", "crisis"),
        ("what is mibg", None),
        ("how long is the stay", None),
        ("what are the chances of relapse", None),
    ],
)
def test_detect_finds_the_most_severe_safety_intent(text, expected):
    assert safety.detect(text) == expected


def _message(text: str, intent: str, confidence: float) -> Message:
    message = Message(data={TEXT: text})
    message.set(INTENT, {"name": intent, "confidence": confidence})
    message.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": confidence}])
    return message


def test_safety_net_overrides_a_low_confidence_fallback():
    message = _message("he is turning blue", "nlu_fallback", 0.25)
    SafetyNet().process([message])
    assert message.get(INTENT)["name"] == "emergency"
    assert message.get(INTENT_RANKING_KEY)[0]["name"] == "emergency"
    assert message.get(INTENT_RANKING_KEY)[1]["name"] == "nlu_fallback"


def test_safety_net_never_lowers_severity():
    message = _message("she has a fever and i want to die", "emergency", 0.6)
    SafetyNet().process([message])
    assert message.get(INTENT) == {"name": "emergency", "confidence": 0.6}


def test_safety_net_confirms_what_the_classifier_already_said():
    message = _message("he stopped breathing", "emergency", 0.6)
    SafetyNet().process([message])
    assert message.get(INTENT) == {
        "name": "emergency",
        "confidence": 1.0,
        "source": safety.PATTERN_SOURCE,
    }


def test_safety_net_leaves_ordinary_questions_alone():
    message = _message("what is mibg", "ask_mibg", 0.8)
    SafetyNet().process([message])
    assert message.get(INTENT) == {"name": "ask_mibg", "confidence": 0.8}
