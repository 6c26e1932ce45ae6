"""Spanish safety patterns: written by the engineers from how Spanish-speaking parents write
(accents or none, misspellings, regional words, Spanglish), never from an evaluation set."""

from __future__ import annotations

import pytest

from bot.nlu import safety


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mi hijo no respira", "emergency"),
        ("NO RESPRIA", "emergency"),
        ("le cuesta respirar", "emergency"),
        ("no le entra el aire", "emergency"),
        ("está teniendo una convulsión", "emergency"),
        ("tiene una combulsion ahorita", "emergency"),
        ("le está dando un ataque", "emergency"),
        ("se puso morado", "emergency"),
        ("perdió el conocimiento", "emergency"),
        ("mi niña no responde", "emergency"),
        ("es una emergencia", "emergency"),
        ("EMERGENCIA!", "emergency"),
        ("se tomó todas las pastillas", "emergency"),
        ("se esta atragantando", "emergency"),
        ("esta inconciente", "emergency"),
        ("vomitando sangre", "emergency"),
        ("ya no quiero vivir", "crisis"),
        ("quiero desaparecer", "crisis"),
        ("pienso en suicidarme", "crisis"),
        ("me quiero morir", "crisis"),
        ("mi hija se quiere matar", "crisis"),
        ("mi esposo habla de quitarse la vida", "crisis"),
        ("quisiera estar muerta", "crisis"),
        ("a veces pienso en acabar con todo", "crisis"),
        ("mi hijo se está haciendo cortes", "crisis"),
        ("no tengo razón para vivir", "crisis"),
        ("tiene fiebre", "fever"),
        ("tiene 38.5 de fiebre", "fever"),
        ("tiene calentura", "fever"),
        ("tiene fever ahorita", "fever"),
        ("mi nena tiene temperatura", "fever"),
        ("escalofríos y está en quimio", "fever"),
        ("fievre de 39", "fever"),
        ("TEMPERATURA DE 39", "fever"),
        ("la fiebre volvió esta noche", "fever"),
        # Swallowed by accident: pills found, a household chemical, words between.
        ("se tragó unas pastillas de mi mamá", "emergency"),
        ("creo que se comió las tabletas del abuelo", "emergency"),
        ("se bebió un poco de cloro", "emergency"),
        ("se me desmayó en la escuela", "emergency"),
        ("le desmayo en el carro", "emergency"),
        ("se desmayó hace 5 minutos", "emergency"),
        ("me estoy cortando los brazos otra vez", "crisis"),
        ("a veces quiero aventarme del puente", "crisis"),
        ("tiene fiebre pero ya no le baja", "fever"),
        ("ahora tiene fiebre", "fever"),
        ("ya no tiene fiebre pero ahora tiene escalofríos", "fever"),
        # A fever now, beside words that only look like history.
        ("tiene fiebre pero ya no tiene energía", "fever"),
        ("tiene fiebre y en mayo empieza el ensayo", "fever"),
        # Read off a thermometer, a bare decimal said to be now, bleeding in gushes.
        ("el termometro marca 39", "fever"),
        ("tiene calosfrios desde la tarde", "fever"),
        ("no tiene fiebre pero ahora le subio a 38.5", "fever"),
        ("salio 38.7 en el termometro", "fever"),
        ("102.3 ahorita y esta en quimio", "fever"),
        ("le sale sangre de la boca a chorros", "emergency"),
        # The means and the plan, not only the words "suicide" or "die".
        ("pense en tomarme todas mis pastillas de una vez", "crisis"),
        ("quisiera estrellarme con el carro", "crisis"),
        ("estoy en la azotea del hospital y quiero saltar", "crisis"),
        ("ojala me muriera para no ver esto", "crisis"),
        ("tengo una pistola aqui en la mano", "crisis"),
        # "Se le fueron los ojos" is no fever that went away, and "le está dando" is now.
        ("le está dando un ataque, se le fueron los ojos para atrás y tiembla todo", "emergency"),
        ("tiene una convulsión y no se le quita", "emergency"),
        ("tuvo fiebre el lunes y no se le quita la fiebre", "fever"),
        # Wishing to vanish, or the family better off without the parent.
        ("creo que lo mejor es desaparecer para siempre", "crisis"),
        ("todos estarían mejor sin mí", "crisis"),
        ("creo que nadie me extrañaría", "crisis"),
        ("a veces pienso qué pasaría si me fuera para siempre", "crisis"),
        ("que se queden sin mí, ya no aguanto", "crisis"),
        # History taken back by something happening today.
        ("tuvo una convulsión en 2021 y hoy otra vez", "emergency"),
        ("tuvo convulsiones en 2021, hoy quiero llevarlo porque está convulsionando", "emergency"),
        # Breathing that stopped, or is still bad, beside words of breathing that has eased.
        ("ya no respira", "emergency"),
        ("ya no respria", "emergency"),
        ("ya no respira bien", "emergency"),
        ("no sé si le falta el aire", "emergency"),
        # A fever denied "since", or come down, that is back or still shows.
        ("sin fiebre desde el lunes pero hoy tiene 38.5", "fever"),
        ("tiene fiebre desde ayer", "fever"),
        ("la fiebre bajó pero sigue con escalofríos", "fever"),
        ("tuvo una convulsión en 2021 y le volvió hoy", "emergency"),
        # Pain a child cannot be calmed from is a call now.
        ("mi niña está gritando de dolor y no se calma", "emergency"),
        ("se retuerce del dolor de panza desde hace una hora", "emergency"),
        ("she is screaming in pain and nothing helps", "emergency"),
        # The child's degrees beside the water's still count.
        ("la metí en la tina con agua tibia porque tiene 39 grados", "fever"),
        ("el agua del baño a 37 grados y ella tiene 38.6 de temperatura", "fever"),
        # Days without a fever, and a fever today.
        ("lleva tres dias sin fiebre pero hoy tiene 38.5", "fever"),
        ("ya le bajó la fiebre pero ahora tiene 39", "fever"),
        # Self-harm in the present, and its plan; a 911 said as a report, not as an instruction.
        ("me quemo con el encendedor a propósito cuando no aguanto", "crisis"),
        ("a veces me corto las piernas a escondidas", "crisis"),
        ("me lastimo a propósito para sentir otra cosa", "crisis"),
        ("esta noche me voy a hacer daño", "crisis"),
        ("ya no puedo más, me voy a aventar del puente", "crisis"),
        ("ME QUIERO LANZAR DEL EDIFICIO", "crisis"),
        ("tuvo una convulsión hace meses y hoy le volvió", "emergency"),
        ("hace semanas que le dan convulsiones", "emergency"),
        ("es una emergencia, llamé al 911 y no llegan", "emergency"),
        # A past reading with something now still counts.
        ("hace 2 semanas tuvo 38.5 y hoy otra vez 38.9", "fever"),
        ("had 102.4 last week and today she is hot again", "fever"),
    ],
)
def test_spanish_danger_escalates(text, expected):
    assert safety.detect(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "la fiebre se le quitó el martes",
        "tuvo una convulsión hace 2 años y nada desde entonces",
        "tuvo fiebre el mes pasado, ya está bien",
        "dónde está la sala de emergencias",
        "quién es mi contacto de emergencia",
        "mi hijo tiene 5 años",
        "estamos en el cuarto 38",
        "tuve un ataque de pánico ayer en la clínica",
        "me muero de ganas de verla",
        "no tiene fiebre, solo una pregunta",
        "es buena una dieta alta en fibra",
        "no quiero seguir con el formulario",
        "el equipo de fútbol de mi hijo",
        "no respeta las reglas del cuarto",
        "la temperatura del cuarto es fría",
        # Over, or told as history: a month, "the last time", "but not any more".
        "ya no tiene fiebre desde el jueves, ¿puede ir al parque?",
        "tuvo calentura el lunes pero ya no",
        "hace dos años se desmayó en una extracción de sangre",
        "ahora tiene 7 años, tuvo una convulsión febril cuando era bebé",
        "en febrero tuvo fiebre de 39 y lo internaron, ¿a qué hospital vamos la próxima?",
        "la vez pasada que se desmayó nos dijeron que comiera antes",
        # Taking the usual medicine, and words that only look like danger.
        "ya se tomó sus pastillas de la noche",
        "me corto el pelo antes del MIBG",
        "se me corta la llamada",
        # Denied, over, "the other time", ages and durations.
        "comio bien y sin fiebre ni nada, pregunta sobre la cita",
        "tiene tos y ni tiene fiebre, ¿es normal?",
        "la calentura de la otra vez fue un virus",
        "tuvo calentura con la transfusion pero se le paso rapido",
        "tiene 39 meses",
        "la herida se ve roja pero no tiene fiebre, ¿es normal?",
        "llevamos 40 dias en el hospital",
        "ojala me muera de risa con la pelicula",
        # "Today" of the message's own question, or of a discharge, is not a symptom now.
        "tuvo una convulsión en 2021, hoy solo quiero saber del MIBG",
        "la convulsión fue hace 3 años; hoy tengo una pregunta de los ensayos",
        "tuvo fiebre la semana pasada, hoy le dieron de alta",
        "no es una emergencia, ¿cuándo es la cita?",
        "tuvo fiebre en marzo y no se le quita la tos",
        # A parent's own question about the isolation room.
        "¿mi hijo estará mejor sin mí en el cuarto del MIBG?",
        "que se queden sin mí un rato mientras voy al baño",
        # Breathing trouble that has eased, a fever denied "since" a day or come down, a seizure
        # of a year that has not come back.
        "ya no respira agitado, era un catarro",
        "ya no respira con dificultad como anoche, ¿qué tratamientos hay?",
        "ya no le falta el aire, fue un resfriado. quien es el equipo?",
        "sin calentura desde el lunes. que pruebas hacen?",
        "no tiene fiebre desde el martes, pregunta sobre la cita",
        "ya está sin fiebre desde el sábado. ¿Cómo encuentran una recaída?",
        "la fiebre bajó el sábado y sigue bien. como se prepara a un niño para el mibg?",
        "ya no tiene la temperatura alta de la semana pasada",
        "su convulsión del 2020 no ha vuelto a pasar, ¿cómo es la consulta?",
        "tuvo convulsiones en 2021 y nunca más le volvió a dar",
        # The water's or the weather's degrees, and pain told as history.
        "¿el agua de la ducha del cuarto puede estar a 38 grados o debe ser tibia?",
        "is bath water at 38 degrees too hot for the isolation room?",
        "afuera hace como 40 grados, ¿el cuarto del MIBG tiene aire acondicionado?",
        "el año pasado gritaba de dolor en la pierna y así encontraron la recaída",
        "ya le bajó la calentura, ahorita tiene 36.9, muchas gracias",
        # Cutting hair or nails; a quoted instruction about 911; a faint and a reading of the past.
        "¿me corto las uñas antes de entrar al cuarto del MIBG?",
        "¿me quemo la piel si lo cargo después del yodo?",
        "me lastimo el brazo cada vez que lo cargo, ¿hay una silla en el cuarto?",
        "en caso de emergencia, ¿llamo al 911 o a ustedes?",
        "the discharge sheet says for emergencies call 911, who do i call for questions",
        "la otra vez se desmayó en la sala de espera pero era de los nervios, ya está bien",
        "hace un mes tuvo 39.2 y la internaron, ya salió. ¿cuánto dura el MIBG?",
        "she had 103 in march, all good now, what does phase 2 mean",
        "en caso de emergencia ya sé que marco al 911, pero ¿a quién llamo para una duda?",
    ],
)
def test_calm_spanish_does_not_escalate(text):
    assert safety.detect(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "tiene 39 meses",
        "hace 3 dias fuimos a urgencias por fiebre, ya esta bien",
        "tiene calor por la cobija, le tome la temp y esta normal 36.9",
        "temp was 98.6 this morning, when is the scan",
        # A temperature come down: no fever word, and no temperature word left.
        "gracias, ya se le bajó la temperatura y nos mandaron a casa ayer",
        "ya se le normalizó la temperatura y le dieron de alta el jueves",
        # An age or a weight is not a temperature, whatever the number.
        "mi papá tiene 72 años, ¿puede quedarse con ella en el cuarto?",
        # A reading given before days without a fever.
        "el lunes tuvo 38.9, ya van dos dias sin fiebre. ¿cuándo es la consulta?",
        "she had 101.5 on friday, no fever since saturday, can we still book the consult",
        # A reading of the past, with its fever come down.
        "el sábado tuvo 38.8 de fiebre pero ya se le quitó, ¿qué es una recaída?",
    ],
)
def test_a_fever_with_no_sign_of_one_now_is_unfounded(text):
    assert safety.fever_unfounded(text)


@pytest.mark.parametrize(
    "text",
    [
        "esta ardiendo",
        "le subio la temperatura",
        "tiene 38.4",
        "esta temblando y decaido",
        "she feels really warm",
        "tiene fiebre otra vez",
        "he is neutropenic and not himself",
        "hes got a hi temprature",
        "tiene calor por la cobija, esta normal",
        "she is not eating and seems off",
        "tiene 5 años y esta en 38.7",
        # A small child's age explains nothing: "seems off" is left to the classifier.
        "mi niño de 3 años está raro y no quiere comer",
        # The water's degrees beside a reading of the child's.
        "le di un baño con agua tibia, el termometro dice 39 grados",
        "lleva dos dias sin fiebre pero ahorita marca 38.4",
        "no fever for two days, 101.2 tonight",
    ],
)
def test_a_fever_with_any_sign_of_one_stands(text):
    assert not safety.fever_unfounded(text)


@pytest.mark.parametrize(
    "text",
    [
        "es una pregunta, no una emergencia: ¿cuándo llegan los resultados?",
        "no es urgente, ¿cuándo es la cita?",
        "not an emergency, just wondering when the scan results come",
        "tuvo una convulsión en 2022, ¿qué es la fase 1 de un ensayo?",
        "hace un año se desmayó cuando le sacaron sangre, ¿le pueden dar algo para los nervios?",
        "seizure in 2019, none since. what is mibg",
        # A fever that is over is no emergency either.
        "la calentura se le quitó el jueves y ya está bien; ahora quiero preguntar por el cuarto",
        # A seizure over, while the cancer that came back is what the question is about.
        "hace 3 meses tuvo una convulsión pero ya pasó, ¿cómo saben si el cáncer regresó?",
        "ya no le dan convulsiones desde hace meses, quiero una cita",
        "hace meses que no convulsiona, ¿qué es la fase 1?",
    ],
)
def test_an_emergency_said_to_be_none_or_over_is_unfounded(text):
    assert safety.detect(text) is None
    assert safety.emergency_unfounded(text)


@pytest.mark.parametrize(
    "text",
    [
        "mi hijo está muy mal ayúdenme",
        "se cayó y se golpeó la cabeza",
        "no es una emergencia creo, pero está muy pálido y flojo",
        "tuvo una convulsión en 2022 y le duele mucho la cabeza",
        "no es urgente pero se tragó una pila",
        "seizure in 2019, none since, but she won't wake up properly",
    ],
)
def test_an_emergency_with_any_word_of_danger_now_stands(text):
    assert not safety.emergency_unfounded(text)
