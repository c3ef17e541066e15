"""Every bad input and every provider fault, through the real CLI: exit code and message.

``CASES`` is the table the README's "Exit codes" section shows; ``benchmarks/faults.py``
runs the same cases as subprocesses to measure their wall time. Provider faults go to the
fault-injecting server in ``tests/faultserver.py`` on 127.0.0.1: real HTTP, real litellm.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarizer.cli import app
from tests.faultserver import FaultServer

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "antalya-talks.id.txt"
ARTICLE = "Le ministre a déclaré à Genève que les négociations continueront lundi.\n\n" * 3


@dataclass(frozen=True)
class Case:
    """One row of the table: what goes in, the exit code and what stderr must say."""

    id: str
    what: str
    args: Callable[[Path, str], list[str]]
    code: int
    says: str
    env: dict[str, str] = field(default_factory=dict)
    files: Callable[[Path], None] = lambda tmp: None


def _file(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).write_bytes(data) and None


def _remote(model: str, *extra: str) -> Callable[[Path, str], list[str]]:
    """Summarize the seed article through the fault server, scripted by ``model``."""
    return lambda tmp, url: [
        str(SEED), "--model", f"openai/{model}", "--api-base", url, "--timeout", "1",
        "--retries", "1", *extra,
    ]  # fmt: skip


def _local(name: str, *extra: str) -> Callable[[Path, str], list[str]]:
    """Summarize ``tmp/name`` through the fault server's well-behaved model."""
    return lambda tmp, url: [
        str(tmp / name), "--model", "openai/ok", "--api-base", url, *extra
    ]  # fmt: skip


def _broken_prompts(tmp: Path) -> None:
    (tmp / "prompts" / "summarize").mkdir(parents=True)
    (tmp / "prompts" / "summarize" / "system.j2").write_text("{% if %}broken", encoding="utf-8")
    (tmp / "prompts" / "summarize" / "user.j2").write_text("{{ article }}", encoding="utf-8")


INPUT_CASES = [
    Case("missing", "path does not exist", lambda t, u: [str(t / "nope.txt")], 3,
         "does not exist."),
    Case("directory", "a directory", lambda t, u: [str(t)], 3, "is a directory."),
    Case("empty", "empty file", _local("empty.txt"), 3, "is empty.", files=_file("empty.txt", b"")),
    Case("blank", "whitespace only", _local("blank.txt"), 3, "is empty (only whitespace).",
         files=_file("blank.txt", b" \n\t\r\n ")),
    Case("nul", "binary (NUL bytes)", _local("a.bin"), 3, "binary file (it contains NUL bytes)",
         files=_file("a.bin", b"\x00\x01\x02text")),
    Case("image", "a PNG image", _local("a.png"), 3, "is a PNG image, not text.",
         files=_file("a.png", b"\x89PNG\r\n\x1a\n" + bytes(32))),
    Case("cp1251", "Cyrillic cp1251 (8-bit, not UTF-8)", _local("ru.txt"), 3,
         "encoding cannot be told", files=_file("ru.txt", "Переговоры в Анталье".encode("cp1251"))),
    Case("utf16-nobom", "UTF-16 without BOM", _local("u.txt"), 3, "UTF-16 text without a byte",
         files=_file("u.txt", ARTICLE.encode("utf-16-le"))),
    Case("bad-encoding", "--encoding unknown", _local("a.txt", "--encoding", "klingon"), 3,
         "Unknown encoding 'klingon'.", files=_file("a.txt", ARTICLE.encode())),
    Case("too-large", "over max_input_bytes", _local("big.txt"), 3,
         "over the 1,000-byte limit", env={"SUMMARIZER_MAX_INPUT_BYTES": "1000"},
         files=_file("big.txt", b"word " * 400)),
    Case("cp1252", "Windows-1252 text: decoded, with a notice", _local("fr.txt"), 0,
         "read it as Windows-1252", files=_file("fr.txt", ARTICLE.encode("cp1252"))),
    Case("utf16-bom", "UTF-16 with BOM: decoded", _local("u16.txt"), 0, "",
         files=_file("u16.txt", ARTICLE.encode("utf-16"))),
    Case("crlf-mixed", "mixed line endings: normalised", _local("m.txt"), 0, "",
         files=_file("m.txt", ARTICLE.replace("\n\n", "\r\n\r\n", 1).replace("\n", "\r").encode())),
    Case("lang", "unknown --lang", _local("a.txt", "--lang", "xx"), 2, "Unknown language 'xx'.",
         files=_file("a.txt", ARTICLE.encode())),
    Case("timeout", "--timeout 0", _local("a.txt", "--timeout", "0"), 2,
         "--timeout must be a positive number", files=_file("a.txt", ARTICLE.encode())),
    Case("model-string", "unknown model string", lambda t, u: [str(SEED), "--model", "nope/x"], 4,
         "litellm cannot tell which provider"),
    Case("gguf", "missing .gguf path", lambda t, u: [str(SEED), "--model", str(t / "m.gguf")], 4,
         "m.gguf"),
    Case("api-key", "missing API key", lambda t, u: [str(SEED), "--model", "openai/gpt-4o-mini"],
         4, "No API key found for 'openai/gpt-4o-mini'"),
    Case("fallback-key", "a fallback's API key missing",
         lambda t, u: [str(SEED), "--model", "smollm2", "--fallback",
                       "anthropic/claude-3-5-haiku-latest"], 4, "No API key found for 'anthropic/"),
    Case("no-template", "prompts folder without the template", _local("a.txt", "--prompts-dir",
         "/nonexistent-prompts"), 4, "The prompts folder /nonexistent-prompts does not exist",
         files=_file("a.txt", ARTICLE.encode())),
    Case("broken-template", "a broken template",
         lambda t, u: [str(SEED), "--model", "openai/ok", "--api-base", u, "--prompts-dir",
                       str(t / "prompts")], 4, "is broken at line 1", files=_broken_prompts),
    Case("config-syntax", "config file that does not parse", lambda t, u: [str(SEED)], 4,
         "does not parse", env={"SUMMARIZER_CONFIG": "{tmp}/c.toml"},
         files=_file("c.toml", b"model = 'unterminated\n")),
    Case("config-value", "config value of the wrong type", lambda t, u: [str(SEED)], 4,
         "must be a positive number of seconds, not 'soon'",
         env={"SUMMARIZER_CONFIG": "{tmp}/c.toml"},
         files=_file("c.toml", b"timeout = 'soon'\n")),
    Case("config-key", "config file with an unknown key", lambda t, u: [str(SEED)], 4,
         "unknown keys: modle", env={"SUMMARIZER_CONFIG": "{tmp}/c.toml"},
         files=_file("c.toml", b"modle = 'openai/x'\n")),
    Case("output-dir", "--output into a missing folder",
         lambda t, u: [str(SEED), "--model", "openai/ok", "--api-base", u, "-o",
                       str(t / "no" / "out.md")], 3, "Check that the folder exists"),
]  # fmt: skip

FAULT_CASES = [
    Case("503-then-ok", "503 once, then an answer", _remote("a-503+ok"), 0, "Retrying in 1.0 s"),
    Case("429-retry-after", "429 Retry-After: 1, then an answer", _remote("a-429ra1+ok"), 0,
         "Retrying in 1.0 s"),
    Case("500", "500 every time", _remote("500"), 5, "(HTTP 500): fault server: HTTP 500 (after 2"),
    Case("502", "502 every time", _remote("502"), 5, "(HTTP 502)"),
    Case("503", "503 every time", _remote("503"), 5, "(HTTP 503)"),
    Case("429-long", "429 Retry-After: 3600", _remote("429ra3600"), 5,
         "asks to wait 3600 s, more than the 30 s"),
    Case("drop", "connection dropped", _remote("drop"), 5, "connection failed or was dropped"),
    Case("badjson", "invalid JSON body", _remote("badjson"), 5, "something that is not JSON"),
    Case("slow", "answer after 5 s, --timeout 1", _remote("slow5"), 5,
         "did not answer within --timeout 1 s"),
    Case("drip", "a byte every 0.2 s forever", _remote("drip"), 5,
         "did not answer within --timeout 1 s"),
    Case("401-echo", "401 echoing the Authorization header", _remote("echo"), 5,
         "refused the API key"),
    Case("404", "404 model not found", _remote("404"), 5, "was not found by its provider"),
    Case("schema-then-ok", "schema-breaking JSON, then valid", _remote("b-schema+ok"), 0, ""),
    Case("schema", "schema-breaking JSON every time", _remote("schema"), 6,
         "did not return a valid summarize answer after 3 attempts"),
    Case("length", "finish_reason=length every time", _remote("length"), 6,
         "did not return a valid summarize answer"),
    Case("fallback", "503 every time, --fallback to a good one",
         _remote("c-503", "--fallback", "openai/c-ok"), 0, "Trying fallback openai/c-ok"),
    Case("fallback-all", "every model fails",
         _remote("d-503", "--fallback", "openai/d-502"), 5,
         "All models failed (openai/d-503, openai/d-502)"),
]  # fmt: skip

CASES = INPUT_CASES + FAULT_CASES


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


def invoke(case: Case, tmp_path: Path, url: str) -> tuple[int, str, str]:
    """Run ``case`` through the CLI in-process; (exit code, stdout, stderr)."""
    case.files(tmp_path)
    env = {k: v.replace("{tmp}", str(tmp_path)) for k, v in case.env.items()}
    result = CliRunner().invoke(app, case.args(tmp_path, url), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_case_gets_its_exit_code_and_one_clear_message(
    case: Case, tmp_path: Path, server: FaultServer
) -> None:
    code, stdout, stderr = invoke(case, tmp_path, server.url)

    assert code == case.code, stderr
    assert case.says in stderr
    assert "Traceback" not in stderr
    if code == 0:
        assert json.loads(stdout) if stdout.startswith("{") else stdout.startswith("# ")
        assert "Error" not in stderr
    else:
        errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, stderr
        assert stdout == ""  # nothing half-done on stdout


def test_a_schema_break_is_re_asked_with_the_validation_errors(
    tmp_path: Path, server: FaultServer
) -> None:
    case = Case("x", "", _remote("e-schema+ok", "--format", "json"), 0, "")

    code, stdout, _ = invoke(case, tmp_path, server.url)

    assert code == 0
    assert json.loads(stdout)["meta"]["retries"] == 1
    repair = server.requests[-1].body["messages"][-1]["content"]
    assert server.count("e-schema+ok") == 2
    assert "title" in repair and "Input should be a valid string" in repair


def test_a_cut_off_answer_is_re_asked(tmp_path: Path, server: FaultServer) -> None:
    case = Case("x", "", _remote("f-length+ok", "--format", "json"), 0, "")

    code, stdout, _ = invoke(case, tmp_path, server.url)

    assert code == 0
    assert json.loads(stdout)["meta"]["retries"] == 1
    assert server.count("f-length+ok") == 2


def test_a_missing_key_is_reported_before_any_call(tmp_path: Path, server: FaultServer) -> None:
    before = len(server.requests)
    args = [str(SEED), "--model", "openai/gpt-4o-mini", "--fallback", "openai/ok"]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 4
    assert "Set the OPENAI_API_KEY environment variable." in result.stderr
    assert len(server.requests) == before


def test_debug_shows_the_traceback(tmp_path: Path, server: FaultServer) -> None:
    case = Case("x", "", _remote("g-404", "--debug"), 5, "")

    code, _, stderr = invoke(case, tmp_path, server.url)

    assert code == 5
    assert "Traceback (most recent call last)" in stderr
    assert stderr.rstrip().splitlines()[-2].startswith("Error: ")


def test_quiet_silences_retry_notices_but_not_errors(tmp_path: Path, server: FaultServer) -> None:
    ok = Case("x", "", _remote("h-503+ok", "--quiet"), 0, "")
    failing = Case("y", "", _remote("h-404", "--quiet"), 5, "")

    # Not == "": a litellm HTTP client collected meanwhile may warn about its socket there.
    said = invoke(ok, tmp_path, server.url)[2]
    assert "Note:" not in said and "Retrying" not in said and "Error" not in said
    assert "Error: " in invoke(failing, tmp_path, server.url)[2]


# -- nothing lost: --output survives a killed run -------------------------------------------

_STUCK_IN_WRITE = """
import os, sys, time
def stuck(descriptor):
    open(os.environ["READY"], "w").close()  # the temporary file is written, not renamed
    time.sleep(120)
os.fsync = stuck
from summarizer.cli import main
main()
"""


def _start(args: list[str], tmp_path: Path, script: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=tmp_path,
        env={**os.environ, "READY": str(tmp_path / "ready"), "PYTHONDONTWRITEBYTECODE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"never got there: {process.communicate()[1]}")
        time.sleep(0.1)


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    target = tmp_path / "out" / "summary.md"
    target.parent.mkdir()
    target.write_text("previous result\n", encoding="utf-8")
    return target


def test_sigkill_while_waiting_for_the_model_keeps_the_previous_output(
    server: FaultServer, tmp_path: Path, previous: Path
) -> None:
    args = [str(SEED), "--model", "openai/kill-hang", "--api-base", server.url, "-o", str(previous)]
    process = _start(args, tmp_path, "from summarizer.cli import main; main()")
    _wait_for(lambda: server.count("kill-hang") > 0, process)

    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)

    assert previous.read_text(encoding="utf-8") == "previous result\n"
    assert [p.name for p in previous.parent.iterdir()] == ["summary.md"]


def test_sigkill_mid_write_never_leaves_a_partial_output(
    server: FaultServer, tmp_path: Path, previous: Path
) -> None:
    args = [str(SEED), "--model", "openai/kill-ok", "--api-base", server.url, "-o", str(previous)]
    process = _start(args, tmp_path, _STUCK_IN_WRITE)
    _wait_for((tmp_path / "ready").exists, process)

    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)

    assert previous.read_text(encoding="utf-8") == "previous result\n"
    # SIGKILL cannot be caught: the whole new text may remain as a hidden temporary file
    # beside the target, never as the target itself.
    others = [p.name for p in previous.parent.iterdir() if p != previous]
    assert all(name.startswith(".summary.md.") and name.endswith(".tmp") for name in others)


def test_sigterm_mid_write_cleans_up(server: FaultServer, tmp_path: Path, previous: Path) -> None:
    args = [str(SEED), "--model", "openai/term-ok", "--api-base", server.url, "-o", str(previous)]
    process = _start(args, tmp_path, _STUCK_IN_WRITE)
    _wait_for((tmp_path / "ready").exists, process)

    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)

    assert process.returncode == 128 + signal.SIGTERM
    assert previous.read_text(encoding="utf-8") == "previous result\n"
    assert [p.name for p in previous.parent.iterdir()] == ["summary.md"]
