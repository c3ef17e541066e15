"""What the checks on every answer cost and what they change (issue 13).

Two parts, one RESULTS.md section:

* **Cost, measured here:** per article of the eval suite, the wall time of reading the
  article for candidates and the grounding index (``checks.Reference.read``, once per
  article) and of one round of checks on a summary (``checks.check_summary``, once per
  answer), on the hand-labelled outputs of ``evals/labelled``; and how many candidates the
  per-article schema offers.
* **Effect, from eval runs:** the issue's table, side by side, from the results JSON of eval
  runs of the same suite (``summarize eval --no-cache --output-dir ...``) before and after:
  unsupported items in the structured fields (entity names, dates, quote speakers), all
  unsupported items and those no check flagged, language accuracy, fact recall, repair
  calls per run, and the seconds the checks and the repairs took.

    python -m benchmarks.bench_checks \\
        --run "gemma3 before=eval-before/...json" --run "gemma3 after=eval-after/...json"
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks._report import ROOT, machine, write_section
from summarizer.checks import Reference, check_summary
from summarizer.clean import clean_article
from summarizer.detect import detect_language
from summarizer.evaluation.cases import load_case

EVALS = ROOT / "evals"


def cost() -> tuple[list[str], dict[str, float]]:
    """Rows per article: extraction ms, check ms per labelled output, candidate counts."""
    rows = []
    reads, checks = [], []
    for path in sorted((EVALS / "cases").glob("*.yaml")):
        case = load_case(path)
        article = clean_article(case.article_text())
        source, _ = detect_language(article.text)
        started = time.perf_counter()
        reference = Reference.read(article, source, case.output_language)
        read_ms = (time.perf_counter() - started) * 1000
        reads.append(read_ms)
        outputs = _labelled_outputs(case.id) if case.task.value == "summarize" else []
        times = []
        for output in outputs:
            started = time.perf_counter()
            check_summary(output, reference)
            times.append((time.perf_counter() - started) * 1000)
        checks += times
        candidates = reference.candidates
        rows.append(
            f"| {case.id} | {len(article.text)} | {read_ms:.0f} | "
            + (f"{statistics.median(times):.0f} ({len(times)})" if times else "-")
            + f" | {len(candidates.dates)} | {len(candidates.entity_names)} | "
            f"{len(candidates.quotes)} |"
        )
    summary = {
        "read_median_ms": statistics.median(reads),
        "read_max_ms": max(reads),
        "check_median_ms": statistics.median(checks) if checks else 0.0,
        "check_max_ms": max(checks) if checks else 0.0,
    }
    return rows, summary


def _labelled_outputs(case_id: str) -> list[dict[str, Any]]:
    path = EVALS / "labelled" / f"{case_id}.yaml"
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        item["output"] for item in data.get("items", []) if isinstance(item.get("output"), dict)
    ]


def effect(runs: list[tuple[str, Path]]) -> list[str]:
    """The issue's table, one column per run."""
    figures = []
    for _, path in runs:
        data = json.loads(path.read_text(encoding="utf-8"))
        checks = data.get("checks") or {}
        cases = data["cases"]
        summaries = [c for c in cases if c["task"] == "summarize"]
        figures.append(
            {
                "cases": f"{len(cases)} ({len(summaries)} summaries)",
                "structured": _per_case(checks, "structured_unsupported"),
                "unsupported": _per_case(checks, "unsupported"),
                "unflagged": _per_case(checks, "unflagged"),
                "language": f"{data['scores']['language_accuracy']:.3f}",
                "facts": f"{data['scores']['fact_recall']:.3f}",
                "critical": f"{data['scores']['critical_recall']:.3f}",
                "schema": f"{data['scores']['schema_validity']:.3f}",
                "errors": str(sum(1 for c in cases for a in c["runs"] if a["error"])),
                "repairs": _repairs(checks),
                "check_s": f"{checks.get('check_s_per_run', 0):.2f}",
                "repair_s": f"{checks.get('repair_s_per_run', 0):.1f}",
                "wall": _model_seconds(cases),
            }
        )
    labels = [
        ("cases", "cases run"),
        ("structured", "unsupported names/dates in structured fields (total, per run)"),
        ("unsupported", "unsupported items in all fields (total, per run)"),
        ("unflagged", "of them reaching the reader unflagged (not in meta.checks)"),
        ("language", "language accuracy"),
        ("facts", "fact recall"),
        ("critical", "critical fact recall"),
        ("schema", "schema validity (eval's stricter rules)"),
        ("errors", "runs that ended in an error"),
        ("repairs", "repair calls per run (mean; max over cases)"),
        ("check_s", "checks: seconds per run (extraction and checks)"),
        ("repair_s", "repairs: model seconds per run"),
        ("wall", "model seconds per run (what the run itself took)"),
    ]
    header = "| figure | " + " | ".join(name for name, _ in runs) + " |"
    rows = [header, "|---|" + "---|" * len(runs)]
    for key, label in labels:
        rows.append(f"| {label} | " + " | ".join(f[key] for f in figures) + " |")
    return rows


def _model_seconds(cases: list[dict[str, Any]]) -> str:
    """Seconds per run as the run took them (a re-graded file keeps them)."""
    runs = [run for case in cases for run in case["runs"]]
    return f"{sum(run.get('wall_s', 0.0) for run in runs) / max(1, len(runs)):.1f}"


def _per_case(checks: dict[str, Any], key: str) -> str:
    runs = checks.get("runs") or 0
    if key not in checks:
        return "-"
    return f"{checks[key]} ({checks[key] / runs:.2f})" if runs else str(checks[key])


def _repairs(checks: dict[str, Any]) -> str:
    by_case = checks.get("repairs_by_case") or {}
    if not by_case:
        return "-"
    return f"{checks['repairs_per_run']:.2f}; {max(by_case.values()):.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", default=[], help="NAME=results.json")
    args = parser.parse_args()
    runs = [(name, Path(path)) for name, path in (item.split("=", 1) for item in args.run)]
    rows, summary = cost()
    lines = [
        f"Machine: {machine()}.",
        "",
        "**Cost.** Reading an article for its candidates and grounding index: median "
        f"{summary['read_median_ms']:.0f} ms, at most {summary['read_max_ms']:.0f} ms (once "
        "per article; the first article also loads Babel's CLDR data). One round of checks "
        f"on a summary: median {summary['check_median_ms']:.0f} ms, at most "
        f"{summary['check_max_ms']:.0f} ms (once per answer, re-asks included).",
        "",
        "| article | chars | read ms | check ms, median (outputs) | candidate dates | "
        "candidate names | quotes |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]
    if runs:
        lines += [
            "",
            "**Effect** (eval suite, `--no-cache`, in one sitting on this machine, every run "
            "graded by the same, current graders (`--regrade`); 'before' is the code before "
            "issue 13 run from a worktree, one greedy run; a column marked '3 runs' is the "
            "baseline recording, one greedy and two perturbed runs):",
            "",
            *effect(runs),
        ]
    write_section("bench_checks", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
