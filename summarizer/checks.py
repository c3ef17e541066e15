"""The checks every answer takes before anyone reads it.

A model's answer that validates against the JSON Schema may still state a name, date or
number the article does not, be written in the article's language instead of the
reader's, or list the schema's own field names as key points. These checks find that, on
every answer the pipeline accepts:

* ``grounding``: every name, number, date, weekday and time traced to the article or its
  candidate list (target-language names of the places it names);
* ``candidates``: entity names, dates and quote speakers among the article's candidates
  (``summarizer.candidates``; a backend that follows the per-article schema cannot fail
  this one, a provider that ignores ``response_format`` can);
* ``language``: each field, and each sentence long enough to identify, in the target
  language, with the detector's confidence;
* ``key_points``: no point is a field name or a repeat of another, nor the list a list of
  keywords;
* ``alignment`` (translations): each paragraph keeps its source paragraph's numbers,
  dates and names.

They are the eval's own graders (``summarizer.evaluation``), called with what the product
knows of the article instead of what a case knows, so what the eval counts is what a reader
is warned about. A failed check is re-asked with its findings (``structured.ask``); what
still fails is reported in ``meta.checks`` and never silently removed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from summarizer.candidates import Candidates, extract_candidates
from summarizer.clean import CleanedArticle
from summarizer.detect import SAME_LANGUAGE
from summarizer.errors import UncheckedAnswerError
from summarizer.evaluation.claims import dict_items, units
from summarizer.evaluation.graders import field_languages, key_point_problems
from summarizer.evaluation.grounding import ArticleIndex, Grounds, unsupported_items
from summarizer.evaluation.normalize import fold
from summarizer.evaluation.translation import misaligned_paragraphs
from summarizer.languages import language_name
from summarizer.schema import Check, Summary, Translation
from summarizer.tasks import Task

# Kinds of ``unsupported_items`` finding, as a reader reads them ("2 names not found").
_KINDS = {
    "name": ("name", "names"),
    "organisation": ("organisation", "organisations"),
    "number": ("number", "numbers"),
    "date": ("date", "dates"),
    "weekday": ("weekday", "weekdays"),
    "time": ("time", "times"),
}


@dataclass(frozen=True)
class Reference:
    """What answers about one article are checked against, read once per article."""

    article: CleanedArticle
    source_language: str
    target_language: str
    candidates: Candidates
    grounds: Grounds
    index: ArticleIndex
    # Seconds spent reading the article for candidates and the index.
    extraction_s: float

    @classmethod
    def read(cls, article: CleanedArticle, source: str, target: str) -> Reference:
        started = time.perf_counter()
        candidates = extract_candidates(article, source, target)
        grounds = Grounds(source, target, aliases=tuple(candidates.target_names.values()))
        index = ArticleIndex(article.text, grounds)
        elapsed = time.perf_counter() - started
        return cls(article, source, target, candidates, grounds, index, round(elapsed, 3))


def check_summary(answer: dict[str, Any], reference: Reference) -> list[Check]:
    """Every check on a summary (or a part of one: a draft, a merged title and summary)."""
    read = units(answer, Task.SUMMARIZE, reference.target_language)
    unsupported = unsupported_items(answer, Task.SUMMARIZE, reference.index, read)
    languages = field_languages(answer, Task.SUMMARIZE, reference.grounds, read)
    return [
        _grounding_check(unsupported),
        _candidates_check(answer, reference),
        _language_check(languages, reference),
        _key_points_check(key_point_problems(answer.get("key_points"))),
    ]


def check_translation(
    paragraphs: Sequence[str], sources: Sequence[str], reference: Reference
) -> list[Check]:
    """Every check on translated ``paragraphs`` of the source paragraphs ``sources``."""
    answer = {"paragraphs": list(paragraphs)}
    read = units(answer, Task.TRANSLATE, reference.target_language)
    unsupported = unsupported_items(answer, Task.TRANSLATE, reference.index, read)
    languages = field_languages(answer, Task.TRANSLATE, reference.grounds, read)
    misaligned = misaligned_paragraphs(
        list(sources), list(paragraphs), reference.source_language, reference.target_language
    )
    return [
        _grounding_check(unsupported),
        _language_check(languages, reference),
        _check("alignment", misaligned),
    ]


# What the re-ask asks for, by check.
_REMEDIES = {
    "grounding": "use only names, numbers and dates the article gives, written as it writes them",
    "candidates": "use only the names, dates and speakers the article gives",
    "language": "write them in {language}",
    "key_points": "write each key point as a short statement of a different fact",
    "alignment": "translate each paragraph in full, keeping its numbers, dates and names",
}


def problems(checks: Sequence[Check], language: str = "") -> list[str]:
    """The failed checks' findings and what to do about them, as the re-ask names them."""
    found = []
    for check in checks:
        if not check.passed:
            remedy = _REMEDIES.get(check.name, "").format(language=language_name(language))
            found.append(f"{check.detail} ({remedy})" if remedy else check.detail)
    return found


def failed(result: Summary | Translation) -> list[Check]:
    return [check for check in result.meta.checks if not check.passed]


def require_passed(result: Summary | Translation) -> None:
    """``--strict``: an answer that still fails a check after the repairs is an error.

    Raises:
        UncheckedAnswerError: a check failed.
    """
    failures = failed(result)
    if failures:
        raise UncheckedAnswerError(
            "The answer failed its checks after the repairs: "
            + "; ".join(check.detail for check in failures)
            + ".",
            hint="Run without --strict to see it with the findings flagged, or try a "
            "stronger model with --model.",
        )


def verdict_line(result: Summary | Translation) -> str:
    """A short line for people, empty when every check passed."""
    failures = failed(result)
    return "; ".join(check.detail for check in failures)


# -- one check each ----------------------------------------------------------------------------


def _check(name: str, flagged: list[str], detail: str = "") -> Check:
    return Check(
        name=name,
        passed=not flagged,
        flagged=flagged,
        detail=detail or (f"{name}: " + ", ".join(flagged) if flagged else ""),
    )


def _grounding_check(unsupported: list[str]) -> Check:
    by_kind: dict[str, list[str]] = {}
    for item in unsupported:
        kind, _, value = item.partition(" ")
        by_kind.setdefault(kind, []).append(value)
    parts = []
    for kind, values in by_kind.items():
        singular, plural = _KINDS.get(kind, (kind, kind + "s"))
        noun = singular if len(values) == 1 else plural
        shown = [v.capitalize() if kind == "weekday" else v for v in values]
        parts.append(f"{len(values)} {noun} not found in the article: {', '.join(shown)}")
    return _check("grounding", unsupported, "; ".join(parts))


def _key_points_check(problems: list[str]) -> Check:
    return _check("key_points", problems, "key points: " + ", ".join(problems) if problems else "")


def _candidates_check(answer: dict[str, Any], reference: Reference) -> Check:
    """Structured fields outside the article's candidates (possible only on a backend that
    does not follow the per-article schema)."""
    candidates = reference.candidates
    names = {fold(name) for name in candidates.entity_names}
    speakers = {fold(name) for name in candidates.speakers}
    flagged = [
        f"entity {entity.get('name')}"
        for entity in dict_items(answer.get("entities"))
        if fold(str(entity.get("name", ""))) not in names
    ]
    flagged += [
        f"date {item.get('date')}"
        for item in dict_items(answer.get("dates"))
        if str(item.get("date", "")) not in candidates.dates
    ]
    flagged += [
        f"speaker {quote.get('speaker')}"
        for quote in dict_items(answer.get("quotes"))
        if fold(str(quote.get("speaker", ""))) not in speakers
    ]
    detail = (
        f"{len(flagged)} not among the article's own names, dates and speakers: "
        + ", ".join(flagged)
        if flagged
        else ""
    )
    return _check("candidates", flagged, detail)


def _readable(label: str) -> str:
    """ "summary[2]" (a grader's label) as a reader says it: "summary sentence 2"."""
    field, _, rest = label.partition("[")
    words = {
        "summary": "summary sentence",
        "key_points": "key point",
        "quotes": "quote",
        "entities": "entity",
        "dates": "date",
        "paragraphs": "paragraph",
    }
    if not rest:
        wholes = {
            "paragraphs": "the translation",
            "entities": "the entity descriptions",
            "dates": "the date events",
        }
        return wholes.get(field, "the " + field.replace("_", " "))
    return f"{words.get(field, field)} {rest.rstrip(']')}"


def _language_check(languages: dict[str, str], reference: Reference) -> Check:
    wrong = {
        _readable(label): _as_source(found, reference)
        for label, found in languages.items()
        if found != "ok"
    }
    flagged = [f"{label}: {found}" for label, found in wrong.items()]
    detail = ""
    if wrong:
        # "id (0.97)" -> "Indonesian, confidence 0.97"
        detail = f"not in {language_name(reference.target_language)}: " + ", ".join(
            f"{label} {_verb(label)} {language_name(found.split()[0])}, confidence "
            f"{found.split()[-1].strip('()')}"
            for label, found in wrong.items()
        )
    return _check("language", flagged, detail)


def _verb(label: str) -> str:
    plural = label.startswith("the ") and label.endswith("s") and label != "the translation"
    return "are" if plural else "is"


def _as_source(found: str, reference: Reference) -> str:
    """A detector's verdict ("ms (1.00)") naming the article's language when the detector
    cannot tell the two apart: it reads Indonesian as Malay as often as not."""
    code, _, confidence = found.partition(" ")
    if any({code, reference.source_language} <= group for group in SAME_LANGUAGE):
        code = reference.source_language
    return f"{code} {confidence}"
