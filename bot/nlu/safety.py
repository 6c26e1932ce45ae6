"""Keyword and pattern back-up for the safety intents, in English and Spanish.

The NLU classifier recognises emergencies, fevers and crises from examples, but a classifier can
miss a phrasing it has not seen. Missing "he stopped breathing" is far worse than a false alarm,
so these patterns are checked on every message, on every channel, in every conversation state
(see `bot.nlu.safety_net`), and they can only raise the severity of what the classifier said.

A false alarm is a defect too: it breaks the callback form and teaches parents to ignore the
answer. So the patterns are precise where words have calm meanings:

- a temperature is recognised by its context (°, degrees, F or C, "temp", "fever of", or a
  temperature-shaped decimal such as 101.3 or 38.6 beside words of illness or treatment), never
  from a bare number (an age, a year, a room, a phone number, a count);
- "emergency" escalates only as an emergency happening ("it's an emergency", "emergency!"),
  never as a place, a profession or a contact ("the emergency room", "emergency nurse");
- the danger words are matched with one typing error allowed (`regex`'s fuzzy matching, {e<=1},
  two for the longest words), since a frightened parent types "breething" or "unconsious";
  short words with calm neighbours ("fever" / "never") are listed with their usual misspellings
  instead.
"""

from __future__ import annotations

import regex

# Marks an intent set by these patterns (bot.nlu.safety_net), as opposed to the classifier.
PATTERN_SOURCE = "safety_patterns"

EMERGENCY = "emergency"
CRISIS = "crisis"
FEVER = "fever"

# Most severe first: a message that matches several gets the most urgent answer.
SEVERITY: dict[str, int] = {EMERGENCY: 3, CRISIS: 2, FEVER: 1}
# Every intent whose answer is an escalation (distress is left to the classifier: no pattern).
SAFETY_INTENTS = frozenset({*SEVERITY, "distress"})

_FLAGS = regex.IGNORECASE


def _words(*alternatives: str) -> regex.Pattern[str]:
    return regex.compile(r"\b(?:" + "|".join(alternatives) + r")\b", _FLAGS)


# One typing error in a danger word ("breething"), two in the long ones ("unconsious").
_BREATH = r"(?:breathing|breathe){e<=1}"
_SEIZURE = r"(?:(?:seizures?|seizing){e<=1}|siezures?|siezing|seziures?|seisures?)"
_CONVULSION = r"(?:convulsions?|convulsing){e<=1}"
_UNCONSCIOUS = r"(?:unconscious|unresponsive){e<=2}"
_NOT = r"(?:not|isn'?t|isnt|stopped|stop|no longer|cant|can'?t|cannot|can not|wont|won'?t)"
_GREY = r"(?:blue|grey|gray|purple|bluish|greyish|grayish)"

EMERGENCY_PATTERN = _words(
    rf"{_NOT} {_BREATH}",
    rf"(?:trouble|struggling to|hard to|hardly|barely|difficulty) {_BREATH}",
    _UNCONSCIOUS,
    r"passed out",
    r"fainted",
    r"collapsed",
    rf"{_NOT} wak(?:e|ing)(?: up)?",
    _SEIZURE,
    _CONVULSION,
    rf"turning {_GREY}",
    rf"(?:lips|face|skin)(?: \w+){{0,2}} {_GREY}",
    rf"{_GREY} lips",
    r"choking",
    r"overdosed?",
    r"bleeding (?:a lot|heavily|badly|everywhere)",
    r"(?:won'?t|will not) stop bleeding",
    r"call(?:ing)? 911",
    # "emergency" as something happening, not a place, a job or a contact.
    r"(?:it'?s|its|this is|we have|we'?ve got|having|there'?s|got) an? "
    r"(?:real |medical )?emergency",
    r"emergency(?=\s*!)",
    r"^\s*(?:help\W+)?emergency(?:\W+(?:help|please|now))?\W*$",
    # Spanish, with and without accents, one typing error allowed in the longer words.
    r"no (?:puede |esta |está )?(?:respira|respirar|respirando){e<=1}",
    r"dej[oó] de (?:respirar){e<=1}",
    r"convulsi(?:o|ó)n(?:es)?|convulsionando|convulsiona",
    r"(?:inconsciente){e<=1}",
    r"no (?:se |lo |la |le )?despierta",
    r"no (?:puedo|podemos|puede|logro|logramos) desp(?:ie|e)rt(?:ar|arl[oae])",
    r"no reacciona",
    r"se desmay[oó]",
    r"labios (?:morados|azules|grises)",
    r"se est[aá] ahogando",
    r"(?:sangrando|sangra) (?:mucho|sin parar)",
    r"no (?:para|deja) de sangrar",
    r"llam(?:ar|e|o|en) al 911",
)

CRISIS_PATTERN = _words(
    r"(?:suicide|suicidal){e<=1}",
    r"kill(?:ing)? myself",
    r"end(?:ing)? (?:my|it) (?:own )?(?:life|all)",
    r"take my (?:own )?life",
    r"(?:want|wanna|going) to die",
    r"(?:don'?t|do not) want to (?:live|be alive|be here)",
    r"better off dead",
    r"(?:hurt|harm|cut)(?:ing)? myself",
    r"self[- ]?harm",
    r"no reason to live",
    # Spanish.
    r"suicid(?:io|arme|a)",
    r"(?:me )?(?:quiero|kiero) morir(?:me)?",
    r"matarme",
    r"(?:yo )?me mato(?! trabajando| estudiando)",
    r"quitarme la vida",
    r"no (?:quiero|kiero) (?:vivir|seguir viviendo)",
    r"(?:hacerme|me voy a hacer) da[nñ]o",
)

# Words of illness or treatment that make a temperature-shaped decimal (38.6, 101.3) a fever.
_ILLNESS = _words(
    r"sick",
    r"ill",
    r"hot",
    r"warm",
    r"burning up",
    r"shak(?:ing|y)",
    r"chemo\w*",
    r"treatment",
    r"mibg",
    r"therapy",
    r"thermometer",
    r"temp\w*",
    r"feels?",
    r"tired",
    r"port",
    r"line",
    r"enferm[oa]",
    r"caliente",
    r"termometro|termómetro",
)
_DEGREES = r"(?:°|º|deg(?:rees?)?\b|grados)"
# A number in the range of a body temperature (°F or °C), not followed by a dose or a measure.
_UNITS = r"\s*(?:mg|mcg|ml|kg|g|lbs?|pounds|cm|mm|km|miles?|%)\b"
_TEMPERATURE = rf"(?:9[5-9]|10[0-6]|3[5-9]|4[0-2])(?:[.,]\d+)?\b(?!{_UNITS})"
FEVER_PATTERN = _words(
    r"fevers?",
    r"feverish",
    r"fevr|fevor|feaver|feever|fver|fiever",
    r"febrile",
    r"chills",
    r"rigors",
    r"shivering",
    r"high temp(?:erature)?",
    # "temp is 102", "temperature has been 38.6": a number in a temperature's range after it.
    rf"(?:temp|(?:temperature){{e<=2}}):?(?: \w+){{0,3}} {_TEMPERATURE}",
    r"(?:running|spiking|spiked|reads?) (?:a )?(?:temp(?:erature)? of )?(?:10[0-6]|3[89]|4[01])",
    # A number with a temperature's unit.
    rf"(?:9[89]|10[0-6]|3[5-9]|4[0-2])(?:[.,]\d+)? ?{_DEGREES} ?[fc]?",
    r"(?:9[89]|10[0-6])(?:[.,]\d+)? ?f",
    r"(?:3[5-9]|4[0-2])(?:[.,]\d+)? ?c",
    # Spanish.
    r"(?:fiebre){s<=1}",
    r"calentura",
    r"temperatura (?:alta|de \d)",
    r"escalofr[ií]os",
)
# A temperature-shaped decimal, a fever only beside words of illness or treatment (_ILLNESS).
_DECIMAL_TEMPERATURE = regex.compile(
    rf"(?<![\d.,])(?:99|10[0-6]|3[89]|40)[.,]\d(?![\d.,])(?!{_UNITS})", _FLAGS
)

PATTERNS: dict[str, regex.Pattern[str]] = {
    EMERGENCY: EMERGENCY_PATTERN,
    CRISIS: CRISIS_PATTERN,
    FEVER: FEVER_PATTERN,
}


# "no fever, just a question": a bare denial, removed before the fever patterns run. Only when
# nothing says the fever is back ("but", "again", "now", ...), and never "no fever reducer", so
# that a fever that came down and returned still escalates; a temperature always counts.
_NO_FEVER = _words(r"(?:no|without(?: a| any)?) fevers?(?=\s*(?:[,.;!]|$|and\b|or\b|just\b))")
_FEVER_AGAIN = _words(r"but", r"again", r"back", r"still", r"now", r"came", r"returned")


def _fever(text: str) -> bool:
    if not _FEVER_AGAIN.search(text):
        text = _NO_FEVER.sub(" ", text)
    if FEVER_PATTERN.search(text):
        return True
    return bool(_DECIMAL_TEMPERATURE.search(text) and _ILLNESS.search(text))


def detect(text: str) -> str | None:
    """The most severe safety intent whose pattern the text matches, or None."""
    text = text or ""
    if EMERGENCY_PATTERN.search(text):
        return EMERGENCY
    if CRISIS_PATTERN.search(text):
        return CRISIS
    if _fever(text):
        return FEVER
    return None


def overrides(pattern_intent: str | None, classified_intent: str | None) -> bool:
    """Whether the pattern's finding should replace what the classifier said.

    An equally severe finding replaces it too: the intent is then confirmed by a pattern, at
    full confidence, which the callback form relies on to tell a real emergency from an answer.
    """
    if pattern_intent is None:
        return False
    return SEVERITY[pattern_intent] >= SEVERITY.get(classified_intent or "", 0)
