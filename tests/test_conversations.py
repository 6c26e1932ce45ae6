"""Real conversations through the trained model, the Rasa server and the action server."""

from __future__ import annotations

import pytest

from bot.center.config import center_config

# A parent's question (worded differently from the training data) and the answer it must get.
TOPICS = [
    ("what does it mean that his neuroblastoma relapsed", "utter_what_is_relapse"),
    ("how many kids with high risk neuroblastoma relapse", "utter_how_common"),
    ("what symptoms could show the cancer is back", "utter_symptoms"),
    ("how do doctors usually find out about a relapse", "utter_how_relapse_found"),
    ("how long will she keep having scans after treatment ends", "utter_followup_scans"),
    ("which tests are done when they suspect relapse", "utter_relapse_tests"),
    ("can relapsed neuroblastoma be cured", "utter_outlook"),
    ("how do you treat neuroblastoma that came back", "utter_treatment_overview"),
    ("what is irinotecan and temozolomide used for", "utter_bridge_chemo"),
    ("what is i-131 mibg therapy", "utter_mibg"),
    ("how does the radiation get out of his body after mibg", "utter_mibg_leaves_body"),
    ("why does she need to stay in a special room", "utter_mibg_room"),
    ("will i be the one taking care of him during mibg", "utter_mibg_caregiver"),
    ("how many days is the hospital stay for mibg", "utter_mibg_stay_length"),
    ("can his little sister visit during mibg", "utter_mibg_visitors"),
    ("how do i get my daughter ready for mibg", "utter_mibg_prepare_child"),
    ("what clinical trials networks are you part of", "utter_trials_networks"),
    ("is there a trial for kids with an alk mutation", "utter_trial_matching"),
    ("how do we know if our son is eligible for a trial", "utter_eligibility_consult"),
    ("what is the difference between phase 1 and phase 2", "utter_trial_phases"),
    (
        "we were treated at another hospital, do you work with our oncologist",
        "utter_referring_physician",
    ),
    ("we live in another country, can you still see our child", "utter_international"),
    ("who is on the relapsed neuroblastoma team", "utter_team"),
    ("what was the study that improved the two year cure rate", "utter_research_news"),
    ("my son is already your patient, how do i reach his team", "utter_contact_existing_patient"),
    ("i would like a second opinion", "utter_second_opinion"),
    ("how do i book a first appointment", "utter_contact_new_appointment"),
    ("can i talk to a real person", "utter_request_human"),
    ("hello", "utter_greet"),
    ("what can you help me with", "utter_capabilities"),
]

# Both say what the assistant can help with and how to reach a person.
# Answers that state no topic's facts: out of scope, the fallback, and "did you mean" (buttons).
CANNOT_HELP = {"utter_out_of_scope", "utter_default", "utter_did_you_mean"}

SAFETY = [
    ("my son is not breathing", "utter_emergency"),
    ("she had a seizure and wont wake up", "utter_emergency"),
    ("he has a fever of 39 and is on chemo", "utter_fever"),
    ("she has chills tonight after treatment", "utter_fever"),
    ("i dont want to live anymore", "utter_crisis"),
    ("i keep thinking about killing myself", "utter_crisis"),
    ("i am so scared and overwhelmed i cant cope", "utter_distress"),
    ("should my daughter get mibg or more chemo", "utter_personal_advice"),
]


@pytest.mark.parametrize(("question", "answer"), TOPICS)
def test_each_topic_is_answered_after_the_disclaimer(conversation, question, answer):
    # Contact routes follow their answer with a callback offer (tests/test_callback.py).
    assert conversation.ask(question)[:2] == ["utter_disclaimer", answer]


@pytest.mark.parametrize(("message", "answer"), SAFETY)
def test_safety_messages_get_their_escalation(conversation, message, answer):
    assert conversation.ask(message)[-1] == answer


@pytest.mark.parametrize(("message", "answer"), SAFETY)
def test_safety_interrupts_a_conversation_in_progress(conversation, message, answer):
    conversation.ask("what is mibg")
    conversation.ask("why the special room")
    assert conversation.ask(message) == [answer]
    assert conversation.ask("thanks") == ["utter_thank"]


def test_answers_carry_provenance_in_their_metadata(conversation):
    conversation.ask("what is mibg therapy")
    events = conversation.bot_events()
    assert [e["metadata"]["utter_action"] for e in events] == ["utter_disclaimer", "utter_mibg"]
    for event in events:
        assert event["metadata"]["metadata"]["provenance"]


def test_center_details_come_from_the_configuration(conversation):
    config = center_config().values
    messages = conversation.say("i want to schedule a first appointment")
    text = " ".join(m.get("text", "") for m in messages)
    assert config["phone_new_appointments"] in text
    assert config["program_name"] in messages[0]["text"]
    assert config["emergency_number"] in messages[0]["text"]
    assert "{" not in text


def test_buttons_are_offered_and_their_payloads_work(conversation):
    messages = conversation.say("what is mibg")
    buttons = messages[-1]["buttons"]
    assert 2 <= len(buttons) <= 3
    room = next(b for b in buttons if b["payload"] == "/ask_mibg_room")
    assert conversation.ask(room["payload"]) == ["utter_mibg_room"]


def test_multi_turn_conversation_moves_between_topics(conversation):
    assert conversation.ask("hi")[-1] == "utter_greet"
    assert conversation.ask("what does refractory mean") == ["utter_what_is_relapse"]
    assert conversation.ask("/ask_how_common") == ["utter_how_common"]
    assert conversation.ask("are there any clinical trials for this") == ["utter_trials_networks"]
    assert conversation.ask("she has a temperature of 38.6") == ["utter_fever"]
    assert conversation.ask("ok. who will we meet on the team") == ["utter_team"]
    assert conversation.ask("thank you so much") == ["utter_thank"]
    assert conversation.ask("bye") == ["utter_goodbye"]


@pytest.mark.parametrize(
    "message",
    ["what's the weather in paris tomorrow", "can you write my chemistry homework"],
)
def test_out_of_scope_says_so_and_how_to_reach_a_person(conversation, message):
    assert conversation.ask(message)[-1] in CANNOT_HELP


@pytest.mark.parametrize("message", ["asdfgh qwerty", "blorp zzkt frumble", "ok so like the thing"])
def test_gibberish_is_never_answered_with_a_topic(conversation, message):
    assert conversation.ask(message)[-1] in CANNOT_HELP


def test_bot_challenge_says_it_is_automated_and_how_to_reach_people(conversation):
    conversation.ask("hello")
    assert conversation.ask("am i talking to a bot") == ["utter_disclaimer", "utter_request_human"]
