"""Deterministic graders: cheap, reproducible, always on.

Each grader looks at one output (a summary or translation as a plain dict, so hand-written
outputs grade exactly like model outputs) against one case, and the case passes when every
check passes:

* ``facts``: weighted recall of the reference facts is at least the threshold;
* ``critical``: every critical fact is present;
* ``forbidden``: no forbidden claim or noise item is present;
* ``language``: every text field is in the output language (offline language ID);
* ``schema``: the output validates and has the required fields;
* ``length``: within the case's bounds;
* ``grounding``: every number, date and name in the output can be traced to the article.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from summarizer.clean import clean_article
from summarizer.dates import MONTHS
from summarizer.detect import detect_language
from summarizer.evaluation.cases import Case, Evidence
from summarizer.evaluation.normalize import (
    as_date,
    as_number,
    dates_in,
    fold,
    number_values,
    numbers_in,
)
from summarizer.schema import SummaryDraft, TranslationDraft
from summarizer.tasks import Task

CHECKS = ("facts", "critical", "forbidden", "language", "schema", "length", "grounding")
# Language ID on a handful of words is a guess; shorter fields are not judged.
MIN_LANGUAGE_CHARS = 30
# Languages offline language ID cannot tell apart reliably: Indonesian text is often
# labelled Malay (and the other way round). Counting them as one is not a loosening: the
# two are mutually intelligible standard varieties.
SAME_LANGUAGE = ({"id", "ms"}, {"no", "nb", "nn"}, {"hr", "sr", "bs"})
# Small whole numbers are often written as words in the article ("three days").
SMALL_NUMBER = 12
# A name in the output counts as grounded when it is this similar to a word of the article
# (translations change spellings: Rusia/Russian, Moskow/Moscow, Turki/Turkey).
NAME_SIMILARITY = 0.75
NEGATIONS = frozenset(
    [
        "no",
        "not",
        "never",
        "without",
        "none",
        "nor",
        "n't",
        "tidak",
        "tak",
        "belum",
        "bukan",
        "tanpa",
        "jangan",
        "ne",
        "pas",
        "sans",
        "jamais",
        "aucun",
        "sin",
        "nunca",
        "ningun",
        "ninguna",
        "nadie",
    ]
)
# Capitalised words that are not names: weekdays and a few sentence-internal capitals.
NOT_NAMES = frozenset(
    [
        "i",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "senin",
        "selasa",
        "rabu",
        "kamis",
        "jumat",
        "sabtu",
        "minggu",
        "lundi",
        "mardi",
        "mercredi",
        "jeudi",
        "vendredi",
        "samedi",
        "dimanche",
        "lunes",
        "martes",
        "miercoles",
        "jueves",
        "viernes",
        "sabado",
        "domingo",
    ]
) | frozenset(MONTHS)


class Thresholds(BaseModel):
    """What a case must reach to pass (``evals/thresholds.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    min_fact_recall: float = Field(default=0.6, ge=0, le=1)
    min_critical_recall: float = Field(default=1.0, ge=0, le=1)
    max_forbidden: int = Field(default=0, ge=0)
    max_unsupported: int = Field(default=0, ge=0)


@dataclass
class FactVerdict:
    id: str
    critical: bool
    weight: float
    present: bool
    missing: list[list[str]] = field(default_factory=list)


@dataclass
class ForbiddenVerdict:
    id: str
    kind: str
    found: bool
    sentence: str = ""


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class Grade:
    """Every verdict of the deterministic graders for one output."""

    case_id: str
    facts: list[FactVerdict]
    forbidden: list[ForbiddenVerdict]
    languages: dict[str, str]
    unsupported: list[str]
    schema_errors: list[str]
    length: float | None
    checks: dict[str, CheckResult]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks.values())

    @property
    def failed_checks(self) -> list[str]:
        return [name for name, c in self.checks.items() if not c.passed]

    @property
    def fact_recall(self) -> float:
        total = sum(f.weight for f in self.facts)
        return sum(f.weight for f in self.facts if f.present) / total if total else 0.0

    @property
    def critical_recall(self) -> float:
        critical = [f for f in self.facts if f.critical]
        return sum(f.present for f in critical) / len(critical) if critical else 1.0

    @property
    def forbidden_hits(self) -> int:
        return sum(f.found for f in self.forbidden)

    @property
    def language_accuracy(self) -> float:
        if not self.languages:
            return 0.0 if self.schema_errors else 1.0
        return sum(v == "ok" for v in self.languages.values()) / len(self.languages)

    @property
    def schema_valid(self) -> bool:
        return not self.schema_errors

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checks"] = {name: asdict(c) for name, c in self.checks.items()}
        data.update(
            passed=self.passed,
            fact_recall=round(self.fact_recall, 4),
            critical_recall=round(self.critical_recall, 4),
            forbidden_hits=self.forbidden_hits,
            language_accuracy=round(self.language_accuracy, 4),
            schema_valid=self.schema_valid,
        )
        return data


# -- what the output says ---------------------------------------------------------------------


def text_fields(output: dict[str, Any], task: Task) -> dict[str, str]:
    """The output's prose, by field: what language ID and grounding look at."""
    if task is Task.TRANSLATE:
        paragraphs = output.get("paragraphs") or []
        return {"paragraphs": "\n".join(str(p) for p in paragraphs)}
    fields = {
        "title": str(output.get("title") or ""),
        "summary": str(output.get("summary") or ""),
        "key_points": "\n".join(str(p) for p in output.get("key_points") or []),
        "quotes": "\n".join(str(q.get("text", "")) for q in _dicts(output.get("quotes"))),
        "entities": "\n".join(
            f"{e.get('name', '')}: {e.get('description', '')}"
            for e in _dicts(output.get("entities"))
        ),
        "dates": "\n".join(
            f"{d.get('date', '')}: {d.get('event', '')}" for d in _dicts(output.get("dates"))
        ),
    }
    return {name: text for name, text in fields.items() if text.strip()}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value or [] if isinstance(v, dict)]


def all_text(output: dict[str, Any], task: Task) -> str:
    return "\n".join(text_fields(output, task).values())


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?;])\s+|\n+", text) if s.strip()]


def _term_pattern(term: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(fold(term)))


def term_present(term: str, text: str, *, dates: set[str], numbers: set[float]) -> bool:
    """Whether ``term`` occurs in ``text``: as a date, a number, or folded words."""
    iso = as_date(term)
    if iso is not None:
        return iso in dates
    values = as_number(term)
    if values is not None:
        return bool(values & numbers)
    return _term_pattern(term).search(fold(text)) is not None


def evidence_missing(evidence: Evidence, text: str) -> list[list[str]]:
    """The evidence groups of which no alternative occurs in ``text``."""
    dates, numbers = dates_in(text), number_values(text)
    return [
        group
        for group in evidence
        if not any(term_present(t, text, dates=dates, numbers=numbers) for t in group)
    ]


def _negated(folded_sentence: str, start: int) -> bool:
    before = re.findall(r"[\w']+", folded_sentence[:start])[-4:]
    return any(word in NEGATIONS or word.endswith("n't") for word in before)


def forbidden_sentence(evidence: Evidence, text: str) -> str | None:
    """The first sentence of ``text`` that makes the forbidden claim, if any.

    All groups must match in one sentence, and a match preceded closely by a negation
    ("no ceasefire was agreed") does not count: that sentence denies the claim.
    """
    for sentence in _sentences(text):
        folded = fold(sentence)
        dates, numbers = dates_in(sentence), number_values(sentence)
        ok = True
        for group in evidence:
            hit = False
            for term in group:
                if as_date(term) is not None or as_number(term) is not None:
                    hit = term_present(term, sentence, dates=dates, numbers=numbers)
                else:
                    hit = any(
                        not _negated(folded, m.start())
                        for m in _term_pattern(term).finditer(folded)
                    )
                if hit:
                    break
            if not hit:
                ok = False
                break
        if ok:
            return sentence.strip()
    return None


# -- grounding --------------------------------------------------------------------------------


class _ArticleIndex:
    def __init__(self, article: str, aliases: list[str]) -> None:
        self.dates = set(dates_in(article))
        self.numbers = number_values(article, unscaled=True)
        words = set(re.findall(r"\w+", fold(article))) | {
            w for a in aliases for w in re.findall(r"\w+", fold(a))
        }
        self.words = {w for w in words if not w.isdigit()}
        self.prefixes = {w[:4] for w in self.words if len(w) >= 4}
        self.lengths: dict[int, list[str]] = {}
        for w in self.words:
            self.lengths.setdefault(len(w), []).append(w)

    def name_known(self, word: str) -> bool:
        folded = fold(word)
        if folded in self.words or folded in NOT_NAMES:
            return True
        if len(folded) >= 4 and folded[:4] in self.prefixes:
            return True
        matcher = difflib.SequenceMatcher(a=folded)
        # Only words of about the same length can reach the similarity threshold.
        for candidate in self.by_length(len(folded)):
            matcher.set_seq2(candidate)
            if (
                matcher.real_quick_ratio() >= NAME_SIMILARITY
                and matcher.quick_ratio() >= NAME_SIMILARITY
                and matcher.ratio() >= NAME_SIMILARITY
            ):
                return True
        return False

    def by_length(self, length: int) -> list[str]:
        spread = int(length * (1 - NAME_SIMILARITY) / NAME_SIMILARITY) + 1
        return [
            w for n in range(length - spread, length + spread + 1) for w in self.lengths.get(n, [])
        ]


_NAME = re.compile(r"(?<![\w'])([A-Z\u00c0-\u00de][\w'\u2019-]*)", re.UNICODE)


def _names(text: str) -> list[str]:
    """Capitalised words that do not start a sentence: candidate names."""
    names: list[str] = []
    for sentence in _sentences(re.sub(r":\s+", ".\n", text)):
        body = re.sub(r"^[\W\d_]*\w+", "", sentence.strip(), count=1)
        for match in _NAME.finditer(body):
            word = match.group(1).strip("'\u2019-")
            if len(word) >= 3 and not word.isdigit():
                names.append(word)
    return names


def unsupported_items(output: dict[str, Any], case: Case, article: str) -> list[str]:
    """Numbers, dates and names in the output that cannot be traced to the article."""
    index = _ArticleIndex(article, case.aliases)
    fields = text_fields(output, case.task)
    text = "\n".join(fields.values())
    found: list[str] = []
    for iso in sorted(dates_in(text) - index.dates):
        found.append(f"date {iso}")
    date_spans = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{4}")
    for written, values in numbers_in(date_spans.sub(" ", text)):
        if values & index.numbers:
            continue
        if any(v.is_integer() and 0 <= v <= SMALL_NUMBER for v in values):
            continue
        found.append(f"number {written}")
    name_fields = {k: v for k, v in fields.items() if k != "title"}
    for entity in _dicts(output.get("entities")):
        name_fields.setdefault("entity names", "")
        name_fields["entity names"] += ". " + str(entity.get("name", ""))
    seen: set[str] = set()
    for field_text in name_fields.values():
        words = _names(field_text)
        if field_text.startswith(". "):  # entity names: every capitalised word counts
            words = [w for w in re.findall(r"[\w'-]+", field_text) if w[:1].isupper()]
        for word in words:
            key = fold(word)
            if key in seen:
                continue
            seen.add(key)
            if not index.name_known(word):
                found.append(f"name {word}")
    return list(dict.fromkeys(found))


# -- schema, language, length -----------------------------------------------------------------


_SUMMARY_EXTRA = {"source_language", "target_language", "meta"}
_TRANSLATION_EXTRA = {"source_language", "target_language", "meta", "title"}


def schema_errors(output: dict[str, Any] | None, case: Case, article: str) -> list[str]:
    """Why ``output`` does not satisfy the output contract; empty when it does."""
    if output is None:
        return ["no output"]
    errors: list[str] = []
    try:
        if case.task is Task.SUMMARIZE:
            SummaryDraft.model_validate(
                {k: v for k, v in output.items() if k not in _SUMMARY_EXTRA}
            )
        else:
            # The paragraph rule (one non-empty paragraph per source paragraph) is the
            # pipeline's own validator, given the article's paragraph count.
            TranslationDraft.model_validate(
                {k: v for k, v in output.items() if k not in _TRANSLATION_EXTRA},
                context={"paragraphs": len(clean_article(article).paragraphs)},
            )
    except ValidationError as exc:
        errors.extend(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()[:10]
        )
    for name in case.constraints.required_fields:
        if not output.get(name):
            errors.append(f"{name}: required and empty")
    return errors


def field_languages(output: dict[str, Any], case: Case) -> dict[str, str]:
    """``ok`` or the detected language, for each field long enough to identify."""
    verdicts: dict[str, str] = {}
    fields = text_fields(output, case.task)
    judged = {"summary", "key_points", "quotes", "paragraphs"}
    if "summary" in fields:
        fields["summary"] = f"{fields.pop('title', '')}. {fields['summary']}"
    for name, text in fields.items():
        if name not in judged or len(text) < MIN_LANGUAGE_CHARS:
            continue
        code, _ = detect_language(text)
        verdicts[name] = "ok" if _same_language(code, case.output_language) else code
    return verdicts


def _same_language(detected: str, wanted: str) -> bool:
    return detected == wanted or any({detected, wanted} <= group for group in SAME_LANGUAGE)


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def length_check(output: dict[str, Any], case: Case, article: str) -> tuple[float | None, str]:
    """The measured length and, when it is out of bounds, why."""
    bounds = case.constraints.length
    if case.task is Task.TRANSLATE:
        source = _words(clean_article(article).text)
        ratio = _words(all_text(output, case.task)) / source if source else 0.0
        if bounds.min_ratio is not None and ratio < bounds.min_ratio:
            return ratio, f"{ratio:.2f}x the source's words, under {bounds.min_ratio}x"
        if bounds.max_ratio is not None and ratio > bounds.max_ratio:
            return ratio, f"{ratio:.2f}x the source's words, over {bounds.max_ratio}x"
        return ratio, ""
    words = _words(str(output.get("summary") or ""))
    if bounds.min_words is not None and words < bounds.min_words:
        return words, f"summary has {words} words, under {bounds.min_words}"
    if bounds.max_words is not None and words > bounds.max_words:
        return words, f"summary has {words} words, over {bounds.max_words}"
    return words, ""


# -- the whole grade --------------------------------------------------------------------------


def grade(
    case: Case,
    output: dict[str, Any] | None,
    *,
    article: str | None = None,
    thresholds: Thresholds | None = None,
) -> Grade:
    """Run every deterministic grader on ``output`` (None: the model produced nothing valid)."""
    article = case.article_text() if article is None else article
    limits = thresholds or Thresholds()
    data = output or {}
    text = all_text(data, case.task)
    facts = []
    for fact in case.reference_facts:
        missing = evidence_missing(fact.evidence, text)
        facts.append(FactVerdict(fact.id, fact.critical, fact.weight, not missing, missing))
    forbidden = []
    for item in case.forbidden:
        sentence = forbidden_sentence(item.evidence, text)
        forbidden.append(ForbiddenVerdict(item.id, item.kind, sentence is not None, sentence or ""))
    languages = field_languages(data, case) if output is not None else {}
    unsupported = unsupported_items(data, case, article) if output is not None else []
    errors = schema_errors(output, case, article)
    length, length_problem = (
        length_check(data, case, article) if output is not None else (None, "no output")
    )

    result = Grade(case.id, facts, forbidden, languages, unsupported, errors, length, {})
    wrong = {k: v for k, v in languages.items() if v != "ok"}
    found = [f.id for f in forbidden if f.found]
    missing_critical = [f.id for f in facts if f.critical and not f.present]
    result.checks = {
        "facts": CheckResult(
            "facts",
            result.fact_recall >= limits.min_fact_recall,
            f"recall {result.fact_recall:.2f} (min {limits.min_fact_recall})",
        ),
        "critical": CheckResult(
            "critical",
            result.critical_recall >= limits.min_critical_recall,
            "missing: " + ", ".join(missing_critical) if missing_critical else "",
        ),
        "forbidden": CheckResult("forbidden", len(found) <= limits.max_forbidden, ", ".join(found)),
        "language": CheckResult(
            "language",
            output is not None and not wrong,
            ", ".join(f"{k}: {v}" for k, v in wrong.items()),
        ),
        "schema": CheckResult("schema", not errors, "; ".join(errors)),
        "length": CheckResult("length", not length_problem, length_problem),
        "grounding": CheckResult(
            "grounding",
            output is not None and len(unsupported) <= limits.max_unsupported,
            ", ".join(unsupported),
        ),
    }
    return result
