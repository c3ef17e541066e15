"""Batch throughput against a loopback OpenAI-compatible stub with a fixed latency.

``summarize batch``'s engine (``summarizer.batch.run_batch``) summarises distinct copies of
the seed article through the real path: litellm, HTTP to ``stub_server.py`` (a separate
process, 0.5 s per answer), validation, one fsynced JSON line per article, and the
response cache as by default (empty: every article is a real request). For concurrency
C the ideal is C / latency articles per second; the figure is the measured rate as a
fraction of it. Target: 90 % at C = 32.

    python3 benchmarks/bench_batch.py [--latency 0.5] [--seconds 8] [--no-write]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import SEED, machine, write_section
from stub_server import running_stub

from summarizer.batch import BatchJob, run_batch, worker_processes
from summarizer.tasks import Task

CONCURRENCY = (1, 8, 32)


def make_articles(folder: Path, count: int) -> None:
    seed = SEED.read_text(encoding="utf-8")
    for i in range(count):
        (folder / f"article-{i:04d}.txt").write_text(f"{seed}\n\nCatatan nomor {i}.\n")


def measure(
    base_url: str, concurrency: int, count: int, work: Path, processes: int | None = None
) -> tuple[float, float, int, int]:
    """Wall seconds, client CPU seconds (this process and its batch workers) for ``count``
    articles, failures, and how many worker processes ran."""
    from summarizer.app import Summarizer
    from summarizer.cache import ResponseCache
    from summarizer.config import load_settings

    folder = work / f"c{concurrency}"
    folder.mkdir()
    make_articles(folder, count)
    settings = load_settings(model="openai/stub", api_base=base_url, timeout=60, cache=True)
    # As `summarize batch` runs by default: through the response cache (a fresh one, so
    # every distinct article is a miss and a real request), one chunk at a time per article.
    cache = ResponseCache(work / f"c{concurrency}.sqlite3")
    job = BatchJob(
        task=Task.SUMMARIZE, target_language="en", concurrency=concurrency, processes=processes
    )
    with Summarizer(settings, response_cache=cache, concurrency=1) as summarizer:
        summarizer.check()  # the client is built before the clock starts, as before
        started, cpu = time.perf_counter(), _cpu_seconds()
        out = work / f"c{concurrency}.jsonl"
        tally = run_batch([str(folder)], out, job, summarizer=summarizer)
        elapsed, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    if tally.cached:
        raise SystemExit(f"{tally.cached} articles came from the cache: not a throughput test")
    return elapsed, cpu, tally.failed, worker_processes(job, parallel=True)


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the batch's workers; the
    stub server is still running, so it is not counted)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=8.0, help="ideal length of each run")
    parser.add_argument("--processes", type=int, default=None, help="default: automatic")
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md")
    args = parser.parse_args()

    rows = []
    with running_stub(latency=args.latency) as base_url, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        measure(base_url, 4, 8, work)  # warm-up: imports, litellm's clients, tokenizers
        for concurrency in CONCURRENCY:
            ideal = concurrency / args.latency
            count = max(concurrency * 2, round(ideal * args.seconds))
            elapsed, cpu, failed, processes = measure(
                base_url, concurrency, count, work, args.processes
            )
            rate = count / elapsed
            rows.append(
                (
                    concurrency,
                    processes,
                    count,
                    elapsed,
                    rate,
                    ideal,
                    rate / ideal,
                    1000 * cpu / count,
                    failed,
                )
            )
            print(
                f"concurrency {concurrency:>2} ({processes} process(es)): {count} articles in "
                f"{elapsed:.2f} s = "
                f"{rate:.2f}/s, ideal {ideal:.0f}/s, {rate / ideal:.1%}, "
                f"CPU {1000 * cpu / count:.1f} ms/article, failed {failed}",
                file=sys.stderr,
            )

    body = _report(rows, args)
    if args.no_write:
        print(body)
    else:
        write_section("bench_batch", body)


def _report(rows: list[tuple[Any, ...]], args: argparse.Namespace) -> str:
    """The RESULTS.md section for the measured ``rows``."""
    table = [
        "| concurrency | worker processes | articles | seconds | articles/s | ideal/s "
        "| fraction of ideal | client CPU ms/article |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {c} | {p} | {n} | {e:.2f} | {r:.2f} | {i:.0f} | {f:.1%} | {m:.1f} |"
            for c, p, n, e, r, i, f, m, _ in rows
        ),
    ]
    failures = sum(row[-1] for row in rows)
    return "\n".join(
        [
            "## Batch throughput (issue 6, `bench_batch.py`)",
            "",
            f"`run_batch` through litellm over HTTP to `stub_server.py` ({args.latency} s per "
            "answer, a separate process), response cache on but empty (the default path: every "
            "article is a real request), distinct copies of the seed article, one "
            f"fsynced line each, about {args.seconds:g} s of ideal run time per row (start-up "
            "and the last, partly empty wave included). Worker processes: "
            + ("automatic" if args.processes is None else f"--processes {args.processes}")
            + f". Target: 90 % of ideal at concurrency 32. Failed: {failures}.",
            "",
            *table,
            "",
            "Client CPU counts this process and its worker processes, not the stub server.",
            "",
            f"Machine: {machine()}. Reproduce: `python3 benchmarks/bench_batch.py`.",
        ]
    )


if __name__ == "__main__":
    main()
