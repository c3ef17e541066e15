"""Every face reads its options into the same application object.

``summary``, ``translate``, ``batch``, ``serve`` and ``eval`` each build one
``app.Summarizer`` from ``Settings``; here that constructor is replaced by one that records
the settings and stops the command, so each option can be checked in every face, from
the command line and from the environment, without calling anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer import app as application
from summarizer.cli import app
from summarizer.config import Settings
from summarizer.errors import SummarizerError


class _Captured(SummarizerError):
    exit_code = 99


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Settings]:
    monkeypatch.setenv("SUMMARIZER_CONFIG", str(tmp_path / "config.toml"))
    (tmp_path / "config.toml").write_text("")
    seen: list[Settings] = []

    def record(settings: Settings, **_: Any) -> None:
        seen.append(settings)
        raise _Captured("captured")

    monkeypatch.setattr(application, "Summarizer", record)
    return seen


def _face_args(face: str, tmp_path: Path) -> list[str]:
    article = tmp_path / "article.txt"
    article.write_text("Parliament met on Tuesday. It passed the budget.\n")
    return {
        "summary": ["summary", str(article)],
        "translate": ["translate", str(article)],
        "batch": ["batch", str(article), "--out", str(tmp_path / "out.jsonl")],
        "serve": ["serve"],
        "eval": ["eval"],
    }[face]


FACES = ["summary", "translate", "batch", "serve", "eval"]

# option: (command-line flags, environment, what the settings then hold)
OPTIONS: dict[str, tuple[list[str], dict[str, str], dict[str, Any]]] = {
    "retries": (["--retries", "5"], {"SUMMARIZER_RETRIES": "5"}, {"retries": 5}),
    "fallback": (
        ["--fallback", "openai/b", "--fallback", "ollama/c"],
        {"SUMMARIZER_FALLBACKS": "openai/b,ollama/c"},
        {"fallbacks": ["openai/b", "ollama/c"]},
    ),
    "timeout": (["--timeout", "12.5"], {"SUMMARIZER_TIMEOUT": "12.5"}, {"timeout": 12.5}),
    "cache": (["--no-cache"], {"SUMMARIZER_CACHE": "false"}, {"cache": False}),
    "model": (
        ["--model", "openai/gpt-4o-mini"],
        {"SUMMARIZER_MODEL": "openai/gpt-4o-mini"},
        {"model": "openai/gpt-4o-mini"},
    ),
    "api_base": (
        ["--api-base", "http://127.0.0.1:9/v1"],
        {"SUMMARIZER_API_BASE": "http://127.0.0.1:9/v1"},
        {"api_base": "http://127.0.0.1:9/v1"},
    ),
    "context_window": (
        ["--context-window", "32768"],
        {"SUMMARIZER_CONTEXT_WINDOW": "32768"},
        {"context_window": 32768},
    ),
}


@pytest.mark.parametrize("source", ["flag", "environment"])
@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_every_face_reads_the_option_into_the_same_settings(
    option: str,
    face: str,
    source: str,
    captured: list[Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flags, environment, expected = OPTIONS[option]
    args = _face_args(face, tmp_path)
    if source == "flag":
        args += flags
    else:
        for name, value in environment.items():
            monkeypatch.setenv(name, value)

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 99, result.output
    (settings,) = captured
    for name, value in expected.items():
        assert getattr(settings, name) == value


def test_prompts_dir_means_the_same_in_every_face(captured: list[Settings], tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    for face in FACES:
        captured.clear()
        result = CliRunner().invoke(
            app, [*_face_args(face, tmp_path), "--prompts-dir", str(folder)]
        )
        assert result.exit_code == 99, (face, result.output)
        assert captured[0].prompts_dir == folder
