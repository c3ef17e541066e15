"""The only module that imports litellm, and where its errors become ours.

Importing litellm takes seconds, so nothing on the ``--help`` path imports this module.
The bundled llama.cpp models are registered here as litellm's ``local/`` provider, so a
local model and a remote one travel the same path: ``litellm.completion``.
"""

from __future__ import annotations

import os
import time
from typing import Any

# Before litellm is imported: otherwise it fetches its price map from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from litellm import CustomLLM
from litellm.types.utils import ModelResponse

from summarizer import local
from summarizer.errors import ConfigError, ContextOverflowError, ProviderError
from summarizer.llm import ChatRequest, ChatResponse
from summarizer.models import LOCAL_PREFIX, parse_model
from summarizer.schema import Usage

litellm.suppress_debug_info = True
# Providers that do not know a parameter (response_format on some) drop it instead of
# failing; the pipeline validates every answer and re-asks anyway.
litellm.drop_params = True

# Used when litellm does not know a model's window; small enough for any chat model we
# know of, so the worst case is more chunks than needed, never an overflow.
FALLBACK_CONTEXT_WINDOW = 8192


class LocalProvider(CustomLLM):
    """litellm provider ``local/``: runs a GGUF model in-process with llama.cpp."""

    def completion(self, *args: Any, **kwargs: Any) -> ModelResponse:
        model_name: str = kwargs["model"]
        if model_name.startswith(LOCAL_PREFIX):
            model_name = model_name[len(LOCAL_PREFIX) :]
        params: dict[str, Any] = kwargs.get("optional_params") or {}
        response_format = params.get("response_format") or {}
        schema = (response_format.get("json_schema") or {}).get("schema")
        result = local.get_model(model_name).chat(
            kwargs["messages"],
            json_schema=schema,
            max_tokens=int(params.get("max_tokens") or 1024),
            temperature=float(params.get("temperature") or 0.0),
        )
        response: ModelResponse = kwargs["model_response"]
        choice: Any = response.choices[0]
        choice.message.content = result.text
        choice.finish_reason = result.finish_reason or "stop"
        response.model = LOCAL_PREFIX + model_name
        response.usage = litellm.Usage(  # type: ignore[attr-defined]
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            total_tokens=result.prompt_tokens + result.completion_tokens,
        )
        return response


_local_provider = LocalProvider()
litellm.custom_provider_map = [
    entry for entry in litellm.custom_provider_map if entry.get("provider") != "local"
] + [{"provider": "local", "custom_handler": _local_provider}]


class LiteLLMClient:
    """Any litellm model, local or remote.

    Args:
        api_base: base URL of an OpenAI-compatible (or other) server, for remote models.
        timeout: seconds one request may take.
        num_retries: litellm's own retries for transient provider errors.
    """

    def __init__(
        self, *, api_base: str | None = None, timeout: float = 600.0, num_retries: int = 2
    ) -> None:
        self.api_base = api_base
        self.timeout = timeout
        self.num_retries = num_retries

    # -- validation -----------------------------------------------------------------------

    def check_model(self, model: str) -> None:
        """Fail before any call when ``model`` cannot be used: unknown provider, missing key.

        Raises:
            ConfigError: what is wrong and how to fix it.
        """
        ref = parse_model(model)
        if ref.is_local:
            local.resolve_local_path(ref.local_name or "")
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
        if self.api_base:
            return  # self-hosted servers often need no key; the server will say if it does
        try:
            environment = litellm.validate_environment(model=model)
        except Exception:  # litellm cannot tell for this provider; the call will say
            return
        missing = environment.get("missing_keys") or []
        if missing:
            raise ConfigError(
                f"No API key found for {model!r} ({provider}).",
                hint=f"Set the {' or '.join(missing)} environment variable.",
            )

    # -- LLMClient ------------------------------------------------------------------------

    def complete(self, request: ChatRequest) -> ChatResponse:
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "timeout": self.timeout,
        }
        if request.response_schema is not None:
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
        if not parse_model(request.model).is_local:
            kwargs["num_retries"] = self.num_retries
            if self.api_base:
                kwargs["api_base"] = self.api_base
                if request.model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
                    kwargs["api_key"] = "no-key-required"
        started = time.perf_counter()
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:
            raise _translate_error(exc, request.model) from exc
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
            return local.get_model(ref.local_name or "", vocab_only=True).count_tokens(text)
        # Bundled tokenizers: works offline, unlike plain tiktoken.
        return int(litellm.token_counter(model=model, text=text))

    def context_window(self, model: str) -> int:
        ref = parse_model(model)
        if ref.is_local:
            return local.DEFAULT_N_CTX
        try:
            info = litellm.get_model_info(model=model)
        except Exception:
            return FALLBACK_CONTEXT_WINDOW
        window = info.get("max_input_tokens") or info.get("max_tokens")
        return int(window) if window else FALLBACK_CONTEXT_WINDOW


def _cost(response: Any, model: str) -> float | None:
    if parse_model(model).is_local:
        return 0.0
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:  # litellm has no price for this model
        return None


def _translate_error(exc: Exception, model: str) -> Exception:
    """litellm's exception zoo, as one of ours with a hint a person can act on."""
    if isinstance(exc, ProviderError | ConfigError):
        return exc
    provider = getattr(exc, "llm_provider", None)
    detail = str(getattr(exc, "message", None) or exc).strip().splitlines()[0][:300]
    if isinstance(exc, litellm.ContextWindowExceededError):
        return ContextOverflowError(
            f"The request did not fit {model}'s context window: {detail}",
            hint="Use a model with a larger context window.",
        )
    if isinstance(exc, litellm.AuthenticationError):
        return ProviderError(
            f"{model} refused the API key: {detail}",
            model=model,
            provider=provider,
            hint="Check the provider's API key environment variable.",
        )
    if isinstance(exc, litellm.NotFoundError):
        return ProviderError(
            f"{model} was not found by its provider: {detail}",
            model=model,
            provider=provider,
            hint="Check the model name (and --api-base).",
        )
    if isinstance(exc, litellm.RateLimitError):
        return ProviderError(
            f"{model} is rate-limited: {detail}",
            model=model,
            provider=provider,
            hint="Wait and retry, or lower the request rate.",
        )
    if isinstance(exc, litellm.Timeout):
        return ProviderError(
            f"{model} did not answer in time: {detail}",
            model=model,
            provider=provider,
            hint="Retry, or raise --timeout.",
        )
    if isinstance(exc, litellm.APIConnectionError):
        return ProviderError(
            f"Could not reach {model}: {detail}",
            model=model,
            provider=provider,
            hint="Check the network and --api-base.",
        )
    if isinstance(exc, litellm.BadRequestError):
        return ProviderError(
            f"{model} rejected the request: {detail}",
            model=model,
            provider=provider,
            hint="Check the model name and options.",
        )
    return ProviderError(
        f"{model} failed: {type(exc).__name__}: {detail}",
        model=model,
        provider=provider,
        hint="Retry; run with --debug for details.",
    )
