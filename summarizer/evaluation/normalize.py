"""Text, number and date normalisation shared by the graders.

Matching is case- and accent-insensitive; numbers compare by value after reading locale
separators and scale words ("1,5 triliun" = "1.5 trillion" = 1.5e12); dates compare as ISO
strings from ``summarizer.dates`` ("10 March 2022" = "2022-03-10" = "10/3/2022").
"""

from __future__ import annotations

import re
import unicodedata

from summarizer.dates import find_dates

# Scale words, folded (lower case, no accents). Longest first so "mil millones" wins over "mil".
SCALES: dict[str, float] = {
    "mil millones": 1e9,
    "thousand": 1e3,
    "thousands": 1e3,
    "ribu": 1e3,
    "rb": 1e3,
    "mil": 1e3,
    "mille": 1e3,
    "bin": 1e3,
    "million": 1e6,
    "millions": 1e6,
    "juta": 1e6,
    "jt": 1e6,
    "millon": 1e6,
    "millones": 1e6,
    "milione": 1e6,
    "milioni": 1e6,
    "milyon": 1e6,
    "millionen": 1e6,
    "mio": 1e6,
    "mn": 1e6,
    "billion": 1e9,
    "billions": 1e9,
    "miliar": 1e9,
    "milyar": 1e9,
    "milliard": 1e9,
    "milliards": 1e9,
    "milliarden": 1e9,
    "miliardi": 1e9,
    "mrd": 1e9,
    "bn": 1e9,
    "trillion": 1e12,
    "trillions": 1e12,
    "triliun": 1e12,
    "trilyun": 1e12,
    "trilyon": 1e12,
}
_SCALE_WORDS = sorted(SCALES, key=len, reverse=True)
_NUMBER = re.compile(
    r"(?<![\w.,])(?P<digits>\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)|\d+(?:[.,]\d+)*)"
    r"(?:[\s-]*(?P<scale>" + "|".join(re.escape(w) for w in _SCALE_WORDS) + r")\b)?",
)
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower case, accents stripped, whitespace collapsed: the form all matching uses."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace("ı", "i").replace("’", "'")  # noqa: RUF001 - Turkish dotless i
    return _SPACES.sub(" ", stripped.casefold()).strip()


def _digit_values(digits: str) -> set[float]:
    """Every value a digit string can mean: "1,500" may be 1500 or 1.5; "1,5" is 1.5."""
    digits = re.sub(r"[ \u00a0\u202f]", "", digits)
    separators = [ch for ch in digits if ch in ".,"]
    if not separators:
        return {float(digits)}
    if len(set(separators)) == 2:
        decimal = digits[max(digits.rfind("."), digits.rfind(","))]
        thousands = "," if decimal == "." else "."
        return {float(digits.replace(thousands, "").replace(decimal, "."))}
    separator = separators[0]
    parts = digits.split(separator)
    if len(parts) > 2:
        if all(len(p) == 3 for p in parts[1:]):
            return {float("".join(parts))}
        return set()
    whole, fraction = parts
    values = {float(f"{whole}.{fraction}")}
    if len(fraction) == 3:
        values.add(float(whole + fraction))
    return values


def numbers_in(text: str) -> list[tuple[str, set[float]]]:
    """Each number written in ``text`` (with its scale word), and the values it can mean."""
    found: list[tuple[str, set[float]]] = []
    folded = fold(text)
    for match in _NUMBER.finditer(folded):
        values = _digit_values(match.group("digits"))
        scale = match.group("scale")
        if scale:
            values = {v * SCALES[scale] for v in values}
        if values:
            found.append((match.group(0).strip(), {_round(v) for v in values}))
    return found


def number_values(text: str, *, unscaled: bool = False) -> set[float]:
    """All values of all numbers in ``text``; with ``unscaled``, also without scale words."""
    values: set[float] = set()
    folded = fold(text)
    for match in _NUMBER.finditer(folded):
        base = _digit_values(match.group("digits"))
        scale = match.group("scale")
        values |= {_round(v * SCALES[scale]) for v in base} if scale else set()
        if not scale or unscaled:
            values |= {_round(v) for v in base}
    return values


def _round(value: float) -> float:
    return float(f"{value:.9g}")


def as_number(term: str) -> set[float] | None:
    """The values of ``term`` when the whole term is one number (with an optional scale
    word, currency or percent sign), else None."""
    folded = fold(term)
    core = re.sub(r"^(?:rp\.?|us\$|\$|€|eur|usd|idr)\s*", "", folded)
    core = re.sub(
        r"\s*(?:%|persen|percent|per cent|pour cent|por ciento|euros?|dollars?)$", "", core
    )
    match = _NUMBER.fullmatch(core)
    if not match:
        return None
    values = _digit_values(match.group("digits"))
    scale = match.group("scale")
    if scale:
        values = {v * SCALES[scale] for v in values}
    return {_round(v) for v in values} or None


def as_date(term: str) -> str | None:
    """The ISO date of ``term`` when it is a full date, else None."""
    found = sorted(dates_in(term))
    return found[0] if len(found) == 1 else None


_ORDINAL_DAY = re.compile(r"\b(\d{1,2})(?:er|st|nd|rd|th|º|°)(?=[\s,])", re.IGNORECASE)


def dates_in(text: str) -> set[str]:
    """Every full date in ``text`` as ISO, read day first (as the articles' locales do).

    Ordinal days ("1er août 2026", "March 1st, 2026") are read as plain days first.
    """
    return set(find_dates(_ORDINAL_DAY.sub(r"\1", text)))
