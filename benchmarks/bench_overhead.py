"""Pipeline overhead with the local model: ``summarize`` versus raw llama-cpp-python.

Both sides do the same model work: the same rendered chat messages, the same GBNF grammar
(``summarizer.grammar.schema_to_gbnf`` of the same capped schema), the same sampling
(temperature 0, seed 0, repeat_penalty 1.1), the same ``n_ctx`` and thread count, and the
raw side generates exactly as many tokens as the pipeline did (``max_tokens`` = its output
tokens, call by call when the pipeline re-asked). What is left is our overhead: cleaning,
language detection, token counting, rendering, litellm, validation.

Two measurements, side by side in one run:

* in-process: ``pipeline.summarize`` with the real litellm client versus
  ``Llama.create_chat_completion`` on the same loaded model (its KV cache reset before each
  run, so neither side reuses the other's prompt evaluation); order alternates per round.
* end to end: the ``summarize`` command versus a fresh Python process that imports
  llama_cpp, loads the GGUF and generates (the floor any CLI pays).

Usage: python benchmarks/bench_overhead.py [--rounds 3] [--process-rounds 2] [--no-write]
Each round runs the model twice (about 45-60 s each on two cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import (
    SEED,
    describe,
    machine,
    pipeline_job,
    script,
    time_summarize,
    timed_run,
    write_section,
)

ALIAS = "smollm2"
MODEL = f"local/{ALIAS}"

RAW_SCRIPT = r"""
import json, os, sys, time
started = time.perf_counter()
from llama_cpp import Llama, LlamaGrammar
job = json.load(open(sys.argv[1]))
llama = Llama(model_path=job["path"], n_ctx=job["n_ctx"], n_threads=job["n_threads"],
              verbose=False)
tokens = 0
for call in job["calls"]:
    grammar = LlamaGrammar.from_string(call["gbnf"], verbose=False)
    out = llama.create_chat_completion(messages=call["messages"], grammar=grammar,
        max_tokens=call["max_tokens"], temperature=0.0, seed=0, repeat_penalty=1.1)
    tokens += out["usage"]["completion_tokens"]
    sys.stdout.write(out["choices"][0]["message"]["content"] + "\n")
llama.close()
print(json.dumps({"completion_tokens": tokens}))
"""


def _calls_to_job(records: list[Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    from summarizer.grammar import schema_to_gbnf

    gbnf = schema_to_gbnf(schema)
    return [
        {
            "messages": record.messages,
            "gbnf": gbnf,
            "max_tokens": record.response.usage.output_tokens,
        }
        for record in records
    ]


def in_process(rounds: int, text: str) -> dict[str, Any]:
    from llama_cpp import LlamaGrammar

    from summarizer import local, pipeline
    from summarizer.client import LiteLLMClient
    from summarizer.schema import SummaryDraft

    client = LiteLLMClient()
    model = local.get_model(ALIAS)  # loaded once; both sides use this very Llama
    llama: Any = model._llama
    schema = pipeline.answer_schema(SummaryDraft, MODEL)  # what the pipeline sends
    ours: list[float] = []
    raw: list[float] = []
    tokens: list[tuple[int, int, int]] = []
    job: list[dict[str, Any]] = []

    def run_pipeline() -> None:
        nonlocal job
        records: list[Any] = []
        llama.reset()
        started = time.perf_counter()
        pipeline.summarize(text, pipeline_job(client, MODEL, records))
        ours.append(time.perf_counter() - started)
        job = _calls_to_job(records, schema)

    def run_raw() -> int:
        generated = 0
        llama.reset()
        started = time.perf_counter()
        for call in job:
            grammar = LlamaGrammar.from_string(call["gbnf"], verbose=False)
            out = llama.create_chat_completion(
                messages=call["messages"],
                grammar=grammar,
                max_tokens=call["max_tokens"],
                temperature=0.0,
                seed=0,
                repeat_penalty=1.1,
            )
            generated += out["usage"]["completion_tokens"]
        raw.append(time.perf_counter() - started)
        return generated

    for index in range(rounds):
        # The raw side needs the pipeline's messages first; after that, alternate the order
        # so that drifting background load does not favour one side.
        if index == 0 or index % 2 == 0:
            run_pipeline()
            raw_tokens = run_raw()
        else:
            raw_tokens = run_raw()
            run_pipeline()
        wanted = sum(call["max_tokens"] for call in job)
        tokens.append((len(job), wanted, raw_tokens))
        print(
            f"  round {index + 1}: ours {ours[-1]:.2f} s, raw {raw[-1]:.2f} s, "
            f"calls {len(job)}, tokens {wanted}/{raw_tokens}",
            file=sys.stderr,
        )
    return {"ours": ours, "raw": raw, "tokens": tokens, "job": job}


def end_to_end(rounds: int, job: list[dict[str, Any]]) -> dict[str, Any]:
    from summarizer import bundled, local

    spec = {
        "path": str(bundled.resolve_local_path(ALIAS)),
        "n_ctx": local.DEFAULT_N_CTX,
        "n_threads": max(1, os.cpu_count() or 1),
        "calls": job,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
        job_path = handle.name
    ours: list[float] = []
    raw: list[float] = []
    tokens: list[tuple[int, int]] = []
    command = [
        script("summarize"),
        str(SEED),
        "--model",
        ALIAS,
        "--format",
        "json",
        "-q",
        "--no-cache",
    ]
    raw_command = [sys.executable, "-c", RAW_SCRIPT, job_path]
    try:
        for index in range(rounds):
            order = ["ours", "raw"] if index % 2 == 0 else ["raw", "ours"]
            ours_tokens = raw_tokens = -1
            for side in order:
                if side == "ours":
                    seconds, ours_tokens = time_summarize(command)
                    ours.append(seconds)
                else:
                    seconds, out, err, code = timed_run(raw_command)
                    if code != 0:
                        raise SystemExit(f"raw llama-cpp-python failed ({code}): {err}")
                    raw.append(seconds)
                    raw_tokens = json.loads(out.strip().splitlines()[-1])["completion_tokens"]
            tokens.append((ours_tokens, raw_tokens))
            print(
                f"  process round {index + 1}: ours {ours[-1]:.2f} s, raw {raw[-1]:.2f} s, "
                f"tokens {ours_tokens}/{raw_tokens}",
                file=sys.stderr,
            )
    finally:
        os.unlink(job_path)
    return {"ours": ours, "raw": raw, "tokens": tokens}


def _ratio(ours: list[float], raw: list[float]) -> str:
    ratio = statistics.median(ours) / statistics.median(raw)
    if ratio < 0.97:  # the pipeline cannot beat the raw call it contains: noise
        verdict = "raw side slower: noise, not a result"
    else:
        verdict = ("within" if ratio <= 1.05 else "over") + " the 5% target"
    return f"**{ratio:.3f}** ({(ratio - 1) * 100:+.1f}%, {verdict})"


def _body(inproc: dict[str, Any], process: dict[str, Any] | None) -> str:
    calls, wanted, _ = inproc["tokens"][-1]
    lines = [
        "## Pipeline overhead with the local model (`bench_overhead.py`)",
        "",
        f"Seed article, `--model {ALIAS}`, target `en`; {machine()}.",
        f"The pipeline made {calls} model call(s) and generated {wanted} tokens; the raw side "
        "replays the same messages with the same grammar, sampling, n_ctx and thread count "
        "and exactly that many tokens (tokens per round, pipeline/raw: "
        + ", ".join(f"{w}/{r}" for _, w, r in inproc["tokens"])
        + ").",
        "",
        "| measurement | `summarize` | raw llama-cpp-python | ratio |",
        "|---|---|---|---|",
        f"| in-process, model loaded (pipeline.summarize vs create_chat_completion) "
        f"| {describe(inproc['ours'])} | {describe(inproc['raw'])} "
        f"| {_ratio(inproc['ours'], inproc['raw'])} |",
    ]
    if process is not None:
        lines.append(
            f"| end to end, fresh process (`summarize FILE` vs python + llama_cpp import + load) "
            f"| {describe(process['ours'])} | {describe(process['raw'])} "
            f"| {_ratio(process['ours'], process['raw'])} |"
        )
    lines += [
        "",
        "Paired in-process ratios per round (ours/raw): "
        + ", ".join(f"{o / r:.3f}" for o, r in zip(inproc["ours"], inproc["raw"], strict=True))
        + ".",
    ]
    if process is not None:
        lines += [
            "",
            "End-to-end output tokens per round (summarize/raw): "
            + ", ".join(f"{o}/{r}" for o, r in process["tokens"])
            + ".",
        ]
    if process is not None:
        lines += [
            "",
            "The in-process row goes through litellm's `local/` provider (the path a chain "
            "with a remote model takes); the `summarize` command with a local model alone uses "
            "`LocalClient` and never imports litellm. What the end-to-end row adds is "
            "start-up: typer, pydantic, Jinja, language detection, the tokenizer-only load "
            "that counts tokens before the model is needed, and a 0.1 s look at the CPU "
            "counters to choose llama.cpp's threads. Rounds alternate which side runs first.",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="in-process rounds")
    parser.add_argument("--process-rounds", type=int, default=2, help="end-to-end rounds")
    parser.add_argument("--no-write", action="store_true", help="print, do not update RESULTS.md")
    args = parser.parse_args()
    text = SEED.read_text(encoding="utf-8")

    print("in-process...", file=sys.stderr)
    inproc = in_process(args.rounds, text)
    # Written before the slow end-to-end phase too, so an interrupted run keeps its figures.
    body = _body(inproc, None)
    if not args.no_write:
        write_section("bench_overhead", body)
    if args.process_rounds > 0:
        print("end to end...", file=sys.stderr)
        process = end_to_end(args.process_rounds, inproc["job"])
        body = _body(inproc, process)
        if not args.no_write:
            write_section("bench_overhead", body)
    print(body)


if __name__ == "__main__":
    main()
