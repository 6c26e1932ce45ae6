"""The rule-based spaCy pipeline: it builds, saves, loads, lemmatizes and finds domain terms."""

from __future__ import annotations

import spacy
import yaml

from bot import paths
from bot.nlu import spacy_pipeline
from bot.paths import ROOT


def test_pipeline_builds_saves_and_loads(tmp_path):
    assert spacy_pipeline.main([str(tmp_path / "nlp")]) == 0
    nlp = spacy.load(tmp_path / "nlp")
    assert nlp.pipe_names == ["lemmatizer", "entity_ruler"]

    doc = nlp(
        "Her scans showed an ALK mutation, so is she eligible for a NANT or COG trial "
        "after I-131 MIBG and irinotecan?"
    )
    entities = {(ent.text, ent.label_) for ent in doc.ents}
    assert {
        ("scans", "test"),
        ("ALK", "gene"),
        ("NANT", "trial_group"),
        ("COG", "trial_group"),
        ("I-131 MIBG", "therapy"),
        ("irinotecan", "therapy"),
    } <= entities
    assert [t.lemma_ for t in nlp("children were running")] == ["child", "be", "run"]


def test_matching_ignores_case():
    doc = spacy_pipeline.build()("is mibg therapy like temozolomide")
    assert [(ent.text, ent.label_) for ent in doc.ents] == [
        ("mibg therapy", "therapy"),
        ("temozolomide", "therapy"),
    ]


def test_config_loads_the_pipeline_make_builds():
    config = yaml.safe_load(paths.CONFIG.read_text())
    spacy_nlp = next(c for c in config["pipeline"] if c["name"] == "SpacyNLP")
    assert spacy_nlp["model"] == str(spacy_pipeline.DEFAULT_OUTPUT)
    assert (ROOT / spacy_pipeline.DEFAULT_OUTPUT / "meta.json").exists()
