"""``--help``, ``--version`` and argument or input errors answer without the heavy imports.

Each runs in a fresh interpreter that reports what it imported, so the check does not
depend on what this test process already loaded. Timings are in benchmarks/bench_startup.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HEAVY = ("litellm", "llama_cpp", "fastapi", "uvicorn", "langchain_text_splitters")

PROBE = """
import json, sys
from summarizer import cli
try:
    cli.app(sys.argv[1:], prog_name="summarize")
    code = 0
except SystemExit as exc:
    code = exc.code
heavy = sorted(name for name in {heavy!r} if name in sys.modules)
print("\\n" + json.dumps({{"code": code, "heavy": heavy}}))
"""


def probe(args: list[str], cwd: Path) -> tuple[dict[str, Any], str, str]:
    """Run the CLI with ``args`` in a fresh interpreter: its report (exit code, heavy modules
    imported), its standard output (the report's line removed) and its standard error."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    output, _, report = done.stdout.strip().rpartition("\n")
    return json.loads(report), output, done.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--help"], 0),
        (["--version"], 0),
        (["summary", "--help"], 0),
        (["translate", "--help"], 0),
        (["serve", "--help"], 0),
        (["x.txt", "--lang", "zz"], 2),  # unknown language
        (["missing.txt"], 3),  # no such file
        (["x.txt", "--model", "local/"], 4),  # not a model string
        (["serve", "--port", "99999"], 2),  # out of range
        (["--no-such-option"], 2),
    ],
)
def test_no_heavy_imports(args: list[str], code: int, tmp_path: Path) -> None:
    report, output, errors = probe(args, tmp_path)
    assert report["code"] == code, output + errors
    assert report["heavy"] == []


@pytest.mark.filterwarnings(
    # litellm's HTTP client may be collected with its socket open: not ours to fix.
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)
def test_a_run_answered_from_the_cache_imports_nothing_heavy(
    tmp_path: Path, seed_path: Path
) -> None:
    from benchmarks.stub_server import running_stub

    with running_stub(latency=0.0) as url:
        args = [str(seed_path), "--model", "openai/stub", "--api-base", url, "--format", "json"]
        (first, _, _), (second, output, errors) = (
            probe([*args, "--quiet"], tmp_path) for _ in range(2)
        )
    assert first["code"] == second["code"] == 0, output + errors
    assert "litellm" in first["heavy"]  # the probe does see a real run's imports
    assert second["heavy"] == []
    assert json.loads(output)["meta"]["cached"] is True


def test_a_local_model_run_does_not_import_litellm(tmp_path: Path, seed_path: Path) -> None:
    # A dry run counts tokens with the model's own tokenizer (llama.cpp), as a real run does
    # before it generates; neither needs litellm when the model is local.
    report, output, errors = probe([str(seed_path), "--model", "smollm2", "--dry-run"], tmp_path)
    assert report["code"] == 0, output + errors
    assert report["heavy"] == ["llama_cpp"]
