"""Checks that keep the assistant's wording true, traceable and readable.

Every response in domain.yml must say where its facts come from (`metadata.provenance`), use
only numbers that appear in the center's page, name center details only through configured
slots, and read at a US grade a worried parent can take in on a phone. `python -m bot
content-check` prints the report; tests/test_content.py fails the suite on any problem.

Spanish variations (conditioned on the `language` slot) are translations of the English ones,
with the same provenance. Each carries `metadata.translation`: `{status: needs_review}` until a
staff member who reads Spanish checks it against the English and the page and writes
`{status: reviewed, reviewer: <name>, date: <YYYY-MM-DD>}`. The report lists what is pending,
and reads Spanish with the Fernández-Huerta ease score (textstat's Spanish syllables): 60 and up
reads like a US grade 8 text or easier, 50 like grade 10.

The page is kept in the repository (content/source/, a copy of the center's reviewed text);
CONTENT_SOURCE points the check at another copy, for example a newer one under review.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import textstat
import yaml
from textstat.textstat import textstatistics

from bot import paths
from bot.center.config import SLOT_KEYS, CenterConfig
from bot.nlu import language

SOURCE_ENV = "CONTENT_SOURCE"
# The page's text and the README that lists its sections, as the center's export names them.
SOURCE_TEXT = "000_d35ba8b09c2971c0.txt"
SOURCE_README = "README.md"

MAX_GRADE = 10.0
MAX_AVERAGE_GRADE = 8.0
# Fernández-Huerta ease of the Spanish variations (higher is easier): the same limits as grades.
MIN_EASE = 50.0
MIN_AVERAGE_EASE = 60.0
SPANISH = "es"
NEEDS_REVIEW = "needs_review"
REVIEWED = "reviewed"
# Wording that states no fact (greetings, thanks) says so instead of naming a source.
CONVERSATION = "assistant:conversation"

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_NUMBER = re.compile(r"\d+")


class SourceMissing(Exception):
    """The center's page is not where the settings say; the message names the setting."""


@dataclass(frozen=True)
class Source:
    """The center's page: its section names (for provenance) and its text (for numbers)."""

    sections: frozenset[str]
    text: str


def source_dir() -> Path:
    """Where the page is: $CONTENT_SOURCE, else content/source/ in the repository."""
    configured = os.environ.get(SOURCE_ENV, "").strip()
    return Path(configured).expanduser() if configured else paths.CONTENT_SOURCE


def load_source(folder: Path | None = None) -> Source:
    """Reads the page and its section list.

    Raises:
        SourceMissing: either file is missing or unreadable.

    """
    folder = folder or source_dir()
    try:
        readme = (folder / SOURCE_README).read_text(encoding="utf-8")
        text = (folder / SOURCE_TEXT).read_text(encoding="utf-8")
    except OSError as error:
        raise SourceMissing(
            f"the center's page is not readable in {folder} ({error.strerror}): set "
            f"{SOURCE_ENV} to the folder holding {SOURCE_README} and {SOURCE_TEXT}"
        ) from None
    sections = frozenset(re.findall(r"^- ([a-z-]+):", readme, flags=re.MULTILINE))
    return Source(sections=sections, text=text)


@dataclass(frozen=True)
class Variation:
    """One variation of one response."""

    response: str
    text: str
    provenance: list[str]
    buttons: list[dict[str, str]]
    language: str = "en"
    translation: Mapping[str, Any] | None = None
    channel: str | None = None


def variations(domain: Mapping[str, Any]) -> Iterator[Variation]:
    """Every response variation in the domain."""
    for name, items in (domain.get("responses") or {}).items():
        for item in items:
            metadata = item.get("metadata") or {}
            yield Variation(
                response=name,
                text=item.get("text", ""),
                provenance=list(metadata.get("provenance") or []),
                buttons=list(item.get("buttons") or []),
                language=language.of_variation(item),
                translation=metadata.get("translation"),
                channel=item.get("channel"),
            )


def load_domain(path: Path = paths.DOMAIN) -> dict[str, Any]:
    """The parsed domain."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def render(text: str, config: CenterConfig) -> str:
    """The text as a family sees it, with the configured values in place of slots."""
    return _PLACEHOLDER.sub(lambda match: config.values.get(match.group(1), match.group(0)), text)


def grade(text: str) -> float:
    """US school grade (Flesch-Kincaid) of a text."""
    return float(textstat.flesch_kincaid_grade(text))


@lru_cache(maxsize=1)
def _spanish() -> Any:
    reader = textstatistics()
    reader.set_lang(SPANISH)
    return reader


def ease(text: str) -> float:
    """Fernández-Huerta ease of a Spanish text (higher is easier; 60-70 is "normal")."""
    return float(_spanish().fernandez_huerta(text))


def translation_problems(domain: Mapping[str, Any]) -> list[str]:
    """Responses without a Spanish variation for each English one, or with a bad review mark."""
    found = []
    by_response: dict[str, list[Variation]] = {}
    for variation in variations(domain):
        by_response.setdefault(variation.response, []).append(variation)
    for name, items in by_response.items():
        # Spanish may add a shorter `channel: sms` variation (accents make texts UCS-2).
        english = {(v.channel, len(v.buttons)) for v in items if v.language != SPANISH}
        spanish = {(v.channel, len(v.buttons)) for v in items if v.language == SPANISH}
        if not english <= spanish or {channel for channel, _ in spanish - english} - {"sms"}:
            found.append(f"{name}: the Spanish variations do not match the English ones")
        for variation in items:
            if variation.language != SPANISH:
                continue
            mark = variation.translation or {}
            if mark.get("status") == REVIEWED:
                if not (mark.get("reviewer") and mark.get("date")):
                    found.append(f"{name}: a reviewed translation needs reviewer and date")
            elif mark.get("status") != NEEDS_REVIEW:
                found.append(f"{name}: Spanish variation without metadata.translation.status")
    return found


def pending_translations(domain: Mapping[str, Any]) -> list[str]:
    """Responses with a Spanish variation still marked needs_review."""
    return sorted(
        {
            v.response
            for v in variations(domain)
            if v.language == SPANISH and (v.translation or {}).get("status") != REVIEWED
        }
    )


def problems(
    variation: Variation,
    sections: set[str],
    source_text: str,
    config: CenterConfig,
    family_slots: frozenset[str] = frozenset(),
) -> list[str]:
    """Everything wrong with one variation's provenance and facts; empty when it is fine.

    `family_slots` are placeholders for what the family itself typed (their name, the
    reference of their request): they state no fact, so they need no provenance.
    """
    found: list[str] = []
    where = variation.response
    if not variation.provenance:
        found.append(f"{where}: no metadata.provenance")
    config_keys = {config.provenance_key(slot) for slot in SLOT_KEYS}
    for reference in variation.provenance:
        kind, _, name = reference.partition(":")
        valid = (
            (kind == "source" and name in sections)
            or (kind == "config" and reference in config_keys)
            or reference == CONVERSATION
        )
        if not valid:
            found.append(f"{where}: unknown provenance {reference!r}")
    for slot in _PLACEHOLDER.findall(variation.text):
        if slot in family_slots:
            continue
        if slot not in SLOT_KEYS:
            found.append(f"{where}: {{{slot}}} is not a configured center detail")
        elif config.provenance_key(slot) not in variation.provenance:
            found.append(f"{where}: uses {{{slot}}} without {config.provenance_key(slot)}")
    source_numbers = set(_NUMBER.findall(source_text))
    bare_text = _PLACEHOLDER.sub("", variation.text)
    for number in _NUMBER.findall(bare_text):
        if number not in source_numbers:
            found.append(f"{where}: the number {number} is not in the center's page")
    return found


def report(
    domain: Mapping[str, Any], config: CenterConfig, source: Source | None = None
) -> dict[str, Any]:
    """Provenance problems and reading grades for the whole domain.

    Raises:
        SourceMissing: no source is given and the configured page cannot be read.

    """
    source = source or load_source()
    sections, source_text = set(source.sections), source.text
    found: list[str] = []
    grades: dict[str, float] = {}
    eases: dict[str, float] = {}
    family_slots = frozenset(domain.get("slots") or {})
    for variation in variations(domain):
        found += problems(variation, sections, source_text, config, family_slots)
        text = render(variation.text, config)
        if variation.language == SPANISH:
            eases[variation.response] = min(ease(text), eases.get(variation.response, 200.0))
        else:
            grades[variation.response] = max(grade(text), grades.get(variation.response, 0.0))
    average = sum(grades.values()) / len(grades)
    too_hard = [
        f"{name}: grade {value:.1f} is above {MAX_GRADE}"
        for name, value in grades.items()
        if value > MAX_GRADE
    ]
    if average > MAX_AVERAGE_GRADE:
        too_hard.append(f"average grade {average:.2f} is above {MAX_AVERAGE_GRADE}")
    too_hard += [
        f"{name} (es): Fernández-Huerta ease {value:.1f} is below {MIN_EASE}"
        for name, value in eases.items()
        if value < MIN_EASE
    ]
    average_ease = sum(eases.values()) / len(eases) if eases else 100.0
    if average_ease < MIN_AVERAGE_EASE:
        too_hard.append(f"average Spanish ease {average_ease:.2f} is below {MIN_AVERAGE_EASE}")
    return {
        "problems": found + translation_problems(domain) + too_hard,
        "grades": grades,
        "average": average,
        "eases": eases,
        "average_ease": average_ease,
        "pending": pending_translations(domain),
    }


def format_report(result: Mapping[str, Any]) -> str:
    """A plain-text table of grades, then the problems."""
    lines = [f"{'response':34} grade"]
    for name, value in sorted(result["grades"].items(), key=lambda item: -item[1]):
        lines.append(f"{name:34} {value:5.1f}")
    grades = result["grades"].values()
    lines.append(
        f"\nresponses: {len(result['grades'])}  average grade: {result['average']:.2f}  "
        f"worst: {max(grades):.1f}"
    )
    eases = result.get("eases") or {}
    if eases:
        lines.append(f"\n{'response (Spanish)':34} ease")
        for name, value in sorted(eases.items(), key=lambda item: item[1]):
            lines.append(f"{name:34} {value:5.1f}")
        lines.append(
            f"\nSpanish responses: {len(eases)}  average ease: {result['average_ease']:.2f}  "
            f"hardest: {min(eases.values()):.1f}"
        )
    pending = result.get("pending") or []
    lines.append(
        f"translations pending review: {len(pending)}"
        + (f" ({', '.join(pending)})" if pending else "")
    )
    lines += [f"PROBLEM {problem}" for problem in result["problems"]] or ["no problems"]
    return "\n".join(lines)
