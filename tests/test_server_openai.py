"""``POST /v1/chat/completions`` with the real ``openai`` SDK, against a live server on
loopback with keys on and ``FakeLLM`` as the model: what a chat client (Open WebUI,
LibreChat, simonw/llm) sees."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI

from summarizer.errors import ProviderError
from summarizer.events import ChunkDone
from summarizer.llm import ChatRequest, ChatResponse
from summarizer.schema import Summary, Translation, Usage
from summarizer.server import create_app
from summarizer.server_access import KeyRing, Limits
from summarizer.server_openai import ChatError, ChatErrorBody, _Reply, _Transcript, parse_chat_model
from summarizer.server_wire import ErrorBody
from summarizer.tasks import Task
from tests.fakes import FakeLLM, draft
from tests.test_server import OTHER_MODEL, TIMEOUT, BlockingLLM, make_summarizer, running

KEY = "chat-key-0123456789abcdef"
SYSTEM = {"role": "system", "content": "You are a helpful pirate. Always answer in rhymes."}


class NumberingLLM(FakeLLM):
    """Translates the article's n-th paragraph (counting across calls) as "Paragraphe n.",
    so that the order paragraphs arrive in shows; summaries as ``FakeLLM`` does."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.translated = 0

    def complete(self, request: ChatRequest) -> ChatResponse:
        if request.task != "translate" or self.replies:
            return super().complete(request)
        self.requests.append(request)
        count = request.response_schema["properties"]["paragraphs"]["minItems"]  # type: ignore[index]
        first, self.translated = self.translated + 1, self.translated + count
        paragraphs = [f"Paragraphe {n}." for n in range(first, first + count)]
        text = json.dumps({"paragraphs": paragraphs})
        return ChatResponse(text=text, usage=Usage(input_tokens=10, output_tokens=5))


def chat_app(fake: FakeLLM, limits: Limits | None = None, **settings: Any) -> FastAPI:
    """The service with one key, allowing ``OTHER_MODEL`` as well as the default."""
    return create_app(
        make_summarizer(fake, **settings),
        keys=KeyRing([f"chat:{KEY}"], source="test"),
        limits=limits or Limits(requests_per_minute=0, tokens_per_day=0),
        allowed_models=[OTHER_MODEL],
        preload=False,
    )


@pytest.fixture
def fake() -> NumberingLLM:
    # A small window: the seed article takes several translate calls.
    return NumberingLLM(context_window=700)


@pytest.fixture
def url(fake: NumberingLLM) -> Iterator[str]:
    with running(chat_app(fake)) as base:
        yield base


@contextmanager
def sdk(url: str, key: str = KEY) -> Iterator[openai.OpenAI]:
    """The official client, pointed at ``url``; it never retries."""
    with openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture
def chat(url: str) -> Iterator[openai.OpenAI]:
    with sdk(url) as client:
        yield client


def ask(chat: openai.OpenAI, article: str, model: str, **options: Any) -> Any:
    """A completion, or with ``stream=True`` its deltas and chunks (the stream read)."""
    messages = [SYSTEM, {"role": "user", "content": article}]
    answer = chat.chat.completions.create(model=model, messages=messages, **options)
    return deltas(answer) if options.get("stream") else answer


def deltas(stream: Any) -> tuple[list[str], list[Any]]:
    """The content deltas of a streamed answer, and all its chunks."""
    chunks = list(stream)  # ends at [DONE]
    texts = [c.choices[0].delta.content for c in chunks if c.choices]
    return [text for text in texts if text], chunks


# -- answers ----------------------------------------------------------------------------------


def test_summary_is_the_markdown_with_the_usage(
    chat: openai.OpenAI, fake: NumberingLLM, seed_article: str
) -> None:
    completion = ask(chat, seed_article, "summarizer-en", temperature=0.2, top_p=1, user="u", n=1)
    content = completion.choices[0].message.content
    assert content.startswith(f"# {draft()['title']}\n")
    assert "## Key points" in content
    assert all(point in content for point in draft()["key_points"])
    assert completion.model == "summarizer-en" and completion.id.startswith("chatcmpl-")
    assert completion.choices[0].finish_reason == "stop"
    calls = len(fake.requests)
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        10 * calls,
        5 * calls,
    )
    assert completion.usage.total_tokens == 15 * calls
    # The chat UI's system prompt never reaches the model; the language instruction does.
    sent = json.dumps([request.messages for request in fake.requests])
    assert "pirate" not in sent and "English" in sent


def test_json_response_format_gives_the_summary_json(
    chat: openai.OpenAI, seed_article: str
) -> None:
    completion = ask(chat, seed_article, "summarizer-fr", response_format={"type": "json_object"})
    summary = Summary.model_validate_json(completion.choices[0].message.content)
    assert summary.target_language == "fr" and summary.title == draft()["title"]
    assert completion.usage.prompt_tokens == summary.meta.usage.input_tokens
    assert completion.usage.completion_tokens == summary.meta.usage.output_tokens
    assert completion.system_fingerprint == f"fp_{summary.meta.prompt_sha256[:16]}"


def test_json_schema_response_format_gives_the_translation_json(
    chat: openai.OpenAI, seed_article: str
) -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    completion = ask(chat, seed_article, "translator-pt-BR", response_format=schema)
    translation = Translation.model_validate_json(completion.choices[0].message.content)
    assert translation.target_language == "pt"
    assert translation.paragraphs[0] == "Paragraphe 1."
    texts, _ = ask(chat, seed_article, "translator-pt", response_format=schema, stream=True)
    streamed = Translation.model_validate_json("".join(texts))  # whole, at the end
    assert len(streamed.paragraphs) == len(translation.paragraphs)


def test_content_as_a_list_of_text_parts(
    chat: openai.OpenAI, fake: NumberingLLM, seed_article: str
) -> None:
    head, _, tail = seed_article.partition("\n\n")
    parts = [{"type": "text", "text": head}, {"type": "text", "text": tail}]
    completion = chat.chat.completions.create(
        model="summarizer-en", messages=[{"role": "user", "content": parts}]
    )
    assert completion.choices[0].message.content.startswith("# ")
    sent = json.dumps([request.messages for request in fake.requests], ensure_ascii=False)
    assert "Perundingan damai" in sent  # from the first part
    assert " ".join(tail.split()[:6]) in sent  # and from the second


def test_a_model_after_the_at_sign_runs_when_allowed(
    chat: openai.OpenAI, fake: NumberingLLM, seed_article: str
) -> None:
    completion = ask(chat, seed_article, f"summarizer-en@{OTHER_MODEL}")
    assert completion.model == f"summarizer-en@{OTHER_MODEL}"
    assert {request.model for request in fake.requests} == {OTHER_MODEL}
    with pytest.raises(openai.PermissionDeniedError) as refused:
        ask(chat, seed_article, "summarizer-en@openai/gpt-4o")
    assert error_of(refused.value).error == "model_not_allowed"


# -- streams ----------------------------------------------------------------------------------


def test_streamed_translation_arrives_paragraph_by_paragraph_in_order(
    chat: openai.OpenAI, fake: NumberingLLM, seed_article: str
) -> None:
    whole = ask(chat, seed_article, "translator-fr").choices[0].message.content
    calls, fake.translated = len(fake.requests), 0
    texts, chunks = ask(chat, seed_article, "translator-fr", stream=True)
    assert len(fake.requests) - calls == calls > 1  # several chunks, translated one by one
    assert "".join(texts) == whole
    # The fake's translations fail the checks: the note comes after the paragraphs.
    assert whole.index("Paragraphe 1.") < whole.index("Failed checks") < whole.index("---")
    numbers = [int(text.split()[-1].rstrip(".")) for text in texts if "Paragraphe" in text]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) > 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {chunk.id for chunk in chunks} == {chunks[0].id}
    assert "French" in fake.requests[-1].messages[0]["content"]


def test_streamed_summary_is_the_same_markdown(chat: openai.OpenAI, seed_article: str) -> None:
    whole = ask(chat, seed_article, "summarizer-id").choices[0].message.content
    texts, chunks = ask(chat, seed_article, "summarizer-id", stream=True)
    assert len(texts) > 1 and "".join(texts) == whole
    assert [chunk.choices[0].finish_reason for chunk in chunks][-1] == "stop"


def test_stream_options_include_usage_adds_a_usage_chunk(
    chat: openai.OpenAI, fake: NumberingLLM, seed_article: str
) -> None:
    options = {"include_usage": True}
    _, chunks = ask(chat, seed_article, "translator-en", stream=True, stream_options=options)
    last = chunks[-1]
    assert last.choices == []
    calls = len(fake.requests)
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (10 * calls, 5 * calls)
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_a_failure_once_streaming_is_an_error_chunk(seed_article: str) -> None:
    failure = ProviderError("upstream said: 503 at internal-host-7", model="m", status=503)
    with (
        running(chat_app(NumberingLLM().enqueue(failure))) as url,
        sdk(url) as chat,
        pytest.raises(openai.APIError) as failed,
    ):
        ask(chat, seed_article, "translator-fr", stream=True)
    assert failed.value.message == "The provider of m failed (HTTP 503)."
    assert ChatError.model_validate(failed.value.body).type == "provider_error"
    assert "internal-host" not in str(failed.value.body)


def test_a_stream_past_the_timeout_ends_with_a_timeout_error(seed_article: str) -> None:
    fake = BlockingLLM()
    app = chat_app(fake, timeout=1.5)
    with running(app) as url, sdk(url) as chat:
        with pytest.raises(openai.APIError) as failed:
            ask(chat, seed_article, "translator-fr", stream=True)
        fake.release.set()
        app.state.service.executor.shutdown(wait=True)
    assert ChatError.model_validate(failed.value.body).type == "timeout"
    assert len(fake.requests) <= 1  # cancelled: no call after the one it was stuck in


def test_translated_chunks_finishing_out_of_order_are_sent_in_order() -> None:
    transcript = _Transcript(_Reply(model="translator-en"))
    second = transcript.lines(ChunkDone(Task.TRANSLATE, chunk=1, index=1, paragraphs=("b",)))
    first = transcript.lines(ChunkDone(Task.TRANSLATE, chunk=2, index=0, paragraphs=("a",)))
    assert second == []
    sent = [json.loads(line.removeprefix("data: "))["choices"][0]["delta"] for line in first]
    assert sent == [{"content": "a"}, {"content": "\n\nb"}]


# -- the model list ---------------------------------------------------------------------------


def test_the_model_list_has_the_chat_models(chat: openai.OpenAI) -> None:
    models = {model.id: model for model in chat.models.list()}
    assert {"summarizer-en", "translator-fr", "summarizer-id", "translator-ja"} <= set(models)
    assert models["summarizer-en"].owned_by == "summarizer"
    assert models[OTHER_MODEL].owned_by == "openai"
    first = next(iter(models))
    assert not first.startswith(("summarizer-", "translator-"))  # the server's models first


# -- refusals ---------------------------------------------------------------------------------


def error_of(exc: openai.APIStatusError) -> ErrorBody:
    """The service's error, nested as OpenAI's clients read it: the SDK's own message is
    the service's message (``NestedErrors``)."""
    nested = ChatErrorBody.model_validate(exc.response.json()).error
    assert exc.message.endswith(f" - {nested.message}"), "the SDK shows the service's message"
    assert nested.code == nested.type
    return ErrorBody(
        error=nested.type, message=nested.message, hint=nested.hint, details=nested.details
    )


def test_a_wrong_key_or_none_is_refused_before_any_model_call(
    url: str, fake: NumberingLLM, seed_article: str
) -> None:
    with (
        sdk(url, key="not-the-key-0123456789") as chat,
        pytest.raises(openai.AuthenticationError) as refused,
    ):
        ask(chat, seed_article, "translator-fr", stream=True)
    assert error_of(refused.value).error == "invalid_api_key"
    body = {"model": "summarizer-en", "messages": [{"role": "user", "content": seed_article}]}
    response = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=TIMEOUT)
    assert response.status_code == 401
    missing = ChatErrorBody.model_validate(response.json()).error
    assert missing.type == "missing_api_key"
    assert "'Bearer <your key>'" in (missing.hint or "")  # said, not redacted as a key
    assert fake.requests == []


def test_an_unknown_language_is_the_same_422_as_elsewhere(
    url: str, chat: openai.OpenAI, fake: NumberingLLM, seed_article: str
) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        ask(chat, seed_article, "summarizer-zz", stream=True)
    elsewhere = httpx.post(
        f"{url}/v1/summaries",
        json={"text": seed_article, "target_language": "zz"},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=TIMEOUT,
    )
    error = error_of(refused.value)
    assert error == ErrorBody.model_validate(elsewhere.json())
    assert error.message == "Unknown language 'zz'." and "ISO 639-1" in (error.hint or "")
    assert fake.requests == []


OUTSIDE_THE_SCHEME = ["gpt-4o", "summarizer", "summarizer-", "writer-en", OTHER_MODEL]


def test_a_model_outside_the_scheme_says_what_to_name(
    chat: openai.OpenAI, fake: NumberingLLM, seed_article: str
) -> None:
    for model in OUTSIDE_THE_SCHEME:  # one server for all: each is refused at once
        with pytest.raises(openai.BadRequestError) as refused:
            ask(chat, seed_article, model)
        error = error_of(refused.value)
        assert error.error == "invalid_model", model
        assert model in error.message and "summarizer-<lang>" in (error.hint or ""), model
    assert fake.requests == []


MISTAKES: list[tuple[str, dict[str, Any], int, str]] = [
    ("no user message", {"messages": [SYSTEM]}, 422, "invalid_input"),
    ("no messages", {"messages": []}, 422, "invalid_input"),
    ("empty content", {"messages": [{"role": "user", "content": " \n"}]}, 422, "invalid_input"),
    (
        "image only",
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
        422,
        "invalid_input",
    ),
    ("n=2", {"n": 2}, 422, "invalid_request"),
    ("unknown role", {"messages": [{"role": "robot", "content": "hi"}]}, 422, "invalid_request"),
    ("blank after @", {"model": "summarizer-en@"}, 400, "invalid_model"),
]


@pytest.mark.parametrize(
    ("case", "change", "status", "kind"), MISTAKES, ids=[m[0] for m in MISTAKES]
)
def test_request_mistakes_are_clear_4xx(
    url: str, fake: NumberingLLM, case: str, change: dict[str, Any], status: int, kind: str
) -> None:
    body = {"model": "summarizer-en", "messages": [{"role": "user", "content": "Halo."}]}
    response = httpx.post(
        f"{url}/v1/chat/completions",
        json={**body, **change},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == status, response.text
    assert ChatErrorBody.model_validate(response.json()).error.type == kind
    assert fake.requests == []


def test_a_spent_budget_is_a_429_before_the_stream(seed_article: str) -> None:
    fake = NumberingLLM()
    limits = Limits(requests_per_minute=0, tokens_per_day=100)
    with (
        running(chat_app(fake, limits)) as url,
        sdk(url) as chat,
        pytest.raises(openai.RateLimitError) as refused,
    ):
        ask(chat, seed_article, "translator-fr", stream=True)
    assert error_of(refused.value).error == "token_budget_spent"
    assert fake.requests == []


def test_the_chat_model_names() -> None:
    chosen = parse_chat_model("translator-pt-BR@vertex_ai/claude-3@20240620")
    assert (chosen.task, chosen.language, chosen.model) == (
        Task.TRANSLATE,
        "pt",
        "vertex_ai/claude-3@20240620",
    )
    assert parse_chat_model("Summarizer-French").language == "fr"


# -- fuzzed from the OpenAPI document ---------------------------------------------------------


# Indonesian, like the seed article: a new source language costs the checks seconds to load
# its dictionary, and random text would be a new one nearly every time.
LEAD = "Perundingan damai antara Rusia dan Ukraina di Antalya berakhir tanpa kemajuan."


def as_article(body: dict[str, Any]) -> dict[str, Any]:
    """A user message with the body's last message's content, random, after a sentence of
    text, so that every valid body reaches the model with a random article."""
    content = body["messages"][-1].get("content") if body["messages"] else None
    if isinstance(content, list):
        return {"role": "user", "content": [{"type": "text", "text": LEAD}, *content]}
    return {"role": "user", "content": f"{LEAD}\n\n{content or ''}"}


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fuzzed_from_openapi_never_a_5xx(mode: str) -> None:
    """As ``tests.test_server`` fuzzes the other endpoints, with the key on. Random model
    names select no task and random roles are seldom user's, so valid bodies name a chat
    model and end with a user message (``as_article``)."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import positive_data_acceptance

    fake = FakeLLM()
    config = schemathesis.config.SchemathesisConfig.from_dict(
        {"auth": {"openapi": {"HTTPBearer": {"bearer": KEY}}}}
    )
    with running(chat_app(fake)) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
        operation = schema["/v1/chat/completions"]["POST"]

        @given(case=operation.as_strategy(schemathesis.GenerationMode(mode)))
        @settings(
            max_examples=10,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            if mode == "positive":
                case.body["model"] = "translator-en" if case.body.get("stream") else "summarizer-en"
                case.body["messages"] = [*case.body["messages"], as_article(case.body)]
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        fuzz()
    if mode == "positive":
        assert fake.requests, "no fuzzed request reached the model"
