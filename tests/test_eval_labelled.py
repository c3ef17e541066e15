"""The labelled grader test set (evals/labelled/): its shape, and the report that compares
the graders' verdicts with the labels (``summarize eval --labelled``)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.evaluation.cases import load_cases
from summarizer.evaluation.labelled import grade_labelled, load_labelled

ROOT = Path(__file__).resolve().parent.parent
EVALS = ROOT / "evals"
CASES = load_cases(EVALS)


def test_every_case_has_labelled_outputs_of_both_kinds() -> None:
    total = Counter[str]()
    for case in CASES:
        items = load_labelled(case, EVALS)
        labels = Counter(item.expect for item in items)
        assert labels["pass"] >= 2 and labels["fail"] >= 2, (case.id, labels)
        assert len({item.id for item in items}) == len(items), case.id
        total.update(labels)
    assert sum(total.values()) >= 80, total


def test_the_graders_get_every_labelled_output_right(capsys: pytest.CaptureFixture[str]) -> None:
    """The graders' CI gate: every hand-labelled output graded as labelled. The confusion
    table goes to the CI log either way."""
    report = grade_labelled(EVALS)
    with capsys.disabled():
        print("\n" + report.text())
    assert not report.wrong, [f"{v.case_id}/{v.item.id}" for v in report.wrong]


def _one_case_suite(tmp_path: Path) -> Path:
    """A copy of the suite with one case, and two labelled outputs: its fixture's good
    output (labelled pass) and the same output with its critical place removed (fail)."""
    evals = tmp_path / "evals"
    (evals / "cases").mkdir(parents=True)
    shutil.copytree(EVALS / "articles", evals / "articles")
    shutil.copy(EVALS / "thresholds.yaml", evals / "thresholds.yaml")
    shutil.copy(EVALS / "cases" / "antalya-talks-id-en.yaml", evals / "cases")
    good = yaml.safe_load((EVALS / "fixtures" / "antalya-talks-id-en.yaml").read_text())["good"]
    bad = yaml.safe_load(yaml.safe_dump(good).replace("Antalya", "a Turkish city"))
    items = [
        {"id": "good", "expect": "pass", "kind": "paraphrase", "why": "fixture", "output": good},
        {"id": "no-place", "expect": "fail", "kind": "missing-critical", "why": "-", "output": bad},
        {"id": "mislabelled", "expect": "fail", "kind": "test", "why": "-", "output": good},
    ]
    (evals / "labelled").mkdir()
    (evals / "labelled" / "antalya-talks-id-en.yaml").write_text(yaml.safe_dump({"items": items}))
    return evals


def test_the_report_compares_verdicts_with_labels(tmp_path: Path) -> None:
    report = grade_labelled(_one_case_suite(tmp_path))
    assert report.confusion() == {
        ("fail", "fail"): 1,
        ("fail", "pass"): 1,
        ("pass", "fail"): 0,
        ("pass", "pass"): 1,
    }
    assert [v.item.id for v in report.wrong] == ["mislabelled"]
    assert "graded wrongly: 1" in report.text()


def test_eval_labelled_exits_1_on_a_wrong_verdict(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["eval", "--labelled", "--evals-dir", str(_one_case_suite(tmp_path))]
    )
    assert result.exit_code == 1, result.output
    assert "| should FAIL (2) | 1 | 1 |" in result.output


def test_eval_labelled_without_labels_says_where_they_live(tmp_path: Path) -> None:
    evals = _one_case_suite(tmp_path)
    shutil.rmtree(evals / "labelled")
    result = CliRunner().invoke(app, ["eval", "--labelled", "--evals-dir", str(evals)])
    assert result.exit_code == 3
    assert "No labelled outputs" in result.output


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_labelled_files_parse(case: object) -> None:
    load_labelled(case, EVALS)  # type: ignore[arg-type]
