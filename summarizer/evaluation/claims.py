"""Where an output states a claim, and whether it states it or denies it.

An output is read as units: its title, each sentence of its summary and of each translated
paragraph (pysbd splits them), and each list item (a key point, an entity, a date, a quote).
A reference fact is present only when every group of its evidence matches inside one unit,
so evidence scattered over a keyword list or over unrelated sentences does not add up to a
fact. Within a unit:

* words match at the start of a word or by lemma (simplemma, in the output's language), so
  "negotiat" matches "negotiations" and Indonesian ``mogok`` matches "pemogokan";
* numbers match by value, however written ("12,000", "12k", "twelve thousand", "dua belas
  ribu"), and dates by ISO date;
* numbers and dates bind to the fact's other words: they must share a clause, a few words
  apart, so "146" in an unrelated sentence is not the fact's 146;
* negation is read per clause (split at commas, semicolons and conjunctions such as "but",
  "and", "tetapi", "mais"), from each language's cues: a cue anywhere in the clause negates
  it ("Nobody was killed", "the talks did not make progress"), and "rather than", "instead
  of", "plutôt que" negate only what follows them. A cue that is part of the matched
  evidence itself ("without progress") does not count against it.

No parser is used for clause scope: a rule set this small is predictable, and the labelled
set (``evals/labelled``) measures where it is wrong.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from summarizer.evaluation.cases import Evidence
from summarizer.evaluation.normalize import (
    as_date,
    as_number,
    date_mentions,
    digitize,
    fold,
    number_spans,
    time_mentions,
)
from summarizer.tasks import Task

# Evidence words shorter than this match whole words (or lemmas) only, not as prefixes.
MIN_STEM = 4
# How far apart, in words, a number or date and its subject word may be in one clause.
BIND_WINDOW = 12
# Another number contradicts a fact only when it is written right next to the subject
# ("41 cases", "kasus: 41"): a number a few words away is usually about something else.
CONTRADICTION_WINDOW = 2
# Years are written next to many subjects; a year never contradicts a counted fact.
_YEAR = re.compile(r"(?:19|20)\d\d")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Negation cues, folded, per language. A clause with one of them is negated.
NEGATION_CUES: dict[str, frozenset[str]] = {
    language: frozenset(words.split())
    for language, words in {
        "en": "not no never none nobody nothing neither nor without zero cannot unable "
        "refused refuses refuse refusing denied denies deny declined failed fails",
        "id": "tidak tak bukan belum tanpa tiada jangan enggan menolak gagal nol",
        "ms": "tidak tak bukan belum tanpa tiada jangan enggan menolak gagal",
        "fr": "ne pas jamais aucun aucune sans ni nul nulle rien refuse",
        "es": "no nunca jamas sin ningun ninguna ninguno nadie nada ni tampoco",
        "pt": "nao nunca jamais sem nenhum nenhuma ninguem nada nem",
        "de": "nicht kein keine keiner keinen keinem keines nie niemals niemand nichts ohne",
        "it": "non mai nessun nessuno nessuna niente nulla senza",
    }.items()
}
# Negative pronouns and quantifiers deny their whole clause, wherever they stand ("the fire
# killed nobody"); the other cues (particles, "without") deny only what follows them, within
# NEGATION_REACH words ("agreed without conditions" still says it was agreed).
CLAUSE_CUES = _word_set(
    "nobody none nothing zero nol aucun aucune rien nadie nada ninguno ninguna ningun "
    "ninguem nenhum nenhuma niemand nichts nessuno niente nulla"
)
NEGATION_REACH = 6
# Two-word cues: "ruled out", "rule out".
NEGATION_PAIRS: dict[str, frozenset[tuple[str, str]]] = {
    "en": frozenset({("ruled", "out"), ("rules", "out"), ("rule", "out"), ("no", "one")}),
}
# Cues that negate only what follows them in the clause: "financed by reserves rather than
# by new loans" says nothing against "reserves".
CONTRAST_CUES: dict[str, tuple[tuple[str, ...], ...]] = {
    "en": (("rather", "than"), ("instead", "of")),
    "id": (("alih", "alih"), ("bukannya",), ("ketimbang",)),
    "fr": (("plutot", "que"), ("au", "lieu", "de"), ("au", "lieu", "d")),
    "es": (("en", "lugar", "de"), ("en", "vez", "de")),
    "pt": (("em", "vez", "de"), ("ao", "inves", "de")),
    "de": (("statt",), ("anstatt",)),
    "it": (("invece", "di"),),
}
# Words that start a new clause.
CLAUSE_WORDS: dict[str, frozenset[str]] = {
    language: frozenset(words.split())
    for language, words in {
        "en": "but and while whereas although though however yet",
        "id": "tetapi tapi namun sedangkan meskipun walaupun padahal dan serta",
        "ms": "tetapi tapi namun sedangkan meskipun walaupun dan",
        "fr": "mais et tandis alors bien cependant",
        "es": "pero y e mientras aunque sino",
        "pt": "mas e enquanto embora",
        "de": "aber und wahrend obwohl sondern",
        "it": "ma e mentre sebbene",
    }.items()
}
# A comma between digits is a thousands or decimal separator, not a clause boundary.
_CLAUSE_PUNCTUATION = re.compile(r"(?<!\d),|,(?!\d)|[;:()\[\]\u2013\u2014\"\u201c\u201d]| - ")
_WORD = re.compile(r"\w+")
_PERCENT = re.compile(r"\s*(?:%|percent\b|per cent\b|persen\b|pour cent\b|por ciento\b|prozent\b)")
# pysbd's languages (its rules for English serve the others, Indonesian among them).
_SEGMENTER_LANGUAGES = {
    "en", "hi", "mr", "zh", "es", "am", "ar", "hy", "bg", "ur", "ru", "pl", "fa", "nl",
    "da", "fr", "my", "el", "it", "ja", "de", "kk", "sk",
}  # fmt: skip


# One segmenter per thread and language: a pysbd Segmenter keeps the text it is segmenting
# on itself (``original_text``) and builds the sentences from it, so two threads sharing
# one (the service's requests, a batch's articles) got each other's sentences.
_per_thread = threading.local()


def _segmenter(language: str) -> Any:
    import pysbd

    segmenters: dict[str, Any] = _per_thread.__dict__.setdefault("segmenters", {})
    if language not in segmenters:
        code = language if language in _SEGMENTER_LANGUAGES else "en"
        segmenters[language] = pysbd.Segmenter(language=code)
    return segmenters[language]


def sentences(text: str, language: str) -> list[str]:
    """``text`` split into sentences (pysbd: "Dr.", "U.S." and "81.5" do not end one)."""
    found: list[str] = []
    for line in text.splitlines():
        if line.strip():
            found.extend(s.strip() for s in _segmenter(language).segment(line) if s.strip())
    return found


@lru_cache(maxsize=65536)
def lemma(word: str, language: str) -> str:
    """The simplemma lemma of a folded word (the word itself when simplemma has none)."""
    import simplemma

    try:
        return fold(simplemma.lemmatize(word, lang=language))
    except ValueError:  # a language simplemma does not have
        return word


def _prepare(text: str, language: str) -> str:
    """Folded text with number words as digits and contractions opened ("didn't" -> "did
    not", French "n'a" -> "ne a"), so cues and numbers are plain tokens."""
    folded = fold(digitize(text, language))
    folded = re.sub(r"(\w)n't\b", r"\1 not", folded)
    folded = re.sub(r"\bcan't\b|\bcannot\b", "can not", folded)
    return re.sub(r"\bn'(?=\w)", "ne ", folded)


# Where a number stops binding to its subject: semicolons and contrasting conjunctions
# ("146 traders fled, but their kiosks burned"), not commas ("met on Thursday, 10 March").
_SEGMENT_PUNCTUATION = re.compile(r"[;()\[\]]")
_AND = frozenset({"and", "dan", "serta", "et", "y", "e", "und"})


def _boundaries(
    prepared: str,
    tokens: list[str],
    starts: list[int],
    punctuation: re.Pattern[str],
    language: str,
    with_and: bool,
) -> list[int]:
    """The clause (or segment) number of every token."""
    found, current, position = [], 0, 0
    breaks = [m.start() for m in punctuation.finditer(prepared)]
    words = CLAUSE_WORDS.get(language, frozenset())
    for i, token in enumerate(tokens):
        while position < len(breaks) and breaks[position] < starts[i]:
            current, position = current + 1, position + 1
        if token in words and i and (with_and or token not in _AND):
            current += 1
        found.append(current)
    return found


@dataclass
class Unit:
    """One sentence or list item of an output, read once for every fact and claim."""

    field: str
    index: int
    text: str
    tokens: list[str]
    starts: list[int]
    clause: list[int]
    segment: list[int]
    cues: list[int]
    contrasts: list[tuple[int, int]]
    numbers: list[tuple[int, frozenset[float], str]]
    dates: list[tuple[int, Any]]
    language: str

    @classmethod
    def read(cls, text: str, language: str, field: str = "", index: int = 0) -> Unit:
        prepared = _prepare(text, language)
        matches = list(_WORD.finditer(prepared))
        tokens, starts = [m.group(0) for m in matches], [m.start() for m in matches]
        clause = _boundaries(prepared, tokens, starts, _CLAUSE_PUNCTUATION, language, True)
        segment = _boundaries(prepared, tokens, starts, _SEGMENT_PUNCTUATION, language, False)
        unit = cls(field, index, text, tokens, starts, clause, segment, [], [], [], [], language)
        unit._find_cues()
        unit._find_numbers(prepared)
        return unit

    def _find_cues(self) -> None:
        cues = NEGATION_CUES.get(self.language, NEGATION_CUES["en"])
        pairs = NEGATION_PAIRS.get(self.language, frozenset())
        for i, token in enumerate(self.tokens):
            following = self.tokens[i + 1] if i + 1 < len(self.tokens) else ""
            if token in cues or (token, following) in pairs:
                self.cues.append(i)
            for cue in CONTRAST_CUES.get(self.language, ()):
                if tuple(self.tokens[i : i + len(cue)]) == cue:
                    self.contrasts.append((i, i + len(cue)))

    def _find_numbers(self, prepared: str) -> None:
        skip: list[tuple[int, int]] = []
        for mention in date_mentions(prepared):
            self.dates.append((self.token_at(mention.start), mention))
            skip.append((mention.start, mention.end))
        skip.extend((start, end) for start, end, _ in time_mentions(prepared))
        for start, end, values in number_spans(prepared, self.language):
            if not any(s < end and start < e for s, e in skip):
                percent = _PERCENT.match(prepared, end)
                written = prepared[start : percent.end() if percent else end]
                self.numbers.append((self.token_at(start), frozenset(values), written))

    def token_at(self, offset: int) -> int:
        """The token at, or first after, a character offset of the prepared text."""
        for i, start in enumerate(self.starts):
            if start + len(self.tokens[i]) > offset:
                return i
        return max(len(self.tokens) - 1, 0)

    def negated(self, position: int, ignore: set[int]) -> bool:
        """Whether the word at ``position`` is denied in its clause: by a negative pronoun
        anywhere in it, or by a cue a few words before it (cues in ``ignore``, the matched
        evidence's own words, do not count)."""
        clause = self.clause[position] if self.tokens else 0
        for cue in self.cues:
            if cue in ignore or self.clause[cue] != clause:
                continue
            pronoun = self.tokens[cue] in CLAUSE_CUES or self.tokens[cue : cue + 2] == ["no", "one"]
            if pronoun or 0 < position - cue <= NEGATION_REACH:
                return True
        return any(
            self.clause[start] == clause and end <= position and start not in ignore
            for start, end in self.contrasts
        )


def _word_matches(term: str, unit: Unit) -> list[tuple[int, int]]:
    """Spans of tokens where a word term matches: every word but the last exactly (or by
    lemma), the last at the start of a word or by lemma."""
    words = _WORD.findall(_prepare(term, unit.language))
    if not words:
        return []
    found: list[tuple[int, int]] = []
    for i in range(len(unit.tokens) - len(words) + 1):
        ok = True
        for offset, word in enumerate(words):
            token = unit.tokens[i + offset]
            last = offset == len(words) - 1
            # A stem of under four letters would match too much ("ban" in "bank").
            prefix = last and len(word) >= MIN_STEM
            if token == word or (prefix and token.startswith(word)):
                continue
            # By lemma only when the evidence gives a base form: "mogok" matches "pemogokan",
            # but "reached" (written inflected on purpose) does not match "could reach".
            token_lemma = lemma(token, unit.language)
            base = lemma(word, unit.language) == word
            if (base and token_lemma == word) or (prefix and token_lemma.startswith(word)):
                continue
            ok = False
            break
        if ok:
            found.append((i, i + len(words)))
    return found


@dataclass(frozen=True)
class Term:
    text: str
    kind: str  # word | number | date
    values: frozenset[float] = frozenset()
    iso: str = ""

    @classmethod
    def parse(cls, text: str) -> Term:
        iso = as_date(text)
        if iso is not None:
            return cls(text, "date", iso=iso)
        values = as_number(text)
        if values is not None:
            return cls(text, "number", values=frozenset(values))
        return cls(text, "word")

    def matches(self, unit: Unit) -> list[tuple[int, int]]:
        if self.kind == "date":
            return [(i, i + 1) for i, mention in unit.dates if mention.matches(self.iso)]
        if self.kind == "number":
            return [(i, i + 1) for i, values, _ in unit.numbers if values & self.values]
        return _word_matches(self.text, unit)


@lru_cache(maxsize=4096)
def _terms(group: tuple[str, ...]) -> tuple[Term, ...]:
    return tuple(Term.parse(t) for t in group)


@dataclass
class Reading:
    """How one unit states one evidence set: matched, and negated or not."""

    unit: Unit
    negated: bool


def _group_spans(group: list[str], unit: Unit) -> tuple[str, list[tuple[int, int]]]:
    terms = _terms(tuple(group))
    kinds = [t.kind for t in terms]
    # A group with words is a word group; else the kind of its first term (a group mixing
    # numbers and dates is read as its first term's kind, the same in every process).
    kind = "word" if "word" in kinds else kinds[0]
    return kind, [span for t in terms for span in t.matches(unit)]


def _mentions(kind: str, unit: Unit) -> list[tuple[int, Any]]:
    """The unit's numbers (years aside) or dates, as (position, what it says)."""
    if kind == "date":
        return [(p, m) for p, m in unit.dates]
    return [(p, v) for p, v, written in unit.numbers if not _YEAR.fullmatch(written.strip())]


def _nearest(anchor: tuple[int, int], mentions: list[tuple[int, Any]], window: int) -> Any:
    """The mention closest to a subject word, within ``window`` words (ties: the one
    before it, as in "41 cases"), or None."""
    start, end = anchor
    best: tuple[int, int, Any] | None = None
    for position, said in mentions:
        distance = start - position if position < start else position - end + 1
        if distance <= window and (best is None or (distance, position > start) < best[:2]):
            best = (distance, position > start, said)
    return best[2] if best else None


def _subject(index: int, kinds: list[str]) -> int | None:
    """The word group a number or date group is about: the next one in the evidence, or
    the one before it ([["9"], ["midwi"], ["2"], ["doctor"]] pairs 9 with midwives)."""
    after = [i for i in range(index + 1, len(kinds)) if kinds[i] == "word"]
    before = [i for i in range(index) if kinds[i] == "word"]
    if after:
        return after[0]
    return before[-1] if before else None


def _says(kind: str, said: Any, terms: tuple[Term, ...]) -> bool:
    if kind == "date":
        return any(said.matches(t.iso) for t in terms if t.kind == "date")
    return any(said & t.values for t in terms if t.kind == "number")


def _paired(kinds: list[str]) -> bool:
    """Whether the evidence pairs numbers with different subjects ([["9"], ["midwi"],
    ["2"], ["doctor"]]): then each subject's nearest number must be its own."""
    subjects = {_subject(i, kinds) for i, kind in enumerate(kinds) if kind != "word"}
    return len(subjects - {None}) > 1


def read_evidence(evidence: Evidence, unit: Unit) -> Reading | None:
    """How ``unit`` states ``evidence``, or None when it does not state it.

    Every group must match. A number or date group is bound to its subject (the word group
    after it, or before): within ``BIND_WINDOW`` words of it, and, where the evidence pairs
    several numbers with several subjects, the number nearest to the subject, so "2
    midwives and 9 doctors" does not state "9 midwives and 2 doctors".
    """
    groups = [_group_spans(group, unit) for group in evidence]
    if any(not spans for _, spans in groups):
        return None
    kinds = [kind for kind, _ in groups]
    paired = _paired(kinds)
    for i, (kind, spans) in enumerate(groups):
        subject = _subject(i, kinds) if kind != "word" else None
        if subject is None:
            continue
        anchors = groups[subject][1]
        if paired:
            terms = _terms(tuple(evidence[i]))
            nearest = [_nearest(a, _mentions(kind, unit), BIND_WINDOW) for a in anchors]
            if not any(n is not None and _says(kind, n, terms) for n in nearest):
                return None
        elif not any(
            _distance(s, a) <= BIND_WINDOW and unit.segment[s] == unit.segment[a[0]]
            for s, _ in spans
            for a in anchors
        ):
            return None
    words = [spans for kind, spans in groups if kind == "word"]
    matched = {i for _, spans in groups for s, e in spans for i in range(s, e)}
    negated = bool(words) and any(
        all(unit.negated(s, matched) for s, _ in spans) for spans in words
    )
    return Reading(unit, negated)


def _distance(position: int, anchor: tuple[int, int]) -> int:
    start, end = anchor
    return start - position if position < start else position - end + 1


def _is_percent(text: str) -> bool:
    return bool(re.search(r"\d\s*(?:%|percent|per cent|persen|pour cent|por ciento)", fold(text)))


def other_value(evidence: Evidence, unit: Unit) -> str | None:
    """A number or date ``unit`` gives for the evidence's subject instead of the
    evidence's own: "41 cases" for a fact about 37 cases. None when there is none.

    Every word group must match. The other number must be written just before the subject
    in its clause ("41 cases", "47 new teachers"), where the evidence's own is not; a
    percentage may also follow it ("the reservoir at 25 %"). A number further away, or
    another number after the subject ("the activists are 19 to 33"), is too often about
    something else to call it a contradiction.
    """
    groups = [_group_spans(group, unit) for group in evidence]
    kinds = [kind for kind, _ in groups]
    if all(k == "word" for k in kinds) or any(
        not spans for kind, spans in groups if kind == "word"
    ):
        return None
    paired = _paired(kinds)
    every = tuple(t for i, kind in enumerate(kinds) if kind != "word" for t in evidence[i])
    for i, kind in enumerate(kinds):
        subject = _subject(i, kinds) if kind != "word" else None
        if subject is None:
            continue
        own = _terms(tuple(evidence[i])) if paired else _terms(every)
        percent = any(_is_percent(t) for t in evidence[i])
        own_spans = [s for s, _ in groups[i][1]]
        if any(
            0 < s + 1 < len(unit.tokens) and unit.tokens[s + 1] in _COMPARISON for s in own_spans
        ):
            continue  # "146 of the 400 kiosks": the other number is the whole
        for start, end in groups[subject][1]:
            close = _close_mentions(kind, unit, start, end, percent)
            if close and not any(_says(kind, said, own) for _, said in close):
                return unit.text
    return None


# A number after these is a point of comparison or a total ("up from 41 cases", "146 of
# the market's 400 kiosks"), not another value for the fact.
_COMPARISON = _word_set(
    "from than of versus vs out dari daripada sebelumnya de sur contre desde frente"
)


def _close_mentions(
    kind: str, unit: Unit, start: int, end: int, percent: bool
) -> list[tuple[int, Any]]:
    """The numbers (or dates) written right next to a subject word, in its clause."""
    found = []
    for position, said in _mentions(kind, unit):
        if unit.clause[position] != unit.clause[start]:
            continue
        if position and unit.tokens[position - 1] in _COMPARISON:
            continue
        before = 0 < start - position <= CONTRADICTION_WINDOW
        after = 0 < position - end + 1 <= CONTRADICTION_WINDOW + 1 and percent
        if after and kind == "number":
            after = any(p == position and _is_percent(w) for p, _, w in unit.numbers)
        if before or after:
            found.append((position, said))
    return found


# -- an output as units -----------------------------------------------------------------------


def dict_items(value: Any) -> list[dict[str, Any]]:
    """The objects of a list field of an output (a malformed output may hold anything)."""
    return [v for v in as_list(value) if isinstance(v, dict)]


def as_list(value: Any) -> list[Any]:
    """A list field of an output, or nothing when a malformed output has something else."""
    return list(value) if isinstance(value, list) else []


def units(output: dict[str, Any], task: Task, language: str) -> list[Unit]:
    """The output's sentences and list items, each read once."""
    found: list[Unit] = []

    def add(field: str, text: str, index: int = 0, split: bool = True) -> None:
        pieces = sentences(text, language) if split else [text]
        found.extend(Unit.read(p, language, field, index) for p in pieces if p.strip())

    if task is Task.TRANSLATE:
        for index, paragraph in enumerate(as_list(output.get("paragraphs"))):
            add("paragraphs", str(paragraph), index)
        return found
    add("title", str(output.get("title") or ""), split=False)
    add("summary", str(output.get("summary") or ""))
    for index, point in enumerate(as_list(output.get("key_points"))):
        add("key_points", str(point), index)
    for index, entity in enumerate(dict_items(output.get("entities"))):
        text = f"{entity.get('name', '')} ({entity.get('description', '') or ''})"
        add("entities", text, index, split=False)
    for index, item in enumerate(dict_items(output.get("dates"))):
        text = f"{item.get('date', '')} ({item.get('event', '')})"
        add("dates", text, index, split=False)
    for index, quote in enumerate(dict_items(output.get("quotes"))):
        add("quotes", f"{quote.get('speaker', '')}: {quote.get('text', '')}", index, split=False)
    return found
