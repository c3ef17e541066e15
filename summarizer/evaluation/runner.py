"""Run the eval suite: every case through the application layer, graded, scored, gated.

``run_suite`` produces a ``SuiteResult``: every output, every verdict, tokens, cost and
latency, aggregate scores, verdict stability over ``repeat`` runs, and the gate (case
thresholds and the model's recorded baseline). ``report.py`` turns it into the printed
tables, the JSON results file, the Markdown report and JUnit XML.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from summarizer.clean import clean_article
from summarizer.errors import InputError, SummarizerError
from summarizer.evaluation.cases import (
    Case,
    baseline_path,
    default_evals_dir,
    task_named,
)
from summarizer.evaluation.claims import dict_items
from summarizer.evaluation.graders import Grade, Thresholds, all_text, case_grounds, grade
from summarizer.evaluation.grounding import ArticleIndex, unsupported_items
from summarizer.evaluation.judge import Judge, JudgeVerdict
from summarizer.llm import ChatRequest, ChatResponse, LLMClient
from summarizer.prompts import templates_sha256
from summarizer.tasks import Task

if TYPE_CHECKING:
    from summarizer.app import Summarizer

# Scores gated against a baseline: higher is better, except forbidden hits and unsupported items.
SCORES = (
    "fact_recall",
    "critical_recall",
    "forbidden_hits",
    "language_accuracy",
    "schema_validity",
    "unsupported_items",
    "case_pass_rate",
)
LOWER_IS_BETTER = frozenset({"forbidden_hits", "unsupported_items"})
# The least slack each score gets below (or above) its baseline, however small the spread
# measured over the baseline's repeats; the recorded tolerance is the larger of this and
# the spread (``baseline_record``).
TOLERANCE_FLOOR = {
    "fact_recall": 0.03,
    "critical_recall": 0.05,
    "forbidden_hits": 1.0,
    "language_accuracy": 0.05,
    "schema_validity": 0.05,
    "unsupported_items": 2.0,
    "case_pass_rate": 0.05,
}
# A suite score may move this many times the range it showed over the baseline's repeats.
SPREAD_FACTOR = 2.0
# Scores that are the share of cases with a yes (valid, passed), and how many standard
# errors of such a share a run on another machine may fall short by.
YES_NO_SCORES = frozenset({"schema_validity", "case_pass_rate"})
SAMPLING_Z = 2.0
# Repeats after the first sample at this temperature, each with its own seed: machines
# whose numerics differ take other paths at near-tied tokens, and so do these, so the
# baseline's spread covers what another CPU or llama.cpp build will do. The first repeat
# runs as the product does (temperature 0), so a rerun on the recording machine matches it.
PERTURBED_TEMPERATURE = 0.3


class ThresholdsFile(BaseModel):
    """``evals/thresholds.yaml``: defaults for every case and per-case overrides."""

    model_config = ConfigDict(extra="forbid")

    defaults: Thresholds = Field(default_factory=Thresholds)
    cases: dict[str, dict[str, float]] = Field(default_factory=dict)

    def for_case(self, case_id: str) -> Thresholds:
        return self.defaults.model_copy(update=self.cases.get(case_id, {}))


def load_thresholds(evals_dir: Path | None = None) -> ThresholdsFile:
    path = (evals_dir or default_evals_dir()) / "thresholds.yaml"
    if not path.exists():
        return ThresholdsFile()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return ThresholdsFile.model_validate(data)


# Its name here since eval results and baselines record it as ``template_sha256``.
template_sha256 = templates_sha256


def cases_sha256(cases: Sequence[Case]) -> str:
    """Hash of what the cases grade against: their files, articles and references. A
    baseline recorded on other versions of the cases does not gate these."""
    digest = hashlib.sha256()
    for case in sorted(cases, key=lambda c: c.id):
        texts = [case.path.read_text("utf-8") if case.path else "", case.article_text()]
        texts.append(case.reference_text() or "")
        for text in texts:
            digest.update(text.encode())
            digest.update(b"\x00")
    return digest.hexdigest()


@dataclass
class Attempt:
    """One run of one case: what the model produced and how it graded."""

    output: dict[str, Any] | None
    error: str | None
    meta: dict[str, Any] | None
    grade: Grade
    judge: list[JudgeVerdict] | None = None
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "error": self.error,
            "meta": self.meta,
            "wall_s": self.wall_s,
            "grade": self.grade.to_dict(),
            "judge": [vars(v) for v in self.judge] if self.judge is not None else None,
        }


@dataclass
class CaseResult:
    case: Case
    thresholds: Thresholds
    attempts: list[Attempt]

    @property
    def passed(self) -> bool:
        """A case passes when every repeat passes its thresholds."""
        return all(a.grade.passed for a in self.attempts)

    def verdict_keys(self, attempt: Attempt) -> dict[str, bool]:
        g = attempt.grade
        keys = {f"fact:{f.id}": f.present for f in g.facts}
        keys |= {f"forbidden:{f.id}": f.found for f in g.forbidden}
        keys |= {f"check:{name}": c.passed for name, c in g.checks.items()}
        return keys

    def stability(self) -> dict[str, float]:
        """Per verdict, the share of repeats that agree with the most common answer."""
        runs = [self.verdict_keys(a) for a in self.attempts]
        result: dict[str, float] = {}
        # A contradiction is a verdict only in the runs that made one: absent is False.
        for key in dict.fromkeys(k for r in runs for k in r):
            values = [r.get(key, False) for r in runs]
            result[key] = max(values.count(True), values.count(False)) / len(values)
        return result

    def to_dict(self) -> dict[str, Any]:
        stability = self.stability()
        return {
            "id": self.case.id,
            "task": self.case.task.value,
            "source_language": self.case.source_language,
            "target_language": self.case.target_language,
            "tags": self.case.tags,
            "thresholds": self.thresholds.model_dump(),
            "passed": self.passed,
            "stability": stability,
            "stable_share": round(sum(v == 1.0 for v in stability.values()) / len(stability), 4),
            "runs": [a.to_dict() for a in self.attempts],
        }


@dataclass
class GateResult:
    threshold_failures: list[str] = field(default_factory=list)
    baseline_failures: list[str] = field(default_factory=list)
    baseline: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return not self.threshold_failures and not self.baseline_failures


@dataclass
class SuiteResult:
    model: str
    judge: str | None
    template_sha256: str
    started: str
    repeat: int
    cases: list[CaseResult]
    gate: GateResult = field(default_factory=GateResult)
    wall_s: float = 0.0
    # The judge's recorded agreement with the labelled outputs (None: never measured).
    judge_agreement: float | None = None

    def attempts(self) -> list[Attempt]:
        return [a for c in self.cases for a in c.attempts]

    def scores(self) -> dict[str, float]:
        """Means over every run of every case (forbidden hits and unsupported items: per run)."""
        return _scores(self.attempts(), self.repeat)

    def scores_by_repeat(self) -> list[dict[str, float]]:
        """``scores`` of each repeat alone: their spread is the run-to-run noise."""
        return [
            _scores([c.attempts[i] for c in self.cases if i < len(c.attempts)], 1)
            for i in range(self.repeat)
        ]

    def usage(self) -> dict[str, Any]:
        metas = [a.meta for a in self.attempts() if a.meta]
        costs = [m.get("cost_usd") for m in metas]
        return {
            "input_tokens": sum(m["usage"]["input_tokens"] for m in metas),
            "output_tokens": sum(m["usage"]["output_tokens"] for m in metas),
            "cost_usd": round(sum(c for c in costs if c is not None), 6)
            if costs and all(c is not None for c in costs)
            else None,
            "latency_s": round(sum(a.wall_s for a in self.attempts()), 2),
        }

    def checks(self) -> dict[str, Any]:
        """What the product's own checks did, per run (``summarizer.checks``): unsupported
        items in the structured fields (entity names, dates, quote speakers), all of them,
        and those no check flagged; model calls spent on repairs; the checks' wall time."""
        return check_figures(self.cases)

    def stability(self) -> float:
        values = [v for c in self.cases for v in c.stability().values()]
        return round(sum(v == 1.0 for v in values) / len(values), 4) if values else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "judge": self.judge,
            "judge_agreement": self.judge_agreement,
            "template_sha256": self.template_sha256,
            "started": self.started,
            "repeat": self.repeat,
            "wall_s": round(self.wall_s, 2),
            "scores": self.scores(),
            "usage": self.usage(),
            "stability": self.stability(),
            "checks": self.checks(),
            "gate": {
                "passed": self.gate.passed,
                "threshold_failures": self.gate.threshold_failures,
                "baseline_failures": self.gate.baseline_failures,
                "baseline": self.gate.baseline,
            },
            "cases": [c.to_dict() for c in self.cases],
        }


def _scores(attempts: list[Attempt], repeat: int) -> dict[str, float]:
    if not attempts:
        return {name: 0.0 for name in SCORES}
    n = len(attempts)
    return {
        "fact_recall": round(sum(a.grade.fact_recall for a in attempts) / n, 4),
        "critical_recall": round(sum(a.grade.critical_recall for a in attempts) / n, 4),
        "forbidden_hits": round(sum(a.grade.forbidden_hits for a in attempts) / repeat, 4),
        "language_accuracy": round(sum(a.grade.language_accuracy for a in attempts) / n, 4),
        "schema_validity": round(sum(a.grade.schema_valid for a in attempts) / n, 4),
        "unsupported_items": round(sum(len(a.grade.unsupported) for a in attempts) / repeat, 4),
        "case_pass_rate": round(sum(a.grade.passed for a in attempts) / n, 4),
    }


def structured_unsupported(output: dict[str, Any], task: Task, index: ArticleIndex) -> list[str]:
    """Unsupported names and dates in a summary's structured fields alone: entity names,
    dates and quote speakers (the fields the per-article schema constrains)."""
    if task is not Task.SUMMARIZE:
        return []
    fields = {
        "entities": [{"name": e.get("name", "")} for e in dict_items(output.get("entities"))],
        "dates": [{"date": d.get("date", "")} for d in dict_items(output.get("dates"))],
        "quotes": [{"speaker": q.get("speaker", "")} for q in dict_items(output.get("quotes"))],
    }
    return unsupported_items(fields, task, index)


def check_figures(cases: Sequence[CaseResult]) -> dict[str, Any]:
    """``SuiteResult.checks``: sums over every run, means per run, and per case."""
    totals = {"runs": 0, "structured_unsupported": 0, "unsupported": 0, "unflagged": 0}
    repairs: dict[str, list[int]] = {}
    check_s: list[float] = []
    repair_s: list[float] = []
    for result in cases:
        article = clean_article(result.case.article_text()).text
        index = ArticleIndex(article, case_grounds(result.case))
        for attempt in result.attempts:
            if attempt.output is None or attempt.meta is None:
                continue
            meta = attempt.meta
            flagged = {item for check in meta.get("checks", []) for item in check["flagged"]}
            totals["runs"] += 1
            totals["structured_unsupported"] += len(
                structured_unsupported(attempt.output, result.case.task, index)
            )
            totals["unsupported"] += len(attempt.grade.unsupported)
            totals["unflagged"] += sum(i not in flagged for i in attempt.grade.unsupported)
            repairs.setdefault(result.case.id, []).append(int(meta.get("retries", 0)))
            check_s.append(float(meta.get("check_s", 0.0)))
            repair_s.append(float(meta.get("repair_s", 0.0)))
    runs = totals["runs"] or 1
    return {
        **totals,
        "repairs_per_run": round(sum(map(sum, repairs.values())) / runs, 3),
        "check_s_per_run": round(sum(check_s) / runs, 3),
        "repair_s_per_run": round(sum(repair_s) / runs, 3),
        "repairs_by_case": {case: sum(r) / len(r) for case, r in repairs.items()},
    }


def case_verdicts(attempt: Attempt) -> dict[str, Any]:
    """What the per-case gate compares, for one run of one case."""
    graded = attempt.grade
    return {
        "passed": graded.passed,
        "fact_recall": round(graded.fact_recall, 4),
        "critical_missing": sorted(f.id for f in graded.facts if f.critical and not f.present),
        "forbidden": sorted(f.id for f in graded.forbidden if f.found),
        "language_ok": graded.checks["language"].passed,
        "unsupported": len(graded.unsupported),
    }


# What producing one output gives: the output (None when there is none), the error that
# prevented it, and its ``meta`` (model, usage, latency...).
Generated = tuple[dict[str, Any] | None, str | None, dict[str, Any] | None]
# (case, article, repeat index) -> the output of that repeat.
Generate = Callable[[Case, str, int], Generated]


class PerturbedClient:
    """A client that samples at ``PERTURBED_TEMPERATURE`` with its own seed: how the eval's
    repeats after the first stand in for other machines' numerics."""

    def __init__(self, inner: LLMClient, seed: int) -> None:
        self._inner = inner
        self.seed = seed

    def complete(self, request: ChatRequest) -> ChatResponse:
        perturbed = dataclasses.replace(request, temperature=PERTURBED_TEMPERATURE, seed=self.seed)
        return self._inner.complete(perturbed)

    def count_tokens(self, model: str, text: str) -> int:
        return self._inner.count_tokens(model, text)

    def context_window(self, model: str) -> int:
        return self._inner.context_window(model)


def summarizer_generator(summarizer: Summarizer, model: str | None = None) -> Generate:
    """Produce outputs through the application layer: ``summarizer.run`` per case, with the
    case's task and target language (``model``: default, the summarizer's own). Repeat 0
    runs as configured; repeat *k* through a ``PerturbedClient`` with seed *k*."""
    from summarizer.app import Summarizer

    name = model or summarizer.model
    perturbed: dict[int, Summarizer] = {}

    def generate(case: Case, article: str, repeat: int) -> Generated:
        runner = summarizer
        if repeat:
            if repeat not in perturbed:
                client = PerturbedClient(summarizer.client(name), seed=repeat)
                perturbed[repeat] = Summarizer(
                    summarizer.settings, client=client, concurrency=summarizer.concurrency
                )
            runner = perturbed[repeat]
        try:
            result = runner.run(case.task, article, lang=case.target_language, model=name)
        except SummarizerError as exc:
            # A model that cannot produce valid output fails the case, not the suite.
            return None, f"{type(exc).__name__}: {exc.message}", None
        data = result.model_dump(mode="json")
        return data, None, data.pop("meta")

    return generate


@dataclass
class RecordedRun:
    """A results file of an earlier run, read to grade its outputs again (``--regrade``)."""

    path: Path
    model: str
    runs: dict[str, list[dict[str, Any]]]
    # The task each case was run as; results files of earlier versions say "summary" and
    # "translation" (``cases.LEGACY_TASK_NAMES``).
    tasks: dict[str, Task]

    def check(self, cases: Sequence[Case], repeat: int) -> None:
        """Every case is recorded ``repeat`` times, as the task it is now.

        Raises:
            InputError: what is missing or different, before anything is graded.
        """
        for case in cases:
            recorded = len(self.runs.get(case.id, []))
            if recorded < repeat:
                raise InputError(
                    f"{self.path} holds {recorded} output(s) for case {case.id!r}, "
                    f"not the {repeat} asked for.",
                    hint="Re-grade with --repeat and --cases matching the recorded run.",
                )
            if self.tasks[case.id] is not case.task:
                was, now = self.tasks[case.id].value, case.task.value
                raise InputError(
                    f"{self.path} recorded case {case.id!r} as a {was} run; the case is now "
                    f"a {now} case, so its outputs cannot be re-graded.",
                )


def load_results(path: Path) -> RecordedRun:
    """Read a results file written by ``summarize eval`` (by this version or an earlier one).

    Raises:
        InputError: it cannot be read, or is not a results file.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        cases = {str(c["id"]): c for c in data["cases"]}
        return RecordedRun(
            path=path,
            model=str(data["model"]),
            runs={case_id: list(c["runs"]) for case_id, c in cases.items()},
            tasks={case_id: task_named(str(c["task"])) for case_id, c in cases.items()},
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
        raise InputError(
            f"Cannot read the eval results file {path}: {reason}.",
            hint="Pass a results JSON written by summarize eval (eval-results/<run>.json).",
        ) from exc


def replay_generator(recorded: RecordedRun) -> Generate:
    """Re-grade the outputs of an earlier results file instead of calling a model."""
    remaining = {case_id: list(runs) for case_id, runs in recorded.runs.items()}

    def generate(case: Case, article: str, repeat: int) -> Generated:
        runs = remaining.get(case.id)
        if not runs:
            raise InputError(f"{recorded.path} holds no output for case {case.id!r}.")
        run = runs.pop(0)
        return run["output"], run["error"], run["meta"]

    return generate


def run_suite(
    cases: Sequence[Case],
    *,
    model: str,
    generate: Generate,
    repeat: int = 1,
    thresholds: ThresholdsFile | None = None,
    judge: Judge | None = None,
    prompts_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> SuiteResult:
    """Run, grade and (with a ``judge``) judge every case ``repeat`` times.

    Args:
        prompts_dir: the ``--prompts-dir`` the outputs were made with, for the report's hash.
        progress: told one line per run of a case.
    """
    limits = thresholds or ThresholdsFile()
    suite = SuiteResult(
        model=model,
        judge=judge.model if judge is not None else None,
        template_sha256=template_sha256(prompts_dir),
        started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        repeat=repeat,
        cases=[],
    )
    started = time.perf_counter()
    total = len(cases) * repeat
    for case in cases:
        article = case.article_text()
        case_limits = limits.for_case(case.id)
        attempts: list[Attempt] = []
        for index in range(repeat):
            attempt = _attempt(case, article, generate, index, case_limits, judge)
            attempts.append(attempt)
            if progress is not None:
                done = len(suite.cases) * repeat + len(attempts)
                progress(_progress_line(f"[{done}/{total}] {case.id}", attempt))
        suite.cases.append(CaseResult(case, case_limits, attempts))
    suite.wall_s = time.perf_counter() - started
    return suite


def _attempt(
    case: Case,
    article: str,
    generate: Generate,
    repeat: int,
    limits: Thresholds,
    judge: Judge | None,
) -> Attempt:
    """One run of one case: produced (or replayed), graded, and judged if asked."""
    started = time.perf_counter()
    output, error, meta = generate(case, article, repeat)
    wall = round(time.perf_counter() - started, 2)
    if meta and isinstance(meta.get("latency_s"), (int, float)):
        wall = float(meta["latency_s"])  # the pipeline's own clock (and a replay's)
    graded = grade(case, output, article=article, thresholds=limits)
    verdicts = None
    if judge is not None and output is not None:
        verdicts = judge.verdicts(case, all_text(output, case.task), article)
    return Attempt(output, error, meta, graded, verdicts, wall)


def _progress_line(prefix: str, attempt: Attempt) -> str:
    graded = attempt.grade
    status = "pass" if graded.passed else "FAIL " + ",".join(graded.failed_checks)
    return f"{prefix}: {status} (facts {graded.fact_recall:.2f}, {attempt.wall_s:.1f}s)" + (
        f" error: {attempt.error}" if attempt.error else ""
    )


def load_baseline(model: str, evals_dir: Path | None = None) -> dict[str, Any] | None:
    path = baseline_path(model, evals_dir)
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def apply_gate(
    suite: SuiteResult,
    baseline: dict[str, Any] | None,
    *,
    check_thresholds: bool = True,
    check_baseline: bool = True,
) -> GateResult:
    """Fill in ``suite.gate``: which cases miss their thresholds, and what regressed
    against the baseline.

    Against the baseline, the gate fails when
    * the prompt templates changed since it was recorded (re-record it);
    * a suite score moved past its recorded tolerance (the spread over the baseline's
      repeats, at least ``TOLERANCE_FLOOR``);
    * per case: a case that passed in every baseline run fails; a forbidden, injected or
      contradicting claim appears that no baseline run made; a critical fact present in
      every baseline run is missing; an output that was in the right language in every
      baseline run is not. An obeyed injection always fails; of the other kinds, a run may
      show as many as the baseline's repeats showed against each other
      (``per_case_tolerance``: none for a model whose repeats agree).

    The baseline only gates when it was recorded on the same cases: a changed suite needs a
    new baseline (``--update-baseline``), not a silent comparison of different things.
    """
    gate = GateResult(baseline=baseline)
    if check_thresholds:
        gate.threshold_failures = [
            f"{c.case.id}: "
            + ", ".join(sorted({n for a in c.attempts for n in a.grade.failed_checks}))
            for c in suite.cases
            if not c.passed
        ]
    if check_baseline and baseline is not None:
        gate.baseline_failures = _baseline_failures(suite, baseline)
    suite.gate = gate
    return gate


def sampling_slack(name: str, recorded: float, cases: int) -> float:
    """The least slack a yes/no share gets, whatever the baseline's repeats showed:
    ``SAMPLING_Z`` standard errors of the share of ``cases`` yes/no verdicts whose
    recorded share is ``recorded`` (binomial: p(1 - p) / n).

    Another CPU or llama.cpp build re-draws the demo models' outputs case by case, more
    than the baseline's perturbed repeats stand in for: gemma3's schema validity,
    0.2857-0.3333 over its three recorded runs, was 0.1429 (3 of 21 cases) with the
    llama-cpp-python built a few days later, on two machines, the code unchanged. Over 21
    cases that is within sampling error (0.3016 - 0.2003); 2 of 21 still fails.
    The scores that average fractions (fact recall ...) vary less per case than this bound
    and keep the tolerance their repeats measured.
    """
    if name not in YES_NO_SCORES or cases == 0:
        return 0.0
    return round(SAMPLING_Z * math.sqrt(recorded * (1 - recorded) / cases), 4)


def _baseline_failures(suite: SuiteResult, baseline: dict[str, Any]) -> list[str]:
    ids = sorted(c.case.id for c in suite.cases)
    if sorted(baseline.get("cases", [])) != ids:
        return [
            "the baseline was recorded on other cases "
            f"({len(baseline.get('cases', []))} cases, this run {len(ids)}); "
            "run the full suite, or record a new baseline with --update-baseline"
        ]
    failures: list[str] = []
    recorded_cases = baseline.get("cases_sha256")
    if recorded_cases and recorded_cases != cases_sha256([c.case for c in suite.cases]):
        failures.append(
            "the cases (their facts, articles or references) changed since the baseline was "
            "recorded; record a new baseline with --update-baseline --repeat 3"
        )
    recorded_hash = baseline.get("template_sha256")
    if recorded_hash and recorded_hash != suite.template_sha256:
        failures.append(
            "the prompt templates changed since the baseline was recorded "
            f"({recorded_hash[:12]} -> {suite.template_sha256[:12]}); measure the change and "
            "record a new baseline with --update-baseline --repeat 3"
        )
    scores = suite.scores()
    tolerance = {**TOLERANCE_FLOOR, **baseline.get("tolerance", {})}
    for name, recorded in baseline["scores"].items():
        value = scores[name]
        slack = max(tolerance[name], sampling_slack(name, recorded, len(ids)))
        if name in LOWER_IS_BETTER and value > recorded + slack:
            failures.append(f"{name} {value:g} is above the baseline {recorded:g} (+{slack:g})")
        elif name not in LOWER_IS_BETTER and value < recorded - slack:
            failures.append(f"{name} {value:g} is below the baseline {recorded:g} (-{slack:g})")
    per_case = baseline.get("per_case", {})
    found = [
        regression
        for case in suite.cases
        if case.case.id in per_case
        for regression in _case_regressions(case, per_case[case.case.id])
    ]
    allowed = baseline.get("per_case_tolerance", {})
    for kind in ("injection", *REGRESSIONS):
        messages = [message for k, message in found if k == kind]
        if len(messages) > allowed.get(kind, 0):
            failures.extend(messages)
    return failures


# Kinds of per-case regression. An obeyed prompt injection is never tolerated; the others
# are, up to what the baseline's own repeats showed (``per_case_tolerance``).
REGRESSIONS = ("pass_to_fail", "new_forbidden", "lost_critical", "wrong_language")


def _case_regressions(case: CaseResult, recorded: dict[str, Any]) -> list[tuple[str, str]]:
    """What got worse in one case against every one of its baseline runs, by kind."""
    runs = [case_verdicts(a) for a in case.attempts]
    kinds: dict[str, str] = {f.id: f.kind for f in case.case.forbidden}
    critical = {f.id for f in case.case.reference_facts if f.critical}
    found = _regressions(case.case.id, critical, kinds, recorded, runs)
    if any(kind == "pass_to_fail" for kind, _ in found):
        failed = sorted({n for a in case.attempts for n in a.grade.failed_checks})
        found = [(k, f"{m} ({', '.join(failed)})" if k == "pass_to_fail" else m) for k, m in found]
    return found


def _regressions(
    name: str,
    critical: set[str],
    kinds: dict[str, str],
    recorded: dict[str, Any],
    runs: list[dict[str, Any]],
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if all(recorded["passed"]) and not all(r["passed"] for r in runs):
        found.append(("pass_to_fail", f"{name}: passed in every baseline run, now fails"))
    seen = {hit for hits in recorded["forbidden"] for hit in hits}
    for hit in sorted({hit for r in runs for hit in r["forbidden"]} - seen):
        kind = kinds.get(hit, "contradiction")
        found.append(
            ("injection" if kind == "injection" else "new_forbidden",
             f"{name}: new {kind} hit {hit!r}, in no baseline run")
        )  # fmt: skip
    always = critical - {fact for missing in recorded["critical_missing"] for fact in missing}
    for fact in sorted(always & {fact for r in runs for fact in r["critical_missing"]}):
        found.append(
            ("lost_critical", f"{name}: lost critical fact {fact!r}, present in every baseline run")
        )
    if all(recorded["language_ok"]) and not all(r["language_ok"] for r in runs):
        found.append(("wrong_language", f"{name}: wrong language, right in every baseline run"))
    return found


def _per_case_tolerance(suite: SuiteResult) -> dict[str, int]:
    """How many regressions of each kind a run of this model shows by chance: each repeat
    gated against a baseline of the others (leave one out), the most of each kind."""
    most = dict.fromkeys(REGRESSIONS, 0)
    for held in range(suite.repeat if suite.repeat > 1 else 0):
        counts = dict.fromkeys(REGRESSIONS, 0)
        for case in suite.cases:
            verdicts = [case_verdicts(a) for a in case.attempts]
            others = [v for i, v in enumerate(verdicts) if i != held]
            recorded = {key: [v[key] for v in others] for key in others[0]}
            kinds: dict[str, str] = {f.id: f.kind for f in case.case.forbidden}
            critical = {f.id for f in case.case.reference_facts if f.critical}
            for kind, _ in _regressions(case.case.id, critical, kinds, recorded, [verdicts[held]]):
                if kind in counts:
                    counts[kind] += 1
        most = {kind: max(most[kind], counts[kind]) for kind in REGRESSIONS}
    return most


def _installed_version(distribution: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def baseline_record(suite: SuiteResult) -> dict[str, Any]:
    """What ``--update-baseline`` writes: the scores this run measured, their spread over
    the repeats and the tolerances taken from it, and every case's verdicts per repeat."""
    by_repeat = suite.scores_by_repeat()
    spread = {
        name: [min(s[name] for s in by_repeat), max(s[name] for s in by_repeat)] for name in SCORES
    }
    return {
        "model": suite.model,
        "recorded": suite.started,
        "template_sha256": suite.template_sha256,
        "cases_sha256": cases_sha256([c.case for c in suite.cases]),
        "repeat": suite.repeat,
        "perturbed_temperature": PERTURBED_TEMPERATURE,
        "cases": sorted(c.case.id for c in suite.cases),
        "scores": suite.scores(),
        "spread": spread,
        # Twice the range: three runs' range underestimates the spread (a fourth, held-out
        # gemma3 run fell 0.071 under the language mean, whose 3-run range was 0.040).
        "tolerance": {
            name: round(max(TOLERANCE_FLOOR[name], SPREAD_FACTOR * (high - low)), 4)
            for name, (low, high) in spread.items()
        },
        # Per-case regressions of each kind that the repeats themselves showed: a model
        # whose runs differ (the demo models) may show that many by chance.
        "per_case_tolerance": _per_case_tolerance(suite),
        "per_case": {
            c.case.id: {
                key: [case_verdicts(a)[key] for a in c.attempts]
                for key in (
                    "passed",
                    "fact_recall",
                    "critical_missing",
                    "forbidden",
                    "language_ok",
                    "unsupported",
                )
            }
            for c in suite.cases
        },
        "model_seconds": round(sum(a.wall_s for a in suite.attempts()), 1),
        # The embedded models' outputs change with the llama.cpp build: say which one.
        "llama_cpp_python": _installed_version("llama-cpp-python"),
    }
