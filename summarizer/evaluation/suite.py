"""``summarize eval``: load cases, run them, print the tables, write the reports, gate.

The command in ``cli.py`` only parses arguments, builds the ``Summarizer`` and calls
``run_eval``; pytest's model test calls it too, so CI and people run the very same thing.

The suite's data (cases, articles, thresholds, baselines) is the checkout's ``evals/`` or,
installed from the wheel, the copy inside the package (``cases.default_evals_dir``).
Reports go under ``./eval-results/`` in the current directory, never into the package.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarizer import backends
from summarizer.errors import UsageError
from summarizer.evaluation import report
from summarizer.evaluation.cases import (
    Case,
    baseline_path,
    default_evals_dir,
    load_cases,
    packaged_evals_dir,
)
from summarizer.evaluation.judge import TRUSTED_AGREEMENT, Judge, judged_pass
from summarizer.evaluation.labelled import (
    LabelledReport,
    grade_labelled,
    load_agreements,
    record_agreement,
)
from summarizer.evaluation.runner import (
    Generate,
    SuiteResult,
    apply_gate,
    baseline_record,
    load_baseline,
    load_results,
    load_thresholds,
    replay_generator,
    run_suite,
    summarizer_generator,
)
from summarizer.files import write_atomic

if TYPE_CHECKING:
    from summarizer.app import Summarizer

GATES = ("all", "thresholds", "baseline", "none")
# Where reports go unless --output-dir says otherwise: relative to the current directory.
DEFAULT_OUTPUT_DIR = Path("eval-results")


def _stdout(text: str) -> None:
    sys.stdout.write(text + "\n")


def _stderr(text: str) -> None:
    sys.stderr.write(text + "\n")


@dataclass(frozen=True)
class EvalOptions:
    """What ``summarize eval`` is asked to do besides which model runs (its flags).

    Attributes:
        cases: glob over case ids (``--cases``).
        repeat: runs of each case, for verdict stability and the baseline's spread
            (``--repeat``); runs after the first are perturbed (``PerturbedClient``).
        evals_dir: the suite's data (``--evals-dir``); default: ``default_evals_dir()``.
        output_dir: where reports go (``--output-dir``); default: ``./eval-results``.
        regrade: grade the outputs of this results file instead of calling the model.
        update_baseline: record this run's scores as the model's baseline, in ``evals_dir``.
        gate: what fails the run: ``all``, ``thresholds``, ``baseline`` or ``none``.
        judge: also have this model give an A-E verdict per fact (``--judge``).

    Raises:
        UsageError: ``repeat`` under 1, or an unknown ``gate``.
    """

    cases: str = "*"
    repeat: int = 1
    evals_dir: Path | None = None
    output_dir: Path | None = None
    regrade: Path | None = None
    update_baseline: bool = False
    gate: str = "all"
    judge: str | None = None

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise UsageError("--repeat must be at least 1.")
        if self.gate not in GATES:
            raise UsageError(
                f"--gate must be all, thresholds, baseline or none, not {self.gate!r}."
            )

    @property
    def reports_dir(self) -> Path:
        return (self.output_dir or DEFAULT_OUTPUT_DIR).resolve()


@dataclass
class EvalRun:
    suite: SuiteResult
    paths: dict[str, Path]
    baseline_written: Path | None = None


def run_eval(
    summarizer: Summarizer | None,
    options: EvalOptions | None = None,
    *,
    echo: Callable[[str], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> EvalRun:
    """Run the suite with ``summarizer``'s model and gate it; see ``summarize eval --help``.

    Args:
        summarizer: runs every case (``Summarizer.run``) and reaches the judge model
            (``Summarizer.client``). ``None`` only with ``options.regrade`` and no judge:
            the model is then the one the results file recorded.
        echo: told the tables, the gate and the report paths (default: stdout).
        progress: told one line per run of a case (default: stderr).

    Raises:
        UsageError: no summarizer where one is needed; ``--repeat`` over the response
            cache; ``--update-baseline`` into the copy of the suite installed with the
            package.
        ConfigError: the model or the judge model cannot be used as configured.
        InputError: no case matches ``options.cases``, a case file is invalid, or the
            results file to re-grade cannot be read or does not hold these cases.
    """
    options = options or EvalOptions()
    evals_dir = _evals_dir(options)
    selected = load_cases(evals_dir, options.cases)
    model, generate = _generator(summarizer, options, selected)
    suite = run_suite(
        selected,
        model=model,
        generate=generate,
        repeat=options.repeat,
        thresholds=load_thresholds(evals_dir),
        judge=_judge(summarizer, options),
        prompts_dir=summarizer.settings.prompts_dir if summarizer is not None else None,
        progress=progress or _stderr,
    )
    written = _write_baseline(suite, evals_dir) if options.update_baseline else None
    apply_gate(
        suite,
        load_baseline(model, evals_dir),
        check_thresholds=options.gate in ("all", "thresholds"),
        check_baseline=options.gate in ("all", "baseline"),
    )
    if suite.judge is not None:
        recorded = load_agreements(evals_dir).get(suite.judge)
        _judge_trust(suite, recorded, gate=options.gate in ("all", "thresholds"))
    paths = report.write_reports(suite, options.reports_dir)
    _print_results(suite, paths, written, echo or _stdout)
    return EvalRun(suite, paths, written)


def _judge_trust(suite: SuiteResult, recorded: dict[str, Any] | None, *, gate: bool) -> None:
    """Say how far the judge can be trusted, and let a trusted one gate (measured on every
    labelled output, at ``TRUSTED_AGREEMENT`` or more): a case whose output the judge finds
    missing a critical fact or contradicting one fails."""
    suite.judge_agreement = float(recorded["agreement"]) if recorded else None
    whole_set = recorded is not None and recorded.get("cases") == "*"
    trusted = suite.judge_agreement is not None and suite.judge_agreement >= TRUSTED_AGREEMENT
    if not (gate and whole_set and trusted):
        return
    for case in suite.cases:
        failed = [a for a in case.attempts if a.judge and not judged_pass(case.case, a.judge)]
        if failed:
            suite.gate.threshold_failures.append(
                f"{case.case.id}: the judge ({suite.judge_agreement:.0%} agreement) finds a "
                "critical fact missing or contradicted"
            )


def run_labelled(
    summarizer: Summarizer | None,
    evals_dir: Path | None,
    cases: str,
    judge_model: str | None = None,
) -> LabelledReport:
    """Grade the labelled outputs (``--labelled``); with ``judge_model``, have it judge them
    too and record its agreement with the labels (``evals/judge-agreement.json``)."""
    folder = evals_dir or default_evals_dir()
    judge = _judge(summarizer, EvalOptions(judge=judge_model)) if judge_model else None
    result = grade_labelled(folder, cases, judge)
    if judge is not None:
        record_agreement(folder, judge.model, result, cases)
    return result


def _evals_dir(options: EvalOptions) -> Path:
    if options.evals_dir is not None:
        return options.evals_dir
    found = default_evals_dir()
    if options.update_baseline and found == packaged_evals_dir():
        raise UsageError(
            f"--update-baseline writes into the suite's folder, and this one ({found}) is the "
            "copy installed with the package.",
            hint=f"Copy it and name the copy: cp -r {found} ./evals, then add --evals-dir ./evals.",
        )
    return found


def _generator(
    summarizer: Summarizer | None, options: EvalOptions, cases: list[Case]
) -> tuple[str, Generate]:
    """The model evaluated, and what produces each case's output."""
    if options.regrade is not None:
        recorded = load_results(options.regrade)
        recorded.check(cases, options.repeat)
        return recorded.model, replay_generator(recorded)
    if summarizer is None:
        raise UsageError("run_eval needs a Summarizer, or a results file to re-grade.")
    if options.repeat > 1 and summarizer.settings.cache:
        raise UsageError(
            "--repeat measures how stable the model's answers are, but with the response "
            "cache on every repeat would get the first run's answers back.",
            hint="Turn the cache off for the eval (--no-cache, or cache = false).",
        )
    summarizer.check()
    return summarizer.model, summarizer_generator(summarizer)


def _judge(summarizer: Summarizer | None, options: EvalOptions) -> Judge | None:
    if options.judge is None:
        return None
    if summarizer is None:
        raise UsageError("--judge needs a Summarizer to reach the judge model.")
    model = backends.model_name(options.judge)
    summarizer.check(model)
    return Judge(model, summarizer.client(model), summarizer.settings.prompts_dir)


def _write_baseline(suite: SuiteResult, evals_dir: Path) -> Path:
    written = baseline_path(suite.model, evals_dir)
    written.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(written, json.dumps(baseline_record(suite), indent=1) + "\n")
    return written


def _print_results(
    suite: SuiteResult,
    paths: dict[str, Path],
    written: Path | None,
    echo: Callable[[str], None],
) -> None:
    echo(report.case_table(suite))
    echo("")
    echo(report.fact_table(suite))
    echo("")
    echo(report.scores_table(suite))
    echo("")
    echo(f"Verdict stability over {suite.repeat} run(s): {suite.stability():.2%}")
    echo(report.gate_text(suite))
    if written is not None:
        echo(f"Baseline written: {written}")
    echo("Reports: " + ", ".join(str(p) for p in paths.values()))
