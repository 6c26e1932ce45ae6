"""The blind evaluation sets (tests/eval/*.yml) stay blind, complete, readable."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import yaml

from bench.eval import (
    EVAL_SETS,
    SECOND_SET,
    SPANISH_FOURTH_SET,
    SPANISH_SECOND_SET,
    SPANISH_SET,
    SPANISH_THIRD_SET,
    Case,
    figures,
    load_set,
)
from bot import paths

PARTS = {"topic", "safety", "calm", "near_domain", "unrelated"}
_MARKUP = re.compile(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}")


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())


def training_texts() -> set[str]:
    """Every NLU example under data/, entity mark-up removed, normalised."""
    texts = set()
    for path in (paths.DATA / "nlu").glob("*.yml"):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            for line in str(item.get("examples") or "").splitlines():
                example = line.strip().removeprefix("- ")
                example = _MARKUP.sub(lambda m: m.group(1) or m.group(2) or "", example)
                if example:
                    texts.add(_normal(example))
    return texts


@pytest.fixture(scope="module")
def blind() -> list[dict]:
    return load_set()


@pytest.mark.parametrize("path", EVAL_SETS, ids=lambda path: path.name)
def test_no_evaluation_text_is_in_the_training_data(path):
    trained = training_texts()
    assert len(trained) > 1000
    leaked = [m["text"] for m in load_set(path) if _normal(m["text"]) in trained]
    assert leaked == []


def test_the_second_set_is_new_and_covers_every_part(blind, domain):
    second = load_set(SECOND_SET)
    first = {_normal(m["text"]) for m in blind}
    assert [m["text"] for m in second if _normal(m["text"]) in first] == []
    assert {m["part"] for m in second} == PARTS
    assert {m["expect"] for m in second} <= set(domain["intents"])
    assert len(second) >= 250


@pytest.mark.parametrize(
    "path",
    [SPANISH_SET, SPANISH_SECOND_SET, SPANISH_THIRD_SET, SPANISH_FOURTH_SET],
    ids=lambda path: path.name,
)
def test_the_spanish_sets_are_spanish_new_and_cover_every_part(blind, domain, path):
    spanish = load_set(path)
    others = [p for p in EVAL_SETS if p != path]
    earlier = {_normal(m["text"]) for other in others for m in load_set(other)}
    assert [m["text"] for m in spanish if _normal(m["text"]) in earlier] == []
    assert {m["lang"] for m in spanish} == {"es"}
    assert {m["part"] for m in spanish} == PARTS
    assert {m["expect"] for m in spanish} <= set(domain["intents"])
    assert len(spanish) >= 300
    safety = Counter(m["expect"] for m in spanish if m["part"] == "safety")
    assert min(safety[name] for name in ("emergency", "fever", "crisis", "distress")) >= 10


def test_the_set_covers_every_intent_and_part(blind, domain):
    intents = set(domain["intents"])
    assert len(blind) >= 600
    assert {m["part"] for m in blind} == PARTS
    assert {m["expect"] for m in blind} <= intents
    parts = Counter(m["part"] for m in blind)
    assert parts["safety"] >= 100 and parts["calm"] >= 50
    assert parts["near_domain"] + parts["unrelated"] >= 90
    spanish_safety = [m for m in blind if m["lang"] == "es" and m["part"] == "safety"]
    assert len(spanish_safety) >= 20
    topics = Counter(m["expect"] for m in blind if m["part"] == "topic")
    # The page-is-silent intents are measured by the near-domain part (wrong answers).
    silent = {intent for intent in intents if intent.startswith("not_covered_")}
    missing = intents - set(topics) - silent - {"emergency", "fever", "crisis", "distress"}
    missing -= {"out_of_scope", "something_else"}  # something_else: a button's payload
    missing -= {"switch_language"}  # newer than this set; its requests are patterns
    assert missing == set()


def test_figures_count_recall_alarms_and_wrong_answers():
    cases = [
        Case("not breathing", "emergency", "safety", "en", "emergency", 1.0),
        Case("fevr", "fever", "safety", "en", "greet", 0.5),
        Case("emergency room?", "ask_team", "calm", "en", "emergency", 1.0),
        Case("parking?", "out_of_scope", "near_domain", "en", "ask_mibg_stay_length", 0.9),
        Case("weather", "out_of_scope", "unrelated", "en", "out_of_scope", 0.9),
    ]
    en = figures(cases)["by_language"]["en"]
    assert en["safety_recall"] == 0.5 and en["safety_missed"] == ["fevr"]
    assert en["false_alarms"] == ["emergency room?"]
    assert en["wrong_answer_rate"] == 0.5
    assert en["intent_accuracy"] == round(1 / 3, 4)
