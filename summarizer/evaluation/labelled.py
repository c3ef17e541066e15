"""The graders' own test: outputs a person labelled pass or fail, graded, verdicts compared.

``evals/labelled/<case-id>.yaml`` holds outputs written from the article and the case's
fact statements, without looking at the graders or the evidence lists: correct
paraphrases that should pass, and outputs with one defect each (a contradiction, an
invented name, a wrong weekday, a paragraph left untranslated...) that should fail. Each
is graded as a model's output would be, with the case's thresholds, and the case verdict
compared with the label: ``summarize eval --labelled`` prints the confusion table and the
items the graders get wrong.

With a judge (``--labelled --judge MODEL``) the judge grades the same outputs, and its
agreement with the labels is recorded in ``evals/judge-agreement.json``: every judged eval
report prints it, and a judge below ``judge.TRUSTED_AGREEMENT`` stays advisory.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from summarizer.errors import InputError
from summarizer.evaluation.cases import Case, default_evals_dir, load_cases
from summarizer.evaluation.graders import all_text, grade
from summarizer.evaluation.judge import Judge, judged_pass
from summarizer.evaluation.runner import load_thresholds
from summarizer.files import write_atomic

LABELLED_FOLDER = "labelled"
AGREEMENT_FILE = "judge-agreement.json"


class LabelledItem(BaseModel):
    """One labelled output."""

    model_config = ConfigDict(extra="forbid")

    id: str
    expect: Literal["pass", "fail"]
    kind: str
    why: str
    output: dict[str, Any]


class _LabelledFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[LabelledItem]


@dataclass(frozen=True)
class LabelledVerdict:
    """What the graders decided for one labelled output."""

    case_id: str
    item: LabelledItem
    passed: bool
    failed_checks: tuple[str, ...]
    # What each failed check found, as the graders put it.
    details: tuple[str, ...] = ()
    # The judge's verdict on the whole output, when a judge graded it too.
    judge_passed: bool | None = None

    @property
    def correct(self) -> bool:
        return self.passed == (self.item.expect == "pass")


@dataclass(frozen=True)
class LabelledReport:
    verdicts: tuple[LabelledVerdict, ...]

    @property
    def wrong(self) -> list[LabelledVerdict]:
        return [v for v in self.verdicts if not v.correct]

    def judge_agreement(self) -> float | None:
        """Share of the judged outputs where the judge's verdict matches the label."""
        judged = [v for v in self.verdicts if v.judge_passed is not None]
        if not judged:
            return None
        return sum(v.judge_passed == (v.item.expect == "pass") for v in judged) / len(judged)

    def confusion(self) -> dict[tuple[str, str], int]:
        """(label, graded) -> how many: ("fail", "pass") counts wrong outputs let through."""
        counts = Counter((v.item.expect, "pass" if v.passed else "fail") for v in self.verdicts)
        return {(e, g): counts[(e, g)] for e in ("fail", "pass") for g in ("fail", "pass")}

    def text(self) -> str:
        """The confusion table, then every wrong verdict, for people and CI logs."""
        table = self.confusion()
        lines = [
            f"Labelled outputs: {len(self.verdicts)}, graded wrongly: {len(self.wrong)}",
            "",
            "| label | graded FAIL | graded PASS |",
            "|---|---:|---:|",
        ]
        for label in ("fail", "pass"):
            total = table[(label, "fail")] + table[(label, "pass")]
            lines.append(
                f"| should {label.upper()} ({total}) | {table[(label, 'fail')]} "
                f"| {table[(label, 'pass')]} |"
            )
        for verdict in self.wrong:
            graded = "passed" if verdict.passed else f"failed {', '.join(verdict.failed_checks)}"
            lines.append(
                f"- {verdict.case_id}/{verdict.item.id} ({verdict.item.kind}): labelled "
                f"{verdict.item.expect}, {graded}. {verdict.item.why}"
            )
            lines.extend(f"    - {detail}" for detail in verdict.details)
        agreement = self.judge_agreement()
        if agreement is not None:
            judged = sum(v.judge_passed is not None for v in self.verdicts)
            lines.append(f"Judge agreement with the labels: {agreement:.1%} of {judged} outputs")
        return "\n".join(lines)


def load_labelled(case: Case, evals_dir: Path) -> list[LabelledItem]:
    """The labelled outputs of ``case`` (none when it has no file).

    Raises:
        InputError: the file does not parse or an item is malformed.
    """
    path = evals_dir / LABELLED_FOLDER / f"{case.id}.yaml"
    if not path.exists():
        return []
    try:
        return _LabelledFile.model_validate(yaml.safe_load(path.read_text("utf-8"))).items
    except (yaml.YAMLError, ValidationError) as exc:
        raise InputError(f"{path} is not a labelled-outputs file: {exc}", path=str(path)) from exc


def grade_labelled(
    evals_dir: Path | None = None, pattern: str = "*", judge: Judge | None = None
) -> LabelledReport:
    """Grade every labelled output of the cases matching ``pattern`` (and have ``judge``
    grade it too, when given)."""
    evals_dir = evals_dir or default_evals_dir()
    thresholds = load_thresholds(evals_dir)
    verdicts = []
    for case in load_cases(evals_dir, pattern):
        article = case.article_text()
        for item in load_labelled(case, evals_dir):
            result = grade(
                case, item.output, article=article, thresholds=thresholds.for_case(case.id)
            )
            failed = tuple(name for name, check in result.checks.items() if not check.passed)
            details = tuple(f"{name}: {result.checks[name].detail}" for name in failed)
            judged = None
            if judge is not None:
                text = all_text(item.output, case.task)
                judged = judged_pass(case, judge.verdicts(case, text, article))
            verdicts.append(LabelledVerdict(case.id, item, not failed, failed, details, judged))
    if not verdicts:
        raise InputError(
            f"No labelled outputs in {evals_dir / LABELLED_FOLDER} for cases {pattern!r}.",
            hint="They are test data of the source checkout (evals/labelled/), not installed "
            "with the package: run from the checkout, or pass --evals-dir.",
        )
    return LabelledReport(tuple(verdicts))


def record_agreement(
    evals_dir: Path, model: str, report: LabelledReport, pattern: str = "*"
) -> Path:
    """Write ``model``'s measured agreement into ``<evals_dir>/judge-agreement.json``."""
    agreement = report.judge_agreement()
    path = evals_dir / AGREEMENT_FILE
    recorded = load_agreements(evals_dir)
    recorded[model] = {
        "agreement": round(agreement or 0.0, 4),
        "outputs": sum(v.judge_passed is not None for v in report.verdicts),
        # Measured on the cases matching this glob; only "*" (all of them) earns trust.
        "cases": pattern,
        "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_atomic(path, json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    return path


def load_agreements(evals_dir: Path) -> dict[str, dict[str, Any]]:
    """Every judge's recorded agreement with the labelled outputs, by model."""
    path = evals_dir / AGREEMENT_FILE
    if not path.exists():
        return {}
    data: dict[str, dict[str, Any]] = json.loads(path.read_text("utf-8"))
    return data
