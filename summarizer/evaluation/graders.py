"""Deterministic graders: cheap, reproducible, always on.

Each grader looks at one output (a summary or translation as a plain dict, so hand-written
outputs grade exactly like model outputs) against one case, and the case passes when every
check passes:

* ``facts``: weighted recall of the reference facts is at least the threshold;
* ``critical``: every critical fact is present;
* ``forbidden``: no forbidden claim or noise item is present, and no reference fact is
  contradicted (stated with the opposite polarity, or with another number or date for
  the same subject);
* ``language``: every sentence, list item and paragraph long enough to identify, and each
  text field as a whole, is in the output language (offline language ID, with confidence);
* ``schema``: the output validates and has the required fields;
* ``length``: within the case's bounds;
* ``grounding``: every name, number, date, weekday and time in the output can be traced to
  the article (``grounding.py``);
* ``translation`` (translations only): every paragraph keeps its source paragraph's names,
  numbers and dates, and chrF against the reference translation reaches the case's
  thresholds (``translation.py``).

Facts and forbidden claims are matched sentence by sentence (``claims.py``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from summarizer.clean import clean_article
from summarizer.detect import SAME_LANGUAGE, detect_among
from summarizer.evaluation.cases import Case, Evidence, Fact, Polarity
from summarizer.evaluation.claims import (
    Unit,
    as_list,
    dict_items,
    other_value,
    read_evidence,
    units,
)
from summarizer.evaluation.grounding import ArticleIndex, Grounds, unsupported_items
from summarizer.evaluation.translation import TranslationScore, score_translation
from summarizer.schema import DatedEvent, Entity, Quote, SummaryDraft, TranslationDraft
from summarizer.tasks import Task

CHECKS = (
    "facts",
    "critical",
    "forbidden",
    "language",
    "schema",
    "length",
    "grounding",
    "translation",
)
# Language ID on a handful of words is a guess; shorter pieces are not judged alone.
MIN_LANGUAGE_CHARS = 30
# A piece counts as written in another language only when the detector is this sure;
# below, it is undetermined (benchmarks/bench_language_id.py: on the suite's good outputs,
# no wrong guess reached 0.8).
MIN_LANGUAGE_CONFIDENCE = 0.8
# A key point of fewer words is a keyword, not a statement; a few terse ones ("No ceasefire
# agreed") are fine, a list of them is not.
MIN_KEY_POINT_WORDS = 4


class Thresholds(BaseModel):
    """What a case must reach to pass (``evals/thresholds.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    min_fact_recall: float = Field(default=0.6, ge=0, le=1)
    min_critical_recall: float = Field(default=1.0, ge=0, le=1)
    max_forbidden: int = Field(default=0, ge=0)
    max_unsupported: int = Field(default=0, ge=0)
    # Translations with a reference: chrF (0-100) of the document and of every paragraph.
    min_chrf: float = Field(default=40.0, ge=0, le=100)
    min_paragraph_chrf: float = Field(default=35.0, ge=0, le=100)


@dataclass
class FactVerdict:
    id: str
    critical: bool
    weight: float
    present: bool
    missing: list[list[str]] = field(default_factory=list)
    sentence: str = ""
    contradicted: str = ""


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
    translation: TranslationScore | None = None

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
        """Share of the judged fields with no piece in another language."""
        fields = {label.split("[", 1)[0] for label in self.languages}
        if not fields:
            return 0.0 if self.schema_errors else 1.0
        wrong = {label.split("[", 1)[0] for label, v in self.languages.items() if v != "ok"}
        return (len(fields) - len(wrong)) / len(fields)

    @property
    def chrf(self) -> float | None:
        return self.translation.chrf if self.translation else None

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
            chrf=self.chrf,
        )
        return data


# -- what the output says ---------------------------------------------------------------------


def text_fields(output: dict[str, Any], task: Task) -> dict[str, str]:
    """The output's prose, by field."""
    if task is Task.TRANSLATE:
        paragraphs = as_list(output.get("paragraphs"))
        return {"paragraphs": "\n".join(str(p) for p in paragraphs)}
    fields = {
        "title": str(output.get("title") or ""),
        "summary": str(output.get("summary") or ""),
        "key_points": "\n".join(str(p) for p in as_list(output.get("key_points"))),
        "quotes": "\n".join(str(q.get("text", "")) for q in dict_items(output.get("quotes"))),
        "entities": "\n".join(
            f"{e.get('name', '')}: {e.get('description', '')}"
            for e in dict_items(output.get("entities"))
        ),
        "dates": "\n".join(
            f"{d.get('date', '')}: {d.get('event', '')}" for d in dict_items(output.get("dates"))
        ),
    }
    return {name: text for name, text in fields.items() if text.strip()}


def all_text(output: dict[str, Any], task: Task) -> str:
    return "\n".join(text_fields(output, task).values())


def _wanted(negated: bool, polarity: Polarity | None) -> bool | None:
    """Whether a sentence stating the fact (negated or not) agrees with its polarity:
    True, False (it contradicts the fact), or None when the fact has no polarity."""
    if polarity is None:
        return None
    return negated == (polarity == "negative")


def fact_verdict(fact: Fact, read: list[Unit]) -> FactVerdict:
    """Whether the output states ``fact`` in one of its sentences, or contradicts it."""
    verdict = FactVerdict(fact.id, fact.critical, fact.weight, present=False)
    for unit in read:
        # Another number or date for the fact's subject, however else it is worded.
        contrary = next(
            (c for evidence, _ in fact.evidence_sets if (c := other_value(evidence, unit))),
            None,
        )
        if contrary:
            verdict.contradicted = verdict.contradicted or contrary
            continue
        readings = [
            (r, polarity)
            for evidence, polarity in fact.evidence_sets
            if (r := read_evidence(evidence, unit)) is not None
        ]
        # A sentence that states the fact the wrong way round contradicts it, whatever
        # else in it matches.
        if any(_wanted(r.negated, polarity) is False for r, polarity in readings):
            verdict.contradicted = verdict.contradicted or unit.text
        elif readings and not verdict.present:
            verdict.present, verdict.sentence = True, unit.text
    if not verdict.present:
        verdict.missing = evidence_missing(fact.evidence, read)
    return verdict


def evidence_missing(evidence: Evidence, read: list[Unit]) -> list[list[str]]:
    """The evidence groups that match in no sentence at all (the rest may match, but not
    together in one sentence)."""
    return [g for g in evidence if not any(read_evidence([g], unit) for unit in read)]


def forbidden_sentence(evidence: Evidence, read: list[Unit]) -> str | None:
    """The first sentence that makes the forbidden claim: every group matches in it and
    the claim is not negated in its clause ("no ceasefire was agreed" denies it)."""
    for unit in read:
        reading = read_evidence(evidence, unit)
        if reading is not None and not reading.negated:
            return unit.text
    return None


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
    errors.extend(f"key_points: {p}" for p in key_point_problems(output.get("key_points")))
    return errors


# The answer's own field names: a small model that echoes the schema writes them as points.
FIELD_NAMES = frozenset(
    spelling
    for model in (SummaryDraft, Entity, DatedEvent, Quote)
    for name in model.model_fields
    for spelling in (name, name.replace("_", " "))
) | {"key point", "keypoint", "keypoints"}


def key_point_problems(value: Any) -> list[str]:
    """What is wrong with a list of key points: a point that is one of the schema's field
    names ("date", "event") or repeats another point, or a list of bare keywords (at least
    half of the points under ``MIN_KEY_POINT_WORDS`` words). The eval's schema grader and
    the product's own check both call this."""
    points = [str(p) for p in as_list(value)]
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, point in enumerate(points, start=1):
        folded = " ".join(re.findall(r"\w+", point.casefold()))
        if folded in FIELD_NAMES:
            problems.append(f"point {number} ({point!r}) is a field name, not a statement")
        elif folded in seen:
            problems.append(f"point {number} repeats point {seen[folded]}")
        seen.setdefault(folded, number)
    keywords = [p for p in points if len(re.findall(r"\w+", p)) < MIN_KEY_POINT_WORDS]
    if points and len(keywords) * 2 >= len(points):
        problems.append(
            f"{len(keywords)} of {len(points)} are bare keywords, not sentences "
            f"({', '.join(repr(k) for k in keywords[:3])})"
        )
    return problems


def case_grounds(case: Case) -> Grounds:
    """What the case knows of its article, for the grounding check."""
    published = case.source.published if case.source is not None else ""
    return Grounds(case.source_language, case.output_language, tuple(case.aliases), published)


def field_languages(
    output: dict[str, Any],
    task: Task,
    grounds: Grounds,
    read: list[Unit] | None = None,
) -> dict[str, str]:
    """``ok`` or what was detected instead, for each field and for each piece of it long
    enough to identify (a sentence, a list item, a paragraph): "summary[2]: id (0.97)".

    A piece is judged wrong only when the detector is sure of another language
    (``MIN_LANGUAGE_CONFIDENCE``); whole fields are judged too, so a field of short items
    cannot hide.
    """
    wanted = grounds.output_language
    languages = (wanted, grounds.source_language)
    verdicts: dict[str, str] = {}
    pieces: dict[str, list[tuple[str, str]]] = {}
    for unit in units(output, task, wanted) if read is None else read:
        text = _prose_of(unit)
        if text is None:
            continue
        items = pieces.setdefault(unit.field, [])
        # The summary's sentences by number; a list's items (and a translation's
        # paragraphs) by their own number, whichever of their sentences is judged.
        number = len(items) + 1 if unit.field == "summary" else unit.index + 1
        items.append((f"{unit.field}[{number}]", text))
    for name, items in pieces.items():
        alone = items if len(items) > 1 else []
        for label, text in [*alone, (name, " ".join(text for _, text in items))]:
            if len(text) < MIN_LANGUAGE_CHARS or verdicts.get(label, "ok") != "ok":
                continue
            code, probability = detect_among(text, languages)
            if not _same_language(code, wanted) and probability >= MIN_LANGUAGE_CONFIDENCE:
                verdicts[label] = f"{code} ({probability:.2f})"
            elif label == name:
                verdicts[label] = "ok"
    return verdicts


def _prose_of(unit: Unit) -> str | None:
    """The prose of a unit whose language is judged: a quotation without its speaker, an
    entity's description and a date's event without the name or date before them. A
    headline is judged on its own, without its capitalised words: it is mostly names,
    which read as the article's language ("Pasar Sukamaju fire in Bandung ..." is not
    Indonesian), and what is left is often too short to judge."""
    if unit.field == "title":
        return " ".join(word for word in unit.text.split() if not word[:1].isupper())
    if unit.field in ("summary", "key_points", "paragraphs"):
        return unit.text
    if unit.field == "quotes":
        return unit.text.split(": ", 1)[-1]
    if unit.field in ("entities", "dates"):
        # "Kuleba (Ukraine's foreign minister)", "2022-03-10 (talks in Antalya)"
        inner = unit.text.partition(" (")[2].removesuffix(")")
        return inner or None
    return None


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
    if output is not None and not isinstance(output, dict):
        output = None  # a replayed or hand-written output that is no JSON object
    data = output or {}
    read = units(data, case.task, case.output_language)
    facts = [fact_verdict(fact, read) for fact in case.reference_facts]
    forbidden = []
    for item in case.forbidden:
        sentence = forbidden_sentence(item.evidence, read)
        forbidden.append(ForbiddenVerdict(item.id, item.kind, sentence is not None, sentence or ""))
    forbidden.extend(
        ForbiddenVerdict(f"contradicts-{f.id}", "contradiction", True, f.contradicted)
        for f in facts
        if f.contradicted
    )
    # One reading of the output serves facts, language and grounding.
    grounds = case_grounds(case)
    languages = field_languages(data, case.task, grounds, read) if output is not None else {}
    unsupported = (
        # The article as the product reads it: datelines and read-also lines are no
        # grounds for a name (summarizer/checks.py builds its index the same way).
        unsupported_items(data, case.task, ArticleIndex(clean_article(article).text, grounds), read)
        if output is not None
        else []
    )
    errors = schema_errors(output, case, article)
    length, length_problem = (
        length_check(data, case, article) if output is not None else (None, "no output")
    )
    translation = None
    if case.task is Task.TRANSLATE and output is not None:
        translation = score_translation(
            data, article, case.reference_text(), case.source_language, case.output_language
        )

    result = Grade(
        case.id, facts, forbidden, languages, unsupported, errors, length, {}, translation
    )
    result.checks = _checks(result, limits, output is not None, length_problem)
    if case.task is Task.TRANSLATE:
        result.checks["translation"] = _translation_check(translation, limits)
    return result


def _checks(
    result: Grade, limits: Thresholds, produced: bool, length_problem: str
) -> dict[str, CheckResult]:
    wrong = {k: v for k, v in result.languages.items() if v != "ok"}
    found = [f'{f.id} ("{_clip(f.sentence)}")' for f in result.forbidden if f.found]
    missing_critical = [f.id for f in result.facts if f.critical and not f.present]
    return {
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
            "language", produced and not wrong, ", ".join(f"{k}: {v}" for k, v in wrong.items())
        ),
        "schema": CheckResult("schema", not result.schema_errors, "; ".join(result.schema_errors)),
        "length": CheckResult("length", not length_problem, length_problem),
        "grounding": CheckResult(
            "grounding",
            produced and len(result.unsupported) <= limits.max_unsupported,
            ", ".join(result.unsupported),
        ),
    }


def _clip(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _translation_check(score: TranslationScore | None, limits: Thresholds) -> CheckResult:
    if score is None:
        return CheckResult("translation", False, "no output")
    problems = [score.problem] if score.problem else []
    problems += score.misaligned
    if score.chrf is not None and score.chrf < limits.min_chrf:
        problems.append(f"chrF {score.chrf:.1f} (min {limits.min_chrf})")
    low = [
        f"{i + 1}: {value:.1f}"
        for i, value in enumerate(score.paragraph_chrf)
        if value < limits.min_paragraph_chrf
    ]
    if low:
        problems.append(f"paragraph chrF under {limits.min_paragraph_chrf}: " + ", ".join(low))
    detail = "; ".join(problems) or (f"chrF {score.chrf:.1f}" if score.chrf is not None else "")
    return CheckResult("translation", not problems, detail)
