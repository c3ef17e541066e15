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
