"""Long input: nothing truncated, nothing dropped, every request fits, order kept."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest

from summarizer import pipeline
from summarizer.errors import ContextOverflowError
from summarizer.events import Event, Progress
from summarizer.llm import ChatRequest, ChatResponse
from summarizer.pipeline import Job
from summarizer.schema import DatedEvent, Entity, Quote, SummaryDraft, Usage
from tests.fakes import FakeLLM, draft

MODEL = "openai/test-model"


def long_article(paragraphs: int, words_per_paragraph: int = 120, last: str = "") -> str:
    rng = random.Random(paragraphs)
    vocabulary = ["minister", "talks", "city", "port", "aid", "ceasefire", "vote", "court"]
    body = [
        f"Paragraph {i}. "
        + " ".join(rng.choice(vocabulary) for _ in range(words_per_paragraph))
        + "."
        for i in range(paragraphs)
    ]
    if last:
        body.append(last)
    return "\n\n".join(body)


def fits(request: ChatRequest, fake: FakeLLM) -> bool:
    prompt = sum(len(m["content"].split()) + 8 for m in request.messages)
    return prompt + request.max_tokens <= fake.window


def test_fact_only_in_last_chunk_reaches_the_combine_call() -> None:
    fake = FakeLLM(context_window=3000, strict=True)
    article = long_article(30, last="The harbour reopens on 2 May 2024, said mayor Zebulon.")

    def complete(request: ChatRequest) -> ChatResponse:
        fake.requests.append(request)
        user = request.messages[1]["content"]
        # The chunk holding the fact reports it, as a faithful model would.
        if request.task == "summarize":
            points = ["Harbour reopens 2024-05-02 (Zebulon)"] if "Zebulon" in user else ["x"]
            text = json.dumps(draft(key_points=points))
        else:
            text = json.dumps({"title": "t", "summary": "s", "key_points": ["merged"]})
        return ChatResponse(text=text, usage=Usage(input_tokens=1, output_tokens=1))

    fake.complete = complete  # type: ignore[method-assign]
    result = pipeline.summarize(article, Job(target_language="en", model=MODEL, client=fake))

    summaries = [r for r in fake.requests if r.task == "summarize"]
    combines = [r for r in fake.requests if r.task == "combine"]
    assert len(summaries) == result.meta.chunks > 1
    assert "Zebulon" in summaries[-1].messages[1]["content"]
    assert combines, "several chunks must be merged"
    assert any("Zebulon" in r.messages[1]["content"] for r in combines)
    assert all(fits(r, fake) for r in fake.requests)


def test_every_request_fits_and_calls_grow_linearly() -> None:
    calls = {}
    for paragraphs in (50, 200):
        fake = FakeLLM(context_window=4096)
        result = pipeline.summarize(
            long_article(paragraphs), Job(target_language="en", model=MODEL, client=fake)
        )
        assert all(fits(r, fake) for r in fake.requests)
        assert result.meta.calls == len(fake.requests)
        calls[paragraphs] = result.meta.chunks
    # Four times the text, about four times the chunks (overlap and boundaries aside).
    assert 3.0 <= calls[200] / calls[50] <= 5.0


def test_hierarchical_reduce_when_parts_do_not_fit_one_combine() -> None:
    fake = FakeLLM(context_window=1200)
    result = pipeline.summarize(
        long_article(60), Job(target_language="en", model=MODEL, client=fake)
    )
    combines = [r for r in fake.requests if r.task == "combine"]
    assert result.meta.chunks > 10
    assert len(combines) >= 2
    assert all(fits(r, fake) for r in fake.requests)
    assert result.meta.calls == result.meta.chunks + len(combines)


def test_a_unit_that_cannot_fit_fails_clearly() -> None:
    fake = FakeLLM(context_window=500)
    with pytest.raises(ContextOverflowError) as caught:
        pipeline.summarize(long_article(3), Job(target_language="en", model=MODEL, client=fake))
    assert "larger context window" in str(caught.value)
    assert fake.requests == []


def test_merge_details_dedupes_by_normalised_name_and_keeps_first_order() -> None:
    first = SummaryDraft(
        **draft(
            entities=[
                {"name": "Dmytro Kuleba", "type": "person", "description": ""},
                {"name": "Antalya", "type": "location", "description": "Turkish city"},
            ],
            dates=[{"date": "10 March 2022", "event": "Talks"}],
            quotes=[{"speaker": "Kuleba", "text": "Ukraine has not surrendered."}],
        )
    )
    second = SummaryDraft(
        **draft(
            entities=[
                {"name": "dmytro  KULEBA", "type": "person", "description": "foreign minister"},
                {"name": "Mariupol", "type": "location", "description": "besieged port"},
            ],
            dates=[{"date": "2022-03-10", "event": "talks"}],
            quotes=[{"speaker": "Kuleba", "text": "Ukraine has not surrendered."}],
        )
    )
    merged = pipeline.merge_details([first, second], month_first=False)
    assert [e.name for e in merged["entities"]] == ["Dmytro Kuleba", "Antalya", "Mariupol"]
    assert merged["entities"][0].description == "foreign minister"
    assert merged["dates"] == [DatedEvent(date="2022-03-10", event="Talks")]
    assert merged["quotes"] == [Quote(speaker="Kuleba", text="Ukraine has not surrendered.")]


def test_merge_details_keeps_the_most_recurring_when_over_the_cap() -> None:
    parts = [
        SummaryDraft(
            **draft(
                entities=[
                    {"name": "Kyiv", "type": "location", "description": ""},
                    {"name": f"Only-{i}", "type": "other", "description": ""},
                ]
            )
        )
        for i in range(5)
    ]
    merged = pipeline.merge_details(parts, month_first=False, max_items=3)
    names = [e.name for e in merged["entities"]]
    assert names[0] == "Kyiv" and len(names) == 3
    assert isinstance(merged["entities"][0], Entity)


class SlowShuffledLLM(FakeLLM):
    """Answers translation chunks after random delays, to prove order survives concurrency."""

    def __init__(self) -> None:
        super().__init__(context_window=700)
        self.in_flight = 0
        self.peak = 0
        self.lock = threading.Lock()

    def complete(self, request: ChatRequest) -> ChatResponse:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(random.uniform(0.0, 0.02))
        paragraphs = request.messages[1]["content"].split("<article>")[1].split("</article>")[0]
        items = [p.split("] ", 1)[1].strip() for p in paragraphs.strip().split("\n\n")]
        with self.lock:
            self.in_flight -= 1
            self.requests.append(request)
        return ChatResponse(text=json.dumps({"paragraphs": [f"T({i})" for i in items]}))


def test_translation_keeps_every_paragraph_once_in_order_under_concurrency() -> None:
    fake = SlowShuffledLLM()
    paragraphs = [f"Paragraph number {i} says something." for i in range(60)]
    result = pipeline.translate(
        "\n\n".join(paragraphs), Job(target_language="fr", model=MODEL, client=fake, concurrency=8)
    )
    assert result.paragraphs == [f"T({p})" for p in paragraphs]
    assert result.meta.chunks == len(fake.requests) > 1
    assert 1 < fake.peak <= 8


def test_models_that_serve_one_request_at_a_time_get_one() -> None:
    from summarizer import backends

    def concurrency(model: str) -> int:
        traits = backends.traits(backends.Connection(model))
        job = Job(FakeLLM(), model, "en", traits=traits, concurrency=8)
        return job.effective_concurrency

    assert concurrency("local/smollm2") == 1
    assert concurrency("openai/gpt-4o-mini") == 8


def test_an_overlong_paragraph_is_split_by_sentence_and_joined_back() -> None:
    fake = FakeLLM(context_window=700)
    long_paragraph = " ".join(f"Sentence {i} is here." for i in range(120))
    result = pipeline.translate(
        f"Short one.\n\n{long_paragraph}\n\nShort two.",
        Job(target_language="de", model=MODEL, client=fake),
    )
    assert len(result.paragraphs) == 3
    assert len(fake.requests) > 2  # the long paragraph needed several requests
    assert all(fits(r, fake) for r in fake.requests)


def test_progress_is_reported_per_chunk() -> None:
    events: list[Event] = []
    pipeline.summarize(
        long_article(40),
        Job(
            target_language="en",
            model=MODEL,
            client=FakeLLM(context_window=2000),
            on_event=events.append,
        ),
    )
    progress = [e for e in events if isinstance(e, Progress)]
    summarize_events = [e for e in progress if e.phase == "summarize"]
    total = summarize_events[0].total
    assert [e.done for e in summarize_events] == list(range(total + 1))
    assert any(e.phase.startswith("combine") for e in progress)


def test_meta_counts_retries_and_their_tokens() -> None:
    fake = FakeLLM(strict=True).enqueue("not json at all", draft())
    result = pipeline.summarize(
        "A short article about a vote.", Job(target_language="en", model=MODEL, client=fake)
    )
    assert result.meta.calls == 2
    assert result.meta.retries == 1
    assert result.meta.usage.input_tokens == 20


def test_a_chunk_the_tokenizer_counts_over_budget_is_split_again() -> None:
    # A tokenizer whose count of joined text exceeds the sum of its parts (as real BPE
    # tokenizers sometimes do at boundaries): one extra token per 100 characters.
    def count(text: str) -> int:
        return len(text.split()) + len(text) // 100

    text = "\n".join(f"line {i} has five words." for i in range(400))
    chunks = pipeline.split_by_tokens(text, max_tokens=100, count_tokens=count)
    assert all(count(chunk) <= 100 for chunk in chunks)
    assert " ".join(chunks).split() == text.split()  # nothing lost, nothing repeated
