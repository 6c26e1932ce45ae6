"""The safety patterns and the NLU component that applies them."""

from __future__ import annotations

import pytest
import yaml
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot import paths
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Misspelt, as frightened parents type on a phone.
        ("shes not breething", "emergency"),
        ("she cant breath", "emergency"),
        ("he is having a siezure", "emergency"),
        ("my daughter is unconsious", "emergency"),
        ("her lips look grey", "emergency"),
        ("fevr of 39", "fever"),
        ("temprature 101.2", "fever"),
        ("temp is 102", "fever"),
        ("temp: 39.2", "fever"),
        ("her temperature has been 38.6 all night", "fever"),
        ("running 103 since lunch", "fever"),
        ("he is 38.9 and shaking", "fever"),
        ("101.3 after chemo", "fever"),
        ("its an emergency", "emergency"),
        ("EMERGENCY!!", "emergency"),
        # Spanish, with and without accents.
        ("mi hijo no puede respirar", "emergency"),
        ("mi hijo no despierta", "emergency"),
        ("tiene convulsiones", "emergency"),
        ("mi hija esta inconsciente", "emergency"),
        ("mi hijo tiene fiebre", "fever"),
        ("tiene 39 grados", "fever"),
        ("quiero morirme", "crisis"),
        ("ya no quiero vivir", "crisis"),
        # Spanish, misspelt or said another way.
        ("no respira bien", "emergency"),
        ("no podemos despertarla", "emergency"),
        ("esta inconsiente", "emergency"),
        ("sangra sin parar", "emergency"),
        ("tiene fievre", "fever"),
        ("no kiero vivir", "crisis"),
        ("creo que me mato", "crisis"),
        ("i think about suicde every day", "crisis"),
        ("some nights i think about ending it", "crisis"),
        ("i just want to end it all", "crisis"),
        ("my son says he wants to kill himself", "crisis"),
        ("my teen told me she wants to hurt herself", "crisis"),
        ("i found out she has been cutting herself", "crisis"),
        # A fever-level temperature at the end of a sentence.
        ("after chemo yesterday the thermometer read 38.4. what now", "fever"),
        ("he feels hot, 101.6.", "fever"),
        ("i dont want to wake up tomorrow", "crisis"),
        # A fever that came down and returned, or is described, is still a fever.
        ("His fever is over 39", "fever"),
        ("the fever went down after motrin but came back tonight", "fever"),
        ("fever came down with tylenol but now its back up to 103", "fever"),
        ("she's never had a fever like this before", "fever"),
        ("oh no fever again, what do we do", "fever"),
        ("no fever reducer is bringing it down", "fever"),
        # History that is happening again, or a danger that does not depend on the tense.
        ("he had seizures as a baby and now he is having one", "emergency"),
        ("history of seizures, she is seizing right now", "emergency"),
        ("last year she had a fever in the mibg room, today her temp is 39.4", "fever"),
        ("she had a fever 2 weeks ago and it came back", "fever"),
        ("one seizure in 2021, and he just had another", "emergency"),
        ("in 2022 he stopped breathing for a moment during a scan", "emergency"),
        ("tuvo convulsiones hace un año y hoy otra vez", "emergency"),
        ("fevers during frontline, none since, but now he has a fever on chemo", "fever"),
        ("asthma in the past, now she cant catch her breath", "emergency"),
        ("my toddler got into the full box of his sister's meds", "emergency"),
        ("he swallowed a button battery from the remote", "emergency"),
        ("i think she drank some bleach", "emergency"),
        ("se tomó un frasco entero de pastillas", "emergency"),
        ("my family would be better off without me", "crisis"),
        ("nobody would even miss me", "crisis"),
        ("they would all be better off without me for good", "crisis"),
        ("sometimes i think about what if i were gone for good", "crisis"),
        ("he had a seizure in 2020 and another one today", "emergency"),
    ],
)
def test_misspelt_and_spanish_danger_still_escalates(text, expected):
    assert safety.detect(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "my son is 4 and we live 200 miles away",
        "is there an emergency room at your hospital",
        "i work as an emergency nurse, what does mibg do",
        "who is the emergency contact",
        "in case of emergency who do i call",
        "we are in room 102 on floor 3",
        "call me at 215 555 0101",
        "she was born in 2019 and relapsed at 38 months",
        "he weighs 38 kg",
        "we have had 39 scans so far",
        "i have 101 questions",
        "we drove 100 miles",
        "the dose was 38.5 mg",
        "she got 38.5 mg of chemo today",
        "the temp agency called 5 times",
        "day 3 of treatment, how long is the stay",
        "never mind",
        "what about leisure time during the stay",
        "breathing exercises for kids before a scan",
        "the temp agency called about my shifts",
        # A fever that is absent or over; fibre is food.
        "no fever, just a question about the scans",
        "is a high fibre diet ok",
        # Spanish that only sounds alarming: awake, not waking a sibling, an idiom.
        "ahora está consciente y tranquilo",
        "tratamos de no despertarlo por la noche",
        "me mato trabajando",
        # A seizure or a fever told as history.
        "he had febrile seizures as a toddler, does that matter for trials",
        "she has a history of seizures, can she still be in the trial",
        "there was one convulsion in 2018 and none since",
        "her fever broke on sunday and she is back to normal, when is the next scan",
        "tuvo una convulsión hace dos años, ¿puede recibir mibg?",
        "a febrile seizure at age 2, none since. the cancer is back, what happens next",
        "lots of fevers during frontline, all fine now. what is bridge chemo",
        # Swallowing in its everyday sense.
        "she swallowed her pills without a fuss today",
        "he took a whole day off school for the scan",
        # A normal temperature.
        "temp 98.6 after chemo, he seems fine. what is bridge chemo",
        "her temperature was 37.2 at the clinic",
        "36.8 degrees this morning",
        "she fell off her bike and hurt herself, can she still have the scan",
        "can he swallow the chemo capsules or do they come as a liquid",
        # "Today" of the question itself; a parent's own question about the isolation room.
        "he had a seizure in 2020, today i just want to ask about trials",
        "is he better off without me in the room during mibg?",
    ],
)
def test_calm_messages_with_numbers_or_emergency_as_a_place_do_not_escalate(text):
    assert safety.detect(text) is None


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


def _ranked(text: str, *ranking: tuple[str, float]) -> Message:
    """A message as the classifier leaves it: its ranking, the first one as its intent."""
    message = Message(data={TEXT: text})
    entries = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    message.set(INTENT, entries[0])
    message.set(INTENT_RANKING_KEY, entries)
    return message


def test_safety_net_sets_aside_a_fever_with_no_sign_of_one_for_the_next_intent():
    message = _ranked(
        "she is 39 months old, when is the scan",
        ("fever", 0.5),
        ("emergency", 0.2),
        ("ask_followup_scans", 0.45),
    )
    SafetyNet(threshold=0.4).process([message])
    assert message.get(INTENT)["name"] == "ask_followup_scans"
    assert [entry["name"] for entry in message.get(INTENT_RANKING_KEY)] == [
        "ask_followup_scans",
        "fever",
        "emergency",
    ]


def test_safety_net_falls_back_when_the_next_intent_is_not_confident():
    message = _message("tiene 39 meses", "fever", 0.7)
    SafetyNet(threshold=0.4).process([message])
    assert message.get(INTENT)["name"] == "nlu_fallback"


def test_safety_net_keeps_a_fever_with_a_sign_of_one():
    message = _message("he feels hot and shaky", "fever", 0.7)
    SafetyNet().process([message])
    assert message.get(INTENT) == {"name": "fever", "confidence": 0.7}


def test_safety_net_keeps_an_emergency_the_message_does_not_explain_away():
    message = _message("tiene 39 meses", "emergency", 0.7)
    SafetyNet().process([message])
    assert message.get(INTENT) == {"name": "emergency", "confidence": 0.7}


def test_safety_net_sets_aside_an_emergency_told_as_history_for_the_next_intent():
    message = _ranked(
        "tuvo una convulsión en 2022, ¿qué es la fase 1?",
        ("emergency", 0.55),
        ("crisis", 0.1),
        ("ask_trial_phases", 0.42),
    )
    SafetyNet(threshold=0.4).process([message])
    assert message.get(INTENT) == {
        "name": "ask_trial_phases",
        "confidence": 0.42,
        "source": "safety_net:emergency_set_aside",
    }


@pytest.mark.parametrize(
    "text",
    [
        "no es una emergencia, solo quiero saber de los ensayos",
        # Said with none of the usual words: only the classifier hears them.
        "i have a plan",
        "everyone would be better if i wasnt around",
        "i want to go to sleep and not come back",
        # A false alarm the net accepts rather than lower a crisis.
        "QUIERO CAMBIAR MI PLAN DEL CELULAR",
    ],
)
def test_safety_net_never_sets_aside_a_crisis_the_classifier_read(text):
    assert safety.detect(text) is None
    message = _message(text, "crisis", 0.6)
    SafetyNet().process([message])
    assert message.get(INTENT) == {"name": "crisis", "confidence": 0.6}


def test_safety_net_sets_aside_a_distress_with_no_word_of_a_feeling_and_never_for_distress():
    # The answer to the form's relationship question, read as distress (i'm ~ "estoy ...").
    message = _ranked("i'm her father", ("distress", 0.5), ("greet", 0.38))
    SafetyNet(threshold=0.4).process([message])
    assert message.get(INTENT)["name"] == "nlu_fallback"
    message = _ranked("im his mom", ("distress", 0.5), ("greet", 0.45))
    SafetyNet(threshold=0.4).process([message])
    assert message.get(INTENT)["name"] == "greet"


@pytest.mark.parametrize(
    "text",
    [
        "i'm her father and i'm so scared",
        # No word of a feeling, but of a danger to a life.
        "i have a plan",
        "i want to sleep and never wake",
        "para que sigo",
        "estoy muy nerviosa, ¿qué es la quimio puente?",
        "no sé qué hacer",
        "i feel like i'm drowning",
        "me siento impotente",
    ],
)
def test_safety_net_keeps_a_distress_with_any_word_of_a_feeling(text):
    message = _message(text, "distress", 0.6)
    SafetyNet().process([message])
    assert message.get(INTENT) == {"name": "distress", "confidence": 0.6}


def test_safety_net_falls_back_at_the_fallback_classifiers_threshold():
    pipeline = yaml.safe_load((paths.ROOT / "config.yml").read_text())["pipeline"]
    threshold = {step["name"]: step.get("threshold") for step in pipeline}
    assert threshold["bot.nlu.safety_net.SafetyNet"] == threshold["FallbackClassifier"]


def _training_examples(intent: str) -> list[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(paths.ROOT / "data" / "nlu"))
    return [m.get(TEXT) for m in data.intent_examples if m.get(INTENT) == intent]


@pytest.mark.parametrize("intent", ["crisis", "distress"])
def test_no_crisis_or_distress_the_model_learnt_would_be_set_aside_as_distress(intent):
    # The words the net looks for must cover every way of saying it the classifier was taught.
    examples = _training_examples(intent)
    assert len(examples) > 100
    assert [text for text in examples if safety.distress_unfounded(text)] == []
