"""The response cache: a repeated run of the same article, as a ratio of the uncached run.

Two views, both on the seed article, each with an empty cache folder of its own:

* library: ``Summarizer.summarize`` with a ``ResponseCache`` (run 1 pays, runs 2.. hit),
  against the loopback stub (0.5 s per answer) over HTTP through litellm, and, unless
  ``--no-local``, the bundled local model (``smollm2``, tens of seconds on two cores);
* CLI: ``summarize FILE`` as a process with the stub and (unless ``--no-local``) with the
  bundled model: a cached run imports neither litellm nor llama.cpp, so it is mostly
  Python's start-up.

    python3 benchmarks/bench_cache.py [--repeats 5] [--no-local] [--no-write]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import SEED, machine, script, timed_run, write_section
from stub_server import running_stub

from summarizer import Summarizer, load_settings
from summarizer.cache import ResponseCache


def library_runs(model: str, api_base: str | None, repeats: int) -> tuple[float, list[float]]:
    """Seconds for the uncached run, then for each cached repeat (all must be cache hits)."""
    text = SEED.read_text(encoding="utf-8")
    settings = load_settings(model=model, api_base=api_base, timeout=600)
    with tempfile.TemporaryDirectory() as folder:
        cache = ResponseCache(Path(folder) / "responses.sqlite3")
        with Summarizer(settings, response_cache=cache, concurrency=1) as summarizer:
            times = []
            for run in range(1 + repeats):
                started = time.perf_counter()
                summary = summarizer.summarize(text, lang="en")
                times.append(time.perf_counter() - started)
                if summary.meta.cached != (run > 0):
                    raise SystemExit(f"run {run}: meta.cached is {summary.meta.cached}")
    return times[0], times[1:]


def cli_runs(model: str, api_base: str | None, repeats: int) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "SUMMARIZER_CACHE_DIR": folder}
        argv = [script("summarize"), str(SEED), "--model", model, "--format", "json", "--quiet"]
        if api_base is not None:
            argv += ["--api-base", api_base]
        times = []
        for run in range(1 + repeats):
            seconds, out, err, code = timed_run(argv, env=env)
            if code != 0 or json.loads(out)["meta"]["cached"] != (run > 0):
                raise SystemExit(f"CLI run {run} failed ({code}): {err[-500:]}")
            times.append(seconds)
    return times[0], times[1:]


def row(name: str, uncached: float, cached: list[float]) -> str:
    median = statistics.median(cached)
    return (
        f"| {name} | {uncached:.3f} | {median:.4f} ({min(cached):.4f}-{max(cached):.4f}, "
        f"n={len(cached)}) | {median / uncached:.4f} | {uncached / median:,.0f}x |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="cached runs after the first")
    parser.add_argument("--no-local", action="store_true", help="skip the bundled model")
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md")
    args = parser.parse_args()

    rows = []
    with running_stub(latency=0.5) as base_url:
        library_runs("openai/stub", base_url, 1)  # warm-up: imports, litellm's client
        rows.append(
            row("library, stub (0.5 s)", *library_runs("openai/stub", base_url, args.repeats))
        )
        rows.append(
            row("CLI process, stub (0.5 s)", *cli_runs("openai/stub", base_url, args.repeats))
        )
    if not args.no_local:
        rows.append(row("library, local smollm2", *library_runs("local/smollm2", None, 3)))
        rows.append(row("CLI process, local smollm2", *cli_runs("smollm2", None, 3)))
    for line in rows:
        print(line, file=sys.stderr)

    body = "\n".join(
        [
            "## Response cache (issue 6, `bench_cache.py`)",
            "",
            "The seed article summarised with an empty cache, then again with the same "
            "request (every answer from the cache, `meta.cached` checked). Ratio = cached / "
            "uncached wall time (lower is better).",
            "",
            "| run | uncached s | cached s: median (min-max) | ratio | speed-up |",
            "| --- | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            "A cached CLI run needs nothing from the model's client: it imports neither "
            "litellm nor llama.cpp (tests/test_cli_startup.py checks), so what is left is "
            "Python's start-up, reading and cleaning the article, language detection and a few "
            "SQLite lookups. The library rows show the cache's own cost in a running process.",
            "",
            f"Machine: {machine()}. Reproduce: `python3 benchmarks/bench_cache.py`.",
        ]
    )
    if args.no_write:
        print(body)
    else:
        write_section("bench_cache", body)


if __name__ == "__main__":
    main()
