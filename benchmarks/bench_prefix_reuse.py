"""Prompt prefix reuse in a batch: prompt tokens evaluated per article, with and without.

Every call of a run starts with the same system prompt and schema; the embedded model keeps
the KV state of its last prompt, and the next call evaluates only what differs after the
longest common prefix (llama-cpp-python's ``generate``; ``local.LocalModel`` opens Gemma's
sliding-window cache in full so the kept prefix stays valid).

``summarize batch`` on the ten eval-suite articles other than the seed, with the embedded
model, in this process, twice: as shipped, and with the model's state reset before every
call (what each call would cost without reuse). Same answers expected: the prefix's KV
state is the same numbers either way, up to llama.cpp evaluating it in different batches.

Usage: python benchmarks/bench_prefix_reuse.py [--model gemma3] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, machine, write_section

ARTICLES = sorted(p for p in (ROOT / "evals" / "articles").glob("*.txt") if "antalya" not in p.name)


def run(alias: str, *, reuse: bool, out_dir: Path) -> dict[str, Any]:
    from summarizer import Summarizer, Task, batch, load_settings, local

    model = local.get_model(alias)
    calls: list[tuple[int, int]] = []
    prompt_seconds = model.stats.prompt_seconds
    original = local.LocalModel.chat

    def chat(self: local.LocalModel, *args: Any, **kwargs: Any) -> Any:
        if not reuse:
            self._llama.reset()  # nothing kept: the whole prompt is evaluated
        before = self.stats.prompt_evaluated
        completion = original(self, *args, **kwargs)
        calls.append((completion.prompt_tokens, self.stats.prompt_evaluated - before))
        return completion

    local.LocalModel.chat = chat  # type: ignore[method-assign]
    model._llama.reset()  # both runs start from an empty state
    out = out_dir / f"{'reuse' if reuse else 'fresh'}.jsonl"
    started = time.perf_counter()
    try:
        settings = load_settings(model=f"local/{alias}", lang="en", cache=False)
        with Summarizer(settings, concurrency=1) as summarizer:
            batch.run_batch(
                [str(p) for p in ARTICLES],
                out,
                batch.BatchJob(task=Task.SUMMARIZE, concurrency=1),
                summarizer=summarizer,
            )
    finally:
        local.LocalModel.chat = original  # type: ignore[method-assign]
    seconds = time.perf_counter() - started
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return {
        "seconds": seconds,
        "prompt_seconds": model.stats.prompt_seconds - prompt_seconds,
        "calls": calls,
        "ok": sum(1 for r in records if r["ok"]),
        "articles": len(records),
        "answers": {r["input"]: (r.get("result") or {}).get("summary") for r in records},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gemma3")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from summarizer import local

    local.get_model(args.model)  # loaded (and, where needed, probed) before any timing
    with tempfile.TemporaryDirectory() as folder:
        fresh = run(args.model, reuse=False, out_dir=Path(folder))
        print(f"  without reuse: {fresh['seconds']:.1f} s", file=sys.stderr)
        kept = run(args.model, reuse=True, out_dir=Path(folder))
        print(f"  with reuse: {kept['seconds']:.1f} s", file=sys.stderr)

    rows = []
    for label, result in (("without reuse (state reset before each call)", fresh),
                          ("with prefix reuse (as shipped)", kept)):  # fmt: skip
        prompt = sum(p for p, _ in result["calls"])
        evaluated = sum(e for _, e in result["calls"])
        articles = result["articles"]
        rows.append(
            f"| {label} | {len(result['calls'])} | {prompt / articles:,.0f} | "
            f"{evaluated / articles:,.0f} | {100 * evaluated / prompt:.0f} % | "
            f"{result['prompt_seconds'] / articles:.2f} s | "
            f"{result['seconds']:.1f} s | {result['seconds'] / articles:.1f} s | "
            f"{result['ok']} of {articles} |"
        )
    later = [e for _, e in kept["calls"][1:]]
    same = sum(1 for k in fresh["answers"] if fresh["answers"][k] == kept["answers"].get(k))
    body = "\n".join(
        [
            "## Prompt prefix reuse in a batch (issue 10, `bench_prefix_reuse.py`)",
            "",
            f"`summarize batch` on the {len(ARTICLES)} eval-suite articles other than the seed "
            f"(Indonesian, English, French, Spanish; `--lang en`), `--model {args.model}`, "
            f"`--no-cache`, in one process, the model loaded once; {machine()}.",
            "",
            "| run | model calls | prompt tokens per article | evaluated per article "
            "| evaluated / prompt | prompt evaluation per article | total time | per article "
            "| articles ok |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"With reuse, calls after the first evaluated a median of "
            f"{statistics.median(later):.0f} prompt tokens each "
            f"(min {min(later)}, max {max(later)}): the article and what follows it; the "
            "system prompt and schema before it were kept from the previous call. "
            f"Summaries identical between the two runs: {same} of {len(fresh['answers'])} "
            "(the kept prefix is evaluated in a different batch split, which can move "
            "llama.cpp's floating-point sums by a rounding step).",
            "",
            f"Reproduce: `python3 benchmarks/bench_prefix_reuse.py --model {args.model}`.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("bench_prefix_reuse", body)


if __name__ == "__main__":
    main()
