"""The eval suite against the default bundled model, gated by its recorded baseline.

This is how CI runs the suite: ``python3 -m pytest`` includes it, the report is printed in
the log, and the test fails when the model scores under ``evals/baselines/<model>.json``.
It runs through the application layer, as ``summarize eval`` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from summarizer import Summarizer
from summarizer.config import load_settings
from summarizer.evaluation.cases import baseline_path
from summarizer.evaluation.runner import load_baseline
from summarizer.evaluation.suite import EvalOptions, run_eval


@pytest.mark.model
@pytest.mark.timeout(3600)
def test_eval_suite_on_the_default_bundled_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The product's defaults, check repairs included, as the baseline was recorded
    # (conftest turns the repairs off for the tests that answer with canned summaries).
    monkeypatch.delenv("SUMMARIZER_CHECK_REPAIRS", raising=False)
    with Summarizer(load_settings(cache=False)) as summarizer:
        model = summarizer.model
        baseline = load_baseline(model)
        assert baseline is not None, (
            f"No baseline for {model} at {baseline_path(model)}: record one with "
            f"summarize eval --model {model} --update-baseline"
        )
        with capsys.disabled():
            print(f"\n== eval suite: {model} (baseline recorded {baseline['recorded']}) ==")
            result = run_eval(
                summarizer,
                EvalOptions(output_dir=tmp_path, gate="baseline"),
                echo=print,
                progress=print,
            )
    assert result.suite.gate.passed, result.suite.gate.baseline_failures
