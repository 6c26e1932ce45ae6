"""Keyword and pattern back-up for the safety intents, in English and Spanish.

The NLU classifier recognises emergencies, fevers and crises from examples, but a classifier can
miss a phrasing it has not seen. Missing "he stopped breathing" is far worse than a false alarm,
so these patterns are checked on every message, on every channel, in every conversation state
(see `bot.nlu.safety_net`), and they can only raise the severity of what the classifier said.
The exceptions are the `*_unfounded` checks: the classifier's fever or emergency in a message
that explains it away ("tiene 39 meses", a normal 36.8, a fever or a seizure that is over, "no
es una emergencia") and shows no sign of one is set aside, and so is its distress in a message
with not one of the broad words of a feeling or of a danger to a life ("i'm her father"). Its
crisis is never set aside: no list of words covers every way of saying it ("i have a plan").

A false alarm is a defect too: it breaks the callback form and teaches parents to ignore the
answer. So the patterns are precise where words have calm meanings:

- a temperature is recognised by its context (°, degrees, F or C, "temp", "fever of", or a
  temperature-shaped decimal such as 101.3 or 38.6 beside words of illness or treatment), never
  from a bare number (an age, a year, a room, a phone number, a count);
- "emergency" escalates only as an emergency happening ("it's an emergency", "emergency!"),
  never as a place, a profession or a contact ("the emergency room", "emergency nurse");
- a seizure or a fever told as history ("one seizure in 2019 and none since") is not happening
  now, unless anything in the message says it is ("again", "right now", "started", "is having");
- the danger words are matched with one typing error allowed (`regex`'s fuzzy matching, {e<=1},
  two for the longest words), since a frightened parent types "breething" or "unconsious";
  short words with calm neighbours ("fever" / "never") are listed with their usual misspellings
  instead.
"""

from __future__ import annotations

import regex

from bot.nlu.language import fold

# Marks an intent set by these patterns (bot.nlu.safety_net), as opposed to the classifier.
PATTERN_SOURCE = "safety_patterns"

EMERGENCY = "emergency"
CRISIS = "crisis"
FEVER = "fever"
DISTRESS = "distress"

# Most severe first: a message that matches several gets the most urgent answer.
SEVERITY: dict[str, int] = {EMERGENCY: 3, CRISIS: 2, FEVER: 1}
# Every intent whose answer is an escalation (distress is left to the classifier: no pattern).
SAFETY_INTENTS = frozenset({*SEVERITY, DISTRESS})

_FLAGS = regex.IGNORECASE


def _words(*alternatives: str) -> regex.Pattern[str]:
    return regex.compile(r"\b(?:" + "|".join(alternatives) + r")\b", _FLAGS)


# One typing error in a danger word ("breething"), two in the long ones ("unconsious").
_BREATH = r"(?:breathing|breathe){e<=1}"
_SEIZURE = r"(?:(?:seizures?|seizing){e<=1}|siezures?|siezing|seziures?|seisures?)"
_CONVULSION = r"(?:convulsions?|convulsing){e<=1}"
_UNCONSCIOUS = r"(?:unconscious|unresponsive){e<=2}"
# "fibre" (a diet) is one letter from "fiebre": substitutions only, and the usual misspellings.
_FIEBRE = r"(?:(?:fiebres?){s<=1}|fievre|fiebe|fierbe|fibre(?= de| alta| muy))"
_CONVULSION_ES = (
    r"(?:(?:convulsion|convulsiones|convulsionando|convulsiona|convulsiono){e<=1}"
    r"|combulsion(?:es)?|comvulsion(?:es)?|convulcion(?:es)?)"
)
# How breathing was that has eased: "ya no respira agitado / con dificultad / tan rápido".
_BREATHING_EASED = (
    r"(?:con (?:dificultad|esfuerzo|ruido|silbido)|agitad[oa]|rapido|tan (?:rapido|agitad[oa])"
    r"|entrecortad[oa]|como (?:ayer|anoche|antes))"
)
_NOT = r"(?:not|isn'?t|isnt|stopped|stop|no longer|cant|can'?t|cannot|can not|wont|won'?t)"
_GREY = r"(?:blue|grey|gray|purple|bluish|greyish|grayish)"

# Pain a child cannot be calmed from ("gritando de dolor", "screaming in pain"): pain is the
# page's most common sign of relapse, and pain like this is a call now, not a question.
_SEVERE_PAIN = (
    r"(?:screaming|screams|crying|cries|writhing|howling|sobbing)"
    r" (?:in|with|from|of) (?:the )?pain",
    r"(?:unbearable|excruciating|agonizing) pain|pain (?:is )?(?:unbearable|excruciating)",
    r"(?:gritando|grita|gritaba|llorando|llora|chillando|retorciendose|se retuerce|aullando)"
    r" (?:de|del|por el) dolor",
    r"dolor (?:insoportable|inaguantable)",
)
EMERGENCY_PATTERN = _words(
    rf"{_NOT} {_BREATH}",
    rf"(?:trouble|struggling to|hard to|hardly|barely|difficulty) {_BREATH}",
    rf"{_NOT} catch (?:his|her|their|my) breath",
    _UNCONSCIOUS,
    r"passed out",
    r"fainted",
    r"collapsed",
    rf"{_NOT} wak(?:e|ing)(?: up)?",
    _SEIZURE,
    _CONVULSION,
    *_SEVERE_PAIN,
    rf"turning {_GREY}",
    rf"(?:lips|face|skin)(?: \w+){{0,2}} {_GREY}",
    rf"{_GREY} lips",
    r"choking",
    r"overdosed?",
    # Swallowing what can poison: a whole bottle, a battery, a household chemical.
    r"(?:swallowed|ate|took|drank|got into) (?:a |the |her |his |my |our |some )?"
    r"(?:whole |full |entire )(?:bottle|pack|packet|box|handful|sheet)",
    r"(?:swallowed|ate|drank|got into) (?:a |the |some |her |his )?(?:\w+ )?"
    r"(?:bleach|poison|detergent|laundry pod|button battery|batteries|battery|antifreeze)",
    r"poison(?:ed|ing)|poison control",
    r"(?:se )?(?:trag[oó]|tom[oó]) (?:un |el |una )?(?:frasco|bote|paquete) (?:entero|completo)",
    r"(?:se )?(?:trag[oó]|tom[oó]|bebi[oó]|comi[oó]) (?:\w+ ){0,3}"
    r"(?:cloro|veneno|lejia|una pila|pilas|detergente|anticongelante|raticida|insecticida)",
    # Pills are swallowed or eaten by accident ("se comió unas cápsulas que encontró"); "se tomó
    # sus pastillas" is the usual dose, so taking them is not listed.
    r"(?:se )?(?:trag[oó]|comi[oó]) (?:\w+ ){0,2}"
    r"(?:pastillas|capsulas|pildoras|medicinas|tabletas)",
    r"envenen(?:ad[oa]|amiento)",
    r"bleeding (?:a lot|heavily|badly|everywhere)",
    r"(?:won'?t|will not) stop bleeding",
    r"call(?:ing)? 911",
    # "emergency" as something happening, not a place, a job or a contact.
    r"(?:it'?s|its|this is|we have|we'?ve got|having|there'?s|got) an? "
    r"(?:real |medical )?emergency",
    r"emergency(?=\s*!)",
    r"^\s*(?:help\W+)?emergency(?:\W+(?:help|please|now))?\W*$",
    # Spanish, with and without accents, one typing error allowed in the longer words.
    # The text is folded first (lower case, no accents: bot.nlu.language.fold), so these are
    # written without accents and match "está" and "esta" alike.
    # "Ya no respira agitado" is a breathing trouble that is over; "ya no respira" is not.
    r"(?<!\bya )no (?:puede |esta |está )?(?:respira|respirar|respirando){e<=1}",
    # (The typing error is a letter: an inserted space would step past the look-ahead.)
    rf"\bya no (?:puede |esta |está )?(?:respira|respirar|respirando){{e<=1:[a-z]}}"
    rf"(?! {_BREATHING_EASED})",
    r"no (?:puede |esta )?(?:respria|resipra|respiar|repsira|respra)\w*",
    r"dej[oó] de (?:respirar){e<=1}",
    r"(?<!\bno )(?<!\bno le )(?:le )?(?:cuesta|costando|falta|faltando) (?:mucho )?"
    r"(?:respirar|el aire|aire)",
    r"no (?:le )?entra (?:el )?aire",
    _CONVULSION_ES,
    r"(?:crisis convulsiva|ataque epileptico)",
    r"(?:dando|dio|teniendo|tiene|tuvo|le da) (?:un |una )?ataque"
    r"(?! de (?:panico|ansiedad|nervios|risa|tos|llanto|asma))",
    r"(?:inconsciente|inconciente){e<=1}",
    r"(?:perdio|perdido|pierde) el (?:conocimiento|sentido)",
    r"no (?:me |nos )?responde",
    r"no abre los ojos",
    r"(?:se )?(?:esta |está )?(?:poniendo|puso|pone) (?:morad[oa]|azul|gris)",
    r"se (?:esta |está )?(?:atragantando|asfixiando)|se atraganto",
    r"desmayad[oa]|se desmaya",
    r"(?:vomitando|vomita|escupe|escupiendo) sangre",
    r"mucha sangre",
    r"sobredosis",
    r"se (?:tomo|trago|bebio) (?:todas|todo) (?:las|los|el|sus) "
    r"(?:pastillas|medicinas|medicamentos|frasco|pildoras)",
    r"(?<!no )(?:es|tengo|tenemos|hay) una emergencia",
    r"emergencia(?=\s*!)",
    r"^\s*(?:ayuda\W+)?emergencia(?:\W+(?:ayuda|por favor|ya))?\W*$",
    r"no (?:se |lo |la |le )?despierta",
    r"no (?:puedo|podemos|puede|logro|logramos) desp(?:ie|e)rt(?:ar|arl[oae])",
    r"no reacciona",
    r"(?:se )?(?:me |le |nos )?(?:desmay[oó]|desmallo|desvanecio)",
    r"labios (?:morados|azules|grises)",
    r"se est[aá] ahogando",
    r"(?:sangrando|sangra) (?:mucho|sin parar)",
    r"no (?:para|deja) de sangrar",
    r"(?:sangre|sangrando|sangra)(?: \w+){0,8} a chorros|a chorros(?: \w+){0,3} sangre",
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
    # A child's or a partner's self-harm is a crisis too ("she fell and hurt herself" is not).
    r"(?:harms?|harming|cuts?|cutting|kills?|killing) (?:herself|himself|themselves|themself)",
    r"(?:wants?|wanted|trying|tried|going|threaten(?:s|ed|ing)?|talks? about|talking about) "
    r"(?:to )?(?:hurt|hurting|harm|harming|kill|killing) (?:herself|himself|themselves|themself)",
    r"(?:s?he|they)(?:'s| is| are)? (?:suicidal|talking about (?:suicide|dying))",
    r"self[- ]?harm",
    r"no reason to live",
    # "Everyone would be better off without me (for good)", not "... without me in the room".
    r"(?:better off|happier) without me(?! in| at| there| during| for(?! good| ever))",
    r"(?:no ?one|nobody) (?:would|will|'d) (?:even )?miss me",
    r"if i (?:was|were) gone (?:forever|for good)",
    r"end(?:ing)? it all",
    r"(?:thought|thinking|think|thinks) (?:about|of) (?:ending|end) (?:it|things|everything)",
    r"(?:don'?t|do not) want to wake up",
    r"wish (?:i|I) (?:was|were) dead",
    # Spanish.
    r"suicid\w*",
    r"(?:me )?(?:quiero|kiero) morir(?:me)?",
    r"matarme",
    r"(?:yo )?me mato(?! trabajando| estudiando)",
    r"quitarme la vida",
    r"no (?:quiero|kiero|qiero) (?:vivir|seguir viviendo|estar viv[oa]|existir|despertar(?:me)?)",
    r"(?:hacerme|me voy a hacer) da[nñ]o",
    r"(?:cortarme|lastimarme)",
    r"me (?:estoy|he estado|sigo|vuelvo a|volvi a) (?:cortando|lastimando|haciendo dano|cortar)",
    r"(?:tirarme|aventarme|lanzarme|me (?:voy a|quiero|quisiera|pienso|dan ganas de) "
    r"(?:tirar|aventar|lanzar)) (?:del?|al?|por (?:la|el)) (?:\w+ )?"
    r"(?:puente|edificio|ventana|tren|metro|balcon|techo|azotea|carro|coche|camion)",
    r"quiero desaparecer",
    r"desaparecer(?:me)? (?:para siempre|de (?:este|el) mundo)",
    # "Nadie me extrañaría", "si me fuera para siempre".
    r"nadie me (?:extra[nñ]ar[ií]a|extra[nñ]ara|echar[ií]a de menos)",
    r"me (?:fuera|muriera|fuese) para siempre",
    # "Estarían mejor sin mí", "que se queden sin mí" (not "mejor sin mí en el cuarto"; and
    # not the singular: "¿estará mejor sin mí?" is a parent's question about isolation).
    r"(?:estarian|estaran|vivirian|serian) (?:mejor|mas felices) sin mi"
    r"(?! en| durante| por| mientras| cuando| ahi| alli)",
    r"que se queden sin mi\b(?! en| durante| por| mientras| cuando| unos| unas| un rato)",
    r"(?:mejor|preferiria|quisiera|ojala|quiero) (?:estar )?muert[oa]",
    r"(?:acabar|terminar) con (?:mi vida|todo)",
    r"no (?:vale|tiene) (?:la pena|sentido) (?:vivir|seguir viviendo)",
    r"no tengo (?:razon|razones|motivos?) para vivir",
    # Another person's self-harm.
    r"se quiere (?:morir|matar)",
    r"(?:quiere|quiso|intento|trato|amenaza con|habla de) "
    r"(?:matarse|suicidarse|hacerse dano|lastimarse|cortarse|quitarse la vida)",
    r"se (?:esta |sigue )?(?:haciendo|hace) (?:cortes|dano)",
    # Means, and the plan to use them: every pill of a bottle, a crash, a jump, a weapon.
    r"tomarme (?:todo el frasco|todas (?:las|mis) (?:pastillas|pildoras|medicinas))",
    r"tomarmelas todas",
    r"estrellarme",
    r"(?:golpeando|pegando|dandome) (?:la cabeza )?(?:contra|en) la pared",
    r"(?:ultimo piso|azotea|techo|puente|balcon)(?: \w+){0,8} "
    r"(?:brincar|saltar|tirarme|aventarme|lanzarme)",
    r"tengo (?:la|una) (?:pistola|arma)(?: \w+){0,3} en la mano",
    r"ojala (?:me )?(?:muriera|muera|me muera)(?! de)",
    r"quisiera morirme",
    r"por si (?:ya )?no estoy (?:ma[nñ]ana|mas)",
    r"me (?:corte|lastime) (?:otra vez|de nuevo)",
    # Cutting one's own body, said in the present ("me corto los brazos"): not a haircut or
    # nails, so a part of the body must follow. Burning or hurting oneself needs a purpose
    # (below): "¿me quemo la piel si lo cargo?" is a caregiver's question about radiation.
    r"me corto (?:\w+ )?(?:los brazos|el brazo|las piernas|la pierna|las munecas|la muneca"
    r"|los muslos|la piel|las venas)",
    r"me (?:corto|lastimo|quemo|hago dano|hago daño|golpeo)(?: \w+){0,3} "
    r"(?:a proposito|para no sentir|para sentir|para castigarme)",
    r"me hago da[nñ]o (?:a mi mism[oa]|yo mism[oa]|a proposito)",
    r"(?:cortar(?:me)?|abrirme) las venas",
    r"me voy a (?:lastimar|hacer da[nñ]o)",
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
# A fever's temperature: 100 to 106 °F or 38 to 42 °C ("temp 98.4, all good" is a normal one),
# not followed by a dose or a measure.
_UNITS = (
    r"\s*(?:mg|mcg|ml|kg|g|lbs?|pounds|cm|mm|km|miles?|%"
    r"|months?|weeks?|days?|hours?|years?|meses|semanas|dias|horas|anos|años|kilos|libras)\b"
)
_FEVER_F = r"10[0-6]"
_FEVER_C = r"3[89]|4[0-2]"
_FEVER_LEVEL = rf"(?:{_FEVER_F}|{_FEVER_C})"
_TEMPERATURE = rf"{_FEVER_LEVEL}(?:[.,]\d+)?\b(?!{_UNITS})"
FEVER_PATTERN = _words(
    r"fevers?",
    r"feverish",
    r"fevr|fevor|feaver|feever|fver|fiever",
    r"febrile",
    r"chills",
    r"rigors",
    r"shivering",
    r"(?:high|hi|hight|higher) (?:temp\w*|(?:temperature){e<=2})",
    # "temp is 102", "temperature has been 38.6": a number in a temperature's range after it.
    rf"(?:temp|(?:temperature){{e<=2}}):?(?: \w+){{0,3}} {_TEMPERATURE}",
    r"(?:running|spiking|spiked|reads?) (?:a )?(?:temp(?:erature)? of )?(?:10[0-6]|3[89]|4[01])",
    # A number with a temperature's unit.
    rf"{_FEVER_LEVEL}(?:[.,]\d+)? ?{_DEGREES} ?[fc]?",
    rf"(?:{_FEVER_F})(?:[.,]\d+)? ?f",
    rf"(?:{_FEVER_C})(?:[.,]\d+)? ?c",
    # Spanish.
    _FIEBRE,
    r"febril",
    r"calentura",
    rf"temperatura (?:alta|de {_FEVER_LEVEL})",
    rf"(?:termometro|marca|marco)(?: \w+){{0,2}} {_TEMPERATURE}",
    rf"{_TEMPERATURE}(?: \w+){{0,2}} (?:en )?el termometro",
    r"(?:tiene|tengo|con|tenia) (?:mucha )?temperatura",
    r"escalofr[ií]os?|calosfr[ií]os?|escalofrios{e<=1}",
    r"tiritando|temblando de frio",
)
# A temperature-shaped decimal, a fever only beside words of illness or treatment (_ILLNESS).
_DECIMAL_TEMPERATURE = regex.compile(
    # Not part of a longer number; a full stop may end the sentence ("the thermometer says 38.6.").
    rf"(?<![\d.,])(?:10[0-6]|3[89]|40)[.,]\d(?!\d|[.,]\d)(?!{_UNITS})",
    _FLAGS,
)

PATTERNS: dict[str, regex.Pattern[str]] = {
    EMERGENCY: EMERGENCY_PATTERN,
    CRISIS: CRISIS_PATTERN,
    FEVER: FEVER_PATTERN,
}


# "no fever, just a question": a bare denial, removed before the fever patterns run. Only when
# nothing after it says the fever is back ("but", "again", "now", ...; a "pero" before it, as in
# "se ve rojito pero no tiene fiebre", takes nothing back), and never "no fever reducer", so
# that a fever that came down and returned still escalates; a temperature always counts.
_NO_FEVER = _words(
    r"(?:no|without(?: a| any)?) fevers?(?=\s*(?:[,.;!]|$|and\b|or\b|just\b|since\b))",
    r"(?:sin|no (?:tiene|tuvo|ha tenido|hay)) (?:fiebre|calentura)"
    r"(?=\s*(?:[,.;!]|$|y\b|o\b|ni\b|solo\b|desde\b))",
    r"ni (?:tiene|tuvo|ha tenido) fiebre(?=\s*(?:[,.;!?]|$|y\b|o\b))",
    r"ya no (?:tiene|tuvo|hay) (?:fiebre|calentura|(?:la )?temperatura(?: alta)?)",
    # A fever or a temperature come down: "se le normalizó la temperatura", "la fiebre bajó".
    r"(?<!no )(?:ya )?(?:se )?le (?:bajo|quito|normalizo|fue) la (?:fiebre|calentura|temperatura)",
    r"(?:la )?(?:fiebre|calentura|temperatura) (?:ya )?(?:se le )?"
    r"(?:bajo|se fue|se quito|cedio|se normalizo|esta normal)",
)
_FEVER_AGAIN = _words(
    r"but",
    r"again",
    r"back",
    r"still",
    r"now",
    r"came",
    r"returned",
    r"pero",
    r"(?<!la )otra vez",
    r"de nuevo",
    r"volvio",
    r"regreso",
    r"ahora",
    r"todavia",
    r"sigue(?! (?:bien|normal|mejor|sin))",
)


# A seizure or a fever told as history ("one seizure in 2019 and none since", "the fever went away
# on Sunday and she is back to normal", "an ER visit for a fever at diagnosis, fine now"): not
# happening now, so those words do not escalate, unless anything in the message says something is
# happening or has come back (_NOW wins, so a doubt still escalates). Only these words: a
# breathing or waking danger, a temperature or chills escalate whatever the tense.
_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
)
_HISTORY = _words(
    rf"in (?:(?:19|20)\d\d|{_MONTH}|the past)",
    r"(?:\d+|a|one|two|three|four|five|six|several|few|couple of|many)? ?"
    r"(?:weeks?|months?|years?|yrs?) (?:ago|back)",
    r"last (?:week|month|year|time|spring|summer|fall|autumn|winter)",
    r"when (?:s?he|they|we) w(?:as|ere) (?:a baby|an infant|born|little|younger|\d+)",
    r"at (?:age \d+|diagnosis|the start)",
    r"as an? (?:baby|infant|toddler)",
    r"during (?:first[- ]?line|front[- ]?line|induction|(?:the )?(?:first|initial) treatment)",
    r"history of",
    r"(?:fever|seizure) history",
    r"(?:nothing|none|no more|not one|no (?:fevers?|seizures?))(?: \w+)? since",
    r"since then",
    r"ever since",
    r"(?:went away|is gone|has gone|broke|resolved|cleared up|settled|turned out to be)",
    r"(?:all|is|s|he'?s|she'?s|hes|shes) (?:good|fine|ok|okay|well|better|normal|settled|resolved)"
    r"(?: now)?",
    r"back to normal",
    # Spanish.
    r"(?:en|de|del) (?:19|20)\d\d",
    r"no (?:se )?ha vuelto a (?:pasar|dar|repetir)|no se ha repetido",
    r"nunca mas (?:le )?(?:dio|paso)",
    r"en (?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre"
    r"|noviembre|diciembre)",
    r"(?:la vez|el dia|el fin de semana) pasad[oa]|la ultima vez",
    r"pero ya no(?=\s*(?:[,.;!]|$|tiene (?:fiebre|calentura|temperatura)\b))",
    r"hace (?:\d+|un|una|dos|tres|varios|varias|unos|unas) (?:semanas?|mes(?:es)?|años?|anos?)",
    # "hace meses" is history, and "hace meses que no..."; "hace semanas que le dan" goes on.
    r"hace (?:muchos |muchas )?(?:semanas|meses|años|anos)(?! que(?! no\b))",
    r"ya no (?:convulsiona|le (?:dan|han dado|ha dado) (?:convulsiones|ataques)"
    r"|(?:tiene|ha tenido) (?:convulsiones|ataques))",
    r"cuando era (?:beb[eé]|chiquit[oa]|pequeñ[oa]|peque[nñ]o)",
    r"(?:nada|ninguna?) desde entonces",
    r"(?:la semana|el mes|el ano|el año|el verano|el invierno) pasad[oa]",
    r"(?<!no )(?:ya )?se le (?:quit|pas|baj|fue)\w*\b(?! (?:los|el) ojos?)",
    r"ya le (?:bajo|quito|paso)",
    r"(?:de|en) la otra vez|^la otra vez|(?<=[.,;!?] )la otra vez",
    r"ya (?:esta|se siente) (?:bien|mejor|normal)",
    r"ya paso",
    r"al (?:principio|diagnostico)",
    r"(?:durante|en) (?:el|la) primer[oa]? (?:tratamiento|quimio)",
)
# Something happening now. Not a bare "now", which is as often calm ("fine now", "scans now").
_NOW = _words(
    r"again",
    r"today(?:(?! i (?:just |only )?(?:want|wanted|would like|have a question)|,? "
    r"(?:s?he|they) (?:was|were|got) discharged))",
    r"tonight|tonite",
    r"this (?:morning|afternoon|evening)",
    r"(?<!nothing |not |no )right now",
    r"now (?:s?he|it|he'?s|she'?s|hes|shes|they|her|his) "
    r"(?:is|has|are|'s|keeps?|started|won'?t|can'?t)",
    r"(?:still|currently|keeps?) (?:has|having|is|got|running|seizing|shaking|hot|warm|feverish)",
    r"(?:s?he|it)(?:'s| is) still",
    r"(?:is|are|keeps?) having",
    r"just (?:had|started|now)",
    r"(?:minutes?|mins?|hours?|hrs?) ago",
    # A fever or a seizure that is back (not the cancer: "the cancer is back" is relapse talk).
    r"(?:fevers?|temp(?:erature)?|seizures?|it) (?:is|are|'s|has|have|came) back(?! to normal)",
    r"(?:it'?s|its) back(?! to normal)",
    r"back up",
    r"(?:has|have|(?:has|have|'s|s) got|running|having) (?:a |an )?(?:high |slight |low[- ]grade )?"
    r"(?:fevers?|temp(?:erature)?)\b",
    r"returned",
    r"started",
    r"happening",
    r"burning up",
    r"(?:is|feels?|he'?s|she'?s|hes|shes) (?:hot|warm|jerking|twitching|shaking)",
    # Spanish.
    # "ahora tiene 39" is now; "ahora tiene 5 años" is an age.
    rf"ahora (?:tiene|est[aá]|no)(?! \d+(?:[.,]\d+)?{_UNITS})",
    r"(?<!la )otra vez",
    r"de nuevo",
    # "Hoy" of the message's own question ("hoy solo quiero saber...") or of a discharge
    # ("hoy le dieron de alta") says nothing is happening now; English "today" alike.
    r"hoy(?! (?:solo |solamente |nada mas |nomas )?(?:(?:les |le )?(?:quiero|queria|quisiera|"
    r"me gustaria|vengo a|escribo (?:para|a)) (?:saber|preguntar|consultar|entender)|"
    r"tengo una (?:duda|pregunta)))(?! (?:nos|le|la|lo) dieron de alta)",
    r"todav[ií]a",
    r"est[aá] (?:teniendo|dando)",
    # It will not stop: "no se le quita", "no para", "no deja de".
    r"no se le (?:quita|pasa|baja|va)(?=\s*(?:[,.;!?]|$|la (?:fiebre|calentura|temperatura|"
    r"convulsion)|el ataque))|no (?:para|paran|deja de)\b",
    r"ahorita",
    r"ahora mismo",
    r"en este momento",
    r"esta (?:noche|manana|tarde)",
    r"acaba de",
    r"hace (?:\d+|unos|unas|un|una) (?:minutos?|horas?|rato)",
    r"sigue (?:con|teniendo)",
    r"(?<!\bno )(?<!\bno le )(?<!nunca mas )(?<!nunca mas le )"
    r"(?<!(?:neuroblastoma|cancer|tumor|enfermedad) (?:ya )?)(?:le )?(?:volvio|regreso)",
    # A fever now, as "has a fever" above ("tiene fiebre, en mayo empieza el ensayo").
    r"(?<!no )(?:tiene|tengo|esta con|anda con) (?:mucha |una |un poco de )?"
    r"(?:fiebre|calentura|temperatura)",
)
# A seizure or a faint: what may be told as history among the emergency's words.
_SEIZURE_OR_FAINT = (
    _SEIZURE,
    _CONVULSION,
    r"convulsi(?:o|ó)n(?:es)?",
    r"ataque",
    _CONVULSION_ES,
    r"fainted|passed out",
    r"(?:se )?(?:me |le |nos )?(?:desmay[oó]|desmallo|desvanecio)",
    r"desmayad[oa]|se desmaya",
)
_HISTORY_PRONE = _words(
    *_SEIZURE_OR_FAINT,
    *_SEVERE_PAIN,
    r"febrile?|febril",
    r"fevers?|feverish|fevr|fevor|feaver|feever|fver|fiever",
    _FIEBRE,
    r"calentura",
)


def _told_as_history(text: str) -> bool:
    return bool(_HISTORY.search(text)) and not _NOW.search(text)


# A temperature as written: a number in a fever's range, with or without its unit.
_READING = rf"{_TEMPERATURE}(?: ?{_DEGREES}(?: ?[fc]\b)?| ?[fc]\b)?"
# A reading said with a past verb ("hace 3 semanas tuvo 38.5", "had 102 last week"): set aside
# with the fever words when the message is told as history (nothing in it says now). A reading
# with no verb, or "tiene 38.5", still counts whatever the tense around it.
_PAST_READING = _words(
    r"(?:tuvo|tenia|le dio|le subio a|le llego a|marco|llego a|had|ran|hit|reached|spiked to"
    r"|got to|was) (?:una? |an? )?(?:fiebre de |calentura de |temperatura de |fever of "
    rf"|temp(?:erature)? of )?{_READING}"
    r"(?: de (?:fiebre|calentura|temperatura))?",
)
# "In case of emergency call 911", "en caso de emergencia llame al 911": an instruction quoted
# or asked about, not a report; removed before the patterns run.
_EMERGENCY_INSTRUCTION = _words(
    r"(?:(?:in case of|for) (?:an? )?emergenc(?:y|ies)|if (?:it'?s|its|there'?s|there is) an "
    r"emergency)[\s,¿¡]+(?:please )?(?:call|dial) 911",
    r"(?:(?:en caso de|para) (?:una |cualquier )?emergencias?|si (?:es|hay) (?:una )?emergencia)"
    r"[\s,¿¡]+(?:ya )?(?:se que )?(?:por favor )?"
    r"(?:llame|llamen|llama|llamo|llamar|marque|marco|marcar|marca) al 911",
)


def _without_denials(text: str) -> str:
    """The text without "no fever" denials that nothing after them takes back ("but now")."""
    kept = [
        denial for denial in _NO_FEVER.finditer(text) if not _FEVER_AGAIN.search(text, denial.end())
    ]
    for denial in reversed(kept):
        text = text[: denial.start()] + " " + text[denial.end() :]
    return text


def _fever(text: str) -> bool:
    text = _without_denials(text)
    if FEVER_PATTERN.search(text):
        return True
    # "101.8 ahorita": a temperature-shaped decimal said to be now is read off a thermometer.
    return bool(_DECIMAL_TEMPERATURE.search(text) and (_ILLNESS.search(text) or _NOW.search(text)))


# Any sign of a fever, broader than the fever patterns: a word of heat or temperature going up,
# or a number in a fever's range. Used only to question the classifier's fever (below).
_FEVER_SIGNS = _words(
    r"hot|warm|burning|flushed|caliente|ardiendo|arde|hirviendo|quemando",
    # Signs that often come with a fever, or that a nurse would want to hear about anyway.
    r"subiendo|rising|going up|climbing",
    r"shak(?:ing|y)|shiver\w*|trembl\w*|tembl\w*|sweat\w*|sudando|sudor\w*|chills?",
    r"lethargic|letargic[oa]|decaid[oa]|not (?:him|her)self|no es el mismo|no es la misma",
    r"neutropeni\w*|low counts|defensas bajas|conteos? bajos?",
    rf"{_TEMPERATURE}",
)
# A word of temperature or a thermometer is a sign too, unless the reading given is normal
# ("temp 36.9"): a misspelt high one ("hi temprature") must keep the classifier's fever.
_TEMPERATURE_WORD = _words(r"temp\w*|(?:temperature){e<=2}|temperatura|termometro|thermometer")
_FEVER_WORD = _words(r"fevers?|feverish|febrile|febril|calentura", _FIEBRE)
# What explains a classifier's fever that is none: a normal temperature, or a number shaped like
# a temperature (30 to 119) that counts years, months, days or kilos ("tiene 39 meses", "ella
# tiene 70 años": see _UNITS). A small child's age ("tiene 3 años") explains nothing.
_NORMAL_TEMPERATURE = regex.compile(r"(?<![\d.,])(?:3[56][.,]\d|37[.,][0-4]|9[6-9][.,]\d)(?!\d)")
_NOT_A_TEMPERATURE = regex.compile(rf"\b(?:[3-9]\d|1[01]\d)(?:[.,]\d+)?{_UNITS}", _FLAGS)
# Days without a fever, said outright ("lleva 4 dias sin fiebre", "no fever for three days"):
# a reading given before it is over, unless something says it is happening now (_NOW).
_FEVER_FREE_FOR = _words(
    r"(?:lleva|llevamos|van|tiene|ya son) (?:\d+|un|una|dos|tres|cuatro|cinco|varios|varias)"
    r" (?:dias?|semanas?) sin (?:fiebre|calentura|temperatura)",
    r"(?:sin|no ha tenido|no ha vuelto a tener) (?:fiebre|calentura) (?:desde|en|hace) (?:el |la |"
    r"\d+|un|una|dos|tres|cuatro|cinco|varios|varias)",
    r"(?:no|without(?: a| any)?) fevers? (?:for|since|in) (?:the last |\d+|a|one|two|three|four"
    r"|five|several|days|monday|tuesday|wednesday|thursday|friday|saturday|sunday|last)",
    r"fever[- ]free (?:for|since)",
)
# A number of degrees that is the water's, the room's or the weather's, not the child's ("la
# regadera con agua a unos 38 grados"): no word of the child ("tiene", "sigue", "she"), of a
# reading ("temp", "marca") nor a new clause ("porque", "and") in between.
_AMBIENT_DEGREES = regex.compile(
    r"\b(?:agua|regadera|ducha|banera|tina|bano|water|bath|shower|tub|afuera|outside|clima|weather"
    r"|horno|oven|termostato|thermostat|calefaccion|heating|ambiente)"
    r"(?: (?!(?:tiene|tenia|tuvo|marca|marco|sigue|anda|amanecio|subio|porque|pues|pero|y|ya"
    r"|ella|temp\w*|termometro|thermometer|says?|said|reads?|has|had|she|he|her|his|him|still"
    r"|now|because|but|and|so|then)\b)"
    rf"\w+){{0,6}} {_FEVER_LEVEL}(?:[.,]\d+)? ?{_DEGREES}(?: ?[fc]\b)?",
    _FLAGS,
)
# A reading in a fever's range, set aside when the fever is said to be over (_FEVER_FREE_FOR).
_TEMPERATURE_READING = regex.compile(rf"(?<![\d.,]){_READING}", _FLAGS)


def _normalised(text: str) -> str:
    """Folded, without degrees not the child's, a quoted "call 911", or what is told as history.

    As `detect` reads a message.
    """
    text = _AMBIENT_DEGREES.sub(" ", fold(text or ""))
    text = _EMERGENCY_INSTRUCTION.sub(" ", text)
    if not _told_as_history(text):
        return text
    return _HISTORY_PRONE.sub(" ", _PAST_READING.sub(" ", text))


def detect(text: str) -> str | None:
    """The most severe safety intent whose pattern the text matches, or None."""
    text = _normalised(text)
    if EMERGENCY_PATTERN.search(text):
        return EMERGENCY
    if CRISIS_PATTERN.search(text):
        return CRISIS
    if _fever(text):
        return FEVER
    return None


def fever_unfounded(text: str) -> bool:
    """Whether the text explains away the fever a classifier read in it, and shows no other.

    The classifier learnt fevers from examples full of numbers and fever words, so it also
    reads "tiene 39 meses", a normal 36.9 or "a fever two days ago, she is better now" as a
    fever. Its fever is set aside only when the message says why it looks like one (a fever
    word denied or told as history, a normal reading, a count of months) and no sign of a
    fever is left once those are set aside: no fever word, no heat, shaking or low counts, no
    number in a fever's range, no temperature without a normal reading. Otherwise it stands:
    a message with no explanation is not second-guessed.
    """
    folded = fold(text or "")
    rest = _without_denials(_normalised(text))
    fever_over = bool(_FEVER_FREE_FOR.search(folded)) and not _NOW.search(folded)
    if fever_over:
        rest = _TEMPERATURE_READING.sub(" ", rest)
    normal = bool(_NORMAL_TEMPERATURE.search(folded))
    explained = (
        normal
        or fever_over
        or bool(_NOT_A_TEMPERATURE.search(folded))
        or bool(_FEVER_WORD.search(folded) and not _FEVER_WORD.search(rest))
        or bool(_TEMPERATURE_WORD.search(folded) and not _TEMPERATURE_WORD.search(rest))
    )
    signs = _fever(rest) or _FEVER_SIGNS.search(rest)
    return explained and not signs and (normal or not _TEMPERATURE_WORD.search(rest))


def overrides(pattern_intent: str | None, classified_intent: str | None) -> bool:
    """Whether the pattern's finding should replace what the classifier said.

    An equally severe finding replaces it too: the intent is then confirmed by a pattern, at
    full confidence, which the callback form relies on to tell a real emergency from an answer.
    """
    if pattern_intent is None:
        return False
    return SEVERITY[pattern_intent] >= SEVERITY.get(classified_intent or "", 0)


# A message that says it is not an emergency ("es una pregunta, no una emergencia").
_NOT_AN_EMERGENCY = _words(
    r"(?:not|isn'?t|isnt|no) (?:an? )?(?:emergency|urgent)",
    r"no (?:es |se trata de )?(?:una |nada )?(?:emergencia|urgen\w*)",
    r"nada urgente|sin urgencia",
)
# Words of a danger now, broader than the emergency patterns: the classifier's emergency stands
# whenever one of them is in the message, whatever else it says.
_EMERGENCY_SIGNS = _words(
    rf"{_BREATH}|breath|respir\w*|aire|ahog\w*|chok\w*|atragant\w*|asfixi\w*",
    r"blue|purple|grey|gray|morad[oa]|azul",
    r"bleed\w*|sangr(?:a|an|ando|o|ado)\b|hemorrag\w*",
    r"wake|awake|respond\w*|despierta\w*|reacciona\w*|responde\w*|conscious|conscien\w*|"
    r"conocimiento|inconscien\w*|desmay(?:a|ando)\b",
    r"swallow\w*|trag[oó]\w*|se tom[oó]|ingiri\w*|poison\w*|venen\w*",
    r"fell|fall|hit (?:his|her) head|golpe\w*|se cay[oó]",
    r"pain|dolor|hurts?|duele",
    r"shak\w*|jerk\w*|twitch\w*|tembl\w*|tiembl\w*|temblor\w*",
    r"eyes? (?:roll\w*|back)|ojos? (?:para atras|en blanco|volteados?|torcidos?)",
    r"pale|palid[oa]|limp|floj[oa]|lethargic|letargic[oa]",
)


def emergency_unfounded(text: str) -> bool:
    """Whether the text explains away the emergency a classifier read in it, and shows no other.

    Called only when no emergency pattern matched. The classifier reads "es una pregunta, no
    una emergencia" or "tuvo una convulsión en 2022, ¿qué es la fase 1?" as an emergency from
    its words, and "la calentura se le quitó el jueves" from its fever. Its emergency is set aside
    only when the message says it is none, or its only danger is a seizure, a faint or a fever
    told as history (as `detect` reads it), and no word of a danger now is in it: breathing,
    colour, bleeding, waking, swallowing, a fall, pain, shaking, limpness. Otherwise it stands.
    """
    folded = fold(text or "")
    explained = bool(_NOT_AN_EMERGENCY.search(folded)) or (
        _told_as_history(folded) and bool(_HISTORY_PRONE.search(folded))
    )
    return explained and not _EMERGENCY_SIGNS.search(folded)


# Words without which a message tells of no feeling: the classifier's distress needs one of them.
# Broad on purpose (a feeling is said in many ways): only a message with none of these is
# second-guessed, as "i'm her father" typed into the form, which the classifier read as
# distress from how close "i'm" is to "estoy ...".
_FEELING_WORDS = _words(
    r"scar\w*|afraid|fright\w*|terrif\w*|fear\w*|worr\w*|anxi\w*|panic\w*|nerv\w*|stress\w*",
    r"overwhelm\w*|cop(?:e|ing)|handle|deal|take (?:it|this|any)|breaking|broken|break down",
    r"breakdown|fall\w* apart|cry\w*|crie\w*|tears?|sob\w*|devastat\w*|desperat\w*|hope\w*",
    r"helpless|lost|alone|lonely|exhaust\w*|tired|numb|sad\w*|heart\w*|depress\w*|upset",
    r"struggl\w*|hard|tough|losing|mind|sleep\w*|shak\w*|hurt\w*|pain\w*|nightmare|shock\w*",
    r"angry|anger|mad|guilt\w*|blame\w*|freak\w*|mess|wreck\w*|help|pray\w*|god|strength",
    r"strong|weak|awful|terrible|horrible|empty|dark|can'?t|cant|cannot|no one|nobody",
    r"miedo\w*|asust\w*|aterr\w*|espant\w*|preocup\w*|angust\w*|ansi\w*|panico|desesper\w*",
    r"estres\w*|agobi\w*|abrumad\w*|llor\w*|lagrimas?|trist\w*|deprim\w*|depresi\w*",
    r"destroz\w*|deshech\w*|devastad\w*|perdid[oa]s?|sol[oa]s?|solit[oa]s?|soledad",
    r"cansad[oa]s?|cansancio|agotad[oa]s?|no (?:puedo|aguanto|soporto)|ayud\w*|dios\w*",
    r"reza\w*|orar|fuerzas?|derrumb\w*|quebr\w*|rot[oa]s?|alma|corazon|pesadilla\w*",
    r"culpa\w*|enoj\w*|rabia|impotencia|esperanza\w*|hilo|dur[oa]|dificil|shock|vacio",
    r"mal|fatal|sufr\w*|dolor\w*|duele|nadie|locura|loc[oa]",
    r"feel\w*|felt|crazy|too much|keep going|holding|brave|crumbl\w*|spin\w*|calm\w*",
    r"fail\w*|ok|okay|get through|broke|fumes|drown\w*|worn|crush\w*|myself|snap\w*",
    r"sient\w*|siento|demasiad[oa]|limite|desmoron\w*|entumec\w*|ahog\w*|impoten\w*",
    r"tembl\w*|enter[oa]|fuerte|romp\w*|aplast\w*|que hacer|pedazos|podemos|puedo",
    r"fall[eo]\w*|tranquil\w*|bien|aguant\w*|duerm\w*|dorm\w*",
    # The longer ones with a typing error ("scaired", "meido", "preocupda").
    r"(?:scared|afraid|worried|anxious|terrified|panicking|nervous|overwhelmed|exhausted){e<=1}",
    r"(?:miedo|asustad[oa]|preocupad[oa]|nerviosa?o?|angustiad[oa]|desesperad[oa]){e<=1}",
    r"(?:aterrad[oa]|cansad[oa]|agotad[oa]|tristeza|llorando){e<=1}|meido|mideo|mieod",
)
# Words of a danger to a life (dying, harm, means, disappearing, giving up, a life, a burden,
# sleeping for good, a plan): a distress with one of them is never second-guessed.
_CRISIS_WORDS = _words(
    r"die|dying|died|dead|death|deth|kill\w*|sucid\w*|end\w*|live\w*|living|life",
    r"sleep\w*|wake|plan\w*|point|around|come back|way out|out|sigo|seguir",
    r"alive|harm\w*|hurt\w*|cut\w*|pills?|overdos\w*|od|jump\w*|bridge|gun|knife|rope",
    r"hang\w*|disappear\w*|gone|vanish\w*|better off|without me|burden|no point|no reason",
    r"give up|giving up|go on|wake up|forever|be here|join|heaven|anymore|any more|quit",
    r"done|over|no more|leave|leaving|nobody|no one|miss me|world|escape|enough|away",
    r"mor\w*|muer\w*|mat\w*|vida|vivir|viv[oa]s?|acab\w*|termin\w*|desaparec\w*",
    r"irme|para siempre|pastillas?|sobredosis|dano\w*|lastim\w*|cort\w*|tir\w*|salt\w*",
    r"puente|soga|colg\w*|arma|pistola|cuchillo|sentido|vale la pena|rend\w*|mas|carga",
    r"estorbo|sin mi|despert\w*|dorm\w*|descans\w*|estar aqui|cielo|nadie|extran\w*|fin",
    r"final|segui\w*|existir|aguant\w*|lejos|escap\w*|basta|harta?o?",
    r"driv\w*|wall|burn\w*|purpose|myself|hit|bruis\w*|goodbye|exist\w*|stop\w*",
    r"estrell\w*|muro|da[nñ]o\w*|quem\w*|proposito|despedida|mur\w*|hacerme|hacerse",
    r"mismo|misma|golpe\w*|adios|(?:suicid\w*){e<=1}|brinc\w*|cartas?|letters?|no estoy",
    r"not be here|not here|ultimo piso|azotea|techo|roof|top floor|balcon\w*",
    # The longer ones with a typing error ("suicde", "morirme", "matrme").
    r"(?:suicide|myself|dying|death|morir(?:me)?|muerte|matarme|vivir|desaparecer){e<=1}",
)


def distress_unfounded(text: str) -> bool:
    """Whether the distress a classifier read in the text has no word of a feeling to stand on.

    Called only when no pattern matched. A message with no word of fear, worry, sadness,
    tiredness, coping, crying or asking for help, nor of a danger to a life, in either language,
    is not distress: its distress is a near neighbour of the classifier's examples ("i'm her
    father").
    """
    folded = fold(text or "")
    return not _FEELING_WORDS.search(folded) and not _CRISIS_WORDS.search(folded)
