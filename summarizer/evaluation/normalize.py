"""Text, number and date normalisation shared by the graders.

Matching is case- and accent-insensitive; numbers compare by value after reading locale
separators, scale words and abbreviations ("1,5 triliun" = "1.5 trillion" = "IDR 1.5tn" =
1.5e12) and numbers written as words ("twelve thousand", "douze mille", "dua belas ribu",
via ``digitize``); dates compare as ISO strings from ``summarizer.dates`` ("10 March 2022" =
"2022-03-10" = "10/3/2022").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from summarizer.dates import MONTHS, find_date_spans, find_dates

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
# Abbreviations written straight after the digits ("IDR 12bn", "€2.3m", "Rp5,2T", "12k"):
# only there, since "5 m" is five metres.
ATTACHED_SCALES: dict[str, float] = {
    "k": 1e3,
    "m": 1e6,
    "md": 1e9,
    "bn": 1e9,
    "tn": 1e12,
    "t": 1e12,
}
_SCALE_WORDS = sorted(SCALES, key=len, reverse=True)
# A digit run may follow letters ("Rp5.2", "IDR12"), never other digits or separators,
# nor a word and hyphen ("COVID-19" is a name, "2015-01" a month).
_NUMBER = re.compile(
    r"(?<![\d.,])(?<!\w-)(?P<digits>\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)|\d+(?:[.,]\d+)*)"
    r"(?:(?P<attached>"
    + "|".join(sorted(ATTACHED_SCALES, key=len, reverse=True))
    + r")\b|\s(?P<currency_scale>k|m|md|bn)(?=[$\u20ac\u00a3])"  # "8,5 M$", "2 Md€"
    + r"|[\s-]*(?P<scale>"
    + "|".join(re.escape(w) for w in _SCALE_WORDS)
    + r")\b)?",
)
# How each language writes "1,500" (thousands) and "1,5" (a decimal): with one separator and
# three digits after it, the reading is ambiguous until the language is known.
DECIMAL_COMMA = frozenset({"id", "ms", "fr", "es", "de", "pt", "it", "nl", "tr", "ru", "uk"})
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower case, accents stripped, whitespace collapsed: the form all matching uses."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace("ı", "i").replace("’", "'")  # noqa: RUF001 - Turkish dotless i
    return _SPACES.sub(" ", stripped.casefold()).strip()


def _digit_values(digits: str, language: str | None = None) -> set[float]:
    """Every value a digit string can mean: "1,500" may be 1500 or 1.5; "1,5" is 1.5.

    With the text's ``language``, the ambiguous case is read that language's way: "5,000"
    is 5000 in English and 5.0 in Indonesian, "5.000" the other way round.
    """
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
    as_decimal, as_thousands = float(f"{whole}.{fraction}"), float(whole + fraction)
    if len(fraction) != 3:
        return {as_decimal}
    if language is None:
        return {as_decimal, as_thousands}
    comma_decimal = language in DECIMAL_COMMA
    return {as_decimal if (separator == ",") == comma_decimal else as_thousands}


def _scale(match: re.Match[str]) -> float | None:
    attached = match.group("attached") or match.group("currency_scale")
    if attached:
        return ATTACHED_SCALES[attached]
    if match.group("scale"):
        return SCALES[match.group("scale")]
    return None


def number_spans(folded: str, language: str | None = None) -> list[tuple[int, int, set[float]]]:
    """Each number in already folded text: its span and the values it can mean."""
    found: list[tuple[int, int, set[float]]] = []
    for match in _NUMBER.finditer(folded):
        values = _digit_values(match.group("digits"), language)
        scale = _scale(match)
        if scale:
            values = {v * scale for v in values}
        if values:
            found.append((match.start(), match.end(), {_round(v) for v in values}))
    return found


def numbers_in(text: str, language: str | None = None) -> list[tuple[str, set[float]]]:
    """Each number written in ``text`` (with its scale word), and the values it can mean."""
    folded = fold(text)
    return [
        (folded[start:end].strip(), values) for start, end, values in number_spans(folded, language)
    ]


def number_values(text: str, *, unscaled: bool = False, language: str | None = None) -> set[float]:
    """All values of all numbers in ``text``; with ``unscaled``, also without scale words."""
    values: set[float] = set()
    folded = fold(text)
    for match in _NUMBER.finditer(folded):
        base = _digit_values(match.group("digits"), language)
        scale = _scale(match)
        values |= {_round(v * scale) for v in base} if scale else set()
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
    scale = _scale(match)
    if scale:
        values = {v * scale for v in values}
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


# -- numbers written as words -----------------------------------------------------------------

# text2num reads number words in these languages; "one"/"un"/"uno" stay words (threshold 2),
# since they are as often articles and pronouns as numbers.
_TEXT2NUM = {"en", "fr", "es", "pt", "de", "it", "nl", "da"}
_ID_UNITS = {
    "satu": 1,
    "dua": 2,
    "tiga": 3,
    "empat": 4,
    "lima": 5,
    "enam": 6,
    "tujuh": 7,
    "delapan": 8,
    "sembilan": 9,
    "sepuluh": 10,
    "sebelas": 11,
    "seratus": 100,
    "seribu": 1000,
    # Ordinals ("kedua belah pihak", both sides; "ketiga", third).
    "kedua": 2,
    "ketiga": 3,
    "keempat": 4,
    "kelima": 5,
}
_ID_MULTIPLIERS = {"belas": 10, "puluh": 10, "ratus": 100}
_ID_SCALES = {"ribu": 1e3, "juta": 1e6, "miliar": 1e9, "milyar": 1e9, "triliun": 1e12}
_ID_WORDS = re.compile(
    r"\b(?:(?:" + "|".join([*_ID_UNITS, *_ID_MULTIPLIERS, *_ID_SCALES]) + r")\b\s*)+",
    re.IGNORECASE,
)


def _indonesian_value(words: list[str]) -> float | None:
    """The value of a run of Indonesian number words ("dua puluh lima ribu" = 25000).

    Indonesian has no reader on PyPI that text2num covers; its number words are regular
    (units, belas/puluh/ratus, then ribu/juta/miliar), so this short parser is enough.
    """
    total, current, unit = 0.0, 0.0, 0.0
    for word in words:
        if word == "seribu":
            total += 1000
        elif word in _ID_UNITS and _ID_UNITS[word] >= 10:  # sepuluh, sebelas, seratus
            current += unit + _ID_UNITS[word]
            unit = 0
        elif word in _ID_UNITS:
            current, unit = current + unit, _ID_UNITS[word]
        elif word == "belas":
            current, unit = current + 10 + unit, 0
        elif word in _ID_MULTIPLIERS:
            current, unit = current + unit * _ID_MULTIPLIERS[word], 0
        else:
            total += (current + unit or 1) * _ID_SCALES[word]
            current, unit = 0, 0
    value = total + current + unit
    return value or None


def _digitize_indonesian(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        words = match.group(0).lower().split()
        if words == ["satu"] or words[0] in _ID_MULTIPLIERS or words[0] in _ID_SCALES:
            return match.group(0)
        value = _indonesian_value(words)
        if value is None:
            return match.group(0)
        trailing = match.group(0)[len(match.group(0).rstrip()) :]
        return f"{value:.0f}{trailing}"

    return _ID_WORDS.sub(replace, text)


# A scale word after digits ("1.5 billion") is read by ``number_spans``; text2num would
# turn it into a second number ("1.5 1000000000"), so it is hidden from text2num.
_DIGITS_THEN_SCALE = re.compile(
    r"(?<=\d)(?P<gap>[\s-]*)(?P<scale>"
    + "|".join(re.escape(w) for w in [*_SCALE_WORDS, "millón", "millón de"])
    + r")\b",
    re.IGNORECASE,
)


# "Hundreds of thousands" is no number: text2num would read "100 of 1000". Plural scale
# words stay words (French and Spanish "millions"/"millones" only after "des"/"de", since
# "trois millions" is a number).
_VAGUE = {
    "en": r"hundreds|thousands|millions|billions|dozens|tens|scores",
    "fr": r"centaines|milliers|dizaines|(?<=des )millions|(?<=des )milliards",
    "es": r"cientos|centenares|miles|millares|decenas|(?<=de )millones",
    "pt": r"centenas|milhares|dezenas|(?<=de )milhoes|(?<=de )milhões",
    "de": r"hunderte|tausende|dutzende",
    "it": r"centinaia|migliaia|decine",
    "nl": r"honderden|duizenden|tientallen",
}


def digitize(text: str, language: str) -> str:
    """``text`` with its numbers written as words turned into digits, for the languages
    with a reader (text2num's, and Indonesian/Malay here); other text comes back as is."""
    if language in ("id", "ms"):
        return _digitize_indonesian(text)
    if language not in _TEXT2NUM:
        return text
    from text_to_num import alpha2digit

    hidden: list[str] = []

    def hide(match: re.Match[str]) -> str:
        hidden.append(match.group(0))
        return f" qqscale{len(hidden) - 1}qq"

    # "twenty-four-hour" is read as "twenty four hour".
    masked = _DIGITS_THEN_SCALE.sub(hide, text)
    if language in _VAGUE:
        masked = re.sub(rf"\b(?:{_VAGUE[language]})\b", hide, masked, flags=re.IGNORECASE)
    masked = re.sub(r"(?<=[^\W\d_])-(?=[^\W\d_])", " ", masked)
    try:
        converted = str(alpha2digit(masked, language, threshold=2))
    except (ValueError, RuntimeError):  # the reader refuses odd input; keep the words
        return text
    return re.sub(r" ?qqscale(\d+)qq", lambda m: hidden[int(m.group(1))], converted)


# -- dates without a year, short dates, times -------------------------------------------------


@dataclass(frozen=True)
class DateMention:
    """A date written in a text: the full dates it can mean (a short date "10/03/22" can
    mean two), or only its month and day when no year is written ("10 March")."""

    start: int
    end: int
    readings: frozenset[str]
    month_day: tuple[int, int] | None = None

    def matches(self, iso: str) -> bool:
        if self.readings:
            return iso in self.readings
        return self.month_day == (int(iso[5:7]), int(iso[8:10]))


_MONTH_NAMES = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
_DAY_MONTH = re.compile(
    r"\b(?P<day>\d{1,2})(?:er|st|nd|rd|th)?\.?\s+(?:de\s+)?(?P<month>" + _MONTH_NAMES + r")\b\.?",
    re.IGNORECASE,
)
_MONTH_DAY = re.compile(
    r"\b(?P<month>" + _MONTH_NAMES + r")\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?\b(?!\s*\d)",
    re.IGNORECASE,
)
# Month names that are common words too: without a year, "the two may meet" (after number
# words become digits, "2 may") and French "sept" (seven) are no dates.
_AMBIGUOUS_MONTHS = frozenset({"may", "mar", "sept"})
# Indonesian news writes the day of the week and the day: "Jumat (24/2)".
_DAY_SLASH_MONTH = re.compile(r"\((?P<day>\d{1,2})/(?P<month>\d{1,2})\)")
# The first day of a range that names its month once: "du 25 au 27 janvier".
_RANGE_START = re.compile(
    r"\b(?P<day>\d{1,2})\s*(?:au|to|-|\u2013|hingga|sampai|al|a|bis|and|et|y|dan)\s*$",
    re.IGNORECASE,
)
_SHORT = re.compile(r"\b(?P<a>\d{1,2})[/.](?P<b>\d{1,2})[/.](?P<yy>\d{2})\b(?![/.]\d)")
_TIME = re.compile(
    r"\b(?P<h>\d{1,2})(?:[:.h](?P<min>\d{2}))?\s*(?P<half>a\.?\s?m\b\.?|p\.?\s?m\b\.?)"
    r"|\b(?P<h24>\d{1,2})[:h](?P<min24>\d{2})\b(?![.,]?\d)"
    # "14.30" only after a clock word or before a time zone: "0.14" is a price.
    r"|(?:(?<=pukul )|(?<=jam ))(?P<hc>\d{1,2})\.(?P<minc>\d{2})\b"
    r"|\b(?P<hz>\d{1,2})\.(?P<minz>\d{2})(?=\s*(?:wib|wita|wit|uhr)\b)",
    re.IGNORECASE,
)


def _valid(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def date_mentions(text: str) -> list[DateMention]:
    """Every date written in ``text``: full dates (``summarizer.dates``), short dates with a
    two-digit year (both day-first and month-first readings), and dates without a year,
    which take the year of a full date closing a range ("du 15 septembre au 10 octobre
    2026") and otherwise keep only their month and day."""
    # "1er août" -> "  1 août": the same offsets, a plain day.
    cleaned = _ORDINAL_DAY.sub(lambda m: m.group(1).rjust(len(m.group(0))), text)
    mentions = [
        DateMention(start, end, frozenset({iso})) for start, end, iso in find_date_spans(cleaned)
    ]

    def free(start: int, end: int) -> bool:
        return not any(m.start < end and start < m.end for m in mentions)

    for match in _SHORT.finditer(cleaned):
        if free(*match.span()):
            a, b, year = int(match["a"]), int(match["b"]), 2000 + int(match["yy"])
            readings = {r for r in (_valid(year, b, a), _valid(year, a, b)) if r}
            if readings:
                mentions.append(DateMention(*match.span(), frozenset(readings)))
    full = sorted(mentions, key=lambda m: m.start)
    for pattern in (_DAY_MONTH, _MONTH_DAY):
        for match in pattern.finditer(cleaned):
            if not free(*match.span()):
                continue
            month, day = MONTHS.get(match["month"].lower()), int(match["day"])
            if not month or not 1 <= day <= 31 or match["month"].lower() in _AMBIGUOUS_MONTHS:
                continue
            closing = next((m for m in full if 0 <= m.start - match.end() <= 12), None)
            # The year of a full date closing the range; 0 when there is none.
            year = int(next(iter(closing.readings))[:4]) if closing and closing.readings else 0
            iso = _valid(year, month, day) if year else None
            mentions.append(
                DateMention(*match.span(), frozenset({iso}) if iso else frozenset(), (month, day))
            )
            start = _RANGE_START.search(cleaned[max(0, match.start() - 12) : match.start()])
            if start and 1 <= int(start["day"]) <= 31:
                first = _valid(year, month, int(start["day"])) if year else None
                mentions.append(
                    DateMention(
                        match.start(),
                        match.start(),
                        frozenset({first}) if first else frozenset(),
                        (month, int(start["day"])),
                    )
                )
    for match in _DAY_SLASH_MONTH.finditer(cleaned):
        month, day = int(match["month"]), int(match["day"])
        if free(*match.span()) and 1 <= month <= 12 and 1 <= day <= 31:
            mentions.append(DateMention(*match.span(), frozenset(), (month, day)))
    return sorted(mentions, key=lambda m: m.start)


def time_mentions(text: str) -> list[tuple[int, int, int]]:
    """Clock times in ``text`` ("2:15 a.m.", "14.30 WIB", "10h00"): (start, end, minutes
    after midnight)."""
    found: list[tuple[int, int, int]] = []
    for match in _TIME.finditer(text):
        if match["half"]:
            hour, minute = int(match["h"]) % 12, int(match["min"] or 0)
            hour += 12 if match["half"].lower().startswith("p") else 0
        else:
            hour_text = match["h24"] or match["hc"] or match["hz"]
            hour, minute = int(hour_text), int(match["min24"] or match["minc"] or match["minz"])
        if hour < 24 and minute < 60:
            found.append((match.start(), match.end(), hour * 60 + minute))
    return found
