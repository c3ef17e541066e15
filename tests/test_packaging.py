"""The wheel ships the prompt templates, and an installed (non-editable) copy finds them."""

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
