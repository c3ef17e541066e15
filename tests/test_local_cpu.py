"""CPU features that are advertised but cannot run (AMX in some VMs): probed once in a
child process, the verdict kept, and the model loaded without them when the probe fails.

Hermetic: the probe's child is replaced by tiny Python programs that exit, crash with
SIGILL or hang, so the fallback path is exercised on any CPU.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from summarizer import local
from summarizer.paths import cache_dir

AMX_FLAGS = frozenset({"fpu", "avx2", "avx512f", "amx_tile", "amx_int8", "amx_bf16"})


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 64)
    return path


@pytest.fixture(autouse=True)
def fresh_verdicts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no verdict in memory (the cache folder is per test already)."""
    monkeypatch.setattr(local, "_verdicts", {})


@pytest.fixture
def amx_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "advertised_cpu_flags", lambda: AMX_FLAGS)


def child(monkeypatch: pytest.MonkeyPatch, code: str) -> list[Path]:
    """Make the probe run ``code`` instead of loading the model; returns the probed paths."""
    probed: list[Path] = []

    def command(model_path: Path) -> list[str]:
        probed.append(model_path)
        return [sys.executable, "-c", code]

    monkeypatch.setattr(local, "probe_command", command)
    return probed


CRASH = "import os, signal; os.kill(os.getpid(), signal.SIGILL)"
SUCCEED = "pass"


def test_flags_are_read_from_cpuinfo_on_x86_and_arm(tmp_path: Path) -> None:
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_tile amx_int8\nbugs\t\t: spectre\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd sve\n")
    assert local.advertised_cpu_flags(x86) == {"fpu", "avx2", "amx_tile", "amx_int8"}
    assert local.advertised_cpu_flags(arm) == {"fp", "asimd", "sve"}
    assert local.advertised_cpu_flags(tmp_path / "missing") == frozenset()


def test_without_amx_nothing_is_probed(monkeypatch: pytest.MonkeyPatch, model_file: Path) -> None:
    monkeypatch.setattr(local, "advertised_cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    probed = child(monkeypatch, CRASH)
    assert local.extra_buffers_usable(model_file) is True
    assert probed == []


@pytest.mark.usefixtures("amx_cpu")
def test_a_probe_that_dies_of_sigill_turns_the_extra_buffers_off(
    monkeypatch: pytest.MonkeyPatch, model_file: Path
) -> None:
    probed = child(monkeypatch, CRASH)
    assert local.extra_buffers_usable(model_file) is False
    assert probed == [model_file]


@pytest.mark.usefixtures("amx_cpu")
def test_a_probe_that_decodes_keeps_them_on(
    monkeypatch: pytest.MonkeyPatch, model_file: Path
) -> None:
    child(monkeypatch, SUCCEED)
    assert local.extra_buffers_usable(model_file) is True


@pytest.mark.usefixtures("amx_cpu")
@pytest.mark.parametrize(
    "code", ["import time; time.sleep(30)", "raise SystemExit(1)"], ids=["hangs", "errs"]
)
def test_a_probe_that_cannot_tell_turns_them_off_for_this_process_only(
    monkeypatch: pytest.MonkeyPatch, model_file: Path, code: str
) -> None:
    """A hang or an error (summarizer not importable in the child, a full disk) says
    nothing about the CPU: off now, to be safe, but asked again by the next process."""
    monkeypatch.setattr(local, "PROBE_TIMEOUT_S", 0.5)
    child(monkeypatch, code)
    assert local.extra_buffers_usable(model_file) is False
    assert not (cache_dir() / local.PROBE_FILENAME).exists()

    monkeypatch.setattr(local, "_verdicts", {})
    child(monkeypatch, SUCCEED)
    assert local.extra_buffers_usable(model_file) is True


@pytest.mark.usefixtures("amx_cpu")
def test_the_verdict_is_probed_once_per_machine_and_kept_across_processes(
    monkeypatch: pytest.MonkeyPatch, model_file: Path
) -> None:
    probed = child(monkeypatch, CRASH)
    assert local.extra_buffers_usable(model_file) is False
    assert local.extra_buffers_usable(model_file) is False
    assert len(probed) == 1  # memoised in this process

    monkeypatch.setattr(local, "_verdicts", {})  # a new process: only the file remains
    assert local.extra_buffers_usable(model_file) is False
    assert len(probed) == 1
    stored = json.loads((cache_dir() / local.PROBE_FILENAME).read_text())
    assert list(stored.values()) == [False]


@pytest.mark.usefixtures("amx_cpu")
def test_a_changed_model_file_or_cpu_is_probed_again(
    monkeypatch: pytest.MonkeyPatch, model_file: Path
) -> None:
    probed = child(monkeypatch, CRASH)
    local.extra_buffers_usable(model_file)
    monkeypatch.setattr(local, "_verdicts", {})
    model_file.write_bytes(model_file.read_bytes() + b"more")
    local.extra_buffers_usable(model_file)
    monkeypatch.setattr(local, "_verdicts", {})
    monkeypatch.setattr(local, "advertised_cpu_flags", lambda: AMX_FLAGS | {"avx512_fp16"})
    local.extra_buffers_usable(model_file)
    assert len(probed) == 3


@pytest.mark.usefixtures("amx_cpu")
def test_an_unreadable_or_unwritable_verdict_file_only_costs_a_probe(
    monkeypatch: pytest.MonkeyPatch, model_file: Path, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(blocked))
    child(monkeypatch, SUCCEED)
    assert local.extra_buffers_usable(model_file) is True

    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / local.PROBE_FILENAME).write_text("{not json")
    monkeypatch.setattr(local, "_verdicts", {})
    assert local.extra_buffers_usable(model_file) is True


@pytest.mark.usefixtures("amx_cpu")
@pytest.mark.parametrize(("setting", "expected"), [("off", False), ("on", True)])
def test_the_environment_overrides_the_probe(
    monkeypatch: pytest.MonkeyPatch, model_file: Path, setting: str, expected: bool
) -> None:
    probed = child(monkeypatch, CRASH if expected else SUCCEED)
    monkeypatch.setenv(local.EXTRA_BUFFERS_ENV, setting)
    assert local.extra_buffers_usable(model_file) is expected
    assert probed == []


def test_models_loaded_inside_model_params_get_the_setting() -> None:
    from llama_cpp import llama_cpp as low_level

    assert low_level.llama_model_default_params().use_extra_bufts is True
    with local.model_params(use_extra_bufts=False):
        assert low_level.llama_model_default_params().use_extra_bufts is False
    assert low_level.llama_model_default_params().use_extra_bufts is True
    with local.model_params(use_extra_bufts=True):
        assert low_level.llama_model_default_params().use_extra_bufts is True


def test_the_real_probe_child_fails_in_the_child_not_here(model_file: Path) -> None:
    """``probe_decode`` on a file that is no model: the child exits with an error, which
    says nothing about the CPU."""
    assert local._probe(model_file) is None


def test_the_server_is_started_with_the_model_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    import llama_cpp.server.__main__ as server_main

    asked: list[Path] = []
    started: list[bool] = []

    def usable(path: Path) -> bool:
        asked.append(path)
        return False

    def main() -> None:
        from llama_cpp import llama_cpp as low_level

        started.append(low_level.llama_model_default_params().use_extra_bufts)

    monkeypatch.setattr(local, "extra_buffers_usable", usable)
    monkeypatch.setattr(server_main, "main", main)
    for argv in (["--model", "/m/a.gguf", "--port", "1"], ["--port", "1", "--model=/m/a.gguf"]):
        monkeypatch.setattr(sys, "argv", ["-c", *argv])
        local.run_llama_cpp_server()
    monkeypatch.setattr(sys, "argv", ["-c", "--config_file", "x.json"])
    local.run_llama_cpp_server()  # no model named: llama.cpp's defaults, no probe
    assert asked == [Path("/m/a.gguf"), Path("/m/a.gguf")]
    assert started == [False, False, True]
