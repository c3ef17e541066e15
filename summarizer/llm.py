"""The seam between the pipeline and any model: plain data in, plain data out.

The pipeline only sees ``LLMClient``; ``client.LiteLLMClient`` is the real one, tests pass
a fake that queues replies and records requests, and ``DryRunClient`` records requests and
answers with placeholders so ``--dry-run`` shows every call and sends nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from summarizer.prompts import Message
from summarizer.schema import Usage


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[Message]
    task: str
    response_schema: dict[str, Any] | None = None
    schema_name: str = "response"
    max_tokens: int = 2048
    temperature: float = 0.0
    # The sampler's seed, where the backend takes one (the embedded models; providers that
    # accept ``seed``). Only the eval's perturbed repeats set it.
    seed: int | None = None


@dataclass(frozen=True)
class ChatResponse:
    text: str
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    finish_reason: str | None = "stop"
    latency_s: float = 0.0
    # The model that answered, when it is not the one asked (a fallback answered).
    model: str | None = None


@dataclass(frozen=True)
class Generation:
    """A model call's progress while it writes its answer, from clients that can tell
    (the embedded models, token by token). ``generated`` is 0 while the prompt is read."""

    model: str
    task: str
    generated: int
    budget: int  # the request's max_tokens
    writing_s: float = 0.0  # since the first token
    done: bool = False

    @property
    def tokens_per_s(self) -> float | None:
        """Decode rate over the tokens after the first (whose time is the prompt's)."""
        if self.generated < 2 or self.writing_s <= 0:
            return None
        return (self.generated - 1) / self.writing_s


@dataclass(frozen=True)
class ModelTraits:
    """What a backend knows about one of its models without calling it.

    Each backend answers for its own models (``backends.traits``): the pipeline, the
    cache, batch and the service read these instead of asking what kind of model it is.
    """

    #: Requests to the model may run at once (a llama.cpp context serves one at a time).
    parallel: bool = True
    #: Caps on every string length and list size in the answer schema, for models that
    #: fill whatever room a grammar leaves them, slowly; ``None``: the schema as it is.
    schema_caps: tuple[int, int] | None = None
    #: What besides the model string decides its answers: part of every cache key.
    identity: dict[str, Any] = field(default_factory=dict)


class LLMClient(Protocol):
    """What the pipeline needs from a model provider."""

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send one chat request and return the model's answer."""
        ...

    def count_tokens(self, model: str, text: str) -> int:
        """Tokens ``text`` takes for ``model`` (its own tokenizer where we have it)."""
        ...

    def context_window(self, model: str) -> int:
        """How many tokens ``model`` accepts, prompt and answer together."""
        ...


def placeholder_for(schema: dict[str, Any]) -> Any:
    """The smallest value that satisfies ``schema``: what a dry run "answers"."""
    kind = schema.get("type")
    if "anyOf" in schema:
        return placeholder_for(schema["anyOf"][0])
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: placeholder_for(properties[name]) for name in schema.get("required", [])}
    if kind == "array":
        return [placeholder_for(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "string":
        return "(dry run)"
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    return None


class LazyClient:
    """An ``LLMClient`` built on first use: a run answered wholly from the response cache
    never builds the real client, so it never imports litellm (seconds) nor checks the
    model's settings. Thread-safe; ``build`` runs at most once, unless it raises.
    """

    def __init__(self, build: Callable[[], LLMClient]) -> None:
        self._build = build
        self._client: LLMClient | None = None
        self._lock = threading.Lock()

    def resolve(self) -> LLMClient:
        """The real client, built now if it was not yet."""
        with self._lock:
            if self._client is None:
                self._client = self._build()
            return self._client

    def complete(self, request: ChatRequest) -> ChatResponse:
        return self.resolve().complete(request)

    def count_tokens(self, model: str, text: str) -> int:
        return self.resolve().count_tokens(model, text)

    def context_window(self, model: str) -> int:
        return self.resolve().context_window(model)


class DryRunClient:
    """Records every request and answers with schema-valid placeholders; sends nothing.

    Token counts and context windows come from ``measure`` (the real client), so the dry
    run plans exactly the calls a real run would make.
    """

    def __init__(self, measure: LLMClient) -> None:
        self.measure = measure
        self.requests: list[ChatRequest] = []

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        answer = placeholder_for(request.response_schema) if request.response_schema else ""
        return ChatResponse(text=json.dumps(answer))

    def count_tokens(self, model: str, text: str) -> int:
        return self.measure.count_tokens(model, text)

    def context_window(self, model: str) -> int:
        return self.measure.context_window(model)
