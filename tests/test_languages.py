"""languages.py: --lang validation (ISO 639-1) and the names the prompts use."""

from __future__ import annotations

import pytest

from summarizer.errors import UsageError
from summarizer.languages import LANGUAGE_NAMES, language_name, normalize_language


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("en", "en"),
        ("EN", "en"),
        (" id ", "id"),
        ("pt-BR", "pt"),
        ("zh_TW", "zh"),
        ("English", "en"),
        ("indonesian", "id"),
        ("Norwegian Bokmal", "nb"),
    ],
)
def test_codes_regions_and_english_names_are_accepted(value: str, code: str) -> None:
    assert normalize_language(value) == code


@pytest.mark.parametrize("value", ["xx", "eng", "klingon", "", "e"])
def test_unknown_languages_are_a_usage_error(value: str) -> None:
    with pytest.raises(UsageError) as caught:
        normalize_language(value)

    assert caught.value.exit_code == 2
    assert repr(value) in caught.value.message
    assert "ISO 639-1" in (caught.value.hint or "")


def test_the_error_suggests_close_matches() -> None:
    with pytest.raises(UsageError) as caught:
        normalize_language("Englsh")

    assert "en (English)" in (caught.value.hint or "")


def test_every_code_is_two_lowercase_letters_with_a_name() -> None:
    assert len(LANGUAGE_NAMES) == 183  # ISO 639-1 has 183 codes
    for code, name in LANGUAGE_NAMES.items():
        assert len(code) == 2 and code.isascii() and code.islower()
        assert name


def test_language_name() -> None:
    assert language_name("id") == "Indonesian"
    assert language_name("en") == "English"
    # An unknown code (py3langid knows a few non-ISO 639-1 ones) is shown as is.
    assert language_name("xx") == "xx"
