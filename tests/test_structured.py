"""``structured.ask``: validate, re-ask with the problems, and read answers leniently."""

from __future__ import annotations

import pytest

from summarizer.errors import ContextOverflowError, ModelOutputError
from summarizer.schema import SummaryDraft, TranslationDraft
from summarizer.structured import (
    CallRecord,
    Question,
    Unusable,
    ask,
    drop_unknown_keys,
    parse_answer,
)
from tests.fakes import FakeLLM, draft


def question(**overrides: object) -> Question:
    values: dict[str, object] = {
        "task": "summarize",
        "model": "openai/x",
        "messages": [{"role": "user", "content": "Summarize this."}],
        "schema": SummaryDraft.model_json_schema(),
        "max_tokens": 100,
    }
    values.update(overrides)
    return Question(**values)  # type: ignore[arg-type]


def test_unknown_keys_are_dropped_at_every_depth() -> None:
    data = {**draft(), "mood": "x", "quotes": [{"speaker": "A", "text": "B", "tone": "calm"}]}
    dropped = drop_unknown_keys(data, SummaryDraft)
    assert dropped == ["mood", "quotes[0].tone"]
    assert SummaryDraft.model_validate(data)


def test_the_paragraph_rule_is_one_validator() -> None:
    text = '{"paragraphs": ["one", "two"]}'
    assert parse_answer(text, TranslationDraft, context={"paragraphs": 2}).paragraphs
    with pytest.raises(Unusable) as wrong_count:
        parse_answer(text, TranslationDraft, context={"paragraphs": 3})
    assert "2 paragraphs instead of 3" in wrong_count.value.errors[0]
    with pytest.raises(Unusable) as empty:
        parse_answer('{"paragraphs": ["one", " "]}', TranslationDraft, context={"paragraphs": 2})
    assert "empty" in empty.value.errors[0]


def test_it_re_asks_with_the_errors_then_gives_up() -> None:
    fake = FakeLLM(strict=True).enqueue("no json", '{"title": 1}', "still not")
    records: list[CallRecord] = []
    with pytest.raises(ModelOutputError, match="after 3 attempts"):
        ask(fake, question(), SummaryDraft, on_call=records.append)
    assert [r.repair for r in records] == [False, True, True]
    repair = fake.requests[2].messages[-1]["content"]
    assert "title" in repair  # the validation errors are quoted to the model


def test_a_good_answer_after_a_bad_one() -> None:
    fake = FakeLLM(strict=True).enqueue("```json\n{oops}\n```", draft())
    answer = ask(fake, question(), SummaryDraft)
    assert answer.title == draft()["title"]


def test_a_question_that_cannot_fit_is_refused_before_any_call() -> None:
    fake = FakeLLM(strict=True, context_window=50)
    with pytest.raises(ContextOverflowError):
        ask(fake, question(max_tokens=100), SummaryDraft)
    assert fake.requests == []


def test_a_re_ask_of_a_window_filling_question_gets_the_room_left() -> None:
    # A chunk sized to fill the window with its answer: the repair message must still fit,
    # taking room from the re-asked answer (at most half of it), never failing the article.
    words = " ".join(["word"] * 280)
    fake = FakeLLM(strict=True, context_window=400).enqueue("no json", draft())
    asked = question(messages=[{"role": "user", "content": words}], max_tokens=100)
    assert ask(fake, asked, SummaryDraft, max_repairs=1).title == draft()["title"]
    first, second = fake.requests
    assert first.max_tokens == 100
    assert 50 <= second.max_tokens < 100


def test_checks_re_ask_with_the_findings_and_keep_the_better_answer() -> None:
    from summarizer.structured import Checking, Findings

    def findings(answer: SummaryDraft) -> Findings:
        names = answer.summary.count("Erdogan")
        return Findings([f"{names} names not in the article: Erdogan"] if names else [], names)

    invented = draft(summary="Erdogan hosted the talks.")
    worse = draft(summary="Erdogan and Erdogan's aide hosted the talks.")
    fake = FakeLLM(strict=True).enqueue(invented, worse, draft())
    checking = Checking(findings, repairs=1)
    answer = ask(fake, question(), SummaryDraft, checking=checking)
    assert len(fake.requests) == 2  # one check repair, as allowed
    assert "names not in the article: Erdogan" in fake.requests[1].messages[-1]["content"]
    assert answer.summary == invented["summary"]  # the better answer; flagged, never dropped


def test_a_re_ask_that_cannot_fit_keeps_the_valid_answer() -> None:
    from summarizer.structured import Checking, Findings

    words = " ".join(["word"] * 285)
    fake = FakeLLM(strict=True, context_window=400).enqueue(draft())
    asked = question(messages=[{"role": "user", "content": words}], max_tokens=100)
    long_findings = Findings(["x " * 80], 1)  # a repair message that leaves no room
    answer = ask(fake, asked, SummaryDraft, checking=Checking(lambda a: long_findings))
    assert answer.title == draft()["title"] and len(fake.requests) == 1
