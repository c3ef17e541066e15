"""Attacks on a running service, over real HTTP on loopback (issue 14's matrix).

The model is ``openai/ok`` behind ``tests.faultserver``: a fake OpenAI-compatible provider
that records every request, reached by the real litellm client, so "no provider call for a
refused request" is counted where a real provider would bill it. Each attack checks the
status and error kind, that no error body or header carries key material, that the server
still answers a good request afterwards, and what the provider saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import re
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from summarizer.app import Summarizer
from summarizer.config import Settings
from summarizer.errors import ConfigError
from summarizer.server import create_app
from summarizer.server_access import KeyRing, Limits, Quotas, TokenBudgetSpent, check_binding
from summarizer.server_wire import ErrorBody
from tests.faultserver import FaultServer
from tests.test_server import running

ARTICLE = (
    "Perundingan damai antara Rusia dan Ukraina di Antalya, Turki, berakhir tanpa kemajuan. "
    "Menteri Luar Negeri Dmytro Kuleba dan Sergei Lavrov bertemu pada Kamis."
)
# Twenty callers; each key is what a client sends, each name what the server logs.
KEYS = {f"caller{i:02d}": f"k{i:02d}-9f8e7d6c5b4a39281706f5e4d3c2b1a0" for i in range(20)}
KEY = KEYS["caller00"]
# What the server itself sends its provider: it must never come back to a caller.
PROVIDER_KEY = "sk-provider-0123456789abcdefSECRET"
TIMEOUT = 60.0


# Every refusal the matrix saw, by (status, kind), with the provider calls refused requests
# made: written to $SUMMARIZER_TEST_ARTIFACTS/attack-tally.json when that is set.
TALLY: Counter[tuple[int, str]] = Counter()
REFUSED_CALLS: list[int] = []


@pytest.fixture(scope="module")
def provider() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server
    folder = os.environ.get("SUMMARIZER_TEST_ARTIFACTS")
    if folder:
        tally = {
            "refused": [
                {"status": status, "kind": kind, "count": count}
                for (status, kind), count in sorted(TALLY.items())
            ],
            "provider_calls_for_refused_requests": sum(REFUSED_CALLS),
        }
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "attack-tally.json").write_text(json.dumps(tally, indent=1))


@pytest.fixture(autouse=True)
def provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PROVIDER_KEY)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)


def secured(provider: FaultServer, *, limits: Limits | None = None, workers: int = 4) -> FastAPI:
    """The service on the fake provider, with the twenty keys, allowing ``openai/ok-*``
    (scenario names) and ``anthropic/*`` (for which it has no key)."""
    summarizer = Summarizer(
        Settings(model="openai/ok", api_base=provider.url, cache=False, retries=0, timeout=60),
        concurrency=1,
    )
    return create_app(
        summarizer,
        keys=KeyRing([f"{name}:{key}" for name, key in KEYS.items()], source="test"),
        limits=limits or Limits(requests_per_minute=0, tokens_per_day=0),
        allowed_models=["openai/ok-*", "openai/leak-*", "anthropic/*"],
        concurrency=workers,
        max_body_bytes=20_000,
        preload=False,
    )


@pytest.fixture
def served(provider: FaultServer) -> Iterator[str]:
    with running(secured(provider)) as url:
        yield url


def bearer(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def summarize(url: str, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/summaries",
        json={"text": ARTICLE, **body},
        headers=bearer() if headers is None else headers,
        timeout=TIMEOUT,
    )


SECRET_SHAPES = re.compile(r"sk-[A-Za-z0-9]{6,}|SECRET|9f8e7d6c5b4a")


def refused(response: httpx.Response, status: int, kind: str) -> ErrorBody:
    """``response`` is the refusal expected, an ``ErrorBody`` that says what to do, and
    neither its body nor its headers carry any key material."""
    assert response.status_code == status, response.text
    TALLY[status, kind] += 1
    body = ErrorBody.model_validate(response.json())
    assert (body.error, bool(body.message), bool(body.hint)) == (kind, True, True)
    assert_no_key_material(response)
    return body


def assert_no_key_material(response: httpx.Response) -> None:
    seen = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    for secret in [PROVIDER_KEY, *KEYS.values()]:
        assert secret not in seen
    assert not SECRET_SHAPES.search(seen), seen


def still_serving(url: str) -> None:
    response = summarize(url)
    assert response.status_code == 200, response.text


class Calls:
    """Requests the fake provider receives from here on."""

    def __init__(self, provider: FaultServer) -> None:
        self.provider = provider
        self.before = len(provider.requests)

    @property
    def made(self) -> int:
        return len(self.provider.requests) - self.before

    def none(self) -> None:
        """The refused requests made no provider call (tallied)."""
        REFUSED_CALLS.append(self.made)
        assert self.made == 0


# -- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({}, "missing_api_key"),
        ({"Authorization": ""}, "missing_api_key"),
        ({"Authorization": "Bearer"}, "missing_api_key"),
        ({"Authorization": KEY}, "missing_api_key"),  # no scheme
        ({"Authorization": f"Basic {KEY}"}, "missing_api_key"),
        ({"X-API-Key": KEY}, "missing_api_key"),  # not where the server looks
        ({"Authorization": "Bearer wrong"}, "invalid_api_key"),
        ({"Authorization": f"Bearer {KEY}x"}, "invalid_api_key"),
        ({"Authorization": f"Bearer {KEY[:-1]}"}, "invalid_api_key"),
        ({"Authorization": f"Bearer {KEY.upper()}"}, "invalid_api_key"),
        ({"Authorization": f"Bearer {KEY} {KEY}"}, "invalid_api_key"),
    ],
    ids=lambda value: value if isinstance(value, str) else "|".join(value.values()) or "none",
)
def test_missing_and_wrong_keys_are_401(
    served: str, provider: FaultServer, headers: dict[str, str], kind: str
) -> None:
    calls = Calls(provider)
    response = summarize(served, headers=headers)
    refused(response, 401, kind)
    assert response.headers["www-authenticate"].startswith("Bearer")
    calls.none()
    still_serving(served)
    assert calls.made == 1


def test_every_endpoint_but_the_public_pages_needs_a_key(served: str) -> None:
    for method, path in [
        ("POST", "/v1/summaries"),
        ("POST", "/v1/translations"),
        ("POST", "/v1/translations?stream=true"),
        ("GET", "/v1/models"),
        ("GET", "/v1/nothing-here"),  # no probing for paths without a key
    ]:
        response = httpx.request(method, f"{served}{path}", json={"text": ARTICLE}, timeout=TIMEOUT)
        refused(response, 401, "missing_api_key")
    for path in ["/healthz", "/openapi.json", "/docs", "/redoc"]:
        assert httpx.get(f"{served}{path}", timeout=TIMEOUT).status_code == 200, path


def test_keys_probed_a_character_at_a_time_are_all_refused_alike(
    served: str, provider: FaultServer
) -> None:
    """A timing attack guesses a key one character at a time, keeping the guess that took
    longest. Every prefix of the real key is refused with the same body, and the check
    itself takes no shortcut (next test)."""
    calls = Calls(provider)
    bodies = set()
    for length in range(0, len(KEY), 4):
        guess = KEY[:length] + "z" * (len(KEY) - length)
        response = summarize(served, headers=bearer(guess))
        bodies.add(refused(response, 401, "invalid_api_key").model_dump_json())
    assert len(bodies) == 1
    calls.none()
    still_serving(served)


@pytest.mark.parametrize("which", ["first", "last", "none"])
def test_a_key_is_compared_with_every_key_in_constant_time(
    monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    ring = KeyRing([f"{name}:{key}" for name, key in KEYS.items()], source="test")
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("summarizer.server_access.hmac.compare_digest", counting)
    presented = {"first": KEYS["caller00"], "last": KEYS["caller19"], "none": "x" * 40}[which]
    found = ring.identify(presented)
    assert found == {"first": "caller00", "last": "caller19", "none": None}[which]
    # Every key, whatever matched, and only fixed-length digests: the time tells nothing.
    assert len(compared) == len(KEYS)
    assert {(len(a), len(b)) for a, b in compared} == {(32, 32)}


def test_key_files_and_their_mistakes(tmp_path: Any) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"# our callers\nalice:{KEY}\n\n{KEYS['caller01']}  # no name\n")
    ring = KeyRing.from_file(keys)
    assert ring.identify(KEY) == "alice"
    assert (ring.identify(KEYS["caller01"]) or "").startswith("key-")
    assert KeyRing.from_env(f"a:{KEY}, b:{KEYS['caller01']}").identify(KEY) == "a"
    for text, problem in [
        ("short-key\n", "shorter than 16"),
        ("# nothing\n", "holds no keys"),
        (f"a:{KEY}\na:{KEYS['caller01']}\n", "share a name"),
    ]:
        keys.write_text(text)
        with pytest.raises(ConfigError, match=problem) as error:
            KeyRing.from_file(keys)
        assert KEY not in str(error.value)
    with pytest.raises(ConfigError, match="Cannot read"):
        KeyRing.from_file(tmp_path / "missing")


def test_without_keys_only_loopback_unless_told_otherwise() -> None:
    ring = KeyRing([KEY], source="test")
    assert "only this machine" in check_binding("127.0.0.1", None, insecure_no_auth=False)
    assert "only this machine" in check_binding("::1", None, insecure_no_auth=False)
    assert "only this machine" in check_binding("localhost", None, insecure_no_auth=False)
    for host in ["0.0.0.0", "192.168.1.5", "::", "example.org"]:
        with pytest.raises(ConfigError, match="without API keys") as error:
            check_binding(host, None, insecure_no_auth=False)
        assert "--api-key-file" in str(error.value.hint)
        assert "WARNING" in check_binding(host, None, insecure_no_auth=True)
        assert "required" in check_binding(host, ring, insecure_no_auth=False)


# -- models -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "openai/gpt-4o",  # a real provider model the server was not started with
        "mistral/mistral-large-latest",
        "openai/ok*",  # a pattern is not a model
        "local/gemma3",  # even a bundled model, when the operator did not serve it
        "/etc/passwd.gguf",
        "local/../../secret.gguf",
    ],
)
def test_a_model_the_server_does_not_serve_is_403_and_never_called(
    served: str, provider: FaultServer, model: str
) -> None:
    calls = Calls(provider)
    body = refused(summarize(served, model=model), 403, "model_not_allowed")
    assert "GET /v1/models" in (body.hint or "")
    calls.none()
    still_serving(served)


def test_models_lists_what_a_caller_may_name(served: str, provider: FaultServer) -> None:
    listing = httpx.get(f"{served}/v1/models", headers=bearer(), timeout=TIMEOUT).json()
    cards = {card["id"]: card for card in listing["data"]}
    assert listing["object"] == "list"
    served_models = [i for i in cards if not i.startswith(("summarizer-", "translator-"))]
    assert served_models == ["openai/ok", "openai/ok-*", "openai/leak-*", "anthropic/*"]
    # The chat endpoint's task models come after them (summarizer-en, translator-fr...).
    assert {"summarizer-en", "translator-fr"} <= set(cards)
    assert cards["openai/ok"]["default"] and not cards["openai/ok"]["pattern"]
    assert cards["openai/ok-*"]["pattern"]
    calls = Calls(provider)
    response = summarize(served, model="openai/ok-by-pattern-ok")
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["model"] == "openai/ok-by-pattern-ok"
    assert calls.made == 1


def test_an_allowed_model_the_server_has_no_key_for_is_400_not_a_provider_error(
    served: str, provider: FaultServer
) -> None:
    """The report that opened issue 14: a server started with --api-base and without an
    Anthropic key answered 502 with litellm's raw words ("...ANTHROP")."""
    calls = Calls(provider)
    response = summarize(served, model="anthropic/claude-3-5-haiku-latest")
    body = refused(response, 400, "invalid_model")
    assert "ANTHROPIC_API_KEY" in (body.hint or "")
    calls.none()
    still_serving(served)


def test_a_leaky_provider_error_reaches_the_caller_as_a_stable_body(
    served: str, provider: FaultServer
) -> None:
    """``leak-echo`` answers 401 with the request's headers (the server's own provider key)
    in its error message: the caller gets a sentence, the log gets the details."""
    response = summarize(served, model="openai/leak-echo")
    body = refused(response, 502, "provider_error")
    assert body.message == "The provider of openai/leak-echo refused this server's credentials."
    sent = {name.lower(): value for name, value in provider.requests[-1].headers.items()}
    assert sent["authorization"] == f"Bearer {PROVIDER_KEY}"  # it did go out, and came back
    still_serving(served)


# -- malformed and oversized requests ---------------------------------------------------------


def test_an_oversized_body_is_413_with_a_key_and_401_without(
    served: str, provider: FaultServer
) -> None:
    calls = Calls(provider)
    big = {"text": "kata " * 10_000}
    refused(httpx.post(f"{served}/v1/summaries", json=big, headers=bearer()), 413, "body_too_large")
    # Without a key the body is never read: the refusal is for the key.
    refused(httpx.post(f"{served}/v1/summaries", json=big), 401, "missing_api_key")
    calls.none()
    still_serving(served)


@pytest.mark.parametrize(
    ("content", "status", "kind"),
    [
        (b'{"text": ', 400, "invalid_json"),
        (b'{"text": "\xff"}', 400, "invalid_json"),
        (b"[1, 2", 400, "invalid_json"),
        (b'{"text": "a", "text": 5}', 422, "invalid_request"),
        (b"null", 422, "invalid_request"),
        (b"[" * 5000 + b"]" * 5000, 400, "invalid_json"),  # nested past the parser's depth
        (b'{"text": ' * 1500 + b'"x"' + b"}" * 1500, 400, "invalid_json"),
    ],
    ids=["cut off", "not utf-8", "unclosed array", "duplicate key", "null", "deep", "deep objects"],
)
def test_malformed_json_is_a_4xx(
    served: str, provider: FaultServer, content: bytes, status: int, kind: str
) -> None:
    calls = Calls(provider)
    response = httpx.post(
        f"{served}/v1/summaries",
        content=content,
        headers={**bearer(), "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    refused(response, status, kind)
    calls.none()
    still_serving(served)


# -- raw HTTP: header injection and slow clients ----------------------------------------------


def raw(url: str, request: bytes, *, timeout: float = 10) -> bytes:
    """Send ``request`` as it is and return everything the server answers until it closes
    or goes quiet."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and _complete(answer):
                    break
        except TimeoutError:
            pass
    return answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    match = re.search(rb"(?i)content-length: *(\d+)", head)
    return match is not None and len(body) >= int(match.group(1))


def post_raw(url: str, headers: list[bytes], body: bytes = b'{"text": "Halo."}') -> bytes:
    lines = [
        b"POST /v1/summaries HTTP/1.1",
        b"Host: 127.0.0.1",
        b"Content-Type: application/json",
        b"Content-Length: %d" % len(body),
        b"Connection: close",
        *headers,
    ]
    return raw(url, b"\r\n".join(lines) + b"\r\n\r\n" + body)


KEY_HEADER = b"Authorization: Bearer " + KEY.encode()
INJECTIONS: list[tuple[str, list[bytes], int | tuple[int, ...]]] = [
    # Two Authorization headers, one good: no guessing which one a proxy checked.
    ("two keys", [b"Authorization: Bearer wrong-key-0000000000000", KEY_HEADER], 401),
    ("good key twice", [KEY_HEADER, KEY_HEADER], 401),
    # A CR or a NUL inside a header, and an obsolete folded line, smuggling a header in.
    ("bare CR", [KEY_HEADER + b"\rX-Injected: 1"], 400),
    ("NUL", [b"Authorization: Bearer \x00" + KEY.encode()], 400),
    # h11 unfolds it into the value before it: a wrong key, not a new header.
    ("folded", [b"Authorization: Bearer wrong", b" X-Injected: 1"], 401),
    ("space before colon", [b"Authorization : Bearer " + KEY.encode()], 400),
    ("key in another header", [b"X-Injected: Bearer " + KEY.encode()], 401),
    # Too much header: 431 from our limit, or 400 from h11's when it arrives in pieces.
    ("huge header", [KEY_HEADER, b"X-Injected: " + b"a" * 70_000], (431, 400)),
    ("many headers", [KEY_HEADER, *(b"X-Injected-%d: a" % i for i in range(3000))], (431, 400)),
]


@pytest.mark.parametrize(
    ("case", "headers", "status"), INJECTIONS, ids=[case for case, _, _ in INJECTIONS]
)
def test_header_injection_is_refused(
    served: str,
    provider: FaultServer,
    case: str,
    headers: list[bytes],
    status: int | tuple[int, ...],
) -> None:
    calls = Calls(provider)
    answer = post_raw(served, headers)
    head = answer.split(b"\r\n\r\n", 1)[0]
    statuses = status if isinstance(status, tuple) else (status,)
    assert any(head.startswith(b"HTTP/1.1 %d " % s) for s in statuses), answer[:300]
    TALLY[int(head[9:12]), f"raw request: {case}"] += 1
    assert b"x-injected" not in head.lower()  # nothing the client sent comes back as a header
    assert KEY.encode() not in answer
    calls.none()
    still_serving(served)


def test_a_model_name_with_a_line_break_is_422(served: str, provider: FaultServer) -> None:
    calls = Calls(provider)
    response = summarize(served, model="openai/ok\r\nX-Injected: 1")
    refused(response, 422, "invalid_request")
    assert "x-injected" not in response.headers
    calls.none()


def test_slow_clients_are_cut_off_and_do_not_block_others(provider: FaultServer) -> None:
    """Slowloris, bounded: 20 connections trickle their headers a byte at a time; a good
    request is answered meanwhile, and the slow ones get a 408 at the header deadline."""
    calls = Calls(provider)
    with running(secured(provider), header_timeout=1.5) as url:
        host, port = url.removeprefix("http://").split(":")
        slow = [socket.create_connection((host, int(port)), timeout=10) for _ in range(20)]
        request = b"POST /v1/summaries HTTP/1.1\r\nHost: 127.0.0.1\r\n" + KEY_HEADER
        started = time.monotonic()
        for index in range(12):  # about 3 s of trickling, past the 1.5 s deadline
            for sock in slow:
                with contextlib.suppress(OSError):  # closed by the server: as it should
                    sock.sendall(request[index : index + 1])
            time.sleep(0.25)
            if index == 2:
                good = summarize(url)
        answers = []
        for sock in slow:
            try:
                answers.append(sock.recv(4096))
            except OSError:
                answers.append(b"")
            sock.close()
        elapsed = time.monotonic() - started
        assert good.status_code == 200, good.text
        still_serving(url)
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers), answers[:3]
    assert b"request_timeout" in answers[0]
    assert elapsed < 10
    REFUSED_CALLS.append(calls.made - 2)
    TALLY[408, "request_timeout (slow headers)"] += len(answers)
    assert calls.made == 2  # the two good requests only


def test_a_slow_body_is_408(provider: FaultServer) -> None:
    from summarizer import server_limits

    calls = Calls(provider)
    app = secured(provider)
    # The body deadline is the middleware's; a short one keeps the test short.
    for middleware in app.user_middleware:
        if middleware.cls is server_limits.BodyLimit:
            middleware.kwargs["body_timeout"] = 1.0
    with running(app) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/summaries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + KEY_HEADER
                + b'\r\nContent-Length: 100\r\n\r\n{"text": '
            )
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        still_serving(url)
    REFUSED_CALLS.append(calls.made - 1)
    TALLY[408, "request_timeout (slow body)"] += 1
    assert calls.made == 1


# -- limits per key -----------------------------------------------------------------------------


def test_200_concurrent_requests_from_20_keys_at_10_a_minute(provider: FaultServer) -> None:
    """Half the keys send 15 requests, half 5, all at once: each key gets exactly its 10
    (or its 5) answered and the rest 429 with a Retry-After within the minute; the provider
    sees exactly the calls of the answered ones."""
    plan = [name for i, name in enumerate(KEYS) for _ in range(15 if i % 2 else 5)]
    assert len(plan) == 200
    calls = Calls(provider)

    async def attack(url: str) -> list[tuple[str, httpx.Response]]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:

            async def one(name: str) -> tuple[str, httpx.Response]:
                response = await client.post(
                    f"{url}/v1/summaries", json={"text": ARTICLE}, headers=bearer(KEYS[name])
                )
                return name, response

            return await asyncio.gather(*(one(name) for name in plan))

    limits = Limits(requests_per_minute=10, tokens_per_day=0)
    with running(secured(provider, limits=limits, workers=8)) as url:
        results = asyncio.run(attack(url))
        after = summarize(url, headers=bearer(KEYS["caller01"]))  # a heavy key: still limited
        other = summarize(url, headers=bearer(KEYS["caller00"]))  # a light key: 5 of 10 used
    answered: dict[str, int] = {}
    for name, response in results:
        if response.status_code == 200:
            answered[name] = answered.get(name, 0) + 1
            continue
        refused(response, 429, "rate_limited")
        assert 1 <= int(response.headers["retry-after"]) <= 60
    assert answered == {name: 10 if i % 2 else 5 for i, name in enumerate(KEYS)}
    assert sum(answered.values()) == 150
    billed = sum(r.json()["meta"]["calls"] for _, r in results if r.status_code == 200)
    REFUSED_CALLS.append(calls.made - billed - 1)
    assert calls.made == billed + 1  # and the one more for the light key afterwards
    refused(after, 429, "rate_limited")
    assert other.status_code == 200


def test_a_key_out_of_tokens_for_the_day_gets_429_until_midnight(provider: FaultServer) -> None:
    """The fake provider reports 15 tokens a call; the article is estimated at 2 x 40."""
    calls = Calls(provider)
    limits = Limits(requests_per_minute=0, tokens_per_day=110)
    with running(secured(provider, limits=limits)) as url:
        answered = [summarize(url) for _ in range(3)]
        spent = summarize(url)
        streamed = httpx.post(
            f"{url}/v1/translations?stream=true",
            json={"text": ARTICLE},
            headers=bearer(),
            timeout=TIMEOUT,
        )
        other = summarize(url, headers=bearer(KEYS["caller05"]))
    assert [r.status_code for r in answered] == [200, 200, 200]
    for response in (spent, streamed):  # a stream is refused before it starts
        body = refused(response, 429, "token_budget_spent")
        assert "110" in body.message
        assert 1 <= int(response.headers["retry-after"]) <= 86_400
    assert other.status_code == 200  # another key's budget is its own
    REFUSED_CALLS.append(calls.made - 4)
    assert calls.made == 4


def test_token_budget_arithmetic() -> None:
    import datetime as dt

    late = dt.datetime(2026, 12, 2, 23, 59, 0, tzinfo=dt.timezone.utc)
    quotas = Quotas(Limits(tokens_per_day=1000), now=lambda: late)
    held = quotas.reserve("a", "x" * 1600)  # 2 x 400 tokens
    assert held == 800
    with pytest.raises(TokenBudgetSpent) as refused_:
        quotas.reserve("a", "x" * 1600)  # 800 held + 800 > 1000: refused while running
    assert refused_.value.retry_after == 60  # until midnight, UTC
    quotas.settle("a", held, 120)  # the model said 120
    assert quotas.reserve("a", "x" * 1600) == 800  # 120 + 800 fits


def test_summarize_serve_refuses_a_public_host_without_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """Exit code 4 before anything listens; with a key file it would start (not started
    here: uvicorn.run is replaced by a recorder)."""
    import uvicorn
    from typer.testing import CliRunner

    from summarizer.cli import app

    started: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **options: started.append(options))
    monkeypatch.delenv("SUMMARIZER_SERVER_KEYS", raising=False)
    common = [
        "serve",
        "--host",
        "0.0.0.0",
        "--model",
        "openai/x",
        "--api-base",
        "http://127.0.0.1:9/v1",
    ]
    refused_ = CliRunner().invoke(app, common)
    assert refused_.exit_code == 4, refused_.output
    assert "without API keys" in refused_.output and "--api-key-file" in refused_.output
    assert started == []
    keys = tmp_path / "keys"
    keys.write_text(f"alice:{KEY}\n")
    served = CliRunner().invoke(app, [*common, "--api-key-file", str(keys)])
    assert served.exit_code == 0, served.output
    assert "API keys required (1 key(s))" in served.output
    assert "60 requests a minute, 1,000,000 tokens a day" in served.output
    assert KEY not in served.output
    assert started[0]["host"] == "0.0.0.0"
    monkeypatch.setenv("SUMMARIZER_SERVER_KEYS", f"bob:{KEY}")
    from_env = CliRunner().invoke(app, common)
    assert from_env.exit_code == 0, from_env.output
    monkeypatch.delenv("SUMMARIZER_SERVER_KEYS")
    insecure = CliRunner().invoke(app, [*common, "--insecure-no-auth"])
    assert insecure.exit_code == 0, insecure.output
    assert "WARNING: no API keys" in insecure.output
    assert len(started) == 3
