"""Grounding: every name, number, date, weekday and time an output states, traced to the
article.

What counts as traced:

* a **name** (any capitalised word, sentence-initial and title words included) is a word
  of the article, one of the case's aliases, or the target language's CLDR name of a
  country or language the article names (Babel: "Turki" in the article lets an English
  output say "Turkey"). A capitalised word that is a common word of the output language
  (simplemma's dictionary) is not a name ("Foreign", "Residents"). No prefix or fuzzy
  match: "Hendri Saputro" is not "Hendra Saputra" unless the case lists the alias;
* a **number** has a value the article states, in digits or in words (both read in their
  own language's convention, so English "5,000" is 5000 and never 5). 0 and 1 are not
  checked (they are articles and pronouns as often as numbers);
* a **date** is one the article states; a short date ("10/03/22") may match either
  reading; a date without a year must match an article date's month and day;
* a **weekday** is the weekday of a date in the article, or one the article names;
* a **time** ("2:15 a.m.") is a time the article states.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from summarizer.dates import MONTHS
from summarizer.evaluation.claims import Unit, units
from summarizer.evaluation.normalize import (
    date_mentions,
    digitize,
    fold,
    number_values,
    time_mentions,
)
from summarizer.tasks import Task

# Numbers too common as words to check ("one of them", "zero").
UNCHECKED_NUMBERS = frozenset({0.0, 1.0})
# Weekday names that are also common words: Indonesian "minggu" is Sunday and "week".
AMBIGUOUS_WEEKDAYS = frozenset({"minggu"})
# Organisation types: a capitalised one in the output ("Yayasan Port Linden Sehat") names
# an organisation, and the article must name one of that type in some language. A small
# table on purpose: inventing an organisation is a common fabrication in news summaries,
# and these words are what gives one away across languages.
ORGANISATION_TYPES = [
    frozenset(group.split())
    for group in (
        "foundation foundations yayasan fondation fundacion fundacao stiftung fondazione",
        "ministry ministries kementerian ministere ministerio ministerium ministero",
        "institute institut instituto istituto",
        "association asosiasi perhimpunan asociacion associacao verband associazione",
        "agency agensi badan agence agencia agentur agenzia",
        "company corporation perusahaan societe entreprise empresa compania unternehmen",
        "committee komite comite comision komitee comitato",
        "court pengadilan mahkamah tribunal tribunale gericht",
        "party partai parti partido partei partito",
    )
]
_CENTS = re.compile(r"\s*(?:cents?|centimes?|centimos?|centavos?|sen)\b")
# "30 à 50 milliards": the first number of a range shares the second's scale word.
_RANGE = re.compile(
    r"(?P<first>\d+(?:[.,]\d+)?)\s*(?:to|a|au|-|\u2013|hingga|sampai|bis|et|and|y)\s*"
    r"(?P<second>\d+(?:[.,]\d+)?\s*[^\W\d_]+)"
)
# Apostrophes end a word: "Lavrov's" is Lavrov, "L'eau" is l' + eau, "d'Antalya" Antalya;
# a word with digits ("Rp5", "COVID-19") is not a name.
_CAPITALISED = re.compile(r"(?<![\w-])([^\W\d_]+(?:-[^\W\d_]+)*)(?![\w-])")
# A capitalised word straight after a number is a unit: "1.2 MW", "30 km".
_AFTER_NUMBER = re.compile(r"\d[\d.,]*\s*$")


@lru_cache(maxsize=32)
def _locale(language: str) -> Any:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


@lru_cache(maxsize=32)
def weekday_names(language: str) -> dict[str, int]:
    """Folded weekday names of a language, singular and plural ("sabados"): Monday = 0.

    Only full names: abbreviations ("Sun", "Wed") are ordinary words too often."""
    names: dict[str, int] = {}
    for number, name in _locale(language).days["format"]["wide"].items():
        folded = fold(name)
        names[folded] = names[folded + "s"] = number
        names[folded.split("-")[0]] = number  # "segunda-feira" is often "segunda"
    return names


@lru_cache(maxsize=32)
def _cldr_names(language: str) -> dict[str, str]:
    """Folded CLDR names in ``language`` of territories (``t:TR``), languages (``l:id``)
    and the cities time zones are named after (``c:Europe/Moscow``), to their codes."""
    locale = _locale(language)
    found = {fold(city): f"c:{zone}" for zone, city in _exemplar_cities(language).items()}
    # A country wins over its language of the same name (Indonesian "Rusia" is both).
    found.update({fold(name): f"l:{code}" for code, name in locale.languages.items()})
    found.update({fold(name): f"t:{code}" for code, name in locale.territories.items()})
    return {name: code for name, code in found.items() if len(name) >= 4}


@lru_cache(maxsize=32)
def _exemplar_cities(language: str) -> dict[str, str]:
    """Time zone -> its exemplar city in ``language``: CLDR names the cities that name
    time zones ("Moskwa" in Indonesian, "Moscou" in French, "Moscow" in English)."""
    from babel.dates import get_timezone_location

    locale = _locale(language)  # English for a language CLDR does not have
    cities: dict[str, str] = {}
    for zone in _zones():
        try:
            cities[zone] = str(get_timezone_location(zone, locale=locale, return_city=True))
        except LookupError:  # a zone Babel does not know
            continue
    return cities


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    """The IANA zones named after a city ("Europe/Moscow", not "Etc/UTC")."""
    import zoneinfo

    return tuple(
        sorted(
            zone
            for zone in zoneinfo.available_timezones()
            if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "US/", "posix", "right"))
        )
    )


def cldr_code(name: str, language: str) -> str | None:
    """The CLDR code of the country, region, language or city ``name`` in ``language``."""
    return _cldr_names(language).get(fold(name))


def cldr_display_name(code: str, language: str) -> str | None:
    """The name, in ``language``, of a code from ``cldr_code``, as it is written there."""
    kind, key = code.split(":", 1)
    locale = _locale(language)
    if kind == "c":
        return _exemplar_cities(language).get(key)
    names = locale.territories if kind == "t" else locale.languages
    return str(names[key]) if key in names else None


def _name_of(code: str, language: str) -> str | None:
    """The folded CLDR name, in ``language``, of a code from ``cldr_code``."""
    name = cldr_display_name(code, language)
    return fold(name) if name else None


def cldr_name_in(name: str, source: str, target: str) -> list[str]:
    """The target-language CLDR names of a country or language named ``name`` in the
    source language ("Turquie" -> "Turquía" for Spanish), if it is one."""
    code = _cldr_names(source).get(fold(name))
    found = _name_of(code, target) if code is not None else None
    return [found] if found else []


def _cldr_translations(article: str, source: str, target: str) -> set[str]:
    """Words of the target-language (and English) names of the countries and languages
    the article names in its own language."""
    folded = " " + " ".join(re.findall(r"\w+", fold(article))) + " "
    named = {code for name, code in _cldr_names(source).items() if f" {name} " in folded}
    names = {_name_of(code, language) for code in named for language in {target, "en"}}
    return {word for name in names if name for word in re.findall(r"\w+", name)}


def _valid_day(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Grounds:
    """What an output is traced against besides the article's text: its language, the
    output's, and what else is known to be true of it. The eval builds one from a case
    (``Case.grounds``), the product from the article alone (``summarizer.checks``)."""

    source_language: str
    output_language: str
    # Other spellings the case allows ("Hendra Saputra" for "Hendra Saputra, S.H.").
    aliases: tuple[str, ...] = ()
    # The publication date (ISO), whose year a year-less date may be written with.
    published: str = ""


class ArticleIndex:
    """What the article states, read once per output (or once per article, and reused)."""

    def __init__(self, article: str, grounds: Grounds) -> None:
        source, target = grounds.source_language, grounds.output_language
        self.language = target
        prepared = fold(digitize(article, source))
        self.words = set(re.findall(r"\w+", prepared))
        for alias in grounds.aliases:
            self.words |= set(re.findall(r"\w+", fold(alias)))
        self.words |= _cldr_translations(article, source, target)
        # Read the source language's way: English "1,800" is 1800, never 1.8.
        self.numbers = number_values(prepared, unscaled=True, language=source)
        for match in _RANGE.finditer(prepared):
            scaled = number_values(match["second"], language=source)
            base = number_values(match["second"].split()[0] if " " in match["second"] else "")
            for value in number_values(match["first"], language=source):
                self.numbers |= {float(f"{value * s / b:.9g}") for s in scaled for b in base if b}
        mentions = date_mentions(article)
        self.dates = {iso for m in mentions for iso in m.readings}
        self.month_days = {m.month_day for m in mentions if m.month_day}
        self.month_days |= {(int(iso[5:7]), int(iso[8:10])) for iso in self.dates}
        # A date the article gives without its year ("Jumat (24/2)", "August 10th") may
        # be written in full with the year of its publication, or of its full dates.
        self.years = {int(iso[:4]) for iso in self.dates}
        if grounds.published[:4].isdigit():
            self.years.add(int(grounds.published[:4]))
        self.weekdays = {date.fromisoformat(iso).weekday() for iso in self.dates}
        names = weekday_names(source)
        self.weekdays |= {names[w] for w in re.findall(r"\w+", fold(article)) if w in names}
        self.folded = " ".join(re.findall(r"\w+", fold(article)))
        self.weekdays |= {
            date(year, month, day).weekday()
            for year in self.years
            for month, day in self.month_days
            if _valid_day(year, month, day)
        }
        self.times = {minutes for _, _, minutes in time_mentions(article)}

    def name_known(self, word: str) -> bool:
        folded = fold(word).replace("\u2019", "'")
        folded = re.sub(r"'s$", "", folded)
        if folded in self.words:
            return True
        parts = [p for p in re.split(r"[-']", folded) if p]
        return len(parts) > 1 and all(p in self.words or p.isdigit() for p in parts)


def is_common_word(word: str, language: str) -> bool:
    import simplemma

    def known(part: str) -> bool:
        # simplemma knows the word as a common word: its dictionary also holds names,
        # whose lemma keeps its capital ("tim" -> "Tim", "scott" -> "Scott").
        found = simplemma.lemmatize(part, lang=language)
        return found.islower() and (bool(simplemma.is_known(part, lang=language)) or found != part)

    if digitize(word, language) != word:  # a number written as a word ("Soixante-trois")
        return True
    try:
        return all(known(part) for part in word.lower().split("-"))
    except ValueError:  # a language simplemma does not have: every capitalised word counts
        return False


def capitalised_words(text: str) -> list[str]:
    """The words of ``text`` that start with a capital, except units after a number."""
    words = []
    for match in _CAPITALISED.finditer(text):
        word = match.group(1)
        if (
            word[:1].isupper()
            and len(word) >= 2
            and not _AFTER_NUMBER.search(text[: match.start()])
        ):
            words.append(word)
    return words


def _unit_items(unit: Unit, index: ArticleIndex, weekdays: dict[str, int]) -> list[str]:
    found: list[str] = []
    for _, mention in unit.dates:
        if mention.readings and not mention.readings & index.dates:
            if not any(
                (int(r[5:7]), int(r[8:10])) in index.month_days and int(r[:4]) in index.years
                for r in mention.readings
            ):
                found.append(f"date {sorted(mention.readings)[0]}")
        elif not mention.readings and mention.month_day not in index.month_days:
            month, day = mention.month_day or (0, 0)
            found.append(f"date --{month:02d}-{day:02d}")
    for start, end, minutes in time_mentions(unit.text):
        if minutes not in index.times:
            found.append(f"time {unit.text[start:end].strip()}")
    for position, values, written in unit.numbers:
        if values & index.numbers or values <= UNCHECKED_NUMBERS:
            continue
        following = " ".join(unit.tokens[position + 1 : position + 2])
        if _CENTS.match(" " + following) and {round(v / 100, 6) for v in values} & index.numbers:
            continue  # "14 cents" for "0,14 euro"
        found.append(f"number {written.strip()}")
    for token in unit.tokens:
        named = token in weekdays and token not in AMBIGUOUS_WEEKDAYS
        if named and weekdays[token] not in index.weekdays:
            found.append(f"weekday {token}")
    return found


def _organisation_type_known(word: str, index: ArticleIndex) -> bool:
    folded = fold(word)
    for group in ORGANISATION_TYPES:
        if folded in group:
            return any(re.search(rf"\b{re.escape(w)}", index.folded) for w in group)
    return True


@lru_cache(maxsize=32)
def _language_name_words(language: str) -> frozenset[str]:
    """Words of the output language's CLDR language names: English writes its demonyms
    the same way ("French", "American English", "Russian")."""
    names = _locale(language).languages.values()
    return frozenset(w for name in names for w in re.findall(r"\w+", fold(name)))


def unsupported_items(
    output: dict[str, Any],
    task: Task,
    index: ArticleIndex,
    read: list[Unit] | None = None,
) -> list[str]:
    """Names, numbers, dates, weekdays and times in the output the article does not give.

    The eval's grounding grader and the product's own check (``summarizer.checks``) both
    call this, so what the eval counts is exactly what a reader is warned about.
    """
    language = index.language
    weekdays = weekday_names(language)
    not_names = set(MONTHS) | set(weekdays) | set(weekday_names("en"))
    found: list[str] = []
    read = units(output, task, language) if read is None else read
    # A word the output also writes in lower case is no name ("Sebagai" opening a sentence).
    lowercase = {w for unit in read for w in re.findall(r"\b[^\W\d_A-Z]\w*", unit.text)}
    for unit in read:
        found.extend(_unit_items(unit, index, weekdays))
        text = unit.text
        if unit.field == "dates":  # "2022-03-10 (talks)": the date is checked above
            text = text.split(" ", 1)[-1]
        for word in capitalised_words(text):
            folded = fold(word)
            # "l'Agence fédérale ... (FEMA)": an acronym the article uses names it.
            acronyms = {fold(a) for a in re.findall(r"\b[A-Z]{2,}\b", text)} & index.words
            if not acronyms and not _organisation_type_known(word, index):
                found.append(f"organisation {word}")
                continue
            if folded in not_names or index.name_known(word) or word.lower() in lowercase:
                continue
            if is_common_word(word, language) or folded in _language_name_words(language):
                continue
            found.append(f"name {word}")
    return list(dict.fromkeys(found))
