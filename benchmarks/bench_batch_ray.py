"""Batch throughput on Ray (``--ray local``) beside the local engine, against the loopback
stub with a fixed latency.

Both run ``summarize batch``'s ``run_batch`` on distinct copies of the seed article through
the real path (litellm, HTTP to ``stub_server.py``, validation, one fsynced line each, the
response cache on but empty). For concurrency C the ideal is C / latency articles per
second. Two rates per row: end to end (Ray's includes starting its actors, each of which
imports litellm; the local engine forks workers that already have it) and steady (from the
first record to the last). Ray's own start-up (``ray.init``) is timed apart. Target: Ray at
90 % of ideal at C = 128.

    python3 benchmarks/bench_batch_ray.py [--latency 0.5] [--seconds 8] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import SEED, machine, write_section
from stub_server import running_stub

from summarizer.batch import BatchJob, run_batch
from summarizer.batch_results import Record
from summarizer.tasks import Task

CONCURRENCY = (8, 32, 128)
Row = tuple[str, int, int, float, float, float, int]


def measure(
    base_url: str, concurrency: int, count: int, work: Path, ray_address: str | None
) -> Row:
    """(engine, concurrency, articles, seconds, end-to-end rate, steady rate, failed)."""
    from summarizer.app import Summarizer
    from summarizer.config import load_settings

    engine = "ray" if ray_address else "local"
    folder = work / f"{engine}-c{concurrency}"
    folder.mkdir()
    seed = SEED.read_text(encoding="utf-8")
    for i in range(count):  # distinct from every other row's: each one a cache miss
        (folder / f"a{i:05d}.txt").write_text(f"{seed}\n\nCatatan {engine} {concurrency} {i}.\n")
    settings = load_settings(model="openai/stub", api_base=base_url, timeout=60, cache=True)
    job = BatchJob(
        task=Task.SUMMARIZE,
        target_language="en",
        concurrency=concurrency,
        ray_address=ray_address,
    )
    times: list[float] = []

    def on_record(record: Record) -> None:
        times.append(time.perf_counter())

    with Summarizer(settings, concurrency=1) as summarizer:
        summarizer.check()  # the client is built before the clock starts
        started = time.perf_counter()
        out = work / f"{engine}-c{concurrency}.jsonl"
        tally = run_batch([str(folder)], out, job, summarizer=summarizer, on_record=on_record)
        elapsed = time.perf_counter() - started
    if tally.cached:
        raise SystemExit(f"{tally.cached} articles came from the cache: not a throughput test")
    first = times.count(times[0])  # the first group arrived together
    steady = (count - first) / max(times[-1] - times[0], 1e-9)
    return engine, concurrency, count, elapsed, count / elapsed, steady, tally.failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=8.0, help="ideal length of each run")
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md")
    args = parser.parse_args()

    from summarizer import batch_ray

    rows: list[Row] = []
    with running_stub(latency=args.latency) as base_url, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["SUMMARIZER_CACHE_DIR"] = str(work / "cache")  # empty: every article runs
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        counts = {c: max(c * 2, round(c / args.latency * args.seconds)) for c in CONCURRENCY}
        # The local engine first: Ray's idle daemons would take CPU from it.
        for concurrency, count in counts.items():
            rows.append(measure(base_url, concurrency, count, work, None))
            _print(rows[-1], args.latency)
        started = time.perf_counter()
        batch_ray.connect(batch_ray.LOCAL)
        startup = time.perf_counter() - started
        address = str(batch_ray.ray_module().get_runtime_context().gcs_address)
        for concurrency, count in counts.items():
            rows.append(measure(base_url, concurrency, count, work, address))
            _print(rows[-1], args.latency)
        batch_ray.ray_module().shutdown()

    body = _report(rows, startup, args)
    if args.no_write:
        print(body)
    else:
        write_section("bench_batch_ray", body)


def _print(row: Row, latency: float) -> None:
    engine, concurrency, count, elapsed, rate, steady, failed = row
    ideal = concurrency / latency
    print(
        f"{engine:>5} c={concurrency:>3}: {count} articles in {elapsed:.2f} s = {rate:.1f}/s "
        f"({rate / ideal:.1%} of ideal), steady {steady:.1f}/s ({steady / ideal:.1%}), "
        f"failed {failed}",
        file=sys.stderr,
    )


def _report(rows: list[Row], startup: float, args: argparse.Namespace) -> str:
    """The RESULTS.md section for the measured ``rows``."""
    table = [
        "| concurrency | engine | articles | seconds | articles/s | fraction of ideal "
        "| steady articles/s | steady fraction |",
        "| ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for engine, concurrency, count, elapsed, rate, steady, _ in rows:
        ideal = concurrency / args.latency
        table.append(
            f"| {concurrency} | {engine} | {count} | {elapsed:.2f} | {rate:.1f} "
            f"| {rate / ideal:.1%} | {steady:.1f} | {steady / ideal:.1%} |"
        )
    failures = sum(row[-1] for row in rows)
    return "\n".join(
        [
            "## Batch throughput on Ray (issue 16, `bench_batch_ray.py`)",
            "",
            f"`run_batch` with `ray_address` (`--ray local`: Ray on this machine) beside the "
            f"local engine, through litellm over HTTP to `stub_server.py` ({args.latency} s "
            "per answer), response cache on but empty, distinct copies of the seed article, "
            f"about {args.seconds:g} s of ideal run time per row. End to end includes Ray's "
            "actors starting (each imports litellm); steady is first record to last. "
            f"`ray.init` took {startup:.1f} s. Target: Ray at 90 % of ideal at 128. "
            f"Failed: {failures}.",
            "",
            *table,
            "",
            f"Machine: {machine()}. Reproduce: `python3 benchmarks/bench_batch_ray.py`.",
        ]
    )


if __name__ == "__main__":
    main()
