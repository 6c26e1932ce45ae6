"""Builds the assistant's spaCy pipeline from `spacy.blank("en")`.

Pretrained spaCy models cannot be downloaded on the machines this runs on, so the pipeline is
rule-based and built in the repo: a lookup lemmatizer (tables from spacy-lookups-data, saved into
the pipeline so loading it needs nothing else) and an EntityRuler with the program's vocabulary.
`config.yml` loads the result by path through Rasa's `SpacyNLP`.

Run `python -m bot.nlu.spacy_pipeline [OUTPUT_DIR]`; `make` does this during setup.
"""

from __future__ import annotations

import sys
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.pipeline import EntityRuler

DEFAULT_OUTPUT = Path("build/spacy-nb")

# Entity label -> phrases, as they appear in the center's page and in parents' questions.
# Matching is case-insensitive (the ruler matches on the lower-cased token text).
VOCABULARY: dict[str, list[str]] = {
    "therapy": [
        "I-131 MIBG",
        "I-131-MIBG",
        "I131 MIBG",
        "MIBG",
        "MIBG therapy",
        "irinotecan",
        "temozolomide",
        "chemotherapy",
        "chemo",
        "targeted radiotherapy",
        "radiotherapy",
        "surgery",
        "ALK inhibitor",
    ],
    "trial_group": [
        "COG",
        "Children's Oncology Group",
        "NANT",
        "New Approaches to Neuroblastoma Therapy",
    ],
    "gene": ["ALK"],
    "test": ["scan", "scans", "MIBG scan", "CT scan", "MRI", "bone marrow test", "biopsy"],
}


def _patterns() -> list[dict]:
    """Token patterns for the EntityRuler, one per phrase, split the way spaCy tokenizes it."""
    tokenizer = spacy.blank("en").tokenizer
    patterns = []
    for label, phrases in VOCABULARY.items():
        for phrase in phrases:
            tokens = [{"LOWER": token.lower_} for token in tokenizer(phrase)]
            patterns.append({"label": label, "pattern": tokens, "id": phrase.lower()})
    return patterns


def build() -> Language:
    """A blank English pipeline with lookup lemmas and the domain's EntityRuler."""
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    assert isinstance(ruler, EntityRuler)
    nlp.initialize()  # loads the lookup tables from spacy-lookups-data into the lemmatizer
    ruler.add_patterns(_patterns())
    nlp.meta["name"] = "nb_family_rules"
    nlp.meta["description"] = "Rule-based pipeline: lookup lemmas and neuroblastoma vocabulary."
    return nlp


def main(argv: list[str]) -> int:
    """Build and save the pipeline to the given folder (default build/spacy-nb)."""
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    output.parent.mkdir(parents=True, exist_ok=True)
    build().to_disk(output)
    print(f"spaCy pipeline written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
