"""The wheel ships the prompt templates and the eval suite's data, and an installed
(non-editable) copy finds them and runs ``summarize eval`` outside any checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(
    str(path.relative_to(ROOT / "prompts")) for path in (ROOT / "prompts").rglob("*.j2")
)
# The suite's data that ships (not the graders' fixtures, not local reports).
EVAL_DATA = [
    *sorted(
        path.relative_to(ROOT / "evals").as_posix()
        for sub in ("cases", "articles", "baselines")
        for path in (ROOT / "evals" / sub).rglob("*")
        if path.is_file()
    ),
    "thresholds.yaml",
    "judge-agreement.json",
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("build", reason="needs the dev extra: pip install -e '.[dev]'")
    pytest.importorskip("hatchling", reason="needs the dev extra: pip install -e '.[dev]'")
    outdir = tmp_path_factory.mktemp("dist")
    # --no-isolation: the build backend comes from the dev extra, so no index is needed.
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(outdir)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = outdir.glob("summarizer-*.whl")
    return built


def test_the_wheel_holds_every_template_inside_the_package(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())

    assert TEMPLATES  # the checkout has templates to ship
    for template in TEMPLATES:
        assert f"summarizer/prompts/{template}" in names
    assert "summarizer/prompts/summarize/system.j2" in names
    assert "summarizer/prompts/_partials/macros.j2" in names
    assert not any(name.startswith("prompts/") for name in names)


def test_an_installed_copy_finds_and_renders_its_templates(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "import summarizer, summarizer.prompts as p\n"
        "print(summarizer.__file__)\n"
        "print(p.default_prompts_dir())\n"
        "r = p.render('summarize', article='{{ 7*7 }}', chunk_index=1, chunk_count=1,\n"
        "    source_language='id', source_language_name='Indonesian',\n"
        "    target_language='en', target_language_name='English')\n"
        "print(r.templates)\n"
    )
    # Run from elsewhere, with the installed copy first on the path: not the checkout.
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    module_file, prompts_dir, templates = result.stdout.splitlines()
    assert Path(module_file).is_relative_to(target)
    assert Path(prompts_dir) == target / "summarizer" / "prompts"
    assert templates == "['summarize/system.j2', 'summarize/user.j2']"


def test_the_wheel_holds_the_eval_suite_inside_the_package(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())

    assert any(name.startswith("cases/") for name in EVAL_DATA)
    assert any(name.startswith("baselines/") for name in EVAL_DATA)
    for name in EVAL_DATA:
        assert f"summarizer/evals/{name}" in names
    assert not any(name.startswith("summarizer/evals/fixtures/") for name in names)
    assert not any(name.startswith("summarizer/evals/results/") for name in names)
    assert not any(name.startswith("evals/") for name in names)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    return target


def test_an_installed_copy_runs_the_eval_suite_from_anywhere(
    installed: Path, tmp_path: Path
) -> None:
    """Its own suite, found without --evals-dir; reports in ./eval-results; nothing
    written into the package."""
    work = tmp_path / "work"
    work.mkdir()
    probe = (
        "import json, pathlib, summarizer\n"
        "from summarizer.evaluation.cases import default_evals_dir, load_cases\n"
        "from summarizer.evaluation.suite import EvalOptions, run_eval\n"
        "from summarizer.catalog import bundled_models\n"
        "print(summarizer.__file__)\n"
        "print(default_evals_dir())\n"
        "print(len(load_cases()))\n"
        "print(bundled_models()[0].scores is not None)\n"
        "# A results file to re-grade: no model runs, but every case is graded.\n"
        "cases = load_cases()\n"
        "runs = {'model': 'local/gemma3', 'cases': [\n"
        "    {'id': c.id, 'task': c.task.value, 'runs': [\n"
        "        {'output': None, 'error': 'none', 'meta': None}]} for c in cases]}\n"
        "pathlib.Path('old.json').write_text(json.dumps(runs))\n"
        "result = run_eval(None, EvalOptions(regrade=pathlib.Path('old.json'), gate='none'),\n"
        "                  echo=lambda line: None, progress=lambda line: None)\n"
        "print(result.paths['json'].parent)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=work,
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr

    module_file, evals_dir, count, scored, reports = result.stdout.splitlines()
    assert Path(module_file).is_relative_to(installed)
    assert Path(evals_dir) == installed / "summarizer" / "evals"
    assert int(count) == len(list((ROOT / "evals" / "cases").glob("*.yaml")))
    assert scored == "True"  # summarize models reads the shipped baselines
    assert Path(reports) == work / "eval-results"
    assert not (installed / "summarizer" / "evals" / "results").exists()
