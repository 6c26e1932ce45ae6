"""The sentence model is used only as the pinned files, and its embeddings mean something."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bot import paths
from bot.nlu.embeddings import SentenceEncoder
from bot.nlu.sentence_model import PINNED, UncheckedModel, sha256, verify


def test_the_unpacked_files_are_the_pinned_ones():
    assert verify(paths.SENTENCE_MODEL) == paths.SENTENCE_MODEL
    assert {name: sha256(paths.SENTENCE_MODEL / name) for name in PINNED} == PINNED


def copy_with_links(tmp_path: Path) -> Path:
    """The model folder, its big weights linked rather than copied."""
    copy = tmp_path / "model"
    copy.mkdir()
    for item in paths.SENTENCE_MODEL.iterdir():
        if item.is_file():
            (copy / item.name).symlink_to(item)
    return copy


def test_a_changed_tokenizer_is_refused(tmp_path):
    copy = copy_with_links(tmp_path)
    (copy / "tokenizer.json").unlink()
    shutil.copy(paths.SENTENCE_MODEL / "tokenizer.json", copy / "tokenizer.json")
    with (copy / "tokenizer.json").open("a", encoding="utf-8") as file:
        file.write(" ")
    with pytest.raises(UncheckedModel, match="tokenizer.json has sha256"):
        verify(copy)


def test_missing_weights_are_refused_with_the_command_that_fixes_it(tmp_path):
    copy = copy_with_links(tmp_path)
    (copy / "model.safetensors").unlink()
    with pytest.raises(UncheckedModel, match="model.safetensors.*make setup"):
        verify(copy)


def test_paraphrases_are_closer_than_unrelated_questions():
    encoder = SentenceEncoder(paths.SENTENCE_MODEL, max_tokens=256)
    stay, paraphrase, unrelated = encoder.encode(
        [
            "how long does my child stay in the mibg room",
            "how many days is the admission for the radioactive treatment",
            "how many vacation days do i have left",
        ]
    )
    assert np.isclose(np.linalg.norm(stay), 1.0, atol=1e-4)
    assert stay @ paraphrase > stay @ unrelated
