"""``summarize eval``: load cases, run them, print the tables, write the reports, gate.

The command in ``cli.py`` only parses arguments and calls ``run_eval``; pytest's model test
calls it too, so CI and people run the very same thing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from summarizer.errors import UsageError
from summarizer.evaluation import report
from summarizer.evaluation.cases import default_evals_dir, load_cases
from summarizer.evaluation.runner import (
    SuiteResult,
    apply_gate,
    baseline_path,
    baseline_record,
    load_baseline,
    load_thresholds,
    pipeline_generator,
    replay_generator,
    run_suite,
)
from summarizer.files import write_atomic
from summarizer.llm import LLMClient

Gate = Literal["all", "thresholds", "baseline", "none"]


def _stdout(text: str) -> None:
    sys.stdout.write(text + "\n")


def _stderr(text: str) -> None:
    sys.stderr.write(text + "\n")


@dataclass
class EvalRun:
    suite: SuiteResult
    paths: dict[str, Path]
    baseline_written: Path | None = None


def run_eval(
    *,
    model: str,
    client: LLMClient | None = None,
    judge: str | None = None,
    judge_client: LLMClient | None = None,
    cases: str = "*",
    repeat: int = 1,
    evals_dir: Path | None = None,
    output_dir: Path | None = None,
    regrade: Path | None = None,
    update_baseline: bool = False,
    gate: Gate = "all",
    echo: Callable[[str], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> EvalRun:
    """Run the suite for ``model`` and gate it; see ``summarize eval --help``.

    Raises:
        UsageError: bad ``repeat``, or neither a client nor a results file to re-grade.
        InputError: no case matches ``cases``, or a case file is invalid.
    """
    if repeat < 1:
        raise UsageError("--repeat must be at least 1.")
    evals_dir = evals_dir or default_evals_dir()
    echo = echo or _stdout
    progress = progress or _stderr
    selected = load_cases(evals_dir, cases)
    if regrade is not None:
        generate = replay_generator(regrade)
    elif client is not None:
        generate = pipeline_generator(model, client)
    else:
        raise UsageError("run_eval needs a client, or a results file to re-grade.")
    suite = run_suite(
        selected,
        model=model,
        generate=generate,
        repeat=repeat,
        thresholds=load_thresholds(evals_dir),
        judge_model=judge,
        judge_client=judge_client,
        progress=progress,
    )
    written = None
    if update_baseline:
        written = baseline_path(model, evals_dir)
        written.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(written, json.dumps(baseline_record(suite), indent=1) + "\n")
    apply_gate(
        suite,
        load_baseline(model, evals_dir),
        check_thresholds=gate in ("all", "thresholds"),
        check_baseline=gate in ("all", "baseline"),
    )
    paths = report.write_reports(suite, output_dir or evals_dir / "results")
    echo(report.case_table(suite))
    echo("")
    echo(report.fact_table(suite))
    echo("")
    echo(report.scores_table(suite))
    echo("")
    echo(f"Verdict stability over {repeat} run(s): {suite.stability():.2%}")
    echo(report.gate_text(suite))
    if written is not None:
        echo(f"Baseline written: {written}")
    echo("Reports: " + ", ".join(str(p) for p in paths.values()))
    return EvalRun(suite, paths, written)
