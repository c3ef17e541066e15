"""The graders are tested on hand-written outputs: every case's good output passes, and
each hand-written bad output fails on the check it was written to trip."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from summarizer.evaluation.cases import Case, default_evals_dir, load_case, load_cases
from summarizer.evaluation.claims import Unit, other_value, read_evidence, sentences
from summarizer.evaluation.graders import case_grounds, forbidden_sentence, grade
from summarizer.evaluation.grounding import ArticleIndex, unsupported_items
from summarizer.evaluation.normalize import (
    as_date,
    as_number,
    date_mentions,
    dates_in,
    fold,
    number_values,
    numbers_in,
    time_mentions,
)
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


def _units(text: str, language: str = "en") -> list[Unit]:
    return [Unit.read(sentence, language) for sentence in sentences(text, language)]


def test_negated_claim_is_not_a_forbidden_hit() -> None:
    evidence = [["ceasefire"], ["agreed", "reached"]]
    assert forbidden_sentence(evidence, _units("No ceasefire was agreed.")) is None
    assert forbidden_sentence(evidence, _units("They talked. A ceasefire was agreed.")) == (
        "A ceasefire was agreed."
    )


def test_forbidden_groups_must_meet_in_one_sentence() -> None:
    evidence = [["ceasefire"], ["agreed"]]
    text = "A ceasefire was discussed. Both agreed to meet."
    assert forbidden_sentence(evidence, _units(text)) is None


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Nobody was killed in the fire.", "en"),
        ("The fire killed no one.", "en"),
        ("There were zero deaths.", "en"),
        ("The council ruled out any deaths, officials said.", "en"),
        ("Tidak ada korban jiwa yang meninggal.", "id"),
        ("Aucun enfant n'est mort.", "fr"),
        ("No murió nadie.", "es"),
    ],
)
def test_negation_cues_cover_the_clause(text: str, language: str) -> None:
    reading = read_evidence(
        [["kill", "death", "meninggal", "mort", "muri"]], Unit.read(text, language)
    )
    assert reading is not None and reading.negated


def test_negation_stays_in_its_clause_and_after_rather_than() -> None:
    unit = Unit.read("No one died, but 146 kiosks burned down.", "en")
    reading = read_evidence([["kiosk"], ["burn"]], unit)
    assert reading is not None and not reading.negated
    unit = Unit.read("The budget is financed by reserves rather than by new loans.", "en")
    loans = read_evidence([["loan"], ["financ"]], unit)
    reserves = read_evidence([["reserve"], ["financ"]], unit)
    assert loans is not None and loans.negated
    assert reserves is not None and not reserves.negated


def test_a_cue_inside_the_evidence_does_not_negate_it() -> None:
    reading = read_evidence(
        [["without progress"]], Unit.read("Talks ended without progress.", "en")
    )
    assert reading is not None and not reading.negated


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Thirty-seven cases were confirmed in schools.", "en"),
        ("Trente-sept cas ont été confirmés.", "fr"),
        ("Tiga puluh tujuh kasus dikonfirmasi.", "id"),
    ],
)
def test_numbers_written_as_words_match(text: str, language: str) -> None:
    assert read_evidence([["37"], ["case", "cas", "kasus"]], Unit.read(text, language))


def test_a_number_binds_to_its_own_subject() -> None:
    evidence = [["9"], ["midwi"], ["2"], ["doctor"]]
    assert read_evidence(evidence, Unit.read("It has nine midwives and two doctors.", "en"))
    swapped = Unit.read("It has two midwives and nine doctors.", "en")
    assert read_evidence(evidence, swapped) is None
    assert other_value(evidence, swapped)


def test_another_number_next_to_the_subject_contradicts() -> None:
    evidence = [["312"], ["teacher"]]
    assert other_value(evidence, Unit.read("It funds 47 new teachers and 312 schools.", "en"))
    assert not other_value(evidence, Unit.read("It funds 312 new teachers and 47 schools.", "en"))
    # A number after the subject is usually about something else.
    assert not other_value(
        [["17"], ["activist"]], Unit.read("The activists are 19 to 33 years old.", "en")
    )


@pytest.mark.parametrize(
    ("text", "language", "value"),
    [
        ("IDR 12bn", "en", 12e9),
        ("€2.3m", "en", 2.3e6),
        ("Rp5.2 trillion", "en", 5.2e12),
        ("8,5 M$", "fr", 8.5e6),
        ("5,000 people", "en", 5000.0),
        ("5.000 orang", "id", 5000.0),
    ],
)
def test_number_spellings(text: str, language: str, value: float) -> None:
    assert {value} == {v for _, values in numbers_in(text, language) for v in values}


def test_covid_19_is_not_a_number() -> None:
    assert numbers_in("COVID-19 vaccines", "en") == []


@pytest.mark.parametrize(
    ("text", "month_day"),
    [
        ("du 15 septembre au 10 octobre 2026", (9, 15)),
        ("Jumat (24/2)", (2, 24)),
        ("On Thursday, August 10th, he flew", (8, 10)),
    ],
)
def test_dates_without_a_year(text: str, month_day: tuple[int, int]) -> None:
    assert any(m.month_day == month_day for m in date_mentions(text))


def test_a_short_date_has_both_readings() -> None:
    (mention,) = date_mentions("on 10/03/22")
    assert mention.readings == {"2022-03-10", "2022-10-03"}


def test_a_price_is_not_a_clock_time() -> None:
    assert time_mentions("€0.14 per kWh") == []
    assert [m for _, _, m in time_mentions("at 2:15 a.m. and pukul 14.30 WIB")] == [135, 870]


def _antalya() -> tuple[Case, str]:
    case = load_case(EVALS / "cases" / "antalya-talks-id-en.yaml")
    return case, case.article_text()


@pytest.mark.parametrize(
    ("sentence", "flagged"),
    [
        ("Kuleba met Lavrov in Antalya, Turkey, on Thursday.", []),  # Turki -> Turkey (CLDR)
        ("Kuleba met Lavrov on Wednesday.", ["weekday wednesday"]),  # the article: Kamis
        ("Foreign ministers met in Antalya.", []),  # a common word opening a sentence
        ("Hendri Saputro attended the talks.", ["name Hendri", "name Saputro"]),
        ("Kulebo met Lavrov.", ["name Kulebo"]),  # no fuzzy match for names
        ("The Yayasan Antalya paid for the talks.", ["organisation Yayasan"]),
        ("They met on 10/03/22 at 2:15 a.m.", ["time 2:15 a.m."]),
        ("Some 5,000 people protested.", ["number 5,000"]),
    ],
)
def test_grounding(sentence: str, flagged: list[str]) -> None:
    case, article = _antalya()
    output = {"title": "Talks", "summary": sentence, "key_points": []}
    index = ArticleIndex(article, case_grounds(case))
    assert unsupported_items(output, case.task, index) == flagged


@pytest.mark.parametrize(
    "text",
    [
        "The blaze gutted 146 of the market's 400 kiosks.",
        "There were 146 kiosks destroyed, up from 41 kiosks last year.",
    ],
)
def test_a_total_or_a_comparison_is_no_contradiction(text: str) -> None:
    assert not other_value([["146"], ["kiosk"]], Unit.read(text, "en"))


def test_a_cue_reaches_only_the_words_after_it() -> None:
    unit = Unit.read("A ceasefire was agreed without conditions.", "en")
    reading = read_evidence([["ceasefire"], ["agreed"]], unit)
    assert reading is not None and not reading.negated


def test_grading_a_malformed_output_fails_it_without_crashing() -> None:
    case, article = _antalya()
    for output in ({"key_points": 5, "summary": 3}, {"entities": "x", "dates": [1]}):
        assert not grade(case, output, article=article).passed


def test_sentences_from_threads_at_once_are_each_their_own() -> None:
    """A pysbd Segmenter keeps the text it is working on: shared between threads (the
    service's requests, a batch's articles), one thread got another's sentences."""
    import threading

    from summarizer.evaluation.claims import sentences

    texts = [
        " ".join(
            f"Sentence {n} of text {t} says the port of Linden{t} reopened." for n in range(40)
        )
        for t in range(6)
    ]
    expected = [sentences(text, "en") for text in texts]
    start = threading.Barrier(len(texts))
    got: dict[int, list[list[str]]] = {}

    def work(index: int) -> None:
        start.wait()
        got[index] = [sentences(texts[index], "en") for _ in range(5)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, runs in got.items():
        assert all(run == expected[index] for run in runs), f"text {index} got another's"
