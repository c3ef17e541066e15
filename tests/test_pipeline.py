"""pipeline.py through FakeLLM: what is sent, what is validated, what comes back."""

from __future__ import annotations

import json

import pytest

from summarizer import pipeline
from summarizer.errors import InputError, ModelOutputError
from summarizer.llm import ChatRequest, ChatResponse
from summarizer.pipeline import Job
from summarizer.schema import Summary, Usage
from tests.fakes import FakeLLM, draft

MODEL = "openai/test-model"


def run_summary(fake: FakeLLM, text: str, lang: str = "en", model: str = MODEL) -> Summary:
    return pipeline.summarize(text, Job(target_language=lang, model=model, client=fake))


def long_text(paragraphs: int, last: str = "") -> str:
    body = [
        f"Paragraph {i}: " + " ".join(f"word{i}x{j}" for j in range(60)) + "."
        for i in range(paragraphs)
    ]
    return "\n\n".join([*body, last] if last else body)


def test_target_language_instruction_is_in_the_system_message(
    fake_llm: FakeLLM, seed_article: str
) -> None:
    run_summary(fake_llm, seed_article, lang="fr")

    (request,) = fake_llm.requests
    system, user = request.messages
    assert system["role"] == "system" and user["role"] == "user"
    assert "Write every field of your answer in French" in system["content"]
    assert "Indonesian" in user["content"]
    assert request.response_schema is not None
    assert set(request.response_schema["properties"]) >= {"title", "summary", "entities"}


def test_noise_is_removed_before_the_model_sees_the_article(
    fake_llm: FakeLLM, seed_article: str
) -> None:
    summary = run_summary(fake_llm, seed_article)

    sent = fake_llm.requests[0].messages[1]["content"]
    assert "Baca juga" not in sent
    assert "TRIBUNNEWSSULTRA.COM -" not in sent
    assert "Perundingan damai putaran ketiga" in sent
    assert summary.meta.removed_noise[0] == "TRIBUNNEWSSULTRA.COM -"
    assert len(summary.meta.removed_noise) == 4
    assert summary.source_language == "id"
    assert summary.target_language == "en"


def test_short_input_is_one_call(fake_llm: FakeLLM, seed_article: str) -> None:
    summary = run_summary(fake_llm, seed_article)

    assert [r.task for r in fake_llm.requests] == ["summarize"]
    assert summary.meta.chunks == 1 and summary.meta.calls == 1


def test_long_input_is_one_call_per_chunk_plus_combine() -> None:
    fake = FakeLLM(context_window=3400)
    last = "Finally, the harbour of Zebulonville reopens on 2 May 2024."
    summary = run_summary(fake, long_text(40, last=last))

    tasks = [r.task for r in fake.requests]
    chunks = summary.meta.chunks
    assert chunks >= 2
    assert tasks[:chunks] == ["summarize"] * chunks
    assert tasks[chunks:] and set(tasks[chunks:]) == {"combine"}
    assert summary.meta.calls == len(tasks)
    # Every request fits the window it was planned for.
    for request in fake.requests:
        prompt = sum(len(m["content"].split()) + 8 for m in request.messages)
        assert prompt + request.max_tokens <= fake.window
    # Nothing was dropped: the last words reached the last chunk.
    assert "Zebulonville" in fake.requests[chunks - 1].messages[1]["content"]
    assert "part 1 of" in fake.requests[0].messages[1]["content"]


def test_a_fact_only_in_the_last_chunk_reaches_the_combine_input() -> None:
    fake = FakeLLM(context_window=3400)
    last = "Finally, the harbour of Zebulonville reopens on 2 May 2024."

    def complete(request: ChatRequest) -> ChatResponse:
        fake.requests.append(request)
        user = request.messages[1]["content"]
        if request.task == "summarize" and "Zebulonville" in user:
            reply = draft(key_points=["The harbour of Zebulonville reopens on 2 May 2024."])
        elif request.task == "summarize":
            reply = draft()
        else:
            reply = {k: v for k, v in draft().items() if k in ("title", "summary", "key_points")}
        return ChatResponse(text=json.dumps(reply), usage=Usage(input_tokens=1, output_tokens=1))

    fake.complete = complete  # type: ignore[method-assign]
    run_summary(fake, long_text(40, last=last))

    combines = [r for r in fake.requests if r.task == "combine"]
    assert combines
    assert "Zebulonville" in combines[-1].messages[1]["content"]


def test_invalid_answers_are_re_asked_with_the_validation_errors(
    seed_article: str,
) -> None:
    fake = FakeLLM(strict=True)
    fake.enqueue(
        "Sure! Here is your summary: the talks failed.",
        draft(entities=[{"name": "Kuleba", "type": "minister"}]),
        draft(title="Talks in Antalya end without progress"),
    )

    summary = run_summary(fake, seed_article)

    assert summary.title == "Talks in Antalya end without progress"
    assert len(fake.requests) == 3
    first_repair = fake.requests[1].messages
    assert first_repair[-2] == {
        "role": "assistant",
        "content": "Sure! Here is your summary: the talks failed.",
    }
    assert "no JSON object" in first_repair[-1]["content"]
    second_repair = fake.requests[2].messages[-1]["content"]
    assert "entities.0.type" in second_repair
    # The re-ask keeps the original instructions and article.
    assert fake.requests[2].messages[:2] == fake.requests[0].messages
    assert summary.meta.retries == 2
    assert summary.meta.calls == 3
    assert "repair/user.j2" in summary.meta.templates


def test_model_output_error_after_the_retries(seed_article: str) -> None:
    fake = FakeLLM(strict=True)
    fake.enqueue("not json", "{broken", json.dumps({"title": "only a title"}))

    with pytest.raises(ModelOutputError) as caught:
        run_summary(fake, seed_article)

    assert len(fake.requests) == pipeline.MAX_REPAIRS + 1
    assert caught.value.exit_code == 6
    assert caught.value.model == MODEL
    assert "only a title" in caught.value.last_output
    assert caught.value.hint and "--model" in caught.value.hint


def test_an_answer_cut_off_at_the_token_limit_is_re_asked(seed_article: str) -> None:
    fake = FakeLLM(strict=True)
    # Valid JSON, but the provider says it stopped at max_tokens: it cannot be trusted whole.
    fake.enqueue(
        ChatResponse(text=json.dumps(draft(title="Cut")), finish_reason="length"),
        draft(title="Whole"),
    )

    summary = run_summary(fake, seed_article)

    assert summary.title == "Whole"
    assert "cut off" in fake.requests[1].messages[-1]["content"]
    assert summary.meta.retries == 1


def test_meta_records_model_templates_hash_usage_calls_chunks(seed_article: str) -> None:
    fake = FakeLLM(strict=True)
    fake.enqueue(
        ChatResponse(text="{}", usage=Usage(input_tokens=100, output_tokens=7), cost_usd=0.5),
        ChatResponse(
            text=json.dumps(draft()), usage=Usage(input_tokens=120, output_tokens=30), cost_usd=0.25
        ),
    )

    meta = run_summary(fake, seed_article).meta

    assert meta.model == MODEL
    assert meta.templates == ["summarize/system.j2", "summarize/user.j2", "repair/user.j2"]
    assert meta.usage == Usage(input_tokens=220, output_tokens=37)
    assert meta.cost_usd == pytest.approx(0.75)
    assert (meta.calls, meta.chunks, meta.retries) == (2, 1, 1)
    assert meta.latency_s >= 0
    assert len(meta.prompt_sha256) == 64

    # Same input, same messages: same hash. Another target language: another hash.
    assert (
        run_summary(FakeLLM(), seed_article).meta.prompt_sha256
        == run_summary(FakeLLM(), seed_article).meta.prompt_sha256
    )
    assert (
        run_summary(FakeLLM(), seed_article, lang="de").meta.prompt_sha256
        != run_summary(FakeLLM(), seed_article).meta.prompt_sha256
    )


def test_cost_is_null_when_any_call_has_no_price(seed_article: str) -> None:
    fake = FakeLLM(strict=True)
    fake.enqueue(ChatResponse(text="{}", cost_usd=0.5), ChatResponse(text=json.dumps(draft())))

    assert run_summary(fake, seed_article).meta.cost_usd is None


def test_dates_are_normalised_to_iso(fake_llm: FakeLLM, seed_article: str) -> None:
    fake_llm.enqueue(
        draft(
            dates=[
                {"date": "Kamis (10/3/2022)", "event": "Talks in Antalya"},
                {"date": "24 Februari 2022", "event": "Invasion began"},
                {"date": "March 2022", "event": "Month of the talks"},
                {"date": "sometime", "event": "Unclear"},
            ]
        )
    )

    summary = run_summary(fake_llm, seed_article)

    assert [d.date for d in summary.dates] == ["2022-03-10", "2022-02-24", "2022-03", "sometime"]


def test_repeats_from_small_models_are_collapsed(fake_llm: FakeLLM, seed_article: str) -> None:
    kuleba = {"name": "Dmytro Kuleba", "type": "person", "description": "minister"}
    fake_llm.enqueue(
        draft(
            key_points=["No ceasefire.", "No ceasefire.", " No ceasefire. "],
            entities=[kuleba, {**kuleba, "name": "dmytro  KULEBA"}],
        )
    )

    summary = run_summary(fake_llm, seed_article)

    assert summary.key_points == ["No ceasefire."]
    assert [e.name for e in summary.entities] == ["Dmytro Kuleba"]


def test_models_whose_backend_caps_the_schema_get_a_capped_schema(
    fake_llm: FakeLLM, seed_article: str
) -> None:
    from summarizer import backends, local

    traits = backends.traits(backends.Connection("local/smollm2"))
    pipeline.summarize(
        seed_article, Job(fake_llm, "local/smollm2", target_language="en", traits=traits)
    )

    schema = fake_llm.requests[0].response_schema
    assert schema is not None
    assert schema["properties"]["summary"]["maxLength"] == local.LOCAL_MAX_LENGTH


@pytest.mark.parametrize("raw", ["", "   \n\n  ", "Baca juga: hanya tautan\n"])
def test_nothing_to_summarise_is_an_input_error(fake_llm: FakeLLM, raw: str) -> None:
    with pytest.raises(InputError):
        run_summary(fake_llm, raw)
    assert fake_llm.requests == []


# -- translation ---------------------------------------------------------------------------


def test_translation_keeps_paragraph_count_and_order(seed_article: str) -> None:
    fake = FakeLLM(context_window=1200)

    def complete(request: ChatRequest) -> ChatResponse:
        fake.requests.append(request)
        user = request.messages[1]["content"]
        count = request.response_schema["properties"]["paragraphs"]["minItems"]  # type: ignore[index]
        # Echo each numbered paragraph's first word, so order is checkable.
        lines = [line for line in user.splitlines() if line.startswith("[")]
        assert len(lines) == count
        out = ["EN " + line.split("] ", 1)[1].split()[0] for line in lines]
        return ChatResponse(text=json.dumps({"paragraphs": out}))

    fake.complete = complete  # type: ignore[method-assign]
    translation = pipeline.translate(
        seed_article, Job(target_language="en", model=MODEL, client=fake)
    )

    from summarizer.clean import clean_article

    source = clean_article(seed_article).paragraphs
    assert len(translation.paragraphs) == len(source) == 15
    assert translation.paragraphs == ["EN " + p.split()[0] for p in source]
    assert translation.meta.chunks == len(fake.requests) > 1
    assert translation.source_language == "id"


def test_translation_re_asks_when_the_paragraph_count_is_wrong(seed_article: str) -> None:
    fake = FakeLLM(strict=True)
    fake.enqueue(json.dumps({"paragraphs": ["only one"]}))
    fake.enqueue(json.dumps({"paragraphs": [f"p{i}" for i in range(1, 16)]}))

    translation = pipeline.translate(
        seed_article, Job(target_language="en", model=MODEL, client=fake)
    )

    assert "15" in fake.requests[1].messages[-1]["content"]
    assert translation.paragraphs[0] == "p1" and len(translation.paragraphs) == 15
    assert translation.meta.retries == 1


def test_a_long_paragraph_is_split_and_rejoined_as_one() -> None:
    fake = FakeLLM(context_window=1200)
    sentences = [f"Sentence {i} says " + " ".join(["word"] * 20) + "." for i in range(30)]
    article = "Short opening paragraph.\n\n" + " ".join(sentences) + "\n\nShort closing paragraph."

    def complete(request: ChatRequest) -> ChatResponse:
        fake.requests.append(request)
        lines = [
            line for line in request.messages[1]["content"].splitlines() if line.startswith("[")
        ]
        out = [f"<{line.split('] ', 1)[1].split()[1]}>" for line in lines]
        return ChatResponse(text=json.dumps({"paragraphs": out}))

    fake.complete = complete  # type: ignore[method-assign]
    translation = pipeline.translate(article, Job(target_language="fr", model=MODEL, client=fake))

    assert len(translation.paragraphs) == 3
    assert translation.paragraphs[0] == "<opening>"
    assert translation.paragraphs[2] == "<closing>"
    middle = translation.paragraphs[1].split(" ")
    assert len(middle) > 1  # translated in pieces
    assert middle == sorted(middle, key=lambda piece: int(piece.strip("<>")))  # in order
    assert middle[0] == "<0>"


def test_meta_names_the_fallback_model_that_answered() -> None:
    fake = FakeLLM(strict=True).enqueue(
        ChatResponse(text=json.dumps(draft()), model="openai/fallback-model")
    )
    result = pipeline.summarize(
        "A short article about a vote.",
        Job(target_language="en", model="openai/primary", client=fake),
    )
    assert result.meta.model == "openai/fallback-model"
