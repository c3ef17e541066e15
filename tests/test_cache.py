"""The response cache: keys, persistence, meta.cached, --no-cache and `summarize cache`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.stub_server import running_stub, served
from summarizer import pipeline
from summarizer.cache import (
    CachingClient,
    ResponseCache,
    cache_dir,
    cache_path,
    caching_client,
    mark_cached,
    request_key,
)
from summarizer.cli import app
from summarizer.errors import ConfigError
from summarizer.llm import ChatRequest, ChatResponse, LazyClient
from summarizer.pipeline import Job
from summarizer.schema import Summary, Usage
from tests.fakes import FakeLLM

MODEL = "openai/test-model"


def summarize_with(client: CachingClient, text: str, lang: str = "en") -> Summary:
    summary = pipeline.summarize(text, Job(target_language=lang, model=MODEL, client=client))
    return client.mark(summary)


@pytest.fixture
def cache() -> Iterator[ResponseCache]:
    store = ResponseCache()
    yield store
    store.close()


def test_cache_dir_prefers_the_override_then_xdg(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(tmp_path / "override"))
    assert cache_dir() == tmp_path / "override"
    monkeypatch.delenv("SUMMARIZER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_path() == tmp_path / "xdg" / "summarizer" / "responses.sqlite3"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "summarizer"


def test_a_repeated_article_is_answered_from_the_cache(
    cache: ResponseCache, seed_article: str
) -> None:
    inner = FakeLLM()
    first = summarize_with(
        CachingClient(inner, cache, raw_text=seed_article, options={}), seed_article
    )
    calls = len(inner.requests)
    assert calls >= 1
    second = summarize_with(
        CachingClient(inner, cache, raw_text=seed_article, options={}), seed_article
    )
    assert len(inner.requests) == calls  # nothing sent the second time
    assert first.meta.cached is False
    assert second.meta.cached is True
    assert second.meta.usage == Usage() and second.meta.cost_usd == 0.0
    assert second.model_dump(exclude={"meta"}) == first.model_dump(exclude={"meta"})
    assert second.meta.prompt_sha256 == first.meta.prompt_sha256


def test_entries_survive_reopening_the_file(seed_article: str) -> None:
    inner = FakeLLM()
    store = ResponseCache()
    summarize_with(CachingClient(inner, store, raw_text=seed_article, options={}), seed_article)
    store.close()
    calls = len(inner.requests)
    reopened = ResponseCache()
    again = summarize_with(
        CachingClient(inner, reopened, raw_text=seed_article, options={}), seed_article
    )
    reopened.close()
    assert len(inner.requests) == calls
    assert again.meta.cached


def test_only_noise_outside_the_cleaned_article_still_hits(
    cache: ResponseCache, seed_article: str
) -> None:
    inner = FakeLLM()
    summarize_with(CachingClient(inner, cache, raw_text=seed_article, options={}), seed_article)
    noisy = "  " + seed_article + "\n"
    again = summarize_with(CachingClient(inner, cache, raw_text=noisy, options={}), noisy)
    assert again.meta.cached


@pytest.mark.parametrize(
    ("lang", "options", "text_suffix"),
    [
        ("fr", {}, ""),  # other messages (target language)
        ("en", {"api_base": "http://other:8000/v1"}, ""),  # other options
        ("en", {}, "\n\nSatu kalimat lagi tentang perundingan itu."),  # other article
    ],
)
def test_any_difference_misses(
    cache: ResponseCache,
    seed_article: str,
    lang: str,
    options: dict[str, str],
    text_suffix: str,
) -> None:
    inner = FakeLLM()
    summarize_with(CachingClient(inner, cache, raw_text=seed_article, options={}), seed_article)
    calls = len(inner.requests)
    text = seed_article + text_suffix
    other = summarize_with(CachingClient(inner, cache, raw_text=text, options=options), text, lang)
    assert len(inner.requests) > calls
    assert other.meta.cached is False


def test_the_key_covers_model_and_generation_options() -> None:
    base = ChatRequest(model=MODEL, messages=[{"role": "user", "content": "hi"}], task="summarize")
    variants = [
        ChatRequest(model="openai/other", messages=base.messages, task="summarize"),
        ChatRequest(model=MODEL, messages=base.messages, task="summarize", max_tokens=10),
        ChatRequest(model=MODEL, messages=base.messages, task="summarize", temperature=0.7),
        ChatRequest(
            model=MODEL,
            messages=base.messages,
            task="summarize",
            response_schema={"type": "object"},
        ),
    ]
    key = request_key(base, article="a", options={})
    assert key == request_key(base, article="a", options={})
    others = {request_key(v, article="a", options={}) for v in variants}
    others |= {request_key(base, article="b", options={})}
    others |= {request_key(base, article="a", options={"api_base": "x"})}
    assert key not in others and len(others) == len(variants) + 2


class MeasuringLLM(FakeLLM):
    """A FakeLLM that counts how often it was asked to measure."""

    def __init__(self) -> None:
        super().__init__()
        self.measured = 0

    def count_tokens(self, model: str, text: str) -> int:
        self.measured += 1
        return super().count_tokens(model, text)

    def context_window(self, model: str) -> int:
        self.measured += 1
        return super().context_window(model)


def test_a_repeated_run_needs_nothing_from_the_real_client(
    cache: ResponseCache, seed_article: str
) -> None:
    inner = MeasuringLLM()
    summarize_with(CachingClient(inner, cache, raw_text=seed_article, options={}), seed_article)
    assert inner.measured > 0 and inner.requests

    built: list[MeasuringLLM] = []

    def build() -> MeasuringLLM:
        built.append(MeasuringLLM())
        return built[-1]

    lazy = LazyClient(build)
    again = summarize_with(
        CachingClient(lazy, cache, raw_text=seed_article, options={}), seed_article
    )
    assert again.meta.cached
    assert built == []  # the real client was never made: litellm never imported


def test_measures_are_kept_per_model_and_options(cache: ResponseCache) -> None:
    inner = MeasuringLLM()
    for options in ({}, {}, {"gguf": "other.gguf"}):
        client = CachingClient(inner, cache, raw_text="x", options=options)
        assert client.count_tokens(MODEL, "three words here") == 3
        client.count_tokens("openai/other", "three words here")
        client.context_window(MODEL)
    assert inner.measured == 2 * 3  # the second client measured nothing; other options did
    cache.clear()
    CachingClient(inner, cache, raw_text="x", options={}).context_window(MODEL)
    assert inner.measured == 7


def test_measures_are_written_with_responses_and_on_close(seed_article: str) -> None:
    inner = MeasuringLLM()
    store = ResponseCache()
    summarize_with(CachingClient(inner, store, raw_text=seed_article, options={}), seed_article)
    store.put_measure("measured after the last response", 7)
    store.close()
    measured = inner.measured
    reopened = ResponseCache()
    try:
        assert reopened.get_measure("measured after the last response") == 7
        summarize_with(
            CachingClient(inner, reopened, raw_text=seed_article, options={}), seed_article
        )
    finally:
        reopened.close()
    assert inner.measured == measured  # every count came back from the file


def test_a_partly_cached_result_is_not_marked(cache: ResponseCache) -> None:
    inner = FakeLLM()
    client = CachingClient(inner, cache, raw_text="x", options={})
    request = ChatRequest(model=MODEL, messages=[{"role": "user", "content": "a"}], task="t")
    client.complete(request)
    client.complete(request)
    assert (client.hits, client.misses) == (1, 1)
    assert not client.fully_cached


def test_errors_are_not_cached(cache: ResponseCache) -> None:
    from summarizer.errors import ProviderError

    inner = FakeLLM().enqueue(ProviderError("down", model=MODEL))
    client = CachingClient(inner, cache, raw_text="x", options={})
    request = ChatRequest(model=MODEL, messages=[{"role": "user", "content": "a"}], task="t")
    with pytest.raises(ProviderError):
        client.complete(request)
    assert client.complete(request).text  # asked again, answered
    assert len(inner.requests) == 2


def test_disabled_cache_is_the_inner_client(seed_article: str) -> None:
    inner = FakeLLM()
    assert caching_client(inner, raw_text="x", identity={}, cache=None) is inner
    summary = pipeline.summarize(seed_article, Job(target_language="en", model=MODEL, client=inner))
    assert mark_cached(inner, summary) is summary


def test_info_and_clear(cache: ResponseCache) -> None:
    response = ChatResponse(text="{}", usage=Usage(input_tokens=3), cost_usd=0.25)
    cache.put("k1", MODEL, response)
    cache.put("k2", MODEL, response)
    assert cache.get("k1") is not None and cache.get("k1") is not None
    info = cache.info()
    assert (info.entries, info.hits) == (2, 2)
    assert info.saved_usd == pytest.approx(0.5)
    assert info.size_bytes > 0
    assert cache.clear() == 2
    assert cache.get("k1") is None
    assert cache.info().entries == 0


def test_a_file_that_is_not_a_cache_is_a_config_error(tmp_path: Path) -> None:
    bogus = tmp_path / "responses.sqlite3"
    bogus.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="--no-cache"):
        ResponseCache(bogus)


def test_sqlite_file_is_where_info_says(cache: ResponseCache) -> None:
    cache.put("k", MODEL, ChatResponse(text="x"))
    with sqlite3.connect(cache_path()) as db:
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone() == (1,)


# litellm's OpenAI client cache races when threads make their first call at once, and drops
# the losing clients with their sockets open: a harmless ResourceWarning that is not ours.
litellm_socket_leak = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)


# -- through the CLI, over real HTTP to the loopback stub -------------------------------


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    with running_stub(latency=0.0) as url:
        yield url


@litellm_socket_leak
def test_cli_second_run_is_free_and_no_cache_pays(stub_url: str, seed_path: Path) -> None:
    runner = CliRunner()
    command = [
        str(seed_path),
        "--model",
        "openai/stub",
        "--api-base",
        stub_url,
        "--format",
        "json",
        "--quiet",
    ]
    before = served(stub_url)
    first = runner.invoke(app, command)
    assert first.exit_code == 0, first.output
    paid = served(stub_url) - before
    assert paid >= 1
    second = runner.invoke(app, command)
    assert second.exit_code == 0, second.output
    assert served(stub_url) - before == paid
    assert json.loads(first.stdout)["meta"]["cached"] is False
    assert json.loads(second.stdout)["meta"]["cached"] is True

    third = runner.invoke(app, [*command, "--no-cache"])
    assert third.exit_code == 0, third.output
    assert served(stub_url) - before == 2 * paid
    assert json.loads(third.stdout)["meta"]["cached"] is False

    info = runner.invoke(app, ["cache", "info"])
    assert info.exit_code == 0
    assert f"entries: {paid}" in info.stdout and str(cache_path()) in info.stdout
    cleared = runner.invoke(app, ["cache", "clear"])
    assert cleared.exit_code == 0 and f"Removed {paid}" in cleared.stdout
    assert "entries: 0" in runner.invoke(app, ["cache", "info"]).stdout


@litellm_socket_leak
def test_cli_cache_info_without_a_cache_creates_nothing() -> None:
    result = CliRunner().invoke(app, ["cache", "info"])
    assert result.exit_code == 0 and "entries: 0" in result.stdout
    assert not cache_path().exists()


@litellm_socket_leak
def test_cli_cache_unknown_action_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["cache", "purge"])
    assert result.exit_code == 2
    assert "summarize cache info" in result.output


def test_an_embedded_model_is_keyed_by_its_file(tmp_path: Path) -> None:
    from summarizer import backends

    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF one")
    first = backends.traits(backends.Connection(str(model))).identity
    model.write_bytes(b"GGUF two, longer")
    second = backends.traits(backends.Connection(str(model))).identity

    assert first["gguf"] == second["gguf"] == str(model.resolve())
    assert first != second  # an upgraded file does not answer from the old one's entries


def test_a_provider_model_is_keyed_by_its_api_base_and_fallbacks() -> None:
    from summarizer import backends

    plain = backends.traits(backends.Connection("openai/x")).identity
    served = backends.traits(backends.Connection("openai/x", api_base="http://h/v1")).identity
    chained = backends.traits(backends.Connection("openai/x", fallbacks=("openai/y",))).identity
    wider = backends.traits(backends.Connection("openai/x", context_window=32768)).identity

    assert plain == {"api_base": None}  # the same key in every face
    assert served == {"api_base": "http://h/v1"}
    assert chained == {"api_base": None, "fallbacks": ["openai/y"]}
    # The window measured and remembered must be the one asked for, not an earlier run's.
    assert wider == {"api_base": None, "context_window": 32768}
