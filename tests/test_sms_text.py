"""The SMS text functions: GSM-7, segments, sentence packing, numbered lists, keywords."""

from __future__ import annotations

import pytest

from bot.channels.buttons import Button
from bot.channels.sms import text as sms_text

BUTTONS = [
    Button(title="Why the special room?", payload="/ask_mibg_room"),
    Button(title="What is my role?", payload="/ask_mibg_caregiver"),
    Button(title="How does it leave the body?", payload="/ask_mibg_leaves_body"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It’s the child’s room", "It's the child's room"),
        ("“Therapy Boosts Cure Rate”", '"Therapy Boosts Cure Rate"'),
        ("Phase 1 – and Phase 2 — trials", "Phase 1 - and Phase 2 - trials"),
        ("Wait…", "Wait..."),
        ("We are here for you 💙", "We are here for you"),
        ("Thumbs up 👍🏽 ok", "Thumbs up ok"),
        ("Family 👨‍👩‍👧 visits", "Family visits"),
        ("Call\u00a0now", "Call now"),
        ("José and Zoë", "José and Zoe"),
        ("Ça va, ça, Ångström", "Ça va, ca, Ångström"),
        ("Temp 38.5°C", "Temp 38.5 degrees C"),
        ("• first\n• second", "- first\n- second"),
        ("plain text stays", "plain text stays"),
        ("李 keeps non-Latin letters", "李 keeps non-Latin letters"),
    ],
)
def test_to_gsm7(text, expected):
    assert sms_text.to_gsm7(text) == expected


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 0),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
        # An extension character counts twice: 80 of them fill one segment...
        ("€" * 80, 1),
        ("€" * 81, 2),
        # ... and is never split between segments: 76 pairs fill 152 of 153 septets.
        ("a" * 152 + "[" + "a" * 8, 2),
        ("a" * 152 + "[" + "a" * 9, 2),
        # One character outside GSM-7 makes the whole message UCS-2.
        ("李" * 70, 1),
        ("李" * 71, 2),
        ("a" * 69 + "李", 1),
        ("a" * 200 + "李", 3),
        ("a" * 201 + "李", 4),
        # A surrogate pair (emoji kept by a caller) counts as two units.
        ("😀" * 35, 1),
        ("😀" * 36, 2),
    ],
)
def test_segment_count(text, segments):
    assert sms_text.segment_count(text) == segments


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One. Two! Three?", ["One.", "Two!", "Three?"]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("I-131 MIBG is a drug. It is clear.", ["I-131 MIBG is a drug.", "It is clear."]),
        (
            "Go to https://example.org/a.b now. Then call.",
            ["Go to https://example.org/a.b now.", "Then call."],
        ),
        ("A temperature of 38.5 is a fever.", ["A temperature of 38.5 is a fever."]),
        ("no end mark", ["no end mark"]),
    ],
)
def test_split_sentences(text, sentences):
    assert sms_text.split_sentences(text) == sentences


def test_numbered_list_shows_titles_never_payloads():
    assert sms_text.numbered_list(BUTTONS) == (
        "Reply 1 for Why the special room?\n"
        "Reply 2 for What is my role?\n"
        "Reply 3 for How does it leave the body?"
    )


@pytest.mark.parametrize(
    ("reply", "number"),
    [
        ("1", 1),
        ("1.", 1),
        (" 2 ", 2),
        ("2)", 2),
        ("#3", 3),
        ("one", 1),
        ("One.", 1),
        ("TWO", 2),
        ("three!", 3),
        ("option 2", 2),
        ("12", 12),
        ("0", None),
        ("1 please", None),
        ("what is 1", None),
        ("someone", None),
        ("", None),
    ],
)
def test_choice_number(reply, number):
    assert sms_text.choice_number(reply) == number


@pytest.mark.parametrize(
    ("reply", "payload"),
    [
        ("1", "/ask_mibg_room"),
        ("2.", "/ask_mibg_caregiver"),
        ("three", "/ask_mibg_leaves_body"),
        ("4", None),
        ("why the room", None),
    ],
)
def test_chosen_payload(reply, payload):
    assert sms_text.chosen_payload(reply, BUTTONS) == payload


def test_a_number_without_a_list_picks_nothing():
    assert sms_text.chosen_payload("1", []) is None


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("STOP", "STOP"),
        (" stop ", "STOP"),
        ("Stop.", "STOP"),
        ("stop all", "STOPALL"),
        ("Unsubscribe", "UNSUBSCRIBE"),
        ("cancel", "CANCEL"),
        ("END", "END"),
        ("quit!", "QUIT"),
        ("start", "START"),
        ("Unstop", "UNSTOP"),
        ("yes", "YES"),
        ("help", "HELP"),
        ("Help?", None),
        ("please stop", None),
        ("stop the chemo?", None),
        ("what is mibg", None),
    ],
)
def test_keyword(text, word):
    assert sms_text.keyword(text) == word


def test_fill_puts_center_values_in_and_normalises():
    assert (
        sms_text.fill("Call {phone} – now", {"phone": "215-555-0100"}) == "Call 215-555-0100 - now"
    )


def test_pack_keeps_a_short_reply_in_one_message():
    assert sms_text.pack(["Hello.", "Reply 1 for Hi"]) == ["Hello.\n\nReply 1 for Hi"]


def test_pack_splits_at_sentence_ends_within_three_segments_and_numbers_the_parts():
    sentence = "This is one plain sentence of about sixty characters in all. "
    text = (sentence * 12).strip()
    messages = sms_text.pack([text])
    assert len(messages) == 2
    assert [m[:6] for m in messages] == ["(1/2) ", "(2/2) "]
    assert all(sms_text.segment_count(m) <= 3 for m in messages)
    assert all(m.endswith("all.") for m in messages)
    assert " ".join(m[6:] for m in messages) == text


def test_pack_moves_a_whole_block_to_the_next_message_when_that_costs_nothing():
    first, second = "a" * 300 + ".", "b" * 300 + "."
    assert sms_text.pack([first, second]) == [f"(1/2) {first}", f"(2/2) {second}"]


def test_pack_cuts_a_sentence_longer_than_a_message_between_words():
    text = " ".join(["word"] * 200)
    messages = sms_text.pack([text])
    assert all(sms_text.segment_count(m) <= 3 for m in messages)
    assert " ".join(m.split(" ", 1)[1] for m in messages) == text


def test_pack_never_drops_text_beyond_three_messages():
    blocks = [f"Block {n} " + "x" * 440 + "." for n in range(5)]
    messages = sms_text.pack(blocks)
    assert len(messages) == 3
    assert all(f"Block {n} " in "".join(messages) for n in range(5))


def test_format_reply_numbers_all_buttons_after_the_last_text():
    reply = sms_text.format_reply(
        [
            {"recipient_id": "x", "text": "I am an automated assistant."},
            {"recipient_id": "x", "text": "I-131 MIBG is a drug.", "buttons": BUTTONS},
        ]
    )
    assert reply.messages == [
        "I am an automated assistant.\n\nI-131 MIBG is a drug.\n\n"
        + sms_text.numbered_list(BUTTONS)
    ]
    assert reply.buttons == BUTTONS
    assert "/ask" not in reply.messages[0]


def test_format_reply_without_buttons_has_no_list():
    reply = sms_text.format_reply([{"text": "Take care."}])
    assert reply == sms_text.SmsReply(messages=["Take care."], buttons=[])


def test_format_reply_sends_an_image_as_its_link_and_leaves_custom_json_out():
    reply = sms_text.format_reply([{"image": "https://example.org/a.png"}, {"custom": {"a": 1}}])
    assert reply.messages == ["https://example.org/a.png"]
