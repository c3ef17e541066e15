"""languages.py: --lang validation (ISO 639-1) and the names the prompts use."""

from __future__ import annotations

import subprocess
import sys

import pytest

from summarizer.errors import UnknownLanguageError, UsageError
from summarizer.languages import LANGUAGE_NAMES, language_name, language_names, normalize_language


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
        ("Norwegian Bokmål", "nb"),
        ("tl", "tl"),  # CLDR prefers "fil"; ISO 639-1 has "tl"
        ("Tagalog", "tl"),
        ("Ojibwa", "oj"),  # langcodes.find misses it; the prompts' own names always work
        ("Bengali", "bn"),
        ("Bangla", "bn"),
        # Names in the language itself.
        ("Deutsch", "de"),
        ("Bahasa Indonesia", "id"),
        # Codes ISO 639-1 renamed: old software still writes them.
        ("iw", "he"),
        ("in", "id"),
        ("ji", "yi"),
        ("jw", "jv"),
        ("mo", "ro"),
    ],
)
def test_codes_regions_and_english_names_are_accepted(value: str, code: str) -> None:
    assert normalize_language(value) == code


def test_every_code_and_name_the_prompts_use_is_accepted() -> None:
    for code, name in LANGUAGE_NAMES.items():
        assert normalize_language(code) == code
        assert normalize_language(code.upper()) == code
        assert normalize_language(name) == code, name
        assert normalize_language(name.lower()) == code, name


@pytest.mark.parametrize(
    "value",
    # A NUL made langcodes' name index raise SystemError (found by the server's fuzzer).
    ["xx", "eng", "klingon", "", "e", "fil", "Filipino", "bh", "sh", "zz-ZZ", "\x00", "e\x00n"],
)
def test_unknown_languages_are_a_usage_error(value: str) -> None:
    with pytest.raises(UnknownLanguageError) as caught:
        normalize_language(value)

    assert isinstance(caught.value, UsageError)
    assert caught.value.exit_code == 2
    assert caught.value.message == f"Unknown language {value!r}."
    assert "ISO 639-1" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("value", "suggested"),
    [
        ("Englsh", "did you mean en (English)"),
        ("eng", "did you mean en (English)"),
        ("ind", "did you mean id (Indonesian)"),
        ("Indonesain", "did you mean id (Indonesian)"),
        ("klingon", "Klingon (tlh) has no ISO 639-1 code."),
    ],
)
def test_the_error_suggests_close_matches(value: str, suggested: str) -> None:
    with pytest.raises(UsageError) as caught:
        normalize_language(value)

    assert suggested in (caught.value.hint or "")


def test_every_code_is_two_lowercase_letters_with_a_name() -> None:
    assert len(LANGUAGE_NAMES) == 183  # ISO 639-1 has 183 codes
    assert language_names() == LANGUAGE_NAMES
    for code, name in LANGUAGE_NAMES.items():
        assert len(code) == 2 and code.isascii() and code.islower()
        assert name and name != code and "Unknown" not in name
    for withdrawn in ("bh", "in", "iw", "ji", "jw", "mo", "sh"):
        assert withdrawn not in LANGUAGE_NAMES


def test_language_name() -> None:
    assert language_name("id") == "Indonesian"
    assert language_name("en") == "English"
    assert language_name("zh") == "Chinese"
    assert language_name("tl") == "Tagalog"
    # Overrides: the names most English text uses (see the module docstring).
    assert language_name("bn") == "Bengali"
    assert language_name("ny") == "Chichewa"
    # An unknown code (py3langid knows a few non-ISO 639-1 ones) is shown as is.
    assert language_name("xx") == "xx"
    assert language_name("pt-BR") == "pt-BR"
    assert language_name("eng") == "eng"


def test_importing_the_module_does_not_import_langcodes() -> None:
    # languages is imported on the CLI's path: `summarize --help` must not pay for langcodes.
    code = "import sys, summarizer.languages; print('langcodes' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"
