"""Batch throughput on Ray (``--ray local``) beside the local engine, against the loopback
stub with a fixed latency.

Both run ``summarize batch``'s ``run_batch`` on distinct copies of the seed article through
the real path (litellm, HTTP to ``stub_server.py``, validation, one fsynced line each, the
response cache on but empty). For concurrency C the ideal is C / latency articles per
second. Two rates per row: end to end (Ray's includes starting its actors, each of which
imports litellm; the local engine forks workers that already have it) and steady (from the
first record to the last). Ray's own start-up (``ray.init``) is timed apart. Target: Ray at
90 % of ideal at C = 128. The local engine runs twice: as it ships (threads spread over
forked worker processes, one per 8 in flight, at most one per core) and on threads alone
(``--processes 1``), to decide whether the forked workers earn their code.

``--embedded N`` measures the bundled model instead: N copies of the seed article, response
cache off, on the local engine (one model, llama.cpp threads on the free cores) and on Ray
(one model per actor, an actor per core, one llama.cpp thread each).

    python3 benchmarks/bench_batch_ray.py [--latency 0.5] [--seconds 8] [--no-write]
    python3 benchmarks/bench_batch_ray.py --embedded 6 [--model gemma3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import SEED, machine, write_section
from stub_server import running_stub

from summarizer.batch import BatchJob, run_batch
from summarizer.batch_results import Record
from summarizer.config import Settings
from summarizer.tasks import Task

CONCURRENCY = (8, 32, 128)
Row = tuple[Any, ...]  # engine, concurrency, articles, seconds, rate, steady rate, failed


def measure(
    base_url: str,
    concurrency: int,
    count: int,
    work: Path,
    ray_address: str | None,
    processes: int | None = None,
) -> Row:
    """(engine, concurrency, articles, seconds, end-to-end rate, steady rate, failed)."""
    from summarizer.config import load_settings

    engine = "ray" if ray_address else ("local" if processes is None else "threads")
    name = f"{engine}-c{concurrency}-n{count}"
    folder = work / name
    folder.mkdir()
    seed = SEED.read_text(encoding="utf-8")
    for i in range(count):  # distinct from every other row's: each one a cache miss
        (folder / f"a{i:05d}.txt").write_text(f"{seed}\n\nCatatan {name} {i}.\n")
    settings = load_settings(model="openai/stub", api_base=base_url, timeout=60, cache=True)
    job = BatchJob(
        task=Task.SUMMARIZE,
        target_language="en",
        concurrency=concurrency,
        ray_address=ray_address,
        processes=processes,
    )
    row = timed(settings, job, folder, work / f"{name}.jsonl", concurrency)
    return engine, concurrency, count, *row


def timed(
    settings: Settings, job: BatchJob, folder: Path, out: Path, wave: int
) -> tuple[float, ...]:
    """(seconds, end-to-end rate, steady rate, failed) of one batch over ``folder``.

    Steady: the articles after the first ``wave`` (those that started together, one per
    request in flight or model) over the time from the wave's last record to the last
    one. Counting from the first record instead would credit the run with a whole wave
    finished in no time: 25 % too fast for 6 articles on 2 models."""
    from summarizer.app import Summarizer

    times: list[float] = []

    def on_record(record: Record) -> None:
        times.append(time.perf_counter())

    with Summarizer(settings, concurrency=1) as summarizer:
        summarizer.check()  # the client is built before the clock starts
        started = time.perf_counter()
        tally = run_batch([str(folder)], out, job, summarizer=summarizer, on_record=on_record)
        elapsed = time.perf_counter() - started
    if tally.cached:
        raise SystemExit(f"{tally.cached} articles came from the cache: not a throughput test")
    count = len(times)
    wave = min(wave, count - 1)
    steady = (count - wave) / max(times[-1] - times[wave - 1], 1e-9)
    return elapsed, count / elapsed, steady, tally.failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=8.0, help="ideal length of each run")
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md")
    parser.add_argument("--embedded", type=int, metavar="N", help="the bundled model, N articles")
    parser.add_argument("--model", default="gemma3", help="with --embedded")
    args = parser.parse_args()
    if args.embedded:
        embedded(args)
        return

    from summarizer import batch_ray

    rows: list[Row] = []
    with running_stub(latency=args.latency) as base_url, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["SUMMARIZER_CACHE_DIR"] = str(work / "cache")  # empty: every article runs
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        counts = {c: max(c * 2, round(c / args.latency * args.seconds)) for c in CONCURRENCY}
        # Not measured: the first articles of a process load what every later one uses (the
        # language identifier, litellm's lazy imports): it made the first row 35 % slower.
        measure(base_url, 8, 16, work, None, 1)
        # The local engine first: Ray's idle daemons would take CPU from it.
        for concurrency, count in counts.items():
            for processes in (None, 1):
                rows.append(measure(base_url, concurrency, count, work, None, processes))
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


def embedded(args: argparse.Namespace) -> None:
    """The bundled model on both engines, ``args.embedded`` copies of the seed article."""
    from summarizer import batch_ray
    from summarizer.config import load_settings

    settings = load_settings(model=args.model, cache=False)
    cores = os.cpu_count() or 1
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "in")
        folder.mkdir()
        seed = SEED.read_text(encoding="utf-8")
        for i in range(args.embedded):
            (folder / f"a{i:03d}.txt").write_text(seed)
        job = BatchJob(task=Task.SUMMARIZE, target_language="en", concurrency=cores)
        rows.append(("local", 1, args.embedded, *timed(settings, job, folder, Path(tmp, "l"), 1)))
        _print(rows[-1], None)
        started = time.perf_counter()
        batch_ray.connect(batch_ray.LOCAL)
        startup = time.perf_counter() - started
        on_ray = BatchJob(
            task=Task.SUMMARIZE, target_language="en", concurrency=cores, ray_address="local"
        )
        on_ray_row = timed(settings, on_ray, folder, Path(tmp, "r"), cores)
        rows.append(("ray", cores, args.embedded, *on_ray_row))
        _print(rows[-1], None)
        batch_ray.ray_module().shutdown()
    table = [
        "| engine | models at once | articles | seconds | articles/min | steady articles/min |",
        "| :--- | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {e} | {c} | {n} | {t:.1f} | {r * 60:.2f} | {st * 60:.2f} |"
            for e, c, n, t, r, st, _ in rows
        ),
    ]
    body = "\n".join(
        [
            "## The embedded model on Ray (issue 16, `bench_batch_ray.py --embedded`)",
            "",
            f"`run_batch` with the bundled `{args.model}`, {args.embedded} copies of the seed "
            "article, response cache off. Local: the engine as it ships for an embedded model, "
            "one model answering one article at a time with llama.cpp threads on the free "
            f"cores. Ray (`--ray local`): one model per actor, an actor per core ({cores} "
            "here), one llama.cpp thread each. Steady leaves out the first round (one "
            "article per model). End to end includes loading the models (Ray: "
            f"also its actors starting); `ray.init` took {startup:.1f} s. Failed: "
            f"{sum(row[-1] for row in rows)}.",
            "",
            *table,
            "",
            f"Machine: {machine()}. Reproduce: `python3 benchmarks/bench_batch_ray.py "
            f"--embedded {args.embedded} --model {args.model}`.",
        ]
    )
    if args.no_write:
        print(body)
    else:
        write_section("bench_batch_ray_embedded", body)


def _print(row: Row, latency: float | None) -> None:
    engine, concurrency, count, elapsed, rate, steady, failed = row
    ideal = concurrency / latency if latency else float("nan")
    print(
        f"{engine:>7} c={concurrency:>3}: {count} articles in {elapsed:.2f} s = {rate:.2f}/s "
        f"({rate / ideal:.1%} of ideal), steady {steady:.2f}/s ({steady / ideal:.1%}), "
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
            "local engine as it ships (`local`: threads spread over forked worker processes, "
            "one per 8 in flight, at most one per core) and on threads alone (`threads`: "
            f"`--processes 1`), through litellm over HTTP to `stub_server.py` ({args.latency} s "
            "per answer), response cache on but empty, distinct copies of the seed article, "
            f"about {args.seconds:g} s of ideal run time per row. End to end includes Ray's "
            "actors starting (each imports litellm); steady leaves out the first wave of C "
            "articles (from the wave's last record to the last record). "
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
