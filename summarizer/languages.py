"""ISO 639-1 language codes: validation of ``--lang`` and names for the prompts.

Codes and English names come from ``langcodes`` (IANA registry and CLDR data, offline). It
is imported on first use, not with this module: importing it takes about 40 ms and its
name data about 70 ms more, which ``summarize --help`` must not pay.

Two small tables stay here, on purpose:

- ``_WITHDRAWN``: two-letter codes the IANA registry still lists but ISO 639-1 no longer
  has: ``bh`` (withdrawn) and the old codes ``in iw ji jw mo sh``. They are not ISO 639-1
  codes; the ones renamed to a two-letter code (``in`` -> ``id``, ``iw`` -> ``he``, ``ji``
  -> ``yi``, ``jw`` -> ``jv``, ``mo`` -> ``ro``) are accepted as that code, because old
  software (Java locales) still writes them.
- ``_NAME_OVERRIDES``: the name the prompts use where CLDR's English name is not the one
  most English text uses (so the one models know best): ``bn`` is "Bengali" (CLDR:
  "Bangla") and ``ny`` "Chichewa" (CLDR: "Nyanja"), as the prompts always said.
"""

from __future__ import annotations

import difflib
import string
from functools import lru_cache
from itertools import product
from typing import TYPE_CHECKING

from summarizer.errors import UnknownLanguageError

if TYPE_CHECKING:
    from langcodes import Language

_WITHDRAWN = frozenset({"bh", "in", "iw", "ji", "jw", "mo", "sh"})
_NAME_OVERRIDES = {"bn": "Bengali", "ny": "Chichewa"}
_EXAMPLES = "Use an ISO 639-1 code such as en, id, fr, de, es or ja"


@lru_cache(maxsize=1024)
def _is_iso_639_1(code: str) -> bool:
    """Whether ``code`` is one of the 183 ISO 639-1 codes (lower case)."""
    if len(code) != 2 or not (code.isascii() and code.isalpha() and code.islower()):
        return False
    from langcodes import Language

    return code not in _WITHDRAWN and Language.get(code, normalize=False).is_valid()


def _successor(code: str) -> str | None:
    """The ISO 639-1 code that replaced a withdrawn one (``iw`` -> ``he``), if any."""
    if code not in _WITHDRAWN:
        return None
    from langcodes import Language

    replacement = str(Language.get(code))
    return replacement if _is_iso_639_1(replacement) else None


def _find(name: str) -> Language | None:
    """The language called ``name`` (in English or in another language), if langcodes knows it."""
    # No language name holds a control character, and langcodes' name index (a marisa
    # trie keyed on NUL-separated strings) fails with a SystemError on one: the fuzzer's find.
    if not name or not name.isprintable():
        return None
    import langcodes

    try:
        return langcodes.find(name)
    except LookupError:
        return None


@lru_cache(maxsize=1)
def language_names() -> dict[str, str]:
    """Every ISO 639-1 code (183) with the English name the prompts use, sorted by code."""
    codes = ("".join(pair) for pair in product(string.ascii_lowercase, repeat=2))
    return {code: language_name(code) for code in codes if _is_iso_639_1(code)}


@lru_cache(maxsize=1)
def _codes_by_name() -> dict[str, str]:
    return {name.lower(): code for code, name in language_names().items()}


def __getattr__(name: str) -> dict[str, str]:
    # LANGUAGE_NAMES is built on first use, so that importing this module stays cheap.
    if name == "LANGUAGE_NAMES":
        return dict(language_names())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def normalize_language(value: str) -> str:
    """Return the ISO 639-1 code for ``value``: a code like ``en`` or a name like ``English``.

    Region and script subtags are accepted and dropped without being checked (``pt-BR`` ->
    ``pt``, ``zh_TW`` -> ``zh``) because the prompts only name the language. Names are those
    CLDR knows, in English or in the language itself (``Deutsch``). Three-letter codes are
    refused (the error suggests the two-letter one).

    Raises:
        UnknownLanguageError: ``value`` is not a language with an ISO 639-1 code; the hint
            gives the closest suggestions.
    """
    cleaned = value.strip().replace("_", "-")
    code = cleaned.split("-", 1)[0].lower()
    if _is_iso_639_1(code):
        return code
    renamed = _successor(code)
    if renamed:
        return renamed
    found = _find(cleaned)
    if found is not None and found.language and _is_iso_639_1(found.language):
        return found.language
    # The names the prompts use are always accepted (langcodes.find misses a few: "Ojibwa").
    by_name = _codes_by_name()
    if cleaned.lower() in by_name:
        return by_name[cleaned.lower()]
    raise UnknownLanguageError(f"Unknown language {value!r}.", hint=_unknown_hint(cleaned))


def _unknown_hint(cleaned: str) -> str:
    """What to type instead of ``cleaned``: the closest ISO 639-1 codes, by code or name."""
    from langcodes import Language

    names = language_names()
    by_name = _codes_by_name()
    suggestions: list[str] = []
    note = ""
    try:
        tag = Language.get(cleaned)  # a three-letter code: "eng", "ind", "ger"
        if tag.language and _is_iso_639_1(tag.language):
            suggestions.append(tag.language)
    except ValueError:  # langcodes.LanguageTagError: not a tag at all
        pass
    found = _find(cleaned) if len(cleaned) >= 3 else None
    if found is not None and not suggestions:
        note = f" {found.display_name()} ({found}) has no ISO 639-1 code."
    close = difflib.get_close_matches(cleaned.lower(), [*names, *by_name], n=3)
    suggestions = list(dict.fromkeys([*suggestions, *(by_name.get(m, m) for m in close)]))
    if not suggestions:
        return f"{_EXAMPLES}.{note}"
    named = ", ".join(f"{code} ({names[code]})" for code in suggestions)
    return f"{_EXAMPLES}; did you mean {named}?{note}"


@lru_cache(maxsize=256)
def language_name(code: str) -> str:
    """English name of an ISO 639-1 code (``"id"`` -> ``"Indonesian"``); other codes as is."""
    if not _is_iso_639_1(code):
        return code
    if code in _NAME_OVERRIDES:
        return _NAME_OVERRIDES[code]
    from langcodes import Language

    return Language.get(code, normalize=False).display_name()
