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
    ],
)
def test_calm_spanish_does_not_escalate(text):
    assert safety.detect(text) is None
