"""The graders' own test: outputs a person labelled pass or fail, graded, verdicts compared.

``evals/labelled/<case-id>.yaml`` holds outputs written from the article and the case's
fact statements, without looking at the graders or the evidence lists: correct
paraphrases that should pass, and outputs with one defect each (a contradiction, an
invented name, a wrong weekday, a paragraph left untranslated...) that should fail. Each
is graded as a model's output would be, with the case's thresholds, and the case verdict
compared with the label: ``summarize eval --labelled`` prints the confusion table and the
items the graders get wrong.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from summarizer.errors import InputError
from summarizer.evaluation.cases import Case, default_evals_dir, load_cases
from summarizer.evaluation.graders import grade
from summarizer.evaluation.runner import load_thresholds

LABELLED_FOLDER = "labelled"


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

    @property
    def correct(self) -> bool:
        return self.passed == (self.item.expect == "pass")


@dataclass(frozen=True)
class LabelledReport:
    verdicts: tuple[LabelledVerdict, ...]

    @property
    def wrong(self) -> list[LabelledVerdict]:
        return [v for v in self.verdicts if not v.correct]

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


def grade_labelled(evals_dir: Path | None = None, pattern: str = "*") -> LabelledReport:
    """Grade every labelled output of the cases matching ``pattern``."""
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
            verdicts.append(LabelledVerdict(case.id, item, not failed, failed))
    if not verdicts:
        raise InputError(
            f"No labelled outputs in {evals_dir / LABELLED_FOLDER} for cases {pattern!r}.",
            hint="They are test data of the source checkout (evals/labelled/), not installed "
            "with the package: run from the checkout, or pass --evals-dir.",
        )
    return LabelledReport(tuple(verdicts))
