"""LocalClient: the bundled models without litellm, as the CLI uses them for a local model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from summarizer import local, pipeline
from summarizer.errors import ContextOverflowError, ModelNotFoundError, ProviderError
from summarizer.llm import ChatRequest
from summarizer.pipeline import Job
from tests.fakes import draft


class FakeModel:
    """Stands in for a loaded llama.cpp model; records what it was asked."""

    def __init__(self, answer: str | Exception = "") -> None:
        self.answer = answer
        self.calls: list[dict[str, Any]] = []

    def chat(self, messages: Any, **options: Any) -> local.LocalCompletion:
        self.calls.append({"messages": messages, **options})
        if isinstance(self.answer, Exception):
            raise self.answer
        return local.LocalCompletion(self.answer, 120, 30, "stop")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> FakeModel:
    fake = FakeModel(json.dumps(draft()))
    loaded: list[tuple[str, bool]] = []

    def get_model(name: str, *, vocab_only: bool = False) -> FakeModel:
        loaded.append((name, vocab_only))
        return fake

    monkeypatch.setattr(local, "get_model", get_model)
    fake.loaded = loaded  # type: ignore[attr-defined]
    return fake


def test_a_request_reaches_the_model_with_its_schema_and_limits(model: FakeModel) -> None:
    request = ChatRequest(
        model="local/smollm2",
        messages=[{"role": "user", "content": "hi"}],
        task="summarize",
        response_schema={"type": "object"},
        max_tokens=77,
        temperature=0.2,
    )
    answer = local.LocalClient().complete(request)
    assert answer.text == model.answer and answer.cost_usd == 0.0
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (120, 30)
    assert model.calls == [
        {
            "messages": request.messages,
            "json_schema": {"type": "object"},
            "max_tokens": 77,
            "temperature": 0.2,
            "seed": 0,  # the request set none: llama.cpp's fixed default
            "on_token": None,  # nobody asked for progress
        }
    ]
    assert model.loaded == [("smollm2", False)]  # type: ignore[attr-defined]


def test_counting_loads_the_tokenizer_only(model: FakeModel) -> None:
    client = local.LocalClient()
    assert client.count_tokens("local/gemma3", "three words here") == 3
    assert client.context_window("local/gemma3") == local.DEFAULT_N_CTX
    assert model.loaded == [("gemma3", True)]  # type: ignore[attr-defined]


def test_the_pipeline_runs_on_it(model: FakeModel, seed_article: str) -> None:
    summary = pipeline.summarize(
        seed_article, Job(target_language="en", model="local/smollm2", client=local.LocalClient())
    )
    assert summary.title == draft()["title"]
    assert summary.meta.cost_usd == 0.0


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (ValueError("Requested tokens (9000) exceed context window of 8192"), ContextOverflowError),
        (ValueError("something else"), ProviderError),
    ],
)
def test_llama_cpp_refusals_become_our_errors(
    model: FakeModel, failure: Exception, error: type[Exception]
) -> None:
    model.answer = failure
    request = ChatRequest(model="local/smollm2", messages=[], task="summarize")
    with pytest.raises(error):
        local.LocalClient().complete(request)


def test_a_missing_model_file_fails_before_any_call(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        local.LocalClient().check_models(f"local/{tmp_path / 'missing.gguf'}")
