"""The HTTP service, over real HTTP on loopback: uvicorn in a thread, FakeLLM as the model."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from summarizer.app import Summarizer
from summarizer.cache import ResponseCache
from summarizer.config import Settings
from summarizer.errors import (
    ConfigError,
    ContextOverflowError,
    FormatRejected,
    InputError,
    ModelNotFoundError,
    ModelOutputError,
    ProviderError,
    ProviderTimeout,
    SummarizerError,
    TemplateError,
    UnknownLanguageError,
    UsageError,
)
from summarizer.llm import ChatRequest, ChatResponse, LLMClient
from summarizer.models import DEFAULT_LOCAL_MODEL, LOCAL_PREFIX
from summarizer.pipeline import prepare
from summarizer.schema import Summary, Translation
from summarizer.server import ErrorBody, create_app
from summarizer.server_errors import ModelNotAllowed, RequestTimeout, error_status
from summarizer.server_limits import guarded_protocol
from tests.fakes import FakeLLM, draft

DEFAULT_MODEL = LOCAL_PREFIX + DEFAULT_LOCAL_MODEL

# Generous: the machines running the tests are shared, and a slow answer is not a failure.
TIMEOUT = 120.0


def make_summarizer(
    client: LLMClient, *, cache: ResponseCache | None = None, **settings: Any
) -> Summarizer:
    """A Summarizer on ``client``, without a response cache unless given one. One chunk at a
    time, so that streamed chunks come in the article's order."""
    return Summarizer(
        Settings(cache=cache is not None, **settings),
        client=client,
        response_cache=cache,
        concurrency=1,
    )


# The provider model the tests name besides the default; the server allows it.
OTHER_MODEL = "openai/gpt-4o-mini"


def serve(client: LLMClient, **settings: Any) -> FastAPI:
    """The app over ``make_summarizer(client, **settings)``, allowing ``OTHER_MODEL``."""
    return create_app(make_summarizer(client, **settings), allowed_models=[OTHER_MODEL])


def post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, timeout=kwargs.pop("timeout", TIMEOUT), **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, timeout=kwargs.pop("timeout", TIMEOUT), **kwargs)


@contextmanager
def running(app: FastAPI, **protocol: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port, as ``summarize serve`` does (its
    guarded protocol takes ``protocol``: header_timeout); yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", http=guarded_protocol(**protocol))
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            thread.join(0.02)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def served(fake_llm: FakeLLM) -> Iterator[str]:
    with running(serve(fake_llm)) as url:
        yield url


def events(body: str) -> list[tuple[str, Any]]:
    """Parse a server-sent-events body into (event, data) pairs."""
    parsed = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        parsed.append((fields["event"], json.loads(fields["data"])))
    return parsed


# -- happy paths ------------------------------------------------------------------------------


def test_healthz_and_openapi(served: str) -> None:
    health = get(f"{served}/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["default_model"] == DEFAULT_MODEL
    spec = get(f"{served}/openapi.json").json()
    assert {"/v1/summaries", "/v1/translations", "/healthz"} <= set(spec["paths"])
    responses = spec["paths"]["/v1/summaries"]["post"]["responses"]
    assert {"200", "400", "413", "422", "502", "504"} <= set(responses)
    assert (
        "text/event-stream"
        in spec["paths"]["/v1/translations"]["post"]["responses"]["200"]["content"]
    )


def test_summary_has_the_cli_schema_and_asks_in_the_target_language(
    served: str, fake_llm: FakeLLM, seed_article: str
) -> None:
    response = post(f"{served}/v1/summaries", json={"text": seed_article, "target_language": "fr"})
    assert response.status_code == 200, response.text
    summary = Summary.model_validate(response.json())
    assert summary.source_language == "id"
    assert summary.target_language == "fr"
    assert summary.title == draft()["title"]
    assert summary.meta.calls == len(fake_llm.requests) == 1
    system = fake_llm.requests[0].messages[0]["content"]
    assert "French" in system


def test_language_names_and_regions_are_accepted(served: str, seed_article: str) -> None:
    response = post(
        f"{served}/v1/summaries", json={"text": seed_article, "target_language": "pt-BR"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["target_language"] == "pt"


def test_named_model_is_used(served: str, fake_llm: FakeLLM, seed_article: str) -> None:
    response = post(
        f"{served}/v1/summaries", json={"text": seed_article, "model": "openai/gpt-4o-mini"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["model"] == "openai/gpt-4o-mini"
    assert fake_llm.requests[0].model == "openai/gpt-4o-mini"


def test_translation_keeps_paragraphs(served: str, seed_article: str) -> None:
    response = post(
        f"{served}/v1/translations", json={"text": seed_article, "target_language": "en"}
    )
    assert response.status_code == 200, response.text
    translation = Translation.model_validate(response.json())
    article, _ = prepare(seed_article)
    assert len(translation.paragraphs) == len(article.paragraphs)


@pytest.mark.parametrize("how", ["query", "accept"])
def test_translation_streams_one_event_per_chunk_then_done(how: str, seed_article: str) -> None:
    # A small window splits the seed article into several translate calls.
    fake = FakeLLM(context_window=700)
    with running(serve(fake)) as url:
        response = post(
            f"{url}/v1/translations",
            json={"text": seed_article, "target_language": "en"},
            params={"stream": "true"} if how == "query" else None,
            headers={"Accept": "text/event-stream"} if how == "accept" else None,
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    stream = events(response.text)
    names = [name for name, _ in stream]
    assert names[0] == "start" and names[-1] == "done"
    assert set(names[1:-1]) == {"chunk"}
    done = Translation.model_validate(stream[-1][1])
    assert "title" not in stream[-1][1]  # the seed article has none: no "title": null
    chunks = [data for name, data in stream if name == "chunk"]
    assert len(chunks) == done.meta.chunks == len(fake.requests) > 1
    assert [c["chunk"] for c in chunks] == list(range(1, len(chunks) + 1))
    streamed = [p for c in chunks for p in c["paragraphs"]]
    assert streamed == done.paragraphs  # no paragraph of the seed article is split
    assert stream[0][1]["paragraphs"] == len(done.paragraphs)
    assert stream[0][1]["source_language"] == "id"


def test_stream_skips_answers_the_pipeline_rejects(seed_article: str) -> None:
    fake = FakeLLM().enqueue("not json at all")
    with running(serve(fake)) as url:
        response = post(f"{url}/v1/translations?stream=true", json={"text": seed_article})
    stream = events(response.text)
    assert [name for name, _ in stream] == ["start", "chunk", "done"]
    assert stream[-1][1]["meta"]["retries"] == 1


def test_stream_reports_a_provider_failure_as_an_error_event(seed_article: str) -> None:
    failure = ProviderError("upstream said: 503 at internal-host-7", model="m", status=503)
    fake = FakeLLM().enqueue(failure)
    with running(serve(fake)) as url:
        response = post(f"{url}/v1/translations?stream=true", json={"text": seed_article})
    assert response.status_code == 200  # the stream had started
    stream = events(response.text)
    assert [name for name, _ in stream] == ["start", "error"]
    error = ErrorBody.model_validate(stream[-1][1])
    assert error.error == "provider_error"
    # The provider's words stay in the server's log.
    assert error.message == "The provider of m failed (HTTP 503)."
    assert "internal-host" not in response.text
    assert "log" in (error.hint or "")


def test_stream_validates_before_it_starts(served: str) -> None:
    response = post(
        f"{served}/v1/translations?stream=true", json={"text": "hi", "target_language": "zz"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "unknown_language"


# -- user mistakes are 4xx, with one error shape -----------------------------------------------

JSON = {"content-type": "application/json"}
CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("bad json", {"content": b'{"text": ', "headers": JSON}, 400, "invalid_json"),
    ("not utf-8", {"content": b'{"text": "\xff"}', "headers": JSON}, 400, "invalid_json"),
    (
        "not json",
        {"content": b"text=hello", "headers": {"content-type": "text/plain"}},
        415,
        "unsupported_media_type",
    ),
    ("no body", {"content": b"", "headers": JSON}, 422, "invalid_request"),
    ("array", {"json": ["hello"]}, 422, "invalid_request"),
    ("no text", {"json": {"target_language": "en"}}, 422, "invalid_request"),
    ("empty text", {"json": {"text": ""}}, 422, "invalid_request"),
    ("blank text", {"json": {"text": "  \n\n  "}}, 422, "invalid_input"),
    ("text not a string", {"json": {"text": 42}}, 422, "invalid_request"),
    ("unknown field", {"json": {"text": "hi", "lang": "en"}}, 422, "invalid_request"),
    (
        "unknown language",
        {"json": {"text": "hi", "target_language": "zz"}},
        422,
        "unknown_language",
    ),
    ("empty language", {"json": {"text": "hi", "target_language": ""}}, 422, "invalid_request"),
    ("model with spaces", {"json": {"text": "hi", "model": "gpt 4"}}, 422, "invalid_request"),
    ("bare local/", {"json": {"text": "hi", "model": "local/"}}, 400, "invalid_model"),
    ("model file", {"json": {"text": "hi", "model": "/etc/passwd.gguf"}}, 403, "model_not_allowed"),
]


@pytest.mark.parametrize("endpoint", ["/v1/summaries", "/v1/translations"])
@pytest.mark.parametrize(
    ("case", "request_args", "status", "kind"), CASES, ids=[c[0] for c in CASES]
)
def test_user_mistakes_are_clear_4xx(
    served: str,
    fake_llm: FakeLLM,
    endpoint: str,
    case: str,
    request_args: dict[str, Any],
    status: int,
    kind: str,
) -> None:
    response = post(f"{served}{endpoint}", **request_args)
    assert response.status_code == status, response.text
    error = ErrorBody.model_validate(response.json())
    assert error.error == kind
    assert error.message
    assert fake_llm.requests == []  # refused before any model call


def test_oversize_bodies_are_413_with_or_without_content_length(fake_llm: FakeLLM) -> None:
    body = json.dumps({"text": "kata " * 400}).encode()
    with running(create_app(make_summarizer(fake_llm), max_body_bytes=1000)) as url:
        declared = post(f"{url}/v1/summaries", content=body, headers=JSON)

        def chunked() -> Iterator[bytes]:  # no Content-Length: the server has to count
            for start in range(0, len(body), 256):
                yield body[start : start + 256]

        streamed = post(f"{url}/v1/summaries", content=chunked(), headers=JSON)
        small = post(f"{url}/v1/summaries", json={"text": "kata " * 50})
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"] == "body_too_large"
        assert "1000 bytes" in response.json()["message"]
    assert small.status_code == 200
    assert len(fake_llm.requests) == 1


def test_unknown_and_unconfigured_models_with_the_real_client(seed_article: str) -> None:
    from summarizer.client import LiteLLMClient

    app = create_app(
        make_summarizer(LiteLLMClient()),
        allowed_models=["nosuchprovider/x", "openai/gpt-4o-mini"],
        preload=False,
    )
    with running(app) as url:
        unknown = post(
            f"{url}/v1/summaries", json={"text": seed_article, "model": "nosuchprovider/x"}
        )
        no_key = post(
            f"{url}/v1/summaries", json={"text": seed_article, "model": "openai/gpt-4o-mini"}
        )
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_model"
    assert "provider/model" in unknown.json()["hint"]
    assert no_key.status_code == 400
    assert "OPENAI_API_KEY" in no_key.json()["hint"]


def test_allowed_models_restrict_what_requests_may_name(seed_article: str) -> None:
    fake = FakeLLM()
    app = create_app(make_summarizer(fake), allowed_models=["openai/gpt-4o-mini"])
    with running(app) as url:
        allowed = post(
            f"{url}/v1/summaries", json={"text": seed_article, "model": "openai/gpt-4o-mini"}
        )
        default = post(
            f"{url}/v1/summaries", json={"text": seed_article, "model": DEFAULT_LOCAL_MODEL}
        )
        refused = post(
            f"{url}/v1/summaries", json={"text": seed_article, "model": "anthropic/claude"}
        )
    assert allowed.status_code == 200
    assert default.status_code == 200  # the default model is always allowed
    assert refused.status_code == 403
    assert "openai/gpt-4o-mini" in refused.json()["hint"]


def test_unknown_paths_and_methods(served: str) -> None:
    assert get(f"{served}/v1/nothing").status_code == 404
    wrong_method = get(f"{served}/v1/summaries")
    assert wrong_method.status_code == 405
    assert "POST" in wrong_method.headers["allow"]
    assert wrong_method.json()["error"] == "method_not_allowed"


# -- the model failing is 5xx, not the user's fault ---------------------------------------------


@pytest.mark.parametrize(
    ("reply", "status", "kind"),
    [
        (ProviderError("rate limited", model="m"), 502, "provider_error"),
        (ProviderTimeout("no answer in 600 s", model="m", retryable=True), 504, "provider_timeout"),
        ("never json", 502, "model_output_error"),
        (ContextOverflowError("too long"), 422, "context_overflow"),
    ],
)
def test_model_failures(reply: Any, status: int, kind: str, seed_article: str) -> None:
    fake = FakeLLM().enqueue(*[reply] * 3)
    with running(serve(fake)) as url:
        response = post(f"{url}/v1/summaries", json={"text": seed_article})
    assert response.status_code == status, response.text
    assert response.json()["error"] == kind


def _timeout_caused_provider_error() -> ProviderError:
    try:
        raise ProviderError("upstream failed", model="m") from TimeoutError()
    except ProviderError as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (RequestTimeout("slow"), 504, "timeout"),
        (ModelNotAllowed("no"), 403, "model_not_allowed"),
        (UnknownLanguageError("Unknown language 'zz'."), 422, "unknown_language"),
        # By type, not message: a usage error that merely reads like one is not.
        (UsageError("Unknown language, says the text"), 422, "invalid_request"),
        (InputError("empty"), 422, "invalid_input"),
        (ContextOverflowError("too long"), 422, "context_overflow"),
        (ConfigError("bad model"), 400, "invalid_model"),
        (ModelNotFoundError("no file", model="local/x"), 400, "invalid_model"),
        (TemplateError("broken"), 500, "template_error"),
        (ModelOutputError("never valid", model="m", last_output=""), 502, "model_output_error"),
        (ProviderTimeout("slow", model="m"), 504, "provider_timeout"),
        (FormatRejected("no response_format", model="m"), 502, "provider_error"),
        (ProviderError("503", model="m"), 502, "provider_error"),
        # A timeout is a ProviderTimeout, whatever caused a plain ProviderError.
        (_timeout_caused_provider_error(), 502, "provider_error"),
        (SummarizerError("base"), 500, "internal_error"),
    ],
)
def test_errors_map_to_a_status_by_their_type(
    error: SummarizerError, status: int, kind: str
) -> None:
    assert error_status(error) == (status, kind)


class BlockingLLM(FakeLLM):
    """Blocks in ``complete`` until released: a model that takes too long."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.release.wait(30)
        return super().complete(request)


@pytest.mark.parametrize("stream", [False, True])
def test_request_timeout_is_504_and_the_worker_stops(stream: bool, seed_article: str) -> None:
    fake = BlockingLLM()
    fake.enqueue("not json, so the pipeline would ask again")
    app = serve(fake, timeout=2)
    with running(app) as url:
        response = post(
            f"{url}/v1/translations", params={"stream": stream}, json={"text": seed_article}
        )
        fake.release.set()
        app.state.service.executor.shutdown(wait=True)
    if stream:
        assert response.status_code == 200
        name, data = events(response.text)[-1]
        assert (name, data["error"]) == ("error", "timeout")
    else:
        assert response.status_code == 504
        assert response.json()["error"] == "timeout"
    # The abandoned request does not go on to its repair call (on a very slow machine it may
    # not even have reached its first).
    assert len(fake.requests) <= 1


class EnteringLLM(BlockingLLM):
    """A ``BlockingLLM`` that says when a call has reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.entered.set()
        return super().complete(request)


@pytest.mark.parametrize("path", ["/v1/translations?stream=true", "/v1/chat/completions"])
def test_a_stream_whose_client_goes_away_stops_its_job(path: str, seed_article: str) -> None:
    """The job is cancelled when its client closes the connection mid-stream: the call in
    flight finishes, and the repair call its bad answer asks for is never made
    (``server_stream.job_items``, closed with the response)."""
    fake = EnteringLLM()
    fake.enqueue("not json, so the pipeline would ask again")
    app = serve(fake, timeout=60)
    body: dict[str, Any] = {"text": seed_article}
    if "chat" in path:
        body = {"model": "translator-en", "stream": True}
        body["messages"] = [{"role": "user", "content": seed_article}]
    with running(app) as url, httpx.Client(timeout=30) as client:
        with client.stream("POST", f"{url}{path}", json=body) as response:
            assert response.status_code == 200
            # Kept: a discarded line iterator closes the response with it.
            lines = response.iter_lines()
            next(lines)  # the stream's opening event
            assert fake.entered.wait(30), "the job never reached the model"
        threading.Event().wait(2.0)  # the server notices the closed connection
        fake.release.set()
        app.state.service.executor.shutdown(wait=True)
    assert len(fake.requests) == 1


# -- many at once -----------------------------------------------------------------------------


class MeetingLLM(FakeLLM):
    """Every call waits until ``parties`` calls are in flight: proves they overlap."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=30)

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.barrier.wait()
        return super().complete(request)


def test_concurrent_requests_are_served_together_and_kept_apart(seed_article: str) -> None:
    languages = ["en", "fr", "de", "es"]
    fake = MeetingLLM(len(languages))
    with running(create_app(make_summarizer(fake), concurrency=len(languages))) as url:

        def ask(language: str) -> httpx.Response:
            return post(
                f"{url}/v1/summaries",
                json={"text": seed_article, "target_language": language},
                timeout=60,
            )

        with ThreadPoolExecutor(len(languages)) as pool:
            responses = list(pool.map(ask, languages))
    assert [r.status_code for r in responses] == [200] * len(languages)
    assert [r.json()["target_language"] for r in responses] == languages
    assert len(fake.requests) == len(languages)


def test_a_repeated_request_is_answered_from_the_cache(tmp_path: Any, seed_article: str) -> None:
    fake = FakeLLM()
    body = {"text": seed_article, "target_language": "en", "model": "openai/gpt-4o-mini"}
    with running(serve(fake, cache=ResponseCache(tmp_path / "c.sqlite3"))) as url:
        first = post(f"{url}/v1/summaries", json=body)
        calls = len(fake.requests)
        second = post(f"{url}/v1/summaries", json=body)
        other = post(f"{url}/v1/summaries", json={**body, "target_language": "fr"})
    assert [r.status_code for r in (first, second, other)] == [200, 200, 200]
    assert first.json()["meta"]["cached"] is False
    assert second.json()["meta"]["cached"] is True
    assert second.json()["summary"] == first.json()["summary"]
    assert other.json()["meta"]["cached"] is False  # another language is another request
    assert len(fake.requests) == 2 * calls


def test_a_cached_translation_streams_the_same_events(tmp_path: Any, seed_article: str) -> None:
    fake = FakeLLM(context_window=700)
    body = {"text": seed_article, "target_language": "en", "model": "openai/gpt-4o-mini"}
    with running(serve(fake, cache=ResponseCache(tmp_path / "c.sqlite3"))) as url:
        first = events(post(f"{url}/v1/translations?stream=true", json=body).text)
        calls = len(fake.requests)
        second = events(post(f"{url}/v1/translations?stream=true", json=body).text)
    assert calls > 1 and len(fake.requests) == calls
    assert [e for e in first if e[0] == "chunk"] == [e for e in second if e[0] == "chunk"]
    assert (first[-1][1]["meta"]["cached"], second[-1][1]["meta"]["cached"]) == (False, True)


def test_without_a_cache_every_request_calls_the_model(seed_article: str) -> None:
    fake = FakeLLM()
    body = {"text": seed_article, "model": "openai/gpt-4o-mini"}
    with running(serve(fake)) as url:
        responses = [post(f"{url}/v1/summaries", json=body) for _ in range(2)]
    assert [r.json()["meta"]["cached"] for r in responses] == [False, False]
    assert len(fake.requests) == 2


@pytest.mark.parametrize("preload", [True, False])
def test_the_default_model_is_warmed_up_once_at_start_up(
    monkeypatch: pytest.MonkeyPatch, fake_llm: FakeLLM, preload: bool
) -> None:
    summarizer = make_summarizer(fake_llm)
    warm_ups: list[str] = []
    monkeypatch.setattr(summarizer, "warm_up", lambda: warm_ups.append(summarizer.model))
    expected = [DEFAULT_MODEL] if preload else []
    with running(create_app(summarizer, preload=preload)) as url:
        assert warm_ups == expected
        for _ in range(3):
            post(f"{url}/v1/summaries", json={"text": "Halo dunia, apa kabar?"})
    assert warm_ups == expected
    assert len(fake_llm.requests) == 3


def test_without_a_client_the_default_local_model_is_loaded_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from summarizer import local

    loads: list[str] = []
    monkeypatch.setattr(local, "get_model", lambda name, **_: loads.append(name))
    with running(create_app(Summarizer(Settings(cache=False)))) as url:
        assert loads == [DEFAULT_LOCAL_MODEL]
        assert get(f"{url}/healthz").json()["default_model"] == DEFAULT_MODEL
    assert loads == [DEFAULT_LOCAL_MODEL]


def test_the_app_closes_the_summarizer_when_it_stops(fake_llm: FakeLLM) -> None:
    summarizer = make_summarizer(fake_llm)
    closed: list[bool] = []
    original = summarizer.close

    def close() -> None:
        closed.append(True)
        original()

    summarizer.close = close  # type: ignore[method-assign]
    with running(create_app(summarizer)):
        assert closed == []
    assert closed == [True]


def test_summarize_serve_starts_a_working_server(tmp_path: Any) -> None:
    """The real command: litellm client, bundled model loaded (no generation), one process."""
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = "from summarizer.cli import main; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", command, "serve", "--port", str(port), "--timeout", "30"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                health = get(f"{url}/healthz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "summarize serve did not come up"
                time.sleep(0.2)
        assert health.json()["default_model"] == DEFAULT_MODEL
        bad_language = post(f"{url}/v1/summaries", json={"text": "Halo.", "target_language": "zz"})
        bad_model = post(f"{url}/v1/summaries", json={"text": "Halo.", "model": "nosuch/x"})
        assert bad_language.status_code == 422
        assert bad_model.status_code == 403  # deny by default: only the server's models
        assert bad_model.json()["error"] == "model_not_allowed"
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.model
def test_real_model_streams_a_translation_and_is_loaded_once() -> None:
    from summarizer import local

    text = "Perundingan damai di Antalya berakhir tanpa kemajuan.\n\nKedua menteri bertemu."
    with running(create_app(Summarizer(Settings(timeout=300, cache=False)))) as url:
        loaded = dict(local._models)
        first = post(f"{url}/v1/translations?stream=true", json={"text": text}, timeout=300)
        second = post(f"{url}/v1/translations", json={"text": text}, timeout=300)
    assert [name for name, _ in events(first.text)][-1] == "done", first.text
    assert second.status_code == 200, second.text
    assert Translation.model_validate(second.json()).meta.model == DEFAULT_MODEL
    full = [key for key in local._models if not key[1]]
    assert len(full) == 1 and full[0] in loaded  # loaded at start-up, and only then
    assert local._models[full[0]] is loaded[full[0]]


# -- fuzzed from the OpenAPI document ---------------------------------------------------------


FUZZED = [
    ("/v1/summaries", "POST", "positive"),
    ("/v1/summaries", "POST", "negative"),
    ("/v1/translations", "POST", "positive"),
    ("/v1/translations", "POST", "negative"),
    ("/v1/models", "GET", "positive"),  # no input, so nothing negative to generate
    ("/healthz", "GET", "positive"),
]
FUZZ_KEY = "fuzz-key-0123456789abcdef"


@pytest.mark.parametrize(("path", "method", "mode"), FUZZED)
def test_fuzzed_from_openapi_never_a_5xx(path: str, method: str, mode: str) -> None:
    """With authentication on, as a server others can reach runs: the document declares
    the Bearer key, and schemathesis also checks that a request without it is refused."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import positive_data_acceptance

    from summarizer.server_access import KeyRing, Limits

    fake = FakeLLM()
    app = create_app(
        make_summarizer(fake),
        # Room for the longest url the schema allows, written as JSON escapes (12 bytes a
        # character): a fuzzed over-long url must reach validation (422), not the body
        # limit (413, which schemathesis does not count as refusing bad data).
        max_body_bytes=100_000,
        keys=KeyRing([FUZZ_KEY], source="test"),
        limits=Limits(requests_per_minute=0, tokens_per_day=0),
        allowed_models=[OTHER_MODEL],
    )
    # Given as the document's own security scheme, so that schemathesis sends the key on
    # the requests it means to be valid, and leaves it out on those testing its absence.
    config = schemathesis.config.SchemathesisConfig.from_dict(
        {"auth": {"openapi": {"HTTPBearer": {"bearer": FUZZ_KEY}}}}
    )
    with running(app) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
        operation = schema[path][method]

        @given(case=operation.as_strategy(schemathesis.GenerationMode(mode)))
        @settings(
            max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def fuzz(case: Any) -> None:
            # Every default check: no 5xx, status codes, content types and bodies as
            # documented, schema-invalid input refused, and (ignored_auth) the key really
            # required. Schema-valid bodies may still be refused with a documented 4xx (an
            # unknown language, an all-boilerplate article, a model not served), so
            # positive_data_acceptance is left out.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        fuzz()
    if mode == "positive" and path.startswith("/v1/") and method == "POST":
        assert fake.requests, "no fuzzed request reached the model"


def test_strict_server_answers_502_when_an_answer_fails_its_checks(seed_article: str) -> None:
    from tests.test_checks import good_draft

    fake = FakeLLM(strict=True).enqueue(good_draft(key_points=["date", "event"]))
    with running(serve(fake, strict=True)) as url:
        response = post(f"{url}/v1/summaries", json={"text": seed_article})
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["error"] == "unchecked_answer"
    assert "field name" in body["message"]
