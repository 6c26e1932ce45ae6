"""Masks personal details in what a family typed, before staff see or export it.

Staff review questions, not people. A message may still carry a phone number ("call me at 215
555 0199, what is relapse"), an e-mail address, a record number, or a name given in the callback
form and typed again later. These are replaced by a marker:

- phone numbers as `phonenumbers` finds them (any country, the center's region for numbers
  written without a country code);
- anything with an @ in it, valid address or not ("ana@gmail");
- any other run of seven or more digits (a record number, a phone number the matcher did not
  take), digits joined by spaces, dots, dashes or brackets; dates (12/01/2026), temperatures,
  ages and doses have fewer and stay, since they are what the question is about;
- the values the family gave inside the callback form (its name, phone, e-mail, best time,
  hospital, country), wherever they occur again, case and accents ignored.

Masking errs towards masking: a reviewer loses a few digits, a family never loses its privacy.
"""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers
import regex

from bot.nlu.language import fold

PHONE = "[phone]"
EMAIL = "[email]"
NUMBER = "[number]"
DETAIL = "[personal detail]"
MARKERS = (PHONE, EMAIL, NUMBER, DETAIL)

# A value this short ("US", "am", "Al") is too common a string to look for in other messages.
SHORTEST_VALUE = 3
_AT = regex.compile(r"[^\s@]*@[^\s@]*")
_LONG_NUMBER = regex.compile(r"\+?\d(?:[\s.()\-]{0,2}\d){6,}")


class Masker:
    """Masks phone numbers, e-mail addresses, long numbers and the given personal values."""

    def __init__(self, values: Iterable[str] = (), region: str = "US") -> None:
        self.region = region
        words = {fold(value).strip() for value in values if value}
        words = {word for word in words if len(word) >= SHORTEST_VALUE}
        # Longest first, so "Ana Lopez" is masked whole before "Ana" alone.
        alternatives = [regex.escape(word) for word in sorted(words, key=len, reverse=True)]
        self._values = (
            regex.compile(r"\b(?:" + "|".join(alternatives) + r")\b") if alternatives else None
        )

    def mask(self, text: str) -> str:
        """`text` with every personal detail replaced by its marker."""
        text = self._mask_phones(text)
        text = _AT.sub(EMAIL, text)
        text = _LONG_NUMBER.sub(NUMBER, text)
        return self._mask_values(text)

    def _mask_phones(self, text: str) -> str:
        matches = list(
            phonenumbers.PhoneNumberMatcher(
                text, self.region, leniency=phonenumbers.Leniency.POSSIBLE
            )
        )
        for match in reversed(matches):
            text = text[: match.start] + PHONE + text[match.end :]
        return text

    def _mask_values(self, text: str) -> str:
        """Masks the form's values; matched on the folded text, so "López" finds "lopez"."""
        if self._values is None:
            return text
        folded = fold(text)
        if len(folded) != len(text):
            # Folding changed the length (a rare character): mask the folded text instead.
            return self._values.sub(DETAIL, folded)
        spans = [match.span() for match in self._values.finditer(folded)]
        for start, end in reversed(spans):
            text = text[:start] + DETAIL + text[end:]
        return text


def name_parts(name: str) -> list[str]:
    """A name and each of its words, so "Ana Lopez" also masks a later "Mrs Lopez"."""
    return [name, *name.split()]
