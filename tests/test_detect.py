"""detect.py: offline source-language identification."""

from __future__ import annotations

import pytest

from summarizer.clean import clean_article
from summarizer.detect import detect_language


def test_the_seed_article_is_indonesian(seed_article: str) -> None:
    code, probability = detect_language(clean_article(seed_article).text)

    assert code == "id"
    assert 0.5 < probability <= 1.0


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The foreign ministers met in Antalya and the talks ended without progress.", "en"),
        ("Les ministres des affaires étrangères se sont rencontrés à Antalya sans progrès.", "fr"),
        ("Die Außenminister trafen sich in Antalya, die Gespräche blieben ohne Fortschritt.", "de"),
        ("Министры иностранных дел встретились в Анталье, переговоры закончились ничем.", "ru"),
        (
            "Los ministros de exteriores se reunieron en Antalya y las conversaciones fracasaron.",
            "es",
        ),
    ],
)
def test_common_languages_are_identified(text: str, code: str) -> None:
    assert detect_language(text)[0] == code


def test_the_code_is_a_plain_str_and_the_probability_a_float() -> None:
    code, probability = detect_language("Hello world, this is an English sentence.")

    assert type(code) is str
    assert type(probability) is float
