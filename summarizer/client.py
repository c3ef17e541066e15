"""The only module that imports litellm, and where its errors become ours.

Importing litellm takes seconds, so nothing on the ``--help`` path imports this module.
The bundled llama.cpp models are registered here as litellm's ``local/`` provider, so a
local model and a remote one travel the same path, ``litellm.completion``, in a chain of
fallbacks or in the HTTP service. A command with a local model alone uses
``local.LocalClient`` directly and spares itself this import.
"""

from __future__ import annotations

import email.utils
import json
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, NoReturn

# Before litellm is imported: otherwise it fetches its price map from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
import litellm
import tenacity
from litellm import CustomLLM
from litellm.types.utils import ModelResponse

from summarizer import bundled, local
from summarizer.errors import (
    ConfigError,
    ContextOverflowError,
    FormatRejected,
    ProviderError,
    ProviderTimeout,
    UsageError,
    redact,
)
from summarizer.estimate import FALLBACK_CONTEXT_WINDOW as FALLBACK_CONTEXT_WINDOW
from summarizer.llm import ChatRequest, ChatResponse
from summarizer.models import LOCAL_PREFIX, parse_model
from summarizer.schema import Usage

litellm.suppress_debug_info = True
# Providers that do not know a parameter (response_format on some) drop it instead of
# failing; the pipeline validates every answer and re-asks anyway.
litellm.drop_params = True


class LocalProvider(CustomLLM):
    """litellm provider ``local/``: runs a GGUF model in-process with llama.cpp."""

    def completion(self, *args: Any, **kwargs: Any) -> ModelResponse:
        model_name: str = kwargs["model"]
        if not model_name.startswith(LOCAL_PREFIX):
            model_name = LOCAL_PREFIX + model_name
        params: dict[str, Any] = kwargs.get("optional_params") or {}
        response_format = params.get("response_format") or {}
        answer = local.LocalClient().complete(
            ChatRequest(
                model=model_name,
                messages=kwargs["messages"],
                task="local",
                response_schema=(response_format.get("json_schema") or {}).get("schema"),
                max_tokens=int(params.get("max_tokens") or 1024),
                temperature=float(params.get("temperature") or 0.0),
                seed=int(params["seed"]) if params.get("seed") is not None else None,
            )
        )
        response: ModelResponse = kwargs["model_response"]
        choice: Any = response.choices[0]
        choice.message.content = answer.text
        choice.finish_reason = answer.finish_reason or "stop"
        response.model = model_name
        response.usage = litellm.Usage(  # type: ignore[attr-defined]
            prompt_tokens=answer.usage.input_tokens,
            completion_tokens=answer.usage.output_tokens,
            total_tokens=answer.usage.input_tokens + answer.usage.output_tokens,
        )
        return response


_local_provider = LocalProvider()
litellm.custom_provider_map = [
    entry for entry in litellm.custom_provider_map if entry.get("provider") != "local"
] + [{"provider": "local", "custom_handler": _local_provider}]


# HTTP clients litellm pooled before a fork (a batch worker process): theirs are the
# parent's sockets. Kept here, unused and never closed, so that no two processes talk on one
# connection and no worker shuts one down under the parent.
_INHERITED_CLIENTS: list[dict[str, Any]] = []


def _forget_pooled_clients() -> None:
    pool = litellm.in_memory_llm_clients_cache
    _INHERITED_CLIENTS.append(dict(pool.cache_dict))
    pool.flush_cache()  # type: ignore[no-untyped-call]


os.register_at_fork(after_in_child=_forget_pooled_clients)


# Errors worth another try: the provider may answer next time. Anything else (a refused
# key, an unknown model, a bad request) fails the same way every time.
_RETRYABLE = (
    litellm.Timeout,
    litellm.APIConnectionError,
    litellm.RateLimitError,
    litellm.InternalServerError,
    litellm.ServiceUnavailableError,
    litellm.BadGatewayError,
)
# Seconds a hung connection gets beyond ``timeout`` before we stop waiting for it.
DEADLINE_GRACE_S = 1.0


# Providers with a default server that litellm still lists a base-URL variable for.
_DEFAULT_BASE_PROVIDERS = frozenset({"ollama", "ollama_chat"})
# response_format forms, best first; a server that rejects one gets the next.
_FORMATS = ("json_schema", "json_object", "none")


class _DeadlineExceeded(Exception):
    """A remote call outlived timeout + grace (a server that trickles bytes forever)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one model is retried.

    Args:
        retries: further attempts after the first, for errors worth retrying (timeouts,
            dropped connections, 429, 5xx).
        backoff_base: first wait in seconds; doubles each retry.
        max_wait: cap on any single wait, backoff or ``Retry-After``. A provider asking to
            wait longer is treated as failed now (next fallback), not waited for.
    """

    retries: int = 2
    backoff_base: float = 1.0
    max_wait: float = 30.0

    def wait(self) -> tenacity.wait.wait_base:
        """tenacity's wait: the provider's ``Retry-After`` when it sent one, else
        ``backoff_base * 2**retry`` (retry 0-based) capped at ``max_wait``, without jitter.

        A ``Retry-After`` over ``max_wait`` never gets here: ``stop`` gives up first.
        """
        return _WaitRetryAfter(
            tenacity.wait_exponential(multiplier=self.backoff_base, exp_base=2, max=self.max_wait)
        )

    def stop(self) -> tenacity.stop.stop_base:
        """tenacity's stop: after ``retries + 1`` attempts, or at once when the provider
        asks to wait longer than ``max_wait``."""
        return tenacity.stop_after_attempt(self.retries + 1) | _AsksTooLong(self.max_wait)


class _WaitRetryAfter(tenacity.wait.wait_base):
    """The provider's ``Retry-After`` when the failed attempt carried one, else ``otherwise``."""

    def __init__(self, otherwise: tenacity.wait.wait_base) -> None:
        self.otherwise = otherwise

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        asked = _retry_after_of(retry_state)
        return float(self.otherwise(retry_state)) if asked is None else asked


class _AsksTooLong(tenacity.stop.stop_base):
    """Stop when the provider asks to wait longer than ``max_wait``: fail now, next fallback."""

    def __init__(self, max_wait: float) -> None:
        self.max_wait = max_wait

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        asked = _retry_after_of(retry_state)
        return asked is not None and asked > self.max_wait


def _retry_after_of(retry_state: tenacity.RetryCallState) -> float | None:
    outcome = retry_state.outcome
    error = outcome.exception() if outcome is not None and outcome.failed else None
    return error.retry_after if isinstance(error, ProviderError) else None


def _failure(retry_state: tenacity.RetryCallState) -> ProviderError:
    """The error the attempt just made failed with (only ours are ever retried)."""
    outcome = retry_state.outcome
    error = outcome.exception() if outcome is not None else None
    assert isinstance(error, ProviderError), error
    return error


def _worth_retrying(error: BaseException) -> bool:
    return isinstance(error, ProviderError) and error.retryable


def run_bound_s(timeout: float, policy: RetryPolicy, models: int) -> float:
    """Longest one request can take through every model: the bound the README documents.

    Each model gets ``retries + 1`` attempts of at most ``timeout + DEADLINE_GRACE_S``
    seconds and ``retries`` waits of at most ``max_wait`` seconds, plus at most two quick
    re-sends with a simpler ``response_format`` if a server refuses ours.
    """
    attempts = policy.retries + 1 + len(_FORMATS) - 1
    return models * (attempts * (timeout + DEADLINE_GRACE_S) + policy.retries * policy.max_wait)


class LiteLLMClient:
    """Any litellm model, local or remote, with retries, backoff and fallbacks.

    Remote requests are retried on transient faults with exponential backoff (respecting
    ``Retry-After``); when a model's attempts run out, or it fails in a way retrying cannot
    fix, the next of ``fallbacks`` is tried, and a model that failed is not asked again in
    this client's lifetime. The bundled models run in-process: no network, no retries.

    What is tenacity's and what is ours: the retries of one model (how many, the waits, when
    to give up) are a ``tenacity.Retrying`` built from ``RetryPolicy``. Three pieces stay
    hand-written, because no library we know keeps them (litellm's ``Router`` was tried: its
    waits carry random jitter and an 8 s cap, it waits up to 60 s when asked to, it cannot
    be handed a ``sleep``, and it has no deadline for a server that trickles bytes):

    * the fallback chain (``complete``): it remembers the models that failed for the
      client's lifetime, so a batch stops paying for a dead provider on every call;
    * the ``response_format`` downgrade (``_send``): a different request, not another
      attempt, so it must not spend the attempts a transient fault may need;
    * the hard deadline (``_within``): tenacity's stops are checked between attempts and
      httpx's timeout is per read, so neither ends an attempt that never finishes.

    Args:
        api_base: base URL of an OpenAI-compatible (or other) server, for remote models.
        timeout: seconds one request may take; a hard deadline (plus a second of grace)
            even against a server that keeps the connection alive without answering.
        retries: further attempts per model for transient faults.
        fallbacks: models tried in order when the requested one fails.
        policy: backoff and wait caps; ``retries`` overrides its ``retries``.
        sleep: how to wait (tests pass a recorder).
        notify: called with a one-line notice on each retry and fallback (the CLI prints it).
        context_window: tokens every remote model accepts, instead of what litellm knows
            (``FALLBACK_CONTEXT_WINDOW`` for a model it does not know, such as one behind
            an OpenAI-compatible server).
    """

    def __init__(
        self,
        *,
        api_base: str | None = None,
        timeout: float = 600.0,
        retries: int | None = None,
        fallbacks: Sequence[str] = (),
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        notify: Callable[[str], None] | None = None,
        context_window: int | None = None,
    ) -> None:
        if not timeout > 0:
            raise UsageError(
                f"--timeout must be a positive number of seconds, not {timeout}.",
                hint="For example --timeout 120.",
            )
        policy = policy or RetryPolicy()
        if retries is not None:
            policy = replace(policy, retries=retries)
        if policy.retries < 0:
            raise UsageError(
                f"--retries must be 0 or more, not {policy.retries}.", hint="For example 2."
            )
        if context_window is not None and context_window <= 0:
            raise UsageError(
                f"--context-window must be a positive number of tokens, not {context_window}.",
                hint="For example --context-window 32768.",
            )
        self.api_base = api_base
        self.timeout = float(timeout)
        self.policy = policy
        self.fallbacks = list(fallbacks)
        self.sleep = sleep
        self.notify = notify
        self.context_window_override = context_window
        self._failed: set[str] = set()
        # Per model: how far response_format was downgraded after the server refused it.
        self._format_level: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def num_retries(self) -> int:
        return self.policy.retries

    def bound_s(self) -> float:
        """Longest one request can take, through every fallback (local models excluded)."""
        return run_bound_s(self.timeout, self.policy, 1 + len(self.fallbacks))

    # -- validation -----------------------------------------------------------------------

    def check_model(self, model: str) -> None:
        """Fail before any call when ``model`` cannot be used: unknown provider, missing key.

        Raises:
            ConfigError: what is wrong and how to fix it.
        """
        ref = parse_model(model)
        if ref.is_local:
            bundled.resolve_local_path(ref.local_name or "")
            return
        try:
            _, provider, _, _ = litellm.get_llm_provider(model=model, api_base=self.api_base)
        except Exception as exc:
            raise ConfigError(
                f"Unknown model {model!r}: litellm cannot tell which provider serves it.",
                hint="Name it as provider/model, e.g. openai/gpt-4o-mini, anthropic/"
                "claude-3-5-haiku-latest, gemini/gemini-1.5-flash, ollama/qwen2.5:7b, or "
                "openai/<name> with --api-base for an OpenAI-compatible server.",
            ) from exc
        try:
            environment = litellm.validate_environment(model=model, api_base=self.api_base)
        except Exception:  # litellm cannot tell for this provider; the call will say
            return
        missing = [
            name
            for name in environment.get("missing_keys") or []
            if not self._supplied(provider, name)
        ]
        if missing:
            raise ConfigError(
                f"No API key found for {model!r} ({provider}).",
                hint=f"Set the {' or '.join(missing)} environment variable.",
            )

    def _supplied(self, provider: str, variable: str) -> bool:
        """Whether a variable litellm calls missing is one the call does without: a base URL
        Ollama defaults (localhost:11434) or ``--api-base`` gives, and an OpenAI-compatible
        server's key (``complete`` sends a placeholder; such servers often need none). Any
        other provider behind ``--api-base`` (a proxy for anthropic/...) still needs its key."""
        if variable.endswith("_API_BASE"):
            return provider in _DEFAULT_BASE_PROVIDERS or self.api_base is not None
        return self.api_base is not None and provider == "openai"

    def check_models(self, model: str) -> None:
        """``check_model`` for ``model`` and every fallback, before any call is made."""
        for name in [model, *self.fallbacks]:
            self.check_model(name)

    # -- LLMClient ------------------------------------------------------------------------

    def complete(self, request: ChatRequest) -> ChatResponse:
        """The first answer from ``request.model`` or, failing that, its fallbacks.

        Raises:
            ProviderError: every model failed; the message names the last failure.
            ContextOverflowError: the request does not fit the last model tried.
        """
        chain = [request.model, *[m for m in self.fallbacks if m != request.model]]
        with self._lock:
            candidates = [m for m in chain if m not in self._failed] or chain[-1:]
        failures: list[str] = []
        for position, model in enumerate(candidates):
            try:
                response = self._with_retries(replace(request, model=model))
                return response if model == request.model else replace(response, model=model)
            except (ProviderError, ContextOverflowError) as exc:
                with self._lock:
                    self._failed.add(model)
                failures.append(model)
                if position + 1 == len(candidates):
                    if len(failures) > 1:
                        exc.message = f"All models failed ({', '.join(failures)}). {exc.message}"
                    raise
                self._tell(f"{exc.message} Trying fallback {candidates[position + 1]}.")
        raise AssertionError("unreachable: the chain is never empty")

    def _with_retries(self, request: ChatRequest) -> ChatResponse:
        """One model's answer, retried by tenacity on transient faults (``RetryPolicy``)."""
        if parse_model(request.model).is_local:
            return self._call(request)  # in-process: nothing transient to retry
        retrying = tenacity.Retrying(
            sleep=lambda seconds: self.sleep(float(seconds)),
            stop=self.policy.stop(),
            wait=self.policy.wait(),
            retry=tenacity.retry_if_exception(_worth_retrying),
            before_sleep=self._before_retry,
            retry_error_callback=self._give_up,
        )
        response: ChatResponse = retrying(self._send, request)
        return response

    def _send(self, request: ChatRequest) -> ChatResponse:
        """One attempt: ``request``, re-sent with a simpler ``response_format`` while the
        server refuses ours. A downgrade is not an attempt (it fails fast, at most twice per
        model and client) and is remembered, so later requests start from the form that
        works. Hand-written rather than a tenacity retry: each re-send is a different
        request, and it must not spend the attempts a transient fault may need."""
        while True:
            try:
                return self._call(request)
            except FormatRejected:
                level = self._format_level.get(request.model, 0)
                if level + 1 >= len(_FORMATS):
                    raise
                self._format_level[request.model] = level + 1
                self._tell(
                    f"{request.model} does not accept response_format {_FORMATS[level]}; "
                    f"retrying with {_FORMATS[level + 1]} (the answer is validated anyway)."
                )

    def _before_retry(self, retry_state: tenacity.RetryCallState) -> None:
        """The notice before each wait: the failure, the wait, and the next attempt."""
        error = _failure(retry_state)
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        attempt = f"{retry_state.attempt_number + 1}/{self.policy.retries + 1}"
        self._tell(f"{error.message} Retrying in {wait:.1f} s ({attempt}).")

    def _give_up(self, retry_state: tenacity.RetryCallState) -> NoReturn:
        """The last transient failure, saying why there is no further attempt."""
        error = _failure(retry_state)
        attempts = self.policy.retries + 1
        if retry_state.attempt_number < attempts:  # stopped early by _AsksTooLong
            error.message = (
                f"{error.message} (it asks to wait {error.retry_after:g} s, more than "
                f"the {self.policy.max_wait:g} s we wait)"
            )
        elif attempts > 1:
            error.message = f"{error.message} (after {attempts} attempts)"
        raise error

    def _tell(self, notice: str) -> None:
        if self.notify is not None:
            self.notify(redact(notice))

    def _call(self, request: ChatRequest) -> ChatResponse:
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.seed is not None:
            kwargs["seed"] = request.seed
        level = self._format_level.get(request.model, 0)
        if request.response_schema is not None and _FORMATS[level] == "json_schema":
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name,
                    "schema": request.response_schema,
                    # Not strict: OpenAI's strict mode rejects the length bounds that
                    # llama.cpp needs; the pipeline validates every answer itself.
                    "strict": False,
                },
            }
        elif request.response_schema is not None and _FORMATS[level] == "json_object":
            # The older form llama-cpp-python's server (and Anyscale) understand.
            kwargs["response_format"] = {"type": "json_object", "schema": request.response_schema}
        is_local = parse_model(request.model).is_local
        if not is_local:
            # Retries are ours (Retry-After, fallbacks, one bound): none in litellm or in
            # the provider's SDK underneath, which would multiply the attempts.
            kwargs.update(timeout=self.timeout, num_retries=0, max_retries=0)
            if self.api_base:
                kwargs["api_base"] = self.api_base
                if request.model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
                    kwargs["api_key"] = "no-key-required"
        started = time.perf_counter()
        try:
            if is_local:
                response = litellm.completion(**kwargs)
            else:
                response = _within(self.timeout + DEADLINE_GRACE_S, litellm.completion, kwargs)
        except Exception as exc:
            raise _translate_error(exc, request.model, self.timeout) from exc
        latency = time.perf_counter() - started
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        return ChatResponse(
            text=choice.message.content or "",
            usage=Usage(
                input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            ),
            cost_usd=_cost(response, request.model),
            finish_reason=choice.finish_reason,
            latency_s=latency,
        )

    def count_tokens(self, model: str, text: str) -> int:
        ref = parse_model(model)
        if ref.is_local:
            return local.count_tokens(ref.local_name or "", text)
        # Bundled tokenizers: works offline, unlike plain tiktoken.
        return int(litellm.token_counter(model=model, text=text))

    def context_window(self, model: str) -> int:
        """Tokens ``model`` accepts: the ``context_window`` given for every remote model,
        else what litellm knows, else ``FALLBACK_CONTEXT_WINDOW``."""
        ref = parse_model(model)
        if ref.is_local:
            return local.DEFAULT_N_CTX
        if self.context_window_override is not None:
            return self.context_window_override
        try:
            info = litellm.get_model_info(model=model)
        except Exception:
            return FALLBACK_CONTEXT_WINDOW
        window = info.get("max_input_tokens") or info.get("max_tokens")
        return int(window) if window else FALLBACK_CONTEXT_WINDOW


def _within(seconds: float, function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """``function(**kwargs)``, or ``_DeadlineExceeded`` after ``seconds``.

    httpx's timeout is per read, so a server sending a byte a second never trips it. The
    call runs in a daemon thread that is abandoned on expiry: it cannot keep the process
    alive, and its socket closes when the server or the process goes.
    """
    outcome: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def target() -> None:
        try:
            outcome.put((True, function(**kwargs)))
        except BaseException as exc:
            outcome.put((False, exc))

    threading.Thread(target=target, name="summarizer-request", daemon=True).start()
    try:
        ok, value = outcome.get(timeout=seconds)
    except queue.Empty:
        raise _DeadlineExceeded(f"no complete answer within {seconds:g} s") from None
    if ok:
        return value
    raise value


def _retry_after(exc: Exception) -> float | None:
    """Seconds the provider asked us to wait (``Retry-After``/``retry-after-ms``), if any."""
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    if not headers:
        return None
    try:
        milliseconds = headers.get("retry-after-ms")
        if milliseconds is not None:
            return max(0.0, float(milliseconds) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, AttributeError):
        return None  # unparseable: fall back to our own backoff


def _cost(response: Any, model: str) -> float | None:
    if parse_model(model).is_local:
        return 0.0
    hidden = getattr(response, "_hidden_params", None) or {}
    if "response_cost" in hidden:
        # litellm priced the response already (None: it knows no price for the model);
        # pricing it again would cost a millisecond per call, a real share in big batches.
        cost = hidden["response_cost"]
        return None if cost is None else float(cost)
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:  # litellm has no price for this model
        return None


_TRY_LATER = "Retry later, raise --timeout, or add --fallback MODEL."
_CHECK_NETWORK = "Check the network and --api-base, or add --fallback MODEL."


@dataclass(frozen=True)
class _Rule:
    """One kind of provider failure: how to recognise it and what to tell the user.

    A rule matches when the exception is one of ``types``, when litellm wrapped one of
    ``causes`` (a transport's or a parser's own exception, anywhere down its chain of
    causes), or, the last resort where litellm keeps no cause, when its words contain one of
    ``says``. ``message`` is formatted with ``model``, ``detail`` (the provider's words),
    ``timeout``, ``status`` and ``exc``.
    """

    message: str
    hint: str
    types: tuple[type[BaseException], ...] = ()
    causes: tuple[type[BaseException], ...] = ()
    says: tuple[str, ...] = ()
    retryable: bool = False
    kind: type[ProviderError] = ProviderError

    def matches(self, exc: Exception, detail: str) -> bool:
        return (
            isinstance(exc, self.types)
            or any(isinstance(cause, self.causes) for cause in _causes(exc))
            or any(words in detail for words in self.says)
        )


# First match wins. Errors the server answered with (401, 404, 400, 429) come first, so no
# cause of theirs is taken for a transport fault; litellm.Timeout is an APIConnectionError;
# a dropped connection and a body that is not JSON both come as an InternalServerError (500).
_RULES = (
    _Rule(
        "{model} did not answer within --timeout {timeout:g} s ({exc}).",
        _TRY_LATER,
        types=(_DeadlineExceeded,),
        retryable=True,
        kind=ProviderTimeout,
    ),
    _Rule(
        "{model} refused the API key: {detail}",
        "Check the provider's API key environment variable.",
        types=(litellm.AuthenticationError,),
    ),
    _Rule(
        "{model} was not found by its provider: {detail}",
        "Check the model name (and --api-base).",
        types=(litellm.NotFoundError,),
    ),
    _Rule(
        "{model} rejected the request: {detail}",
        "Check the model name and options.",
        types=(litellm.BadRequestError,),
    ),
    _Rule(
        "{model} is rate-limited (HTTP 429): {detail}",
        "Wait and retry, lower the request rate, or add --fallback MODEL.",
        types=(litellm.RateLimitError,),
        retryable=True,
    ),
    _Rule(
        "{model} did not answer within --timeout {timeout:g} s.",
        _TRY_LATER,
        types=(litellm.Timeout,),
        causes=(httpx.TimeoutException,),
        retryable=True,
        kind=ProviderTimeout,
    ),
    _Rule(
        "Could not reach {model}: {detail}",
        _CHECK_NETWORK,
        types=(litellm.APIConnectionError,),
        retryable=True,
    ),
    _Rule(
        "Could not reach {model}: the connection failed or was dropped.",
        _CHECK_NETWORK,
        causes=(httpx.TransportError,),
        says=("Connection error",),  # litellm's words for it, reported as HTTP 500
        retryable=True,
    ),
    _Rule(
        "{model} answered with something that is not JSON (an error page from a proxy?).",
        "Check --api-base points at the API (it usually ends in /v1), or retry later.",
        causes=(json.JSONDecodeError,),
        says=("Expecting value", "JSONDecodeError"),
        retryable=True,
    ),
    _Rule(
        "{model} failed on the provider's side (HTTP {status}): {detail}",
        "The provider is having trouble: retry later, or add --fallback MODEL.",
        types=_RETRYABLE,
        retryable=True,
    ),
)


def _translate_error(exc: Exception, model: str, timeout: float) -> Exception:
    """litellm's exception zoo, as one of ours with a hint a person can act on."""
    if isinstance(exc, ProviderError | ConfigError | ContextOverflowError):
        return exc
    detail = _detail(exc)
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    provider = getattr(exc, "llm_provider", None)
    if "response_format" in str(exc) and status in (400, 422, 500):
        return FormatRejected(
            f"{model} rejected the response_format: {detail}",
            model=model,
            provider=provider,
            hint="Use a server that supports JSON schema output.",
            status=status,
        )
    if isinstance(exc, litellm.ContextWindowExceededError):
        return ContextOverflowError(
            f"The request did not fit {model}'s context window: {detail}",
            hint="Use a model with a larger context window.",
        )
    rule = next((rule for rule in _RULES if rule.matches(exc, detail)), None)
    if rule is None:
        rule = _Rule(
            f"{model} failed: {type(exc).__name__}: {detail}",
            "Retry; run with --debug for details.",
            retryable=status is not None and status >= 500,
        )
        message = rule.message
    else:
        message = rule.message.format(
            model=model, detail=detail, timeout=timeout, status=status, exc=exc
        )
    return rule.kind(
        message,
        model=model,
        provider=provider,
        hint=rule.hint,
        retryable=rule.retryable,
        retry_after=_retry_after(exc) if rule.retryable else None,
        status=status,
    )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """What ``exc`` was raised from or while handling, nearest first (a bounded walk)."""
    seen = {id(exc)}
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen and len(seen) < 16:
        yield cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__


def _detail(exc: Exception) -> str:
    """The provider's own words, without litellm's class-name prefixes, on one line."""
    text = str(getattr(exc, "message", None) or exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    # "litellm.RateLimitError: RateLimitError: OpenAIException - the words"
    text = re.sub(r"^(?:litellm\.)?\w+Error: (?:\w+Error: )?(?:\w+Exception - )?", "", text)
    return text[:300]
