"""The checks every answer takes (summarizer/checks.py), the candidates read from the
article before the model is called (summarizer/candidates.py), and the re-ask that repairs
a failed check: each planted fault caught, each repair made against a scripted model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer import Summarizer
from summarizer.candidates import constrained_schema, extract_candidates
from summarizer.checks import Reference, check_summary, check_translation
from summarizer.clean import clean_article
from summarizer.cli import app
from summarizer.errors import UncheckedAnswerError
from summarizer.grammar import schema_to_gbnf
from summarizer.llm import ModelTraits
from summarizer.pipeline import answer_schema
from summarizer.render import summary_markdown
from summarizer.schema import SummaryDraft
from summarizer.tasks import Task
from tests.conftest import SEED
from tests.fakes import FakeLLM

MODEL = "openai/test-model"


def good_draft(**overrides: Any) -> dict[str, Any]:
    """A faithful English summary of the seed: passes every check."""
    value: dict[str, Any] = {
        "title": "Russia and Ukraine talks in Antalya end without progress",
        "summary": "The foreign ministers of Ukraine and Russia, Dmytro Kuleba and Sergei "
        "Lavrov, met in Antalya, Turkey, on Thursday 10 March 2022. They made no progress "
        "towards a ceasefire.",
        "key_points": [
            "Kuleba and Lavrov discussed a 24-hour ceasefire without progress.",
            "Kuleba said Ukraine has not surrendered and will not surrender.",
        ],
        "entities": [
            {"name": "Dmytro Kuleba", "type": "person", "description": "Ukraine's minister"},
            {"name": "Sergei Lavrov", "type": "person", "description": "Russia's minister"},
        ],
        "dates": [{"date": "2022-03-10", "event": "Talks in Antalya"}],
        "quotes": [
            {"speaker": "Dmytro Kuleba", "text": "Ukraine has not surrendered, and never will."}
        ],
    }
    value.update(overrides)
    return value


@pytest.fixture(scope="module")
def reference() -> Reference:
    article = clean_article(SEED.read_text(encoding="utf-8"))
    return Reference.read(article, "id", "en")


def _failed(checks: list[Any]) -> dict[str, list[str]]:
    return {check.name: check.flagged for check in checks if not check.passed}


# -- candidates -----------------------------------------------------------------------------


def test_candidates_of_the_seed(reference: Reference) -> None:
    candidates = reference.candidates
    assert candidates.dates == ("2022-03-10", "2022-02-24")
    for name in ("Dmytro Kuleba", "Sergei Lavrov", "Kuleba", "Antalya", "Vladimir Putin"):
        assert name in candidates.names
    assert "Februari" not in candidates.names  # a month is no name
    # CLDR through Babel: the English names of the countries the article names.
    assert candidates.target_names["Rusia"] == "Russia"
    assert candidates.target_names["Ukraina"] == "Ukraine"
    assert "Russia" in candidates.entity_names
    texts = [quote.text for quote in candidates.quotes]
    assert len(texts) == 3 and texts[2].startswith("Saya ingin mengulangi")
    assert "sulit" not in texts  # a one-word scare quote is no quotation
    # "..., imbuhnya" (he added): the speaker comes from the paragraph before.
    assert candidates.quotes[1].speakers[:2] == ("Dmytro Kuleba", "Kuleba")
    assert ("24", "jam") in {(n.written, n.unit) for n in candidates.numbers}


def test_a_year_less_date_takes_the_articles_one_year() -> None:
    article = clean_article("Talks began on 3 March 2022.\n\nThey resumed on 10 March.")
    assert extract_candidates(article, "en", "fr").dates == ("2022-03-03", "2022-03-10")


def test_the_schema_makes_candidates_enums(reference: Reference) -> None:
    base = answer_schema(SummaryDraft, ModelTraits())
    schema = constrained_schema(base, reference.candidates, same_language=False)
    entity = schema["properties"]["entities"]["items"]["properties"]["name"]
    assert "Dmytro Kuleba" in entity["enum"] and "Erdogan" not in entity["enum"]
    date = schema["properties"]["dates"]["items"]["properties"]["date"]
    assert date["enum"] == ["2022-03-10", "2022-02-24"]
    speaker = schema["properties"]["quotes"]["items"]["properties"]["speaker"]
    assert "Dmytro Kuleba" in speaker["enum"]
    # The grammar llama.cpp gets: the name rule is the candidates and nothing else.
    grammar = schema_to_gbnf(schema)
    name_rule = next(
        line for line in grammar.splitlines() if line.startswith("root-value-entities")
    )
    assert name_rule  # the entity rules exist
    assert '"\\"Dmytro Kuleba\\""' in grammar and "Erdogan" not in grammar


def test_same_language_quotes_are_the_articles_own_with_their_speakers(
    reference: Reference,
) -> None:
    base = answer_schema(SummaryDraft, ModelTraits())
    schema = constrained_schema(base, reference.candidates, same_language=True)
    shapes = schema["properties"]["quotes"]["items"]["anyOf"]
    assert len(shapes) == 3
    assert shapes[0]["properties"]["text"]["enum"] == [reference.candidates.quotes[0].text]
    assert "Dmytro Kuleba" in shapes[0]["properties"]["speaker"]["enum"]


def test_an_article_without_quotes_or_dates_allows_none() -> None:
    article = clean_article("The council met. It approved the budget for the harbour.")
    candidates = extract_candidates(article, "en", "en")
    schema = constrained_schema(
        answer_schema(SummaryDraft, ModelTraits()), candidates, same_language=True
    )
    assert schema["properties"]["quotes"]["maxItems"] == 0
    assert schema["properties"]["dates"]["maxItems"] == 0


# -- each planted fault caught ----------------------------------------------------------------


def test_a_faithful_summary_passes_every_check(reference: Reference) -> None:
    checks = check_summary(good_draft(), reference)
    assert [c.name for c in checks] == ["grounding", "candidates", "language", "key_points"]
    assert _failed(checks) == {}


@pytest.mark.parametrize(
    ("fault", "check", "flagged"),
    [
        ({"summary": "Turkish President Erdogan hosted the talks."}, "grounding", "name Erdogan"),
        ({"summary": "They met on Wednesday in Antalya."}, "grounding", "weekday wednesday"),
        ({"summary": "Some 5,000 people protested in Antalya."}, "grounding", "number 5,000"),
        (
            {"summary": "Perundingan damai di Antalya berakhir tanpa kemajuan apa pun."},
            "language",
            "the summary: id (1.00)",
        ),
        ({"key_points": ["date", "event"]}, "key_points", "point 1 ('date') is a field name"),
        (
            {"key_points": ["No ceasefire was agreed.", "No ceasefire was agreed."]},
            "key_points",
            "point 2 repeats point 1",
        ),
        (
            {"entities": [{"name": "Erdogan", "type": "person", "description": "host"}]},
            "candidates",
            "entity Erdogan",
        ),
        ({"dates": [{"date": "2022-10-30", "event": "Talks"}]}, "candidates", "date 2022-10-30"),
    ],
)
def test_each_planted_fault_is_caught(
    reference: Reference, fault: dict[str, Any], check: str, flagged: str
) -> None:
    failed = _failed(check_summary(good_draft(**fault), reference))
    assert check in failed, failed
    assert any(item.startswith(flagged) for item in failed[check]), failed[check]


def test_an_untranslated_paragraph_is_caught(reference: Reference) -> None:
    sources = reference.article.paragraphs[:2]
    paragraphs = [
        "Peace talks between Russia and Ukraine ended 'without progress'.",
        sources[1],  # left in Indonesian
    ]
    failed = _failed(check_translation(paragraphs, sources, reference))
    assert "paragraph 2: id (1.00)" in failed["language"]
    assert not any(item.startswith("paragraph 1") for item in failed["language"])


def test_a_paragraph_that_loses_its_numbers_and_names_is_caught(reference: Reference) -> None:
    sources = reference.article.paragraphs[1:2]  # Antalya, Turki, Kamis (10/3/2022), Rusia...
    failed = _failed(check_translation(["The meeting was important."], sources, reference))
    assert "alignment" in failed


# -- repaired against a scripted model --------------------------------------------------------


def _summarizer(fake: FakeLLM, **settings: Any) -> Summarizer:
    return Summarizer(model=MODEL, cache=False, client=fake, check_repairs=1, **settings)


def test_a_failed_check_is_re_asked_naming_the_fault_and_repaired() -> None:
    invented = good_draft(summary="Turkish President Erdogan hosted the talks on Wednesday.")
    fake = FakeLLM(strict=True).enqueue(invented, good_draft())
    summary = _summarizer(fake).summarize(SEED.read_text(encoding="utf-8"))

    assert len(fake.requests) == 2
    re_ask = fake.requests[1].messages[-1]["content"]
    assert "Erdogan" in re_ask and "Wednesday" in re_ask
    assert summary.summary == good_draft()["summary"]
    assert all(check.passed for check in summary.meta.checks)
    assert summary.meta.retries == 1


def test_a_wrong_language_field_is_re_asked_in_the_target_language() -> None:
    wrong = good_draft(summary="Perundingan damai di Antalya berakhir tanpa kemajuan apa pun.")
    fake = FakeLLM(strict=True).enqueue(wrong, good_draft())
    summary = _summarizer(fake).summarize(SEED.read_text(encoding="utf-8"))
    assert "write them in English" in fake.requests[1].messages[-1]["content"]
    assert all(check.passed for check in summary.meta.checks)


def test_an_untranslated_paragraph_is_re_asked() -> None:
    article = (
        "Perundingan damai di Kota Antalya berakhir tanpa kemajuan apa pun.\n\n"
        "Delegasi Rusia dan Ukraina bertemu selama dua jam pada hari Kamis."
    )
    english = [
        "The peace talks in the city of Antalya ended without any progress.",
        "The Russian and Ukrainian delegations met for two hours on Thursday.",
    ]
    fake = FakeLLM(strict=True).enqueue(
        {"paragraphs": [english[0], article.split("\n\n")[1]]}, {"paragraphs": english}
    )
    translation = _summarizer(fake).translate(article)
    assert "paragraph 2" in fake.requests[1].messages[-1]["content"]
    assert translation.paragraphs == english
    assert all(check.passed for check in translation.meta.checks)


def test_what_a_repair_cannot_fix_stays_in_place_flagged() -> None:
    invented = good_draft(summary="Turkish President Erdogan hosted the talks.")
    worse = good_draft(summary="Erdogan and Biden met on Wednesday.", key_points=["date"])
    fake = FakeLLM(strict=True).enqueue(invented, worse)
    summary = _summarizer(fake).summarize(SEED.read_text(encoding="utf-8"))

    assert len(fake.requests) == 2  # one repair, as configured
    assert summary.summary == invented["summary"]  # the better answer, never removed
    grounding = next(check for check in summary.meta.checks if check.name == "grounding")
    assert not grounding.passed and grounding.flagged == ["name Erdogan"]
    assert "1 name not found in the article: Erdogan" in summary_markdown(summary)


def test_without_check_repairs_nothing_is_re_asked() -> None:
    fake = FakeLLM(strict=True).enqueue(good_draft(key_points=["date", "event"]))
    summary = Summarizer(model=MODEL, cache=False, client=fake, check_repairs=0).summarize(
        SEED.read_text(encoding="utf-8")
    )
    assert len(fake.requests) == 1
    assert not next(c for c in summary.meta.checks if c.name == "key_points").passed


def test_strict_makes_a_failed_check_an_error() -> None:
    fake = FakeLLM(strict=True).enqueue(good_draft(key_points=["date", "event"]))
    summarizer = Summarizer(model=MODEL, cache=False, client=fake, check_repairs=0, strict=True)
    with pytest.raises(UncheckedAnswerError) as caught:
        summarizer.summarize(SEED.read_text(encoding="utf-8"))
    assert caught.value.exit_code == 8
    assert "field name" in caught.value.message


# -- the faces ----------------------------------------------------------------------------------


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> FakeLLM:
    """The CLI's model client, scripted."""
    fake = FakeLLM()
    monkeypatch.setattr(Summarizer, "client", lambda self, model=None: fake)
    monkeypatch.setattr(Summarizer, "check", lambda self, model=None: None)
    return fake


def test_cli_strict_exits_8_and_writes_nothing(scripted: FakeLLM, tmp_path: Path) -> None:
    scripted.enqueue(*[good_draft(key_points=["date", "event"])] * 2)
    out = tmp_path / "summary.md"
    result = CliRunner().invoke(
        app, [str(SEED), "--model", MODEL, "--no-cache", "--strict", "-o", str(out)]
    )
    assert result.exit_code == 8, result.output
    assert not out.exists()
    assert "field name" in result.output


def test_cli_prints_a_flagged_answer_with_its_verdict(scripted: FakeLLM) -> None:
    scripted.enqueue(*[good_draft(summary="Erdogan hosted the talks in Antalya.")] * 2)
    markdown = CliRunner().invoke(app, [str(SEED), "--model", MODEL, "--no-cache"])
    assert markdown.exit_code == 0, markdown.output
    assert "1 name not found in the article: Erdogan" in markdown.output
    assert "Erdogan hosted the talks" in markdown.output  # flagged, not removed

    scripted.enqueue(*[good_draft(summary="Erdogan hosted the talks in Antalya.")] * 2)
    raw = CliRunner().invoke(app, [str(SEED), "--model", MODEL, "--no-cache", "-f", "json"])
    data = json.loads(raw.stdout)
    checks = {check["name"]: check for check in data["meta"]["checks"]}
    assert checks["grounding"]["flagged"] == ["name Erdogan"]
    assert checks["language"]["passed"] is True


def test_a_dry_run_plans_no_repairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZER_CHECK_REPAIRS", "2")
    summarizer = Summarizer(model=MODEL, client=FakeLLM())
    requests = summarizer.plan(Task.SUMMARIZE, SEED.read_text(encoding="utf-8"))
    assert len(requests) == 1


def test_a_long_article_costs_one_repair_at_most() -> None:
    # Parts of a long article are not re-asked: their prose is merged by the combine call,
    # which is checked (and re-asked once) like a short article's answer.
    article = "\n\n".join(
        f"Paragraph {i} says that Dmytro Kuleba met Sergei Lavrov in Antalya." for i in range(60)
    )
    fake = FakeLLM(context_window=700)
    fake.enqueue(*[good_draft(summary="Erdogan hosted them.")] * 40)
    summary = _summarizer(fake).summarize(article)
    tasks = [request.task for request in fake.requests]
    assert tasks.count("combine") >= 1 and summary.meta.chunks > 1
    assert summary.meta.retries <= 1
