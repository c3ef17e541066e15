"""The graders are tested on hand-written outputs: every case's good output passes, and
each hand-written bad output fails on the check it was written to trip."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from summarizer.evaluation.cases import Case, default_evals_dir, load_case, load_cases
from summarizer.evaluation.graders import forbidden_sentence, grade
from summarizer.evaluation.normalize import as_date, as_number, dates_in, fold, number_values
from summarizer.tasks import Task

EVALS = default_evals_dir()
FIXTURES = sorted((EVALS / "fixtures").glob("*.yaml"))
# Every case must come with a hand-written bad output of each of these kinds.
REQUIRED_BAD = {"missing-critical", "invented-claim", "wrong-language", "boilerplate", "wrong-date"}


def _fixture(path: Path) -> tuple[Case, dict[str, Any]]:
    return load_case(EVALS / "cases" / path.name), yaml.safe_load(path.read_text("utf-8"))


def apply_edits(good: dict[str, Any], bad: dict[str, Any], task: Task) -> dict[str, Any]:
    """A bad output: the good one with the fixture's hand-written edits applied."""

    def replace(value: Any) -> Any:
        if isinstance(value, str):
            for old, new in bad.get("replace", []):
                value = value.replace(old, new)
            return value
        if isinstance(value, list):
            return [replace(v) for v in value]
        if isinstance(value, dict):
            return {k: replace(v) for k, v in value.items()}
        return value

    output: dict[str, Any] = replace(copy.deepcopy(good))
    if "add" in bad:
        if task is Task.SUMMARIZE:
            output["key_points"] = [*output["key_points"], bad["add"]]
        else:
            output["paragraphs"][-1] += " " + bad["add"]
    output.update(copy.deepcopy(bad.get("set", {})))
    return output


def test_every_case_has_a_fixture() -> None:
    assert {p.stem for p in FIXTURES} == {c.id for c in load_cases(EVALS)}


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_good_output_passes_every_check(path: Path) -> None:
    case, fixture = _fixture(path)
    result = grade(case, fixture["good"])
    assert result.passed, {n: c.detail for n, c in result.checks.items() if not c.passed}
    assert result.fact_recall == 1.0
    assert result.unsupported == []


BAD = [
    pytest.param(path, bad, id=f"{path.stem}:{bad['name']}")
    for path in FIXTURES
    for bad in yaml.safe_load(path.read_text("utf-8"))["bad"]
]


@pytest.mark.parametrize(("path", "bad"), BAD)
def test_bad_output_fails_on_the_right_check(path: Path, bad: dict[str, Any]) -> None:
    case, fixture = _fixture(path)
    output = apply_edits(fixture["good"], bad, case.task)
    assert output != fixture["good"], "the edits changed nothing"
    result = grade(case, output)
    assert bad["check"] in result.failed_checks, result.failed_checks


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_every_kind_of_bad_output_is_written(path: Path) -> None:
    _, fixture = _fixture(path)
    assert {b["name"] for b in fixture["bad"]} >= REQUIRED_BAD


def test_no_output_fails_every_content_check() -> None:
    case = load_cases(EVALS, "antalya*")[0]
    result = grade(case, None)
    assert {"facts", "critical", "language", "schema", "length", "grounding"} <= set(
        result.failed_checks
    )
    assert result.fact_recall == 0.0


def test_empty_summary_fails_schema_and_facts() -> None:
    case = load_cases(EVALS, "antalya*")[0]
    empty = {
        "title": "",
        "summary": "",
        "key_points": [],
        "entities": [],
        "dates": [],
        "quotes": [],
    }
    result = grade(case, empty)
    assert {"schema", "facts", "critical"} <= set(result.failed_checks)


def _translation_case() -> tuple[Case, dict[str, Any]]:
    (path,) = [p for p in FIXTURES if p.stem == "clinic-opening-en-id"]
    case, fixture = _fixture(path)
    assert case.task is Task.TRANSLATE
    return case, fixture


def test_a_translation_must_keep_the_paragraph_count() -> None:
    """The graders apply the pipeline's own paragraph rule (``TranslationDraft``)."""
    case, fixture = _translation_case()
    good = fixture["good"]
    merged = {"paragraphs": [" ".join(good["paragraphs"][:2]), *good["paragraphs"][2:]]}
    result = grade(case, merged)
    assert "schema" in result.failed_checks
    count = len(good["paragraphs"])
    assert any(f"{count - 1} paragraphs instead of {count}" in e for e in result.schema_errors)


def test_a_translation_may_not_have_an_empty_paragraph() -> None:
    case, fixture = _translation_case()
    emptied = {"paragraphs": [*fixture["good"]["paragraphs"][:-1], "  "]}
    result = grade(case, emptied)
    assert "schema" in result.failed_checks
    assert any("a paragraph is empty" in e for e in result.schema_errors)


def test_a_translation_with_unknown_keys_is_not_schema_valid() -> None:
    case, fixture = _translation_case()
    result = grade(case, {**fixture["good"], "notes": "translated by hand"})
    assert any(e.startswith("notes:") for e in result.schema_errors)


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("1,5 triliun", "Education receives IDR 1.5 trillion."),
        ("5,2 triliun", "a budget of 5,200 billion rupiah"),
        ("640 miliar", "Rp 640 billion for floods"),
        ("1,8 million", "it cost 1.8 million euros"),
        ("64.000", "its 64,000 residents"),
        ("3.000", "fines of up to 3 000 euros"),
        ("45 millones", "a 45-million plant"),
    ],
)
def test_numbers_match_after_normalisation(term: str, text: str) -> None:
    values = as_number(term)
    assert values is not None
    assert values & number_values(text)


def test_numbers_differing_in_value_do_not_match() -> None:
    assert not (as_number("1,5 triliun") or set()) & number_values("1.5 billion")
    assert not (as_number("640 miliar") or set()) & number_values("604 billion")


@pytest.mark.parametrize(
    "text", ["10 March 2022", "2022-03-10", "10/3/2022", "Kamis (10/3/2022)", "March 10, 2022"]
)
def test_dates_match_after_normalisation(text: str) -> None:
    assert as_date("2022-03-10") in dates_in(text)


def test_ordinal_days_are_dates() -> None:
    assert dates_in("le 1er août 2026") == {"2026-08-01"}


def test_matching_ignores_case_and_accents() -> None:
    assert fold("HÉLÈNE Marchal") == "helene marchal"


def test_negated_claim_is_not_a_forbidden_hit() -> None:
    evidence = [["ceasefire"], ["agreed", "reached"]]
    assert forbidden_sentence(evidence, "No ceasefire was agreed.") is None
    assert forbidden_sentence(evidence, "They talked. A ceasefire was agreed.") == (
        "A ceasefire was agreed."
    )


def test_forbidden_groups_must_meet_in_one_sentence() -> None:
    evidence = [["ceasefire"], ["agreed"]]
    assert forbidden_sentence(evidence, "A ceasefire was discussed. Both agreed to meet.") is None
