"""The README's first command, before and after issue 10, side by side in one run.

``summarize <seed> --lang en`` (default model gemma3), fresh processes, wall time; the
"before" side is the code at ``--baseline`` (default ``e99904b``, the commit the README's
50 s figure describes), unpacked with ``git archive`` into a temporary folder and run with
the same interpreter and installed libraries, so only our code differs. Rounds alternate
the order. ``--no-cache -q --format json`` on both: every run calls the model.

Usage: python benchmarks/bench_whole_run.py [--rounds 3] [--baseline REF] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, SEED, describe, machine, script, timed_run, write_section

README_FIGURE_S = 50.0  # "50 s on an idle 2-core machine, model gemma3" (README before)
ARGS = [str(SEED), "--lang", "en", "--format", "json", "-q", "--no-cache"]
FROM_FOLDER = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); from summarizer.cli import main; main()"
)
# The same, with llama.cpp's extra buffer types off (what this tree decides on a CPU whose
# AMX cannot run): the old code has no such setting, and crashes there without it.
FROM_FOLDER_NO_EXTRA_BUFFERS = """
import sys
from llama_cpp import llama_cpp as low_level
original = low_level.llama_model_default_params
def without_extra_buffers():
    params = original()
    params.use_extra_bufts = False
    return params
low_level.llama_model_default_params = without_extra_buffers
sys.path.insert(0, sys.argv.pop(1))
from summarizer.cli import main
main()
"""


def unpack(ref: str, folder: Path) -> None:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "summarizer", "prompts"],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)


def exit_status(code: int, stderr: str) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name} (exit {128 - code} in a shell)"
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    return f"exit {code}" + (f" ({last})" if code and last else "")


def once(command: list[str]) -> tuple[float, dict[str, object], int]:
    seconds, out, err, code = timed_run(command)
    if code != 0:
        raise SystemExit(f"{command[:3]} failed ({code}): {err[-1500:]}")
    answer = json.loads(out)
    return seconds, answer, int(answer["meta"]["usage"]["output_tokens"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default="e99904b")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from summarizer import local
    from summarizer.bundled import resolve_local_path

    usable = local.extra_buffers_usable(resolve_local_path("gemma3"))
    with tempfile.TemporaryDirectory() as folder:
        unpack(args.baseline, Path(folder))
        stock_before = [sys.executable, "-c", FROM_FOLDER, folder, *ARGS]
        _, _, stock_err, stock_code = timed_run(stock_before)
        print(f"  before, as it was: exit {stock_code}", file=sys.stderr)
        sides = {
            "before": stock_before
            if usable
            else [sys.executable, "-c", FROM_FOLDER_NO_EXTRA_BUFFERS, folder, *ARGS],
            "after": [script("summarize"), *ARGS],
        }
        # One untimed run each: page cache warm, Gemma's verification record and the CPU
        # probe's verdict in place (what every run after a machine's first sees).
        for command in sides.values():
            once(command)
        seconds: dict[str, list[float]] = {"before": [], "after": []}
        tokens: dict[str, list[int]] = {"before": [], "after": []}
        answers: dict[str, object] = {}
        for index in range(args.rounds):
            order = ["before", "after"] if index % 2 == 0 else ["after", "before"]
            for side in order:
                wall, answer, generated = once(sides[side])
                seconds[side].append(wall)
                tokens[side].append(generated)
                answers[side] = {k: v for k, v in answer.items() if k != "meta"}
            print(
                f"  round {index + 1}: before {seconds['before'][-1]:.1f} s, "
                f"after {seconds['after'][-1]:.1f} s",
                file=sys.stderr,
            )

    before, after = statistics.median(seconds["before"]), statistics.median(seconds["after"])
    same = answers["before"] == answers["after"]
    body = "\n".join(
        [
            "## The README's first command, before and after issue 10 (`bench_whole_run.py`)",
            "",
            f"`summarize examples/antalya-talks.id.txt --lang en` (gemma3) `--format json -q "
            f"--no-cache`, fresh processes, {args.rounds} interleaved rounds after one untimed "
            f"run each; before = commit `{args.baseline}` run from a `git archive` copy with "
            f"the same interpreter and libraries; {machine()}.",
            "",
            f"The before code as it was, on this machine: {exit_status(stock_code, stock_err)}"
            + (
                "."
                if usable
                else "; llama.cpp's extra buffer types (AMX) cannot run on this CPU, so the "
                "timed before runs have them turned off, as this tree does (nothing else "
                "changed)."
            ),
            "",
            "| code | wall time | answer tokens per run | ratio to before |",
            "|---|---|---|---:|",
            f"| before (`{args.baseline}`) | {describe(seconds['before'])} | "
            f"{', '.join(map(str, tokens['before']))} | 1.00 |",
            f"| after (this tree) | {describe(seconds['after'])} | "
            f"{', '.join(map(str, tokens['after']))} | **{after / before:.2f}** |",
            "",
            f"Against the README's previous figure ({README_FIGURE_S:.0f} s, measured on "
            f"another machine of the same size): {after / README_FIGURE_S:.2f}. "
            f"Summaries (everything but `meta`) {'identical' if same else 'DIFFERENT'} "
            "before and after.",
            "",
            "Reproduce: `python3 benchmarks/bench_whole_run.py`.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("bench_whole_run", body)


if __name__ == "__main__":
    main()
