"""The runner end to end, hermetic: FakeLLM answers with each case's hand-written good
output, so every case passes; reports, baselines, stability, judge and CLI are checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.evaluation.cases import Case, default_evals_dir, load_cases
from summarizer.evaluation.runner import baseline_path
from summarizer.evaluation.suite import run_eval
from tests.fakes import FakeLLM

EVALS = default_evals_dir()
MODEL = "openai/fake-model"
# Two cases keep these tests fast: one translation, one summary (in this order, by id).
CASE_IDS = ("clinic-opening-en-id", "solar-cooperative-fr-en")


def _good(case: Case) -> dict[str, Any]:
    fixture = yaml.safe_load((EVALS / "fixtures" / f"{case.id}.yaml").read_text("utf-8"))
    good: dict[str, Any] = fixture["good"]
    return good


def _fake_for(cases: list[Case], repeat: int = 1) -> FakeLLM:
    fake = FakeLLM(context_window=200_000, strict=True)
    for case in cases:
        for _ in range(repeat):
            fake.enqueue(_good(case))
    return fake


@pytest.fixture
def evals_copy(tmp_path: Path) -> Path:
    """A copy of evals/ holding two cases, so baselines can be written freely."""
    target = tmp_path / "evals"
    for sub in ("articles", "cases", "fixtures"):
        (target / sub).mkdir(parents=True)
    for case in (load_cases(EVALS, case_id)[0] for case_id in CASE_IDS):
        (target / "cases" / f"{case.id}.yaml").write_text(
            (EVALS / "cases" / f"{case.id}.yaml").read_text("utf-8"), "utf-8"
        )
        article = case.article_path()
        (target / "articles" / article.name).write_text(article.read_text("utf-8"), "utf-8")
    (target / "thresholds.yaml").write_text((EVALS / "thresholds.yaml").read_text("utf-8"))
    return target


def _run(evals: Path, fake: FakeLLM, out: Path, **kwargs: Any) -> Any:
    lines: list[str] = []
    result = run_eval(
        model=MODEL,
        client=fake,
        evals_dir=evals,
        output_dir=out,
        echo=lines.append,
        progress=lines.append,
        **kwargs,
    )
    return result, "\n".join(lines)


def test_good_outputs_pass_and_reports_are_written(evals_copy: Path, tmp_path: Path) -> None:
    cases = load_cases(evals_copy)
    assert {c.task for c in cases} == {"summary", "translation"}
    result, printed = _run(evals_copy, _fake_for(cases), tmp_path / "out")
    assert result.suite.gate.passed
    assert result.suite.scores()["fact_recall"] == 1.0
    assert "[1/2]" in printed and "| case |" in printed and "Gate: PASSED" in printed

    data = json.loads(result.paths["json"].read_text("utf-8"))
    assert data["model"] == MODEL
    assert len(data["template_sha256"]) == 64
    run = data["cases"][0]["runs"][0]
    assert run["meta"]["prompt_sha256"] and "usage" in run["meta"] and "latency_s" in run["meta"]
    assert run["grade"]["facts"] and run["grade"]["checks"]["facts"]["passed"]
    assert "## Facts" in result.paths["markdown"].read_text("utf-8")
    suite = ET.fromstring(result.paths["junit"].read_text("utf-8"))
    assert suite.get("tests") == "2" and suite.get("failures") == "0"


def test_a_case_under_its_threshold_fails_the_gate(evals_copy: Path, tmp_path: Path) -> None:
    cases = load_cases(evals_copy)
    fake = FakeLLM(context_window=200_000, strict=True)
    for case in cases:
        if case.task == "summary":  # vague: no critical fact, no number
            fake.enqueue({"title": "A village", "summary": "A village opened a solar plant.",
                          "key_points": ["It is new."], "entities": [], "dates": [],
                          "quotes": []})  # fmt: skip
        else:
            fake.enqueue(_good(case))
    result, _printed = _run(evals_copy, fake, tmp_path / "out")
    assert not result.suite.gate.passed
    assert result.suite.gate.threshold_failures
    junit = ET.fromstring(result.paths["junit"].read_text("utf-8"))
    assert junit.get("failures") == "1"


def test_scores_under_the_baseline_fail_the_gate(evals_copy: Path, tmp_path: Path) -> None:
    cases = load_cases(evals_copy)
    recorded, _ = _run(evals_copy, _fake_for(cases), tmp_path / "a", update_baseline=True)
    assert recorded.baseline_written == baseline_path(MODEL, evals_copy)

    fake = FakeLLM(context_window=200_000, strict=True)
    fake.enqueue({"paragraphs": ["a", "b", "c", "d"]})
    fake.enqueue({"title": "x", "summary": "y", "key_points": [], "entities": [], "dates": [],
                  "quotes": []})  # fmt: skip
    worse, printed = _run(evals_copy, fake, tmp_path / "b", gate="baseline")
    assert not worse.suite.gate.passed
    assert any("fact_recall" in f for f in worse.suite.gate.baseline_failures)
    assert not worse.suite.gate.threshold_failures  # gate="baseline" ignores thresholds
    assert "under baseline" in printed


def test_baseline_from_other_cases_does_not_gate_silently(evals_copy: Path, tmp_path: Path) -> None:
    cases = load_cases(evals_copy)
    _run(evals_copy, _fake_for(cases), tmp_path / "a", update_baseline=True)
    one = load_cases(evals_copy, cases[0].id)
    result, _ = _run(evals_copy, _fake_for(one), tmp_path / "b", cases=cases[0].id, gate="baseline")
    assert any("other cases" in f for f in result.suite.gate.baseline_failures)


def test_repeat_reports_stability(evals_copy: Path, tmp_path: Path) -> None:
    cases = load_cases(evals_copy)
    fake = FakeLLM(context_window=200_000, strict=True)
    for case in cases:
        good = _good(case)
        fake.enqueue(good)
        if case.task == "summary":  # second run drops a fact: that verdict is unstable
            fake.enqueue({**good, "summary": good["summary"].replace("420", "many")})
        else:
            fake.enqueue(good)
    result, printed = _run(evals_copy, fake, tmp_path / "out", repeat=2)
    translation, summary = result.suite.cases
    assert min(summary.stability().values()) == 0.5
    assert all(v == 1.0 for v in translation.stability().values())
    assert 0 < result.suite.stability() < 1
    assert "stability" in printed


def test_judge_verdicts_are_recorded_next_to_deterministic_ones(
    evals_copy: Path, tmp_path: Path
) -> None:
    cases = load_cases(evals_copy)
    fake = _fake_for(cases)
    judge = FakeLLM(strict=True)
    for case in cases:
        for index, _ in enumerate(case.reference_facts):
            judge.enqueue({"verdict": "D" if index == 0 else "A", "reason": "because"})
    result, _printed = _run(
        evals_copy, fake, tmp_path / "out", judge="openai/judge", judge_client=judge
    )
    first = result.suite.cases[0].attempts[0]
    assert first.judge is not None
    assert [v.verdict for v in first.judge][:2] == ["D", "A"]
    assert first.grade.facts[0].present  # the judge never overrides the graders
    assert result.suite.gate.passed
    sent = judge.requests[0]
    assert sent.task == "judge"
    assert result.suite.cases[0].case.reference_facts[0].statement in sent.messages[1]["content"]


def test_cli_regrades_a_results_file(evals_copy: Path, tmp_path: Path) -> None:
    cases = load_cases(evals_copy)
    result, _ = _run(evals_copy, _fake_for(cases), tmp_path / "a")
    runner = CliRunner()
    args = ["eval", "--model", MODEL, "--regrade", str(result.paths["json"]),
            "--output-dir", str(tmp_path / "b"), "--evals-dir", str(evals_copy)]  # fmt: skip
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    assert "Gate: PASSED" in ok.output
    missing = runner.invoke(app, [*args, "--cases", "no-such-case"])
    assert missing.exit_code == 3
    assert "No eval case" in missing.output


def test_cli_exits_1_when_a_case_fails_its_threshold(evals_copy: Path, tmp_path: Path) -> None:
    cases = load_cases(evals_copy)
    fake = FakeLLM(context_window=200_000, strict=True)
    fake.enqueue({"paragraphs": ["a", "b", "c", "d"]})
    fake.enqueue(_good(cases[1]))
    result, _ = _run(evals_copy, fake, tmp_path / "a", gate="none")
    args = ["eval", "--model", MODEL, "--regrade", str(result.paths["json"]),
            "--output-dir", str(tmp_path / "b"), "--evals-dir", str(evals_copy)]  # fmt: skip
    failed = CliRunner().invoke(app, args)
    assert failed.exit_code == 1, failed.output
    assert "under threshold: clinic-opening-en-id" in failed.output
    assert "Internal error" not in failed.output
    ungated = CliRunner().invoke(app, [*args, "--gate", "none"])
    assert ungated.exit_code == 0
