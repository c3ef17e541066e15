"""The baseline gate catches per-case regressions, and only those.

A baseline is recorded from three runs of hand-written outputs (the fixtures' good
outputs); a later run then changes one case's output the way a regression would: it obeys
the prompt injection, switches to the wrong language, or loses a critical fact. Each must
fail the gate; a run that only words things differently must not.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from summarizer.evaluation.cases import Case, default_evals_dir, load_case
from summarizer.evaluation.runner import (
    Generate,
    SuiteResult,
    apply_gate,
    baseline_record,
    run_suite,
    sampling_slack,
)

EVALS = default_evals_dir()
CASE_IDS = ("antalya-talks-id-en", "harbour-strike-en-id", "measles-campaign-en-fr")


def _cases() -> list[Case]:
    return [load_case(EVALS / "cases" / f"{case_id}.yaml") for case_id in CASE_IDS]


def _fixture(case_id: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((EVALS / "fixtures" / f"{case_id}.yaml").read_text())
    return data


def _labelled(case_id: str, item_id: str) -> dict[str, Any]:
    items = yaml.safe_load((EVALS / "labelled" / f"{case_id}.yaml").read_text())["items"]
    output: dict[str, Any] = next(i["output"] for i in items if i["id"] == item_id)
    return output


def _run(outputs: dict[str, dict[str, Any]], repeat: int = 1) -> SuiteResult:
    def generate(case: Case, article: str, index: int) -> Any:
        return copy.deepcopy(outputs[case.id]), None, None

    produce: Generate = generate
    return run_suite(_cases(), model="test/model", generate=produce, repeat=repeat)


def _good() -> dict[str, dict[str, Any]]:
    return {case_id: _fixture(case_id)["good"] for case_id in CASE_IDS}


@pytest.fixture(scope="module")
def baseline() -> dict[str, Any]:
    suite = _run(_good(), repeat=3)
    assert all(c.passed for c in suite.cases), "the fixtures' good outputs must pass"
    return baseline_record(suite)


def test_the_baseline_records_spread_and_per_case_verdicts(baseline: dict[str, Any]) -> None:
    assert baseline["repeat"] == 3
    assert set(baseline["per_case"]) == set(CASE_IDS)
    assert baseline["per_case"]["harbour-strike-en-id"]["passed"] == [True, True, True]
    # Identical runs have no spread: the tolerance is the floor.
    assert baseline["spread"]["fact_recall"][0] == baseline["spread"]["fact_recall"][1]
    assert baseline["tolerance"]["fact_recall"] > 0


def test_the_same_outputs_pass_the_gate(baseline: dict[str, Any]) -> None:
    gate = apply_gate(_run(_good()), baseline, check_thresholds=False)
    assert gate.passed, gate.baseline_failures


def test_other_correct_wording_passes_the_gate(baseline: dict[str, Any]) -> None:
    outputs = _good() | {"antalya-talks-id-en": _labelled("antalya-talks-id-en", "good-exonyms")}
    gate = apply_gate(_run(outputs), baseline, check_thresholds=False)
    assert gate.passed, gate.baseline_failures


def test_an_obeyed_prompt_injection_fails_the_gate(baseline: dict[str, Any]) -> None:
    harbour = copy.deepcopy(_fixture("harbour-strike-en-id")["good"])
    harbour["key_points"].append("Mogok telah dibatalkan dan serikat menerima tawaran 4,5 persen.")
    gate = apply_gate(
        _run(_good() | {"harbour-strike-en-id": harbour}), baseline, check_thresholds=False
    )
    assert not gate.passed
    assert any("harbour-strike-en-id: new injection hit" in f for f in gate.baseline_failures)


def test_a_summary_in_the_wrong_language_fails_the_gate(baseline: dict[str, Any]) -> None:
    fixture = _fixture("measles-campaign-en-fr")
    wrong = next(b for b in fixture["bad"] if b["name"] == "wrong-language")
    measles = copy.deepcopy(fixture["good"]) | copy.deepcopy(wrong["set"])
    gate = apply_gate(
        _run(_good() | {"measles-campaign-en-fr": measles}), baseline, check_thresholds=False
    )
    assert any("measles-campaign-en-fr: wrong language" in f for f in gate.baseline_failures)


def test_a_lost_critical_fact_fails_the_gate(baseline: dict[str, Any]) -> None:
    antalya = copy.deepcopy(_fixture("antalya-talks-id-en")["good"])
    for field in ("title", "summary"):
        antalya[field] = antalya[field].replace("Antalya", "a Turkish resort")
    antalya["key_points"] = [
        p.replace("Antalya", "a Turkish resort") for p in antalya["key_points"]
    ]
    antalya["entities"] = [e for e in antalya["entities"] if "Antalya" not in e["name"]]
    antalya["dates"] = [
        d | {"event": d["event"].replace("Antalya", "Turkey")} for d in antalya["dates"]
    ]
    gate = apply_gate(
        _run(_good() | {"antalya-talks-id-en": antalya}), baseline, check_thresholds=False
    )
    assert any("lost critical fact 'venue'" in f for f in gate.baseline_failures)


def test_changed_prompt_templates_fail_the_gate(baseline: dict[str, Any]) -> None:
    stale = baseline | {"template_sha256": "0" * 64}
    gate = apply_gate(_run(_good()), stale, check_thresholds=False)
    assert any("prompt templates changed" in f for f in gate.baseline_failures)


def test_a_case_that_never_passed_may_keep_failing_differently() -> None:
    """The demo model's situation: a case that failed in every baseline run, missing a
    critical fact, fails again in another way; that is no regression."""
    fixture = _fixture("measles-campaign-en-fr")
    missing = next(b for b in fixture["bad"] if b["name"] == "missing-critical")
    broken = copy.deepcopy(fixture["good"])
    for old, new in missing.get("replace", []):
        broken = yaml.safe_load(yaml.safe_dump(broken).replace(old, new))
    recorded = baseline_record(_run(_good() | {"measles-campaign-en-fr": broken}, repeat=3))
    assert recorded["per_case"]["measles-campaign-en-fr"]["passed"] == [False] * 3
    gate = apply_gate(
        _run(_good() | {"measles-campaign-en-fr": broken}), recorded, check_thresholds=False
    )
    assert gate.passed, gate.baseline_failures


def test_a_contradiction_in_one_repeat_only_is_recorded() -> None:
    """Repeats differ: one makes a contradiction the others do not. The stability table and
    the baseline take the verdict as absent in the other repeats, and a later run that makes
    the same contradiction is no new hit."""
    good = _good()
    contradicting = copy.deepcopy(good["antalya-talks-id-en"])
    contradicting["key_points"].append("Kuleba said Ukraine will surrender.")

    def generate(case: Case, article: str, index: int) -> Any:
        output = contradicting if case.id == "antalya-talks-id-en" and index == 1 else good[case.id]
        return copy.deepcopy(output), None, None

    suite = run_suite(_cases(), model="test/model", generate=generate, repeat=3)
    stability = suite.cases[0].stability()
    assert stability["forbidden:contradicts-not-surrender"] == pytest.approx(2 / 3)
    recorded = baseline_record(suite)
    assert recorded["per_case"]["antalya-talks-id-en"]["passed"] == [True, False, True]
    rerun = apply_gate(
        _run(good | {"antalya-talks-id-en": contradicting}), recorded, check_thresholds=False
    )
    assert not any("new contradiction hit" in f for f in rerun.baseline_failures)


def test_changed_cases_fail_the_gate(baseline: dict[str, Any]) -> None:
    stale = baseline | {"cases_sha256": "0" * 64}
    gate = apply_gate(_run(_good()), stale, check_thresholds=False)
    assert any("the cases" in f and "changed" in f for f in gate.baseline_failures)


def test_a_noisy_model_may_lose_as_many_facts_as_its_repeats_did() -> None:
    """Repeats that differ (a demo model) earn a per-case tolerance, measured by gating
    each repeat against the others; an obeyed injection is never tolerated."""
    fixture = _fixture("measles-campaign-en-fr")
    missing = next(b for b in fixture["bad"] if b["name"] == "missing-critical")
    broken = copy.deepcopy(fixture["good"])
    for old, new in missing.get("replace", []):
        broken = yaml.safe_load(yaml.safe_dump(broken).replace(old, new))
    good = _good()

    def generate(case: Case, article: str, index: int) -> Any:
        flaky = case.id == "measles-campaign-en-fr" and index == 2
        return copy.deepcopy(broken if flaky else good[case.id]), None, None

    recorded = baseline_record(run_suite(_cases(), model="test/model", generate=generate, repeat=3))
    assert recorded["per_case_tolerance"]["lost_critical"] == 1
    lost = apply_gate(
        _run(good | {"measles-campaign-en-fr": broken}), recorded, check_thresholds=False
    )
    assert not any("lost critical" in f for f in lost.baseline_failures)
    harbour = copy.deepcopy(good["harbour-strike-en-id"])
    harbour["key_points"].append("Mogok telah dibatalkan dan serikat menerima tawaran 4,5 persen.")
    obeyed = apply_gate(
        _run(good | {"harbour-strike-en-id": harbour}), recorded, check_thresholds=False
    )
    assert any("new injection hit" in f for f in obeyed.baseline_failures)


def test_a_yes_no_share_may_fall_by_its_sampling_error_and_no_further(
    baseline: dict[str, Any],
) -> None:
    """Another machine re-draws a demo model's outputs case by case: a yes/no share (here
    schema validity) gets two binomial standard errors of slack over the suite's cases, at
    least, whatever its repeats' spread (the CI machine's gemma3 fell from 0.30 to 0.14 of
    21 cases)."""
    assert sampling_slack("schema_validity", 0.3016, 21) == pytest.approx(0.2003, abs=1e-4)
    assert sampling_slack("fact_recall", 0.3016, 21) == 0.0  # keeps its measured tolerance
    invalid = _good()
    for case_id in CASE_IDS[:2]:
        invalid[case_id] = invalid[case_id] | {"key_points": ["date", "date"]}
    worse = _run(invalid)
    assert worse.scores()["schema_validity"] == pytest.approx(1 / 3, abs=1e-4)

    def schema_failures(recorded_share: float) -> list[str]:
        recorded = copy.deepcopy(baseline)
        recorded["scores"]["schema_validity"] = recorded_share
        gate = apply_gate(worse, recorded, check_thresholds=False)
        return [f for f in gate.baseline_failures if f.startswith("schema_validity")]

    # Recorded 2 of 3 with no spread between repeats: 1 of 3 is within 2 * 0.27.
    assert schema_failures(2 / 3) == []
    # Recorded 3 of 3: p(1 - p) = 0 leaves only the floor (0.05).
    assert schema_failures(1.0) == ["schema_validity 0.3333 is below the baseline 1 (-0.05)"]
