"""Turn a ``SuiteResult`` into what people and CI read: tables, JSON, Markdown, JUnit XML."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

from summarizer.evaluation.cases import model_slug
from summarizer.evaluation.judge import TRUSTED_AGREEMENT
from summarizer.evaluation.runner import SuiteResult
from summarizer.files import write_atomic


def _mark(value: bool) -> str:
    return "yes" if value else "NO"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def scores_table(suite: SuiteResult) -> str:
    scores = suite.scores()
    return _table(["score", "value"], [[name, f"{value:g}"] for name, value in scores.items()])


def case_table(suite: SuiteResult) -> str:
    """One row per case (means over repeats)."""
    rows = []
    for result in suite.cases:
        attempts = result.attempts
        n = len(attempts)
        failed = sorted({name for a in attempts for name in a.grade.failed_checks})
        errors = sorted({a.error for a in attempts if a.error})
        case = result.case
        rows.append(
            [
                case.id,
                f"{case.source_language}>{case.target_language} {case.task.value}",
                _mark(result.passed),
                f"{sum(a.grade.fact_recall for a in attempts) / n:.2f}",
                f"{sum(a.grade.critical_recall for a in attempts) / n:.2f}",
                f"{sum(a.grade.forbidden_hits for a in attempts) / n:g}",
                f"{sum(a.grade.language_accuracy for a in attempts) / n:.2f}",
                f"{sum(a.grade.schema_valid for a in attempts) / n:.2f}",
                f"{sum(len(a.grade.unsupported) for a in attempts) / n:g}",
                f"{sum(a.wall_s for a in attempts) / n:.1f}",
                ", ".join(failed) + (f" ({'; '.join(errors)[:80]})" if errors else ""),
            ]
        )
    return _table(
        [
            "case",
            "task",
            "pass",
            "facts",
            "critical",
            "forbidden",
            "language",
            "schema",
            "unsupported",
            "seconds",
            "failed checks",
        ],
        rows,
    )


def fact_table(suite: SuiteResult) -> str:
    """One row per reference fact and forbidden item: the verdict of every repeat."""
    rows = []
    for result in suite.cases:
        stability = result.stability()
        for index, fact in enumerate(result.case.reference_facts):
            verdicts = "".join(
                "x"
                if a.grade.facts[index].contradicted
                else "+"
                if a.grade.facts[index].present
                else "-"
                for a in result.attempts
            )
            judged = " ".join(
                v[index].verdict if (v := a.judge) is not None else "." for a in result.attempts
            )
            rows.append(
                [
                    result.case.id,
                    fact.id + (" (critical)" if fact.critical else ""),
                    verdicts,
                    f"{stability[f'fact:{fact.id}']:.2f}",
                    judged if suite.judge else "",
                ]
            )
        for index, item in enumerate(result.case.forbidden):
            found = "".join("!" if a.grade.forbidden[index].found else "." for a in result.attempts)
            rows.append(
                [
                    result.case.id,
                    f"forbidden {item.id} ({item.kind})",
                    found,
                    f"{stability[f'forbidden:{item.id}']:.2f}",
                    "",
                ]
            )
    return _table(
        ["case", "fact", "verdicts (+ present, x contradicted)", "stability", "judge"], rows
    )


def gate_text(suite: SuiteResult) -> str:
    gate = suite.gate
    lines = [f"Gate: {'PASSED' if gate.passed else 'FAILED'}"]
    if gate.baseline is None:
        lines.append("  no baseline recorded for this model")
    lines += [f"  under threshold: {item}" for item in gate.threshold_failures]
    lines += [f"  under baseline: {item}" for item in gate.baseline_failures]
    return "\n".join(lines)


def markdown(suite: SuiteResult) -> str:
    usage = suite.usage()
    cost = "unknown" if usage["cost_usd"] is None else f"${usage['cost_usd']}"
    parts = [
        f"# Eval report: {suite.model}",
        "",
        f"- started: {suite.started}, {suite.wall_s:.0f} s, repeat {suite.repeat}",
        f"- judge: {suite.judge or 'none'}" + _agreement(suite),
        f"- prompt templates sha256: `{suite.template_sha256[:16]}`",
        f"- tokens: {usage['input_tokens']} in, {usage['output_tokens']} out; cost {cost}",
        f"- verdict stability: {suite.stability():.2%} of verdicts identical over all repeats",
        _checks_line(suite),
        "",
        "## Scores",
        "",
        scores_table(suite),
        "",
        "## Cases",
        "",
        case_table(suite),
        "",
        "## Facts",
        "",
        fact_table(suite),
        "",
        "## Gate",
        "",
        "```",
        gate_text(suite),
        "```",
        "",
    ]
    return "\n".join(parts)


def junit_xml(suite: SuiteResult) -> str:
    """One ``testcase`` per eval case; a ``failure`` names the checks that failed."""
    failures = sum(not c.passed for c in suite.cases)
    root = ET.Element(
        "testsuite",
        name=f"eval {suite.model}",
        tests=str(len(suite.cases)),
        failures=str(failures),
        errors="0",
        time=f"{suite.wall_s:.2f}",
    )
    for result in suite.cases:
        seconds = sum(a.wall_s for a in result.attempts)
        element = ET.SubElement(
            root,
            "testcase",
            classname=f"eval.{model_slug(suite.model)}",
            name=result.case.id,
            time=f"{seconds:.2f}",
        )
        if not result.passed:
            details = []
            for number, attempt in enumerate(result.attempts, start=1):
                for name, check in attempt.grade.checks.items():
                    if not check.passed:
                        details.append(f"run {number} {name}: {check.detail}")
                if attempt.error:
                    details.append(f"run {number} error: {attempt.error}")
            checks = sorted({n for a in result.attempts for n in a.grade.failed_checks})
            failure = ET.SubElement(element, "failure", message="failed: " + ", ".join(checks))
            failure.text = "\n".join(details)
    for item in suite.gate.baseline_failures:
        element = ET.SubElement(root, "testcase", classname="eval.baseline", name="baseline")
        ET.SubElement(element, "failure", message=item)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_reports(suite: SuiteResult, directory: Path) -> dict[str, Path]:
    """Write results JSON, Markdown report and JUnit XML; return their paths."""
    stamp = suite.started.replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")
    stem = f"{stamp}-{model_slug(suite.model)}"
    paths = {
        "json": directory / f"{stem}.json",
        "markdown": directory / f"{stem}.md",
        "junit": directory / f"{stem}.xml",
    }
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(paths["json"], json.dumps(suite.to_dict(), ensure_ascii=False, indent=1) + "\n")
    write_atomic(paths["markdown"], markdown(suite))
    write_atomic(paths["junit"], junit_xml(suite))
    return paths


def _agreement(suite: SuiteResult) -> str:
    if suite.judge is None:
        return ""
    if suite.judge_agreement is None:
        return (
            " (agreement with the labelled outputs never measured: advisory; measure it "
            f"with summarize eval --labelled --judge {suite.judge})"
        )
    trust = "gating" if suite.judge_agreement >= TRUSTED_AGREEMENT else "advisory"
    return f" (agrees with the labelled outputs on {suite.judge_agreement:.1%}: {trust})"


def _checks_line(suite: SuiteResult) -> str:
    """What the product's own checks did over the suite (``SuiteResult.checks``)."""
    figures = suite.checks()
    return (
        f"- checks: over {figures['runs']} runs, {figures['structured_unsupported']} "
        f"unsupported items in structured fields, {figures['unsupported']} in all, "
        f"{figures['unflagged']} of them not flagged in meta.checks; "
        f"{figures['repairs_per_run']} repair calls per run "
        f"({figures['repair_s_per_run']} s), checks {figures['check_s_per_run']} s per run"
    )
