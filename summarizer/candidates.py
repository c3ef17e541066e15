"""Candidates from the source: the dates, names, quotations and numbers an article states,
read from it before any model is called.

They serve two purposes:

* **Constraints.** The per-article answer schema (``constrained_schema``) makes a summary's
  ``dates[].date``, ``entities[].name`` and ``quotes[].speaker`` (and ``quotes[].text`` when
  no translation is needed) enums of these candidates, so a backend that enforces the JSON
  Schema while writing (the embedded model's grammar, llama_cpp.server) cannot print a
  date, name or quotation the article does not contain. Providers get the schema as
  non-strict ``json_schema``; what they write outside it fails the ``candidates`` check.
* **Numbers** are listed with their units for callers (``Candidates.to_dict``); the
  grounding check reads the article's numbers itself, with the same reader.
* **Grounding.** The checks after validation (``summarizer.checks``) trace the free text
  of an answer to the article; a target-language name of a place the article names
  ("Turkey" for "Turki") counts as the article's.

Dates come from ``evaluation.normalize.date_mentions`` (the eval's own reader, which the
issue-13 benchmark ``benchmarks/bench_date_candidates.py`` measured against dateparser on
the suite's articles); target-language names come from CLDR through Babel: countries,
regions and languages (``Locale.territories``, ``Locale.languages``) and cities
(the exemplar cities of the IANA time zones). A year-less date takes the article's one
year; the product does not know an article's publication date, which the eval's cases
give. Names are read with the same rules as the grounding grader (``is_common_word``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from summarizer.clean import CleanedArticle
from summarizer.dates import MONTHS
from summarizer.evaluation.grounding import (
    cldr_code,
    cldr_display_name,
    is_common_word,
    weekday_names,
)
from summarizer.evaluation.normalize import DateMention, date_mentions, fold, number_spans

# Quotation marks that open and close a direct quotation.
_QUOTE = re.compile(r"[“„«\"]\s*(?P<text>[^“”„«»\"]{2,600}?)\s*[”“»\"]")
# A quotation of fewer words is a term the writer distances himself from ("sulit").
MIN_QUOTE_WORDS = 4
# Lower-case words that may join the parts of one name ("Ursula von der Leyen").
_NAME_JOINERS = frozenset(
    [
        "bin",
        "binti",
        "al",
        "el",
        "de",
        "del",
        "della",
        "der",
        "di",
        "da",
        "dos",
        "du",
        "la",
        "le",
        "van",
        "von",
        "y",
    ]
)
_WORD = re.compile(r"[^\W\d_][\w'\u2019.-]*|\S")
# The unit after a number: the next word, if it is one ("24 jam", "5,000 people").
_UNIT = re.compile(r"\s*(%|[^\W\d_]+)")


@dataclass(frozen=True)
class QuoteCandidate:
    """A direct quotation and who may have said it, nearest name first."""

    text: str
    speakers: tuple[str, ...]


@dataclass(frozen=True)
class NumberCandidate:
    written: str
    values: tuple[float, ...]
    unit: str


@dataclass(frozen=True)
class Candidates:
    """What the article states, as the answer may write it."""

    dates: tuple[str, ...] = ()
    # As written in the article, longest first within each mention.
    names: tuple[str, ...] = ()
    # A name the article writes in its language -> the target language's usual name.
    target_names: dict[str, str] = field(default_factory=dict)
    quotes: tuple[QuoteCandidate, ...] = ()
    numbers: tuple[NumberCandidate, ...] = ()

    @property
    def entity_names(self) -> list[str]:
        """Names an entity may have: the article's, and their target-language names."""
        return list(dict.fromkeys([*self.names, *self.target_names.values()]))

    @property
    def speakers(self) -> list[str]:
        return list(dict.fromkeys(s for quote in self.quotes for s in quote.speakers))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dates": list(self.dates),
            "names": list(self.names),
            "target_names": dict(self.target_names),
            "quotes": [{"text": q.text, "speakers": list(q.speakers)} for q in self.quotes],
            "numbers": [
                {"written": n.written, "values": list(n.values), "unit": n.unit}
                for n in self.numbers
            ],
        }


def extract_candidates(article: CleanedArticle, source: str, target: str) -> Candidates:
    """Every date, name, quotation and number ``article`` states."""
    names = _names(article.paragraphs, source)
    mentions = date_mentions(article.text)
    target_names = {
        name: translated
        for name in names
        if (translated := _target_name(name, source, target)) and translated != name
    }
    return Candidates(
        dates=_dates(mentions),
        names=tuple(names),
        target_names=target_names,
        quotes=tuple(_quotes(article.paragraphs, source)),
        numbers=tuple(_numbers(article.text, source, mentions)),
    )


# -- dates -------------------------------------------------------------------------------------


def _dates(mentions: Sequence[DateMention]) -> tuple[str, ...]:
    """ISO dates, in order of first mention. A date written without its year ("Jumat
    (24/2)") takes the year of the article's full dates when they all share one; with
    none or several, it cannot be placed and is left out. Years and months stated alone
    are not listed: a ``dates`` entry is a day."""
    years = {iso[:4] for m in mentions for iso in m.readings}
    found: list[str] = []
    for mention in sorted(mentions, key=lambda m: m.start):
        if mention.readings:
            found.extend(sorted(mention.readings))
        elif mention.month_day and len(years) == 1:
            month, day = mention.month_day
            found.append(f"{next(iter(years))}-{month:02d}-{day:02d}")
    return tuple(dict.fromkeys(found))


# -- names -------------------------------------------------------------------------------------


def _runs(paragraph: str) -> list[tuple[list[str], bool]]:
    """Runs of capitalised words (joined by name particles), each with whether it opens a
    sentence."""
    runs: list[tuple[list[str], bool]] = []
    current: list[str] = []
    opens, previous = True, "."
    for token in _WORD.findall(paragraph):
        if token[:1].isupper() and len(token) >= 2:
            if not current:
                opens = previous[-1:] in '.!?:;"“”«»'
            current.append(token.rstrip(".,"))
        elif current and token in _NAME_JOINERS:
            current.append(token)
        else:
            if current:
                runs.append((_trim_joiners(current), opens))
            current = []
        previous = token
        if current and token.endswith((".", ",")) and not token.isupper():
            runs.append((_trim_joiners(current), opens))
            current, previous = [], "."
    if current:
        runs.append((_trim_joiners(current), opens))
    return [(run, opens) for run, opens in runs if run]


def _trim_joiners(words: list[str]) -> list[str]:
    while words and words[-1] in _NAME_JOINERS:
        words = words[:-1]
    return words


def _names(paragraphs: Sequence[str], language: str) -> list[str]:
    """Names as written: each run of capitalised words in full ("Menteri Luar Negeri Ukraina
    Dmytro Kuleba"), its stretches of words that are not common words ("Dmytro Kuleba"),
    and each such word alone ("Kuleba"). A common word opening a sentence is no name."""
    found: list[str] = []
    for paragraph in paragraphs:
        for words, opens in _runs(paragraph):
            while opens and words and is_common_word(words[0], language):
                words = words[1:]  # "Namun Kuleba", "Sementara Menlu Lavrov"
            if not words:
                continue
            if len(words) > 1:
                found.append(" ".join(words))
            stretch: list[str] = []
            for word in [*words, ""]:
                proper = bool(word) and (
                    word.isupper() or word in _NAME_JOINERS or not is_common_word(word, language)
                )
                # A country or city ends a name: "Ukraina Dmytro Kuleba" is two.
                place = bool(word) and cldr_code(word, language) is not None
                if proper and not place:
                    stretch.append(word)
                    continue
                if place:
                    found.append(word)
                stretch = _trim_joiners(stretch)
                if len(stretch) > 1:
                    found.append(" ".join(stretch))
                found.extend(w for w in stretch if w not in _NAME_JOINERS)
                stretch = []
            if len(words) == 1 and not is_common_word(words[0], language):
                found.append(words[0])
    calendar = set(MONTHS) | set(weekday_names(language))
    names = (name.strip(".,;:") for name in found)
    return list(dict.fromkeys(n for n in names if len(n) >= 2 and fold(n) not in calendar))


@lru_cache(maxsize=4096)
def _target_name(name: str, source: str, target: str) -> str | None:
    code = cldr_code(name, source)
    return cldr_display_name(code, target) if code else None


# -- quotations --------------------------------------------------------------------------------


def _quotes(paragraphs: Sequence[str], language: str) -> list[QuoteCandidate]:
    """Direct quotations of at least ``MIN_QUOTE_WORDS`` words; their speaker candidates are
    the names of the quotation's paragraph nearest it first, then the previous paragraph's
    ("…," he added)."""
    found: list[QuoteCandidate] = []
    people_before: list[str] = []
    named = _names(paragraphs, language)
    # A person is named in full somewhere ("Dmytro Kuleba"), and by surname elsewhere.
    full = {word for name in named if " " in name for word in name.split()}
    for paragraph in paragraphs:
        here = [n for n in _names([paragraph], language) if _personal(n, language)]
        people = [n for n in here if n in full or " " in n] or here
        for match in _QUOTE.finditer(paragraph):
            text = match["text"].strip().rstrip(",")
            if len(text.split()) < MIN_QUOTE_WORDS:
                continue
            outside = paragraph[: match.start()] + " " + paragraph[match.end() :]
            near = sorted(
                (n for n in people if n in outside),
                key=lambda n: _distance(paragraph, n, match.start(), match.end()),
            )
            speakers = [
                full for n in [*near, *people_before] for full in _full_names(n, named, language)
            ]
            found.append(QuoteCandidate(text, tuple(dict.fromkeys(speakers))))
        people_before = people or people_before
    unique = {q.text: q for q in found}
    return list(unique.values())


def _personal(name: str, language: str) -> bool:
    """Whether ``name`` may name a person: no place, and no common word ("Menteri")."""
    return not any(
        cldr_code(word, language) or is_common_word(word, language) for word in name.split()
    )


def _full_names(name: str, named: Sequence[str], language: str) -> list[str]:
    """``name`` and, first, the person's full names the article gives elsewhere ("Dmytro
    Kuleba" for "Kuleba"), without titles ("Menteri Luar Negeri")."""
    full = [
        other
        for other in named
        if " " in other and other.split()[-1] == name and _personal(other, language)
    ]
    return [*full, name]


def _distance(paragraph: str, name: str, start: int, end: int) -> int:
    positions = [m.start() for m in re.finditer(re.escape(name), paragraph)]
    outside = [p for p in positions if p < start or p >= end]
    return min((start - p if p < start else p - end for p in outside), default=len(paragraph))


# -- numbers -----------------------------------------------------------------------------------


def _numbers(text: str, language: str, dates: Sequence[DateMention]) -> list[NumberCandidate]:
    folded = fold(text)
    found: list[NumberCandidate] = []
    for start, end, values in number_spans(folded, language):
        if any(m.start <= start < m.end for m in dates):
            continue  # the day, month and year of a date
        unit = _UNIT.match(folded, end)
        found.append(
            NumberCandidate(
                written=folded[start:end].strip(),
                values=tuple(sorted(values)),
                unit=unit.group(1) if unit else "",
            )
        )
    return found


# -- the per-article schema --------------------------------------------------------------------


def constrained_schema(
    schema: dict[str, Any], candidates: Candidates, *, same_language: bool
) -> dict[str, Any]:
    """``schema`` (a summary draft's JSON Schema) with the article's candidates as enums.

    ``dates[].date`` must be one of the article's dates, ``entities[].name`` one of its
    names, ``quotes[].speaker`` one of the speaker candidates, and with ``same_language``
    ``quotes[].text`` one of its quotations. A list with no candidates must be empty: an
    article without a quotation has no quotes to report.
    """
    constrained: dict[str, Any] = _inline(schema)
    properties = constrained["properties"]
    _enum_items(properties["dates"], "date", candidates.dates)
    _enum_items(properties["entities"], "name", candidates.entity_names)
    quotes = properties["quotes"]
    if not candidates.quotes or not candidates.speakers:
        _enum_items(quotes, "speaker", [])
    elif same_language:
        # One shape per quotation, so each is attributed to one of its own speakers.
        template = quotes["items"]
        shapes = [
            shape
            for quote in candidates.quotes
            if (shape := _with_enums(template, text=[quote.text], speaker=list(quote.speakers)))
        ]
        if shapes:
            quotes["items"] = {"anyOf": shapes}
        else:
            quotes["maxItems"] = 0
    else:
        _enum_items(quotes, "speaker", candidates.speakers)
    return constrained


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its local ``$ref``s replaced by what they point at, so each list's
    item schema can be changed on its own."""
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
        return {key: resolve(value) for key, value in node.items() if key != "$defs"}

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _enum_items(array: dict[str, Any], key: str, values: Sequence[str]) -> None:
    item = _with_enums(array["items"], **{key: list(values)})
    if item is None:
        array["maxItems"] = 0
    else:
        array["items"] = item


def _with_enums(item: dict[str, Any], **enums: list[str]) -> dict[str, Any] | None:
    """``item`` with these properties as enums of the values that fit the field's length
    bounds (a longer one would not validate); None when a property has no such value."""
    properties = dict(item["properties"])
    for key, values in enums.items():
        low = properties[key].get("minLength", 0)
        high = properties[key].get("maxLength", float("inf"))
        fitting = [v for v in dict.fromkeys(values) if low <= len(v) <= high]
        if not fitting:
            return None
        bound = {k: v for k, v in properties[key].items() if k not in ("minLength", "maxLength")}
        properties[key] = {**bound, "enum": fitting}
    return {**item, "properties": properties}
