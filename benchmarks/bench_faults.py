"""Every bad input and provider fault of ``tests/test_faults.py``: exit code, message, wall time.

Runs each case through the real CLI in this process (``typer.testing.CliRunner``) against
the fault-injecting server on 127.0.0.1, so the wall time is the command's own (interpreter
start-up and the litellm import, paid once, are not in it). Prints a Markdown table.

    python benchmarks/bench_faults.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.faultserver import FaultServer
from tests.test_faults import CASES, invoke


def _message(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    if errors:
        return errors[0]
    notes = [line for line in lines if line.startswith("Note: ")]
    return notes[-1] if notes else "(none)"


def _cell(text: str, width: int = 150) -> str:
    text = text.replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def main() -> None:
    import summarizer.client  # noqa: F401  # the litellm import, outside the timings

    rows = []
    with FaultServer() as server:
        for case in CASES:
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                code, _, stderr = invoke(case, Path(tmp), server.url)
                wall = time.perf_counter() - started
            ok = "yes" if code == case.code and case.says in stderr else "NO"
            rows.append((case, code, _message(stderr), wall, ok))
    print("| case | input or fault | exit | stderr (first error, else last note) | wall s |")
    print("| --- | --- | ---: | --- | ---: |")
    for case, code, message, wall, ok in rows:
        flag = "" if ok == "yes" else " (UNEXPECTED)"
        print(f"| `{case.id}` | {case.what} | {code}{flag} | {_cell(message)} | {wall:.2f} |")
    slowest = max(rows, key=lambda row: row[3])
    print(f"\nLongest: `{slowest[0].id}` at {slowest[3]:.2f} s.")


if __name__ == "__main__":
    main()
