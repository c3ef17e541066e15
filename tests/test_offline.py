"""The main job runs with networking unavailable: the bundled model, in-process, offline.

One real run of ``summarize <seed> --lang en --format json`` in a fresh interpreter whose
bootstrap records and refuses every network attempt (connect, connect_ex, getaddrinfo,
create_connection). ``test_model_e2e.py`` checks the same run's output against the schema,
so the whole suite pays for one real-model run (about a minute on two shared cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

from summarizer.models import DEFAULT_LOCAL_MODEL, LOCAL_PREFIX

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "antalya-talks.id.txt"
COMMAND = [str(SEED), "--lang", "en", "--format", "json"]
# About a minute on two idle cores; generous, because CI runners are shared.
TIMEOUT_S = 840

NO_NETWORK = r"""
import json, socket, sys

attempts = []

def refuse(name):
    def blocked(*args, **kwargs):
        attempts.append({"call": name, "args": repr(args)[:200]})
        with open(REPORT + ".log", "a") as log:  # survives a timeout kill
            log.write(name + " " + repr(args)[:200] + "\n")
        raise OSError(f"network disabled by the test bootstrap ({name})")
    return blocked

socket.socket.connect = refuse("socket.connect")
socket.socket.connect_ex = refuse("socket.connect_ex")
socket.getaddrinfo = refuse("socket.getaddrinfo")
socket.create_connection = refuse("socket.create_connection")

from summarizer.cli import main

sys.argv = ["summarize", *sys.argv[2:]]
try:
    main()
finally:
    with open(REPORT, "w") as handle:
        json.dump(attempts, handle)
"""


@dataclass(frozen=True)
class RealRun:
    returncode: int
    stdout: str
    stderr: str
    network_attempts: list[dict[str, str]]


@lru_cache(maxsize=1)
def real_run() -> RealRun:
    """Run the CLI once on the seed with the real default model and no network."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "attempts.json"
        bootstrap = NO_NETWORK.replace("REPORT", repr(str(report)))
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.endswith("_API_KEY") and not key.startswith("SUMMARIZER_")
        }
        env.update(
            {
                "XDG_CACHE_HOME": str(Path(scratch) / "cache"),  # no cached answer
                "XDG_CONFIG_HOME": str(Path(scratch) / "config"),
                "HF_HUB_OFFLINE": "0",  # nothing may rely on offline switches to pass
            }
        )
        env.pop("LITELLM_LOCAL_MODEL_COST_MAP", None)  # the package must set it itself
        try:
            result = subprocess.run(
                [sys.executable, "-c", bootstrap, "summarize", *COMMAND],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env=env,
                timeout=TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            # Cached like a result: the second test must not wait as long again.
            log = Path(str(report) + ".log")
            stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
            return RealRun(
                -9,
                "",
                f"timed out after {TIMEOUT_S} s\n{stderr}",
                [{"call": line} for line in log.read_text().splitlines()] if log.exists() else [],
            )
        attempts = json.loads(report.read_text()) if report.exists() else [{"call": "no report"}]
    return RealRun(result.returncode, result.stdout, result.stderr, attempts)


@pytest.mark.model
def test_the_main_job_runs_with_no_network() -> None:
    run = real_run()

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.network_attempts == []
    assert "Traceback" not in run.stderr
    assert json.loads(run.stdout)["meta"]["model"] == LOCAL_PREFIX + DEFAULT_LOCAL_MODEL


def test_the_bootstrap_really_refuses_connections(tmp_path: Path) -> None:
    # Hermetic check that the guard above works: a connection attempt is recorded.
    report = tmp_path / "attempts.json"
    probe = NO_NETWORK.replace("REPORT", repr(str(report))).replace(
        "from summarizer.cli import main",
        "import contextlib, urllib.request\n"
        "def main():\n"
        "    with contextlib.suppress(OSError), socket.socket() as raw:\n"
        "        raw.connect(('127.0.0.1', 9))\n"
        "    with contextlib.suppress(OSError):\n"
        "        socket.getaddrinfo('example.com', 80)\n"
        "    with contextlib.suppress(OSError):\n"
        "        urllib.request.urlopen('http://example.com', timeout=5)",
    )

    subprocess.run([sys.executable, "-c", probe, "x"], check=True, timeout=60)

    attempts = json.loads(report.read_text())
    assert [attempt["call"] for attempt in attempts] == [
        "socket.connect",
        "socket.getaddrinfo",
        "socket.create_connection",
    ]
