"""Shared helpers for the benchmark scripts: timing statistics and RESULTS.md sections.

Each script owns one section of ``benchmarks/RESULTS.md``, fenced by HTML comments
(``<!-- name:start -->`` ... ``<!-- name:end -->``), and rewrites only that section, so
scripts (and people) can add theirs without clobbering each other's figures.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SEED = ROOT / "examples" / "antalya-talks.id.txt"
BIN = Path(sys.executable).parent

INTRO = """# Benchmark results

What the scripts in `benchmarks/` measured, each in its own section (a script rewrites only
its own section). Machines are shared and noisy: read medians, and the spread next to them.
"""


def script(name: str) -> str:
    """Path of an installed console script next to this interpreter (not a pyenv shim, whose
    own start-up would be measured too)."""
    path = BIN / name
    if not path.exists():
        raise SystemExit(f"{name} is not installed next to {sys.executable}")
    return str(path)


def timed_run(
    argv: Sequence[str], *, env: dict[str, str] | None = None
) -> tuple[float, str, str, int]:
    """Run ``argv``; return (wall seconds, stdout, stderr, exit code)."""
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    return time.perf_counter() - started, done.stdout, done.stderr, done.returncode


def time_summarize(command: list[str]) -> tuple[float, int]:
    """Wall time and generated tokens of a ``summarize ... --format json`` command.

    Stops the benchmark when the command failed or answered without generating (a cache
    hit): there would be nothing to time.
    """
    seconds, out, err, code = timed_run(command)
    if code != 0:
        raise SystemExit(f"summarize failed ({code}): {err}")
    meta = json.loads(out)["meta"]
    tokens = int(meta["usage"]["output_tokens"])
    if meta.get("cached") or not tokens:
        raise SystemExit("summarize answered without generating (cache?); nothing to time")
    return seconds, tokens


def describe(samples: Sequence[float]) -> str:
    """``median (min-max, n=N)`` in seconds."""
    return (
        f"{statistics.median(samples):.3f} s "
        f"({min(samples):.3f}-{max(samples):.3f}, n={len(samples)})"
    )


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs; "
        f"1-min load average {load:.2f} when the run ended), Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section ``name`` of RESULTS.md with ``body``, atomically."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else INTRO
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    handle, temporary = tempfile.mkstemp(dir=RESULTS.parent, prefix=".RESULTS.", suffix=".md")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, RESULTS)
    print(f"Wrote section {name!r} of {RESULTS}", file=sys.stderr)


def pipeline_job(client: Any, model: str, records: list[Any]) -> Any:
    """The pipeline's job as ``summarize`` builds it: the model's traits, calls recorded."""
    from summarizer import backends, pipeline
    from summarizer.events import CallDone

    def on_event(event: Any) -> None:
        if isinstance(event, CallDone):
            records.append(event.record)

    traits = backends.traits(backends.Connection(model))
    return pipeline.Job(client, model, "en", traits=traits, on_event=on_event)
