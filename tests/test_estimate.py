"""estimate.py: a dry run's token counts and context windows, without litellm or the network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from summarizer import estimate, local
from summarizer.errors import UsageError
from summarizer.estimate import EstimatingClient
from summarizer.llm import ChatRequest, DryRunClient

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = sorted(ROOT.glob("examples/*.txt")) + sorted(ROOT.glob("evals/articles/*.txt"))


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Each test finds litellm's files anew (some point the module at a fake folder)."""
    caches = (estimate._litellm_folder, estimate._model_map, estimate._encoding)
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


@pytest.fixture
def fake_litellm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A litellm folder holding a small map and no tokenizers."""
    table = {
        "sample_spec": {"max_tokens": "set to max_output_tokens if provider specifies it"},
        "gpt-4o-mini": {"litellm_provider": "openai", "max_input_tokens": 128000},
        "gemini/gemini-x": {"litellm_provider": "gemini", "max_input_tokens": 1048576},
        "claude-y": {"litellm_provider": "anthropic", "max_tokens": 200000},
        "old-model": {"litellm_provider": "openai", "max_input_tokens": None, "max_tokens": 4097},
        "no-window": {"litellm_provider": "openai"},
    }
    (tmp_path / estimate._MAP_FILE).write_text(json.dumps(table), encoding="utf-8")
    monkeypatch.setattr(estimate, "_litellm_folder", lambda: tmp_path)
    return tmp_path


# -- without litellm in the process ------------------------------------------------------------

_IN_A_FRESH_PROCESS = """
import json, sys

def no_network(event, args):
    if event in ("socket.connect", "socket.getaddrinfo"):
        raise RuntimeError(f"network use: {event} {args!r}")

sys.addaudithook(no_network)
from summarizer.estimate import EstimatingClient

client = EstimatingClient()
text = open(sys.argv[1], encoding="utf-8").read()
print(json.dumps({
    "window": client.context_window("openai/gpt-4o-mini"),
    "unknown": client.context_window("openai/served-by-vllm"),
    "tokens": client.count_tokens("openai/gpt-4o-mini", text),
    "other": client.count_tokens("anthropic/claude-3-5-haiku-latest", text),
    "litellm": sorted(name for name in sys.modules if name.split(".")[0] == "litellm"),
    "cache_dir": __import__("os").environ.get("TIKTOKEN_CACHE_DIR"),
}))
"""


def test_a_dry_run_client_needs_neither_litellm_nor_the_network() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", _IN_A_FRESH_PROCESS, str(ARTICLES[0])],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=True,
    )

    seen = json.loads(done.stdout)
    assert seen["litellm"] == []
    assert seen["window"] >= 100_000
    assert seen["unknown"] == estimate.FALLBACK_CONTEXT_WINDOW
    assert 400 < seen["tokens"] < 800  # a 2,300-character article
    assert seen["other"] > seen["tokens"]  # cl100k_base splits Indonesian finer than o200k_base
    assert seen["cache_dir"] is None  # tiktoken's setting is put back


# -- context windows ---------------------------------------------------------------------------


def test_a_model_is_found_with_or_without_its_provider(fake_litellm: Path) -> None:
    client = EstimatingClient()

    assert client.context_window("openai/gpt-4o-mini") == 128000
    assert client.context_window("gpt-4o-mini") == 128000
    assert client.context_window("gemini/gemini-x") == 1048576
    assert client.context_window("anthropic/claude-y") == 200000  # max_tokens when no input cap
    assert client.context_window("openai/old-model") == 4097


def test_an_unknown_model_gets_the_fallback_window(fake_litellm: Path) -> None:
    client = EstimatingClient()

    assert client.context_window("openai/served-by-vllm") == estimate.FALLBACK_CONTEXT_WINDOW
    assert client.context_window("openai/no-window") == estimate.FALLBACK_CONTEXT_WINDOW
    assert client.context_window("openai/sample_spec") == estimate.FALLBACK_CONTEXT_WINDOW
    # Listed, but as another provider's model: a server calling its model so is not it.
    assert client.context_window("openai/claude-y") == estimate.FALLBACK_CONTEXT_WINDOW


def test_the_override_wins_for_provider_models(fake_litellm: Path) -> None:
    client = EstimatingClient(context_window=32_768)

    assert client.context_window("openai/served-by-vllm") == 32_768
    assert client.context_window("openai/gpt-4o-mini") == 32_768
    assert client.context_window("local/smollm2") == local.DEFAULT_N_CTX


def test_a_nonsense_override_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--context-window must be a positive"):
        EstimatingClient(context_window=0)


def test_the_map_is_parsed_once_per_process(fake_litellm: Path) -> None:
    client = EstimatingClient()

    for model in ("openai/gpt-4o-mini", "openai/served", "gemini/gemini-x"):
        client.context_window(model)

    assert estimate._model_map.cache_info().misses == 1


def test_without_litellm_installed_every_window_is_the_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(estimate.importlib.util, "find_spec", lambda name: None)
    client = EstimatingClient()

    assert client.context_window("openai/gpt-4o-mini") == estimate.FALLBACK_CONTEXT_WINDOW
    assert client.count_tokens("openai/gpt-4o-mini", "x" * 401) == 101  # a character estimate


def test_the_fallback_window_is_the_real_clients() -> None:
    client = pytest.importorskip("summarizer.client")

    assert client.LiteLLMClient().context_window("openai/served") == (
        estimate.FALLBACK_CONTEXT_WINDOW
    )


# -- token counts ------------------------------------------------------------------------------


def test_without_litellm_s_encodings_tokens_are_estimated_from_characters(
    fake_litellm: Path,
) -> None:
    client = EstimatingClient()

    assert client.count_tokens("openai/gpt-4o-mini", "") == 0
    assert client.count_tokens("openai/gpt-4o-mini", "abcd") == 1
    assert client.count_tokens("openai/gpt-4o-mini", "abcde") == 2


def test_the_encoding_is_the_one_litellm_counts_with() -> None:
    assert estimate._encoding_name("openai/gpt-4o-mini") == "o200k_base"
    assert estimate._encoding_name("gpt-4o") == "o200k_base"
    assert estimate._encoding_name("openai/gpt-3.5-turbo") == "cl100k_base"
    assert estimate._encoding_name("anthropic/claude-3-5-haiku-latest") == "cl100k_base"
    assert estimate._encoding_name("openai/served-by-vllm") == "cl100k_base"


def test_an_existing_tiktoken_setting_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tiktoken")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "/somewhere/else")

    assert EstimatingClient().count_tokens("openai/gpt-4o-mini", "hello world") == 2
    assert os.environ["TIKTOKEN_CACHE_DIR"] == "/somewhere/else"


def test_local_models_are_measured_as_the_real_client_does() -> None:
    assert EstimatingClient().context_window("local/smollm2") == local.DEFAULT_N_CTX


def test_it_only_measures() -> None:
    request = ChatRequest(model="openai/gpt-4o-mini", messages=[], task="t")

    with pytest.raises(NotImplementedError, match="DryRunClient"):
        EstimatingClient().complete(request)
    dry = DryRunClient(EstimatingClient())
    assert dry.complete(request).text == '""'
    assert dry.context_window("openai/gpt-4o-mini") >= 100_000


# -- against litellm itself --------------------------------------------------------------------

POPULAR = [
    "openai/gpt-4o-mini", "openai/gpt-4o", "gpt-4o-mini", "openai/gpt-4.1-mini",
    "openai/gpt-3.5-turbo", "openai/o3-mini", "azure/gpt-4o-mini",
    "anthropic/claude-3-5-haiku-latest", "gemini/gemini-1.5-flash", "gemini/gemini-2.5-pro",
    "mistral/mistral-small-latest", "deepseek/deepseek-chat", "groq/llama-3.1-8b-instant",
    "ollama/qwen2.5:7b", "openai/served-by-vllm", "openai/claude-3-5-haiku-latest",
    "openrouter/openai/gpt-4o-mini",
]  # fmt: skip


@pytest.mark.parametrize("model", POPULAR)
def test_windows_agree_with_litellm(model: str) -> None:
    client = pytest.importorskip("summarizer.client")

    assert EstimatingClient().context_window(model) == client.LiteLLMClient().context_window(model)


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "openai/gpt-3.5-turbo", "openai/served"])
def test_counts_come_within_one_percent_of_litellm(model: str) -> None:
    client = pytest.importorskip("summarizer.client")
    texts = [path.read_text(encoding="utf-8") for path in ARTICLES]

    ours = sum(EstimatingClient().count_tokens(model, text) for text in texts)
    theirs = sum(client.LiteLLMClient().count_tokens(model, text) for text in texts)

    assert abs(ours - theirs) <= theirs / 100
