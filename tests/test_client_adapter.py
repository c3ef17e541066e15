"""client.py's adapter, through real litellm response objects built by ``mock_response=``.

Nothing leaves the process: ``litellm.completion`` is wrapped to add ``mock_response``, so
litellm builds (or raises) exactly what a provider call would, and LiteLLMClient parses it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from summarizer.errors import ConfigError, ContextOverflowError, ProviderError
from summarizer.llm import ChatRequest
from tests.fakes import draft

litellm = pytest.importorskip("litellm")
client_module = pytest.importorskip("summarizer.client")

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Set ``mocked["response"]``; every litellm.completion call answers with it."""
    state: dict[str, Any] = {"response": "", "calls": []}
    real = litellm.completion

    def completion(**kwargs: Any) -> Any:
        state["calls"].append(kwargs)
        return real(**kwargs, mock_response=state["response"])

    monkeypatch.setattr(litellm, "completion", completion)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    return state


def client(**kwargs: Any) -> Any:
    return client_module.LiteLLMClient(retries=0, sleep=lambda seconds: None, **kwargs)


def request(model: str = "openai/gpt-4o-mini", schema: Any = SCHEMA) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        task="summarize",
        response_schema=schema,
        schema_name="summarize",
        max_tokens=123,
    )


def test_a_response_is_parsed_into_text_usage_cost_and_finish_reason(
    mocked: dict[str, Any],
) -> None:
    mocked["response"] = json.dumps(draft())

    response = client().complete(request())

    assert json.loads(response.text) == draft()
    assert response.finish_reason == "stop"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.cost_usd is not None and response.cost_usd > 0  # litellm knows gpt-4o-mini
    assert response.latency_s >= 0


def test_the_request_carries_messages_schema_and_limits(mocked: dict[str, Any]) -> None:
    mocked["response"] = "{}"

    client().complete(request())

    (sent,) = mocked["calls"]
    assert sent["model"] == "openai/gpt-4o-mini"
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["max_tokens"] == 123
    assert sent["temperature"] == 0.0
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == SCHEMA
    assert sent["response_format"]["json_schema"]["name"] == "summarize"


def test_no_schema_means_no_response_format(mocked: dict[str, Any]) -> None:
    mocked["response"] = "plain text"

    assert client().complete(request(schema=None)).text == "plain text"
    assert "response_format" not in mocked["calls"][0]


def test_api_base_is_passed_and_a_keyless_server_gets_a_placeholder_key(
    mocked: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    mocked["response"] = "{}"

    client(api_base="http://127.0.0.1:9/v1").complete(request(model="openai/served"))

    (sent,) = mocked["calls"]
    assert sent["api_base"] == "http://127.0.0.1:9/v1"
    assert sent["api_key"]


def test_an_unknown_price_is_null_not_zero(mocked: dict[str, Any]) -> None:
    mocked["response"] = "{}"

    response = client(api_base="http://127.0.0.1:9/v1").complete(
        request(model="openai/no-such-priced-model")
    )

    assert response.cost_usd is None


@pytest.mark.parametrize(
    ("error", "ours", "words"),
    [
        (
            lambda: litellm.AuthenticationError("bad key", "openai", "openai/gpt-4o-mini"),
            ProviderError,
            "API key",
        ),
        (
            lambda: litellm.NotFoundError("no model", "openai/gpt-4o-mini", "openai"),
            ProviderError,
            "not found",
        ),
        (
            lambda: litellm.ContextWindowExceededError("too long", "openai/gpt-4o-mini", "openai"),
            ContextOverflowError,
            "context window",
        ),
    ],
)
def test_litellm_errors_become_ours(
    mocked: dict[str, Any], error: Any, ours: type[Exception], words: str
) -> None:
    mocked["response"] = error()

    with pytest.raises(ours) as caught:
        client().complete(request())

    assert words in str(caught.value)
    assert caught.value.__cause__ is not None  # raised from litellm's


def test_local_models_count_with_their_own_tokenizer() -> None:
    local_client = client()

    assert local_client.context_window("local/smollm2") == client_module.local.DEFAULT_N_CTX
    words = local_client.count_tokens("local/smollm2", "Perundingan damai di Antalya")
    assert 4 <= words <= 20


def test_remote_models_count_offline_and_know_their_window() -> None:
    remote = client()

    assert remote.count_tokens("openai/gpt-4o-mini", "hello world") == 2
    assert remote.context_window("openai/gpt-4o-mini") >= 100_000
    assert remote.context_window("openai/unknown-model") == client_module.FALLBACK_CONTEXT_WINDOW


def test_check_model_accepts_a_self_hosted_server_without_a_key() -> None:
    client(api_base="http://127.0.0.1:9/v1").check_model("openai/served")


def test_check_model_accepts_ollama_without_any_environment() -> None:
    client().check_model("ollama/qwen2.5:7b")


def test_check_model_names_the_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        client().check_model("anthropic/claude-3-5-haiku-latest")

    assert "ANTHROPIC_API_KEY" in (caught.value.hint or "")
