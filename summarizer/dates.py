"""Dates written the many ways news articles and models write them, as ISO 8601.

Used twice: to normalise the ``dates`` a model returns, and by the eval graders, so that
"10 March 2022", "Kamis (10/3/2022)", "March 10, 2022" and "2022-03-10" compare equal.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# Month names in the languages of our eval cases and our users' most common ones.
MONTHS: dict[str, int] = {}
for number, names in enumerate(
    [
        "january jan januari janvier enero janeiro gennaio januar ocak январь января січня",
        "february feb februari fevrier février febrero fevereiro febbraio februar şubat subat "
        "февраль февраля лютого",
        "march mar maret mars marzo marco março märz marz mart март марта березня",
        "april apr avril abril aprile nisan апрель апреля квітня",
        "may mei mai mayo maio maggio mayıs mayis май мая травня",
        "june jun juni juin junio junho giugno haziran июнь июня червня",
        "july jul juli juillet julio julho luglio temmuz июль июля липня",
        "august aug agustus aout août agosto ağustos agustos август августа серпня",
        "september sep sept septembre septiembre setembro settembre eylül eylul сентябрь "
        "сентября вересня",
        "october oct oktober octobre octubre outubro ottobre ekim октябрь октября жовтня",
        "november nov novembre noviembre novembro kasım kasim ноябрь ноября листопада",
        "december dec desember decembre décembre diciembre dezembro dicembre dezember aralık "
        "aralik декабрь декабря грудня",
    ],
    start=1,
):
    for name in names.split():
        MONTHS[name] = number

_MONTH = r"(?P<month>[^\W\d_]{3,10})\.?"
_PATTERNS = [
    re.compile(r"\b(?P<year>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<day>\d{1,2})\b"),
    re.compile(r"\b(?P<day>\d{1,2})\.?\s+(?:de\s+)?" + _MONTH + r"\s+(?:de\s+)?(?P<year>\d{4})\b"),
    re.compile(r"\b" + _MONTH + r"\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})\b"),
    re.compile(r"\b(?P<day>\d{1,2})[/.](?P<m>\d{1,2})[/.](?P<year>\d{4})\b"),
]
_MONTH_YEAR = re.compile(r"\b" + _MONTH + r" (?P<year>\d{4})\b")
_YEAR_MONTH = re.compile(r"^(?P<year>\d{4})-(?P<m>\d{2})$")
_YEAR = re.compile(r"^(?P<year>1[89]\d\d|20\d\d)$")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text.lower())


def _month(match: re.Match[str]) -> int | None:
    groups = match.groupdict()
    if groups.get("m"):
        return int(groups["m"])
    return MONTHS.get(_fold(groups["month"]))


def find_dates(text: str, *, month_first: bool = False) -> list[str]:
    """Every full date in ``text``, as ISO ``YYYY-MM-DD`` strings, in order of appearance.

    ``month_first`` reads ``3/10/2022`` as March 10 (US style); the default is day first,
    as most of the world, Indonesia included, writes it.
    """
    return [iso for _, _, iso in find_date_spans(text, month_first=month_first)]


def find_date_spans(text: str, *, month_first: bool = False) -> list[tuple[int, int, str]]:
    """``find_dates`` with where each date is written: (start, end, ISO date)."""
    found: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for index, pattern in enumerate(_PATTERNS):
        for match in pattern.finditer(text):
            if any(start < match.end() and match.start() < end for start, end in taken):
                continue
            month = _month(match)
            day = int(match.group("day"))
            if index == 3 and month_first:
                day, month = month or 0, day
            try:
                value = date(int(match.group("year")), month or 0, day)
            except ValueError:
                continue
            taken.append(match.span())
            found.append((match.start(), match.end(), value.isoformat()))
    return sorted(found)


def to_iso(text: str, *, month_first: bool = False) -> str:
    """``text`` as ISO 8601 (``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``) if it is one date,
    otherwise ``text`` unchanged."""
    stripped = text.strip()
    full = find_dates(stripped, month_first=month_first)
    if len(full) == 1:
        return full[0]
    if _YEAR_MONTH.match(stripped) or _YEAR.match(stripped):
        return stripped
    match = _MONTH_YEAR.search(stripped)
    if match and len(full) == 0:
        month = MONTHS.get(_fold(match.group("month")))
        if month:
            return f"{match.group('year')}-{month:02d}"
    return text
