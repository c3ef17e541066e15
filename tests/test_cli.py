"""The ``summarize`` command: every option, stdin, --output, --dry-run and the error paths.

In-process tests run the real CLI and the real clients (model checks, token counts) with
only ``complete`` replaced by a FakeLLM that records requests: ``LiteLLMClient``'s, and
``LocalClient``'s, which serves a local model without litellm.
Error paths run in a subprocess, as a user would, to see exit codes and stderr exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer import __version__
from summarizer.cli import app
from summarizer.llm import ChatRequest, ChatResponse
from summarizer.models import DEFAULT_LOCAL_MODEL, LOCAL_PREFIX
from summarizer.schema import Summary, Translation
from tests.fakes import FakeLLM, draft

DEFAULT_MODEL = LOCAL_PREFIX + DEFAULT_LOCAL_MODEL

ROOT = Path(__file__).resolve().parent.parent


class Recorder:
    """What the CLI sent, and to which client settings."""

    def __init__(self) -> None:
        self.fake = FakeLLM()
        self.api_bases: list[str | None] = []

    @property
    def requests(self) -> list[ChatRequest]:
        return self.fake.requests


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Recorder:
    from summarizer.client import LiteLLMClient
    from summarizer.local import LocalClient

    # A response cache must never answer for the fake (or keep its answers).
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    recorder = Recorder()

    def complete(self: LiteLLMClient, request: ChatRequest) -> ChatResponse:
        recorder.api_bases.append(self.api_base)
        return recorder.fake.complete(request)

    def complete_locally(self: LocalClient, request: ChatRequest) -> ChatResponse:
        recorder.api_bases.append(None)
        return recorder.fake.complete(request)

    monkeypatch.setattr(LiteLLMClient, "complete", complete)
    monkeypatch.setattr(LocalClient, "complete", complete_locally)
    return recorder


def invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)


def test_default_is_a_markdown_summary_with_the_bundled_model(
    sent: Recorder, seed_path: Path
) -> None:
    result = invoke(str(seed_path), "--lang", "en")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("# Russia-Ukraine talks in Antalya")
    assert "## Key points" in result.stdout
    assert "Indonesian (id) → English (en)" in result.stdout
    assert [r.model for r in sent.requests] == [DEFAULT_MODEL]
    # Told once, on stderr, that a demo model is in use and how to name a real one.
    assert result.stderr.count("small bundled demo model") == 1
    assert "--model" in result.stderr
    assert "small bundled demo model" not in result.stdout


def test_summary_subcommand_is_the_same_as_the_default(sent: Recorder, seed_path: Path) -> None:
    assert invoke("summary", str(seed_path), "-q").stdout == invoke(str(seed_path), "-q").stdout


@pytest.mark.parametrize("flag", ["--lang", "-l"])
def test_lang_reaches_the_system_message(sent: Recorder, seed_path: Path, flag: str) -> None:
    result = invoke(str(seed_path), flag, "fr", "--format", "json")

    assert result.exit_code == 0, result.stderr
    assert "in French" in sent.requests[0].messages[0]["content"]
    assert json.loads(result.stdout)["target_language"] == "fr"


def test_format_json_is_one_document_valid_for_the_schema(sent: Recorder, seed_path: Path) -> None:
    result = invoke(str(seed_path), "--format", "json", "--quiet")

    assert result.exit_code == 0
    summary = Summary.model_validate_json(result.stdout)
    assert summary.summary
    assert summary.source_language == "id"
    assert summary.meta.model == DEFAULT_MODEL
    assert result.stderr == ""  # --quiet: no notice


def test_model_option_and_env_var(
    sent: Recorder, seed_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")

    result = invoke(str(seed_path), "--model", "openai/gpt-4o-mini", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert sent.requests[-1].model == "openai/gpt-4o-mini"
    assert "demo model" not in result.stderr

    monkeypatch.setenv("SUMMARIZER_MODEL", "anthropic/claude-3-5-haiku-latest")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-real")
    assert invoke(str(seed_path), "-q").exit_code == 0
    assert sent.requests[-1].model == "anthropic/claude-3-5-haiku-latest"


def test_api_base_reaches_the_client(sent: Recorder, seed_path: Path) -> None:
    # No key needed for a self-hosted OpenAI-compatible server.
    result = invoke(
        str(seed_path), "--model", "openai/my-model", "--api-base", "http://127.0.0.1:9/v1"
    )

    assert result.exit_code == 0, result.stderr
    assert sent.api_bases == ["http://127.0.0.1:9/v1"]
    assert sent.requests[0].model == "openai/my-model"


def test_stdin_dash(sent: Recorder, seed_article: str) -> None:
    result = invoke("-", "--format", "json", "-q", input=seed_article)

    assert result.exit_code == 0, result.stderr
    assert "Perundingan damai" in sent.requests[0].messages[1]["content"]
    assert Summary.model_validate_json(result.stdout).source_language == "id"


def test_output_writes_the_file_and_nothing_to_stdout(
    sent: Recorder, seed_path: Path, tmp_path: Path
) -> None:
    target = tmp_path / "summary.json"

    result = invoke(str(seed_path), "-f", "json", "--output", str(target))

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert Summary.model_validate_json(target.read_text(encoding="utf-8")).title
    assert f"Wrote {target}" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["summary.json"]


def test_a_failed_run_leaves_the_previous_output_untouched(
    sent: Recorder, seed_path: Path, tmp_path: Path
) -> None:
    target = tmp_path / "summary.md"
    target.write_text("previous result\n", encoding="utf-8")
    sent.fake.strict = True
    sent.fake.enqueue("not json", "still not json", "never json")

    result = invoke(str(seed_path), "-o", str(target))

    assert result.exit_code == 6
    assert target.read_text(encoding="utf-8") == "previous result\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["summary.md"]
    assert "did not return a valid summarize answer" in result.stderr


def test_dry_run_text_prints_every_message_and_calls_nothing(
    sent: Recorder, seed_path: Path
) -> None:
    result = invoke(str(seed_path), "--dry-run", "--lang", "de")

    assert result.exit_code == 0, result.stderr
    assert sent.requests == []
    assert result.stdout.startswith(f"=== call 1 of 1: summarize -> {DEFAULT_MODEL}")
    assert "--- system ---" in result.stdout and "--- user ---" in result.stdout
    assert "in German" in result.stdout
    assert "Perundingan damai" in result.stdout


def test_dry_run_json_is_a_list_of_calls_with_messages(sent: Recorder, seed_path: Path) -> None:
    result = invoke(str(seed_path), "--dry-run", "--format", "json")

    assert result.exit_code == 0, result.stderr
    assert sent.requests == []
    calls = json.loads(result.stdout)
    assert isinstance(calls, list) and len(calls) == 1
    messages = calls[0]["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "Baca juga" not in messages[1]["content"]
    assert calls[0]["task"] == "summarize"


def test_dry_run_of_a_translation(sent: Recorder, seed_path: Path) -> None:
    result = invoke("translate", str(seed_path), "--dry-run", "-f", "json")

    assert result.exit_code == 0, result.stderr
    (call,) = json.loads(result.stdout)
    assert call["task"] == "translate"
    assert "[15] " in call["messages"][1]["content"]


def test_translate_json_keeps_the_paragraphs_in_order(sent: Recorder, seed_path: Path) -> None:
    result = invoke("translate", str(seed_path), "--lang", "en", "--format", "json", "-q")

    assert result.exit_code == 0, result.stderr
    translation = Translation.model_validate_json(result.stdout)
    assert translation.paragraphs == [f"translated {i}" for i in range(1, 16)]
    assert sent.requests[0].task == "translate"


def test_translate_markdown(sent: Recorder, seed_path: Path) -> None:
    result = invoke("translate", str(seed_path), "-q")

    assert result.exit_code == 0, result.stderr
    # The fake's placeholder paragraphs fail the checks: the verdict comes first, so a
    # reader is warned before reading, then every paragraph in order.
    assert result.stdout.startswith("> **Failed checks**")
    assert "\ntranslated 1\n\ntranslated 2\n\n" in result.stdout
    assert "Indonesian (id) → English (en)" in result.stdout


@pytest.mark.parametrize(
    ("args", "model"), [(["schema"], Summary), (["schema", "--translation"], Translation)]
)
def test_schema_prints_the_output_json_schema(args: list[str], model: type[Any]) -> None:
    result = invoke(*args)

    assert result.exit_code == 0
    assert json.loads(result.stdout) == model.model_json_schema()


def test_schema_names_the_contract_fields() -> None:
    properties = json.loads(invoke("schema").stdout)["properties"]

    assert {
        "title",
        "summary",
        "key_points",
        "entities",
        "dates",
        "quotes",
        "source_language",
        "target_language",
        "meta",
    } <= set(properties)


def test_version() -> None:
    result = invoke("--version")

    assert result.exit_code == 0
    assert result.stdout == f"summarize {__version__}\n"


@pytest.mark.parametrize("args", [["--help"], ["summary", "--help"], ["translate", "--help"]])
def test_help(args: list[str]) -> None:
    result = invoke(*args)

    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")


def test_summary_help_lists_every_option() -> None:
    text = invoke("summary", "--help").stdout

    for option in ("--lang", "--model", "--api-base", "--format", "--output", "--dry-run"):
        assert option in text


def test_a_bad_format_is_a_usage_error(seed_path: Path) -> None:
    result = invoke(str(seed_path), "--format", "xml")

    assert result.exit_code == 2
    assert "xml" in result.stderr


# -- error paths, as a user sees them --------------------------------------------------------


def run_cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> Any:
    """Run ``summarize`` in a fresh interpreter; report whether litellm got imported."""
    bootstrap = (
        "import sys, atexit\n"
        "atexit.register(lambda: sys.stderr.write("
        "'\\n[litellm imported]' if 'litellm' in sys.modules else ''))\n"
        "from summarizer.cli import main\n"
        "sys.argv = ['summarize', *sys.argv[1:]]\n"
        "main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", bootstrap, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.fixture
def empty_file(tmp_path: Path) -> Path:
    path = tmp_path / "empty.txt"
    path.write_text("  \n\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("missing file", 3, "does not exist"),
        ("empty file", 3, "is empty"),
        ("empty stdin", 3, "standard input is empty"),
        ("unknown language", 2, "Unknown language 'xx'"),
        ("bad format", 2, "xml"),
    ],
)
def test_input_and_argument_errors_answer_without_loading_litellm(
    case: str, code: int, message: str, seed_path: Path, empty_file: Path, tmp_path: Path
) -> None:
    args = {
        "missing file": [str(tmp_path / "nope.txt")],
        "empty file": [str(empty_file)],
        "empty stdin": ["-"],
        "unknown language": [str(seed_path), "--lang", "xx"],
        "bad format": [str(seed_path), "--format", "xml"],
    }[case]

    result = run_cli(*args)

    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert "[litellm imported]" not in result.stderr


def test_unknown_language_suggests_codes(seed_path: Path) -> None:
    result = run_cli(str(seed_path), "--lang", "Englsh")

    assert result.returncode == 2
    assert "en (English)" in result.stderr


def test_an_unknown_model_string_exits_4_without_a_traceback(
    seed_path: Path, tmp_path: Path
) -> None:
    result = run_cli(
        str(seed_path), "--model", "not-a-model", env={"XDG_CACHE_HOME": str(tmp_path)}
    )

    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith("Error: Unknown model 'not-a-model'")
    assert "provider/model" in result.stderr  # the hint
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("foo/bar", "Unknown model 'foo/bar'"),
        ("local/no-such-file.gguf", "No GGUF model file"),
        ("gpt 4o", "is not a model string"),
        ("openai/gpt-4o-mini", "OPENAI_API_KEY"),  # conftest stripped every *_API_KEY
    ],
)
def test_unusable_models_exit_4_before_any_call(
    sent: Recorder, seed_path: Path, model: str, message: str
) -> None:
    result = CliRunner().invoke(app, [str(seed_path), "--model", model])

    assert result.exit_code == 4, result.stderr
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr
    assert sent.requests == []


def test_help_and_version_do_not_load_litellm() -> None:
    for args in (["--help"], ["--version"], ["summary", "--help"]):
        result = run_cli(*args)
        assert result.returncode == 0
        assert "[litellm imported]" not in result.stderr


def test_draft_fixture_is_what_the_markdown_shows(sent: Recorder, seed_path: Path) -> None:
    text = invoke(str(seed_path), "-q").stdout

    for point in draft()["key_points"]:
        assert f"- {point}" in text
    assert "> — Dmytro Kuleba" in text
    assert "- 2022-03-10: Talks in Antalya" in text
