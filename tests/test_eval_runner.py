"""The runner end to end, hermetic: FakeLLM answers with each case's hand-written good
output, so every case passes; reports, baselines, stability, judge and CLI are checked.

Every case goes through the application layer (``Summarizer.run``), as in the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml
from typer.testing import CliRunner

from summarizer import Summarizer
from summarizer.cli import app
from summarizer.config import load_settings
from summarizer.errors import InputError, UsageError
from summarizer.evaluation import suite as suite_module
from summarizer.evaluation.cases import Case, baseline_path, default_evals_dir, load_cases
from summarizer.evaluation.runner import template_sha256
from summarizer.evaluation.suite import EvalOptions, run_eval
from summarizer.prompts import default_prompts_dir
from summarizer.tasks import Task
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
        if case.reference_translation is not None:
            reference = case.article_path().parent / Path(case.reference_translation).name
            (target / "articles" / reference.name).write_text(reference.read_text("utf-8"))
    (target / "thresholds.yaml").write_text((EVALS / "thresholds.yaml").read_text("utf-8"))
    return target


def _summarizer(fake: FakeLLM, **settings: Any) -> Summarizer:
    return Summarizer(load_settings(model=MODEL, cache=False, **settings), client=fake)


def _run(evals: Path, fake: FakeLLM | None, out: Path | None, **options: Any) -> Any:
    lines: list[str] = []
    result = run_eval(
        None if fake is None else _summarizer(fake),
        EvalOptions(evals_dir=evals, output_dir=out, **options),
        echo=lines.append,
        progress=lines.append,
    )
    return result, "\n".join(lines)


def test_good_outputs_pass_and_reports_are_written(evals_copy: Path, tmp_path: Path) -> None:
    cases = load_cases(evals_copy)
    assert {c.task for c in cases} == {Task.SUMMARIZE, Task.TRANSLATE}
    fake = _fake_for(cases)
    result, printed = _run(evals_copy, fake, tmp_path / "out")
    assert [r.task for r in fake.requests] == ["translate", "summarize"]
    assert result.suite.gate.passed
    assert result.suite.scores()["fact_recall"] == 1.0
    assert "[1/2]" in printed and "| case |" in printed and "Gate: PASSED" in printed

    data = json.loads(result.paths["json"].read_text("utf-8"))
    assert data["model"] == MODEL
    assert [c["task"] for c in data["cases"]] == ["translate", "summarize"]
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
        if case.task is Task.SUMMARIZE:  # vague: no critical fact, no number
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
        if case.task is Task.SUMMARIZE:  # second run drops a fact: that verdict is unstable
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
    # One client answers for both models (Summarizer.client): each case's output, then
    # the judge's verdicts on its facts.
    fake = FakeLLM(context_window=200_000, strict=True)
    for case in cases:
        fake.enqueue(_good(case))
        for index, _ in enumerate(case.reference_facts):
            fake.enqueue({"verdict": "D" if index == 0 else "A", "reason": "because"})
    result, _printed = _run(evals_copy, fake, tmp_path / "out", judge="openai/judge")
    first = result.suite.cases[0].attempts[0]
    assert first.judge is not None
    assert [v.verdict for v in first.judge][:2] == ["D", "A"]
    assert all(len(v.prompt_sha256) == 64 for v in first.judge)
    assert first.grade.facts[0].present  # the judge never overrides the graders
    assert result.suite.gate.passed
    assert result.suite.judge == "openai/judge"
    sent = [r for r in fake.requests if r.task == "judge"]
    assert len(sent) == sum(len(c.reference_facts) for c in cases)
    assert {r.model for r in sent} == {"openai/judge"}
    assert result.suite.cases[0].case.reference_facts[0].statement in sent[0].messages[1]["content"]


def test_a_judge_answer_that_does_not_validate_is_re_asked_then_marked(
    evals_copy: Path, tmp_path: Path
) -> None:
    case = load_cases(evals_copy)[0]
    fake = FakeLLM(context_window=200_000, strict=True).enqueue(_good(case))
    fake.enqueue("not JSON", {"verdict": "B"})  # the first fact: re-asked once
    fake.enqueue(*["no"] * 3)  # the second: three bad answers
    for _ in case.reference_facts[2:]:
        fake.enqueue({"verdict": "A", "reason": "stated"})
    result, _ = _run(evals_copy, fake, tmp_path / "out", cases=case.id, judge="openai/judge")
    verdicts = result.suite.cases[0].attempts[0].judge
    assert [v.verdict for v in verdicts][:3] == ["B", "?", "A"]
    assert "did not return a valid judge answer" in verdicts[1].reason
    repair = fake.requests[2]
    assert repair.task == "judge" and repair.messages[-2]["content"] == "not JSON"


def _regrade(results: Path, out: Path, *args: str) -> Any:
    return CliRunner().invoke(
        app, ["eval", "--regrade", str(results), "--output-dir", str(out), *args]
    )


def test_regrading_needs_no_model_and_keeps_the_recorded_one(
    evals_copy: Path, tmp_path: Path
) -> None:
    cases = load_cases(evals_copy)
    first, _ = _run(evals_copy, _fake_for(cases), tmp_path / "a")
    again, printed = _run(evals_copy, None, tmp_path / "b", regrade=first.paths["json"])
    assert again.suite.model == MODEL
    assert again.suite.scores() == first.suite.scores()
    assert "Gate: PASSED" in printed


def test_results_files_with_the_old_task_names_regrade(evals_copy: Path, tmp_path: Path) -> None:
    cases = load_cases(evals_copy)
    first, _ = _run(evals_copy, _fake_for(cases), tmp_path / "a")
    data = json.loads(first.paths["json"].read_text("utf-8"))
    old = {"summarize": "summary", "translate": "translation"}
    for case in data["cases"]:
        case["task"] = old[case["task"]]
    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps(data), "utf-8")
    again, _ = _run(evals_copy, None, tmp_path / "b", regrade=legacy)
    assert again.suite.gate.passed
    written = json.loads(again.paths["json"].read_text("utf-8"))
    assert [c["task"] for c in written["cases"]] == ["translate", "summarize"]


def test_a_results_file_of_another_task_or_too_few_runs_is_refused(
    evals_copy: Path, tmp_path: Path
) -> None:
    cases = load_cases(evals_copy)
    first, _ = _run(evals_copy, _fake_for(cases), tmp_path / "a")
    with pytest.raises(InputError, match="1 output"):
        _run(evals_copy, None, tmp_path / "b", regrade=first.paths["json"], repeat=2)
    data = json.loads(first.paths["json"].read_text("utf-8"))
    data["cases"][0]["task"] = "summarize"  # it is a translation case
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data), "utf-8")
    with pytest.raises(InputError, match="cannot be re-graded"):
        _run(evals_copy, None, tmp_path / "b", regrade=other)
    other.write_text("{not json", "utf-8")
    with pytest.raises(InputError, match="Cannot read the eval results file"):
        _run(evals_copy, None, tmp_path / "b", regrade=other)


def test_without_a_summarizer_only_regrading_works(evals_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs a Summarizer"):
        _run(evals_copy, None, tmp_path / "out")


def test_reports_go_under_the_current_directory(
    evals_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cases = load_cases(evals_copy)
    result, _ = _run(evals_copy, _fake_for(cases), None)
    assert {p.parent for p in result.paths.values()} == {elsewhere / "eval-results"}
    assert not (evals_copy / "results").exists()
    assert not (EVALS / "results").exists() or not any(
        (EVALS / "results").glob(f"{result.suite.started.replace(':', '')}*")
    )


def test_update_baseline_does_not_write_into_the_installed_package(
    evals_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As installed from the wheel: the suite's data is found inside the package.
    monkeypatch.setattr(suite_module, "default_evals_dir", lambda: evals_copy)
    monkeypatch.setattr(suite_module, "packaged_evals_dir", lambda: evals_copy)
    cases = load_cases(evals_copy)
    with pytest.raises(UsageError, match="--update-baseline") as caught:
        run_eval(
            _summarizer(_fake_for(cases)),
            EvalOptions(output_dir=tmp_path / "out", update_baseline=True),
            echo=print,
            progress=print,
        )
    assert "--evals-dir" in (caught.value.hint or "")
    assert not (evals_copy / "baselines").exists()
    # Naming the folder is the way: the baseline goes where the suite's data is.
    recorded, _ = _run(evals_copy, _fake_for(cases), tmp_path / "out", update_baseline=True)
    assert recorded.baseline_written == evals_copy / "baselines" / "openai-fake-model.json"


def test_repeating_over_the_response_cache_is_refused(evals_copy: Path, tmp_path: Path) -> None:
    cached = Summarizer(load_settings(model=MODEL), client=FakeLLM(strict=True))
    with pytest.raises(UsageError, match="cache"):
        run_eval(cached, EvalOptions(evals_dir=evals_copy, repeat=2), echo=print, progress=print)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"repeat": 0}, "--repeat"), ({"gate": "some"}, "--gate must be")],
)
def test_bad_options_are_usage_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        EvalOptions(**options)


def test_template_hash_covers_the_templates_in_use(tmp_path: Path) -> None:
    builtin = template_sha256()
    partial = tmp_path / "prompts"
    (partial / "summarize").mkdir(parents=True)
    system = default_prompts_dir() / "summarize" / "system.j2"
    (partial / "summarize" / "system.j2").write_text(system.read_text("utf-8"), "utf-8")
    assert template_sha256(partial) == builtin  # the same file in place of the built-in one
    (partial / "summarize" / "system.j2").write_text("Summarize.", "utf-8")
    assert template_sha256(partial) != builtin
    # The judge grades outputs and makes none: its prompt is not the model's baseline's.
    (partial / "judge").mkdir()
    (partial / "judge" / "system.j2").write_text("Judge strictly.", "utf-8")
    (partial / "summarize" / "system.j2").write_text(system.read_text("utf-8"), "utf-8")
    assert template_sha256(partial) == builtin


def test_cli_regrades_a_results_file(evals_copy: Path, tmp_path: Path) -> None:
    cases = load_cases(evals_copy)
    result, _ = _run(evals_copy, _fake_for(cases), tmp_path / "a")
    args = ["--model", MODEL, "--evals-dir", str(evals_copy)]
    ok = _regrade(result.paths["json"], tmp_path / "b", *args)
    assert ok.exit_code == 0, ok.output
    assert "Gate: PASSED" in ok.output
    missing = _regrade(result.paths["json"], tmp_path / "b", *args, "--cases", "no-such-case")
    assert missing.exit_code == 3
    assert "No eval case" in missing.output


def test_cli_exits_1_when_a_case_fails_its_threshold(evals_copy: Path, tmp_path: Path) -> None:
    cases = load_cases(evals_copy)
    fake = FakeLLM(context_window=200_000, strict=True)
    fake.enqueue({"paragraphs": ["a", "b", "c", "d"]})
    fake.enqueue(_good(cases[1]))
    result, _ = _run(evals_copy, fake, tmp_path / "a", gate="none")
    args = ["--model", MODEL, "--evals-dir", str(evals_copy)]
    failed = _regrade(result.paths["json"], tmp_path / "b", *args)
    assert failed.exit_code == 1, failed.output
    assert "under threshold: clinic-opening-en-id" in failed.output
    assert "Internal error" not in failed.output
    ungated = _regrade(result.paths["json"], tmp_path / "b", *args, "--gate", "none")
    assert ungated.exit_code == 0


def test_cli_reports_go_under_the_current_directory(
    evals_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = load_cases(evals_copy)
    result, _ = _run(evals_copy, _fake_for(cases), tmp_path / "a")
    monkeypatch.chdir(tmp_path)
    ran = CliRunner().invoke(
        app, ["eval", "--regrade", str(result.paths["json"]), "--evals-dir", str(evals_copy)]
    )
    assert ran.exit_code == 0, ran.output
    assert len(list((tmp_path / "eval-results").glob("*.json"))) == 1
