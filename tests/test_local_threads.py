"""How many threads llama.cpp gets: the cores other processes leave free right now."""

from __future__ import annotations

from pathlib import Path

import pytest

from summarizer import local


def write_stat(path: Path, total: int, idle: int) -> None:
    # cpu  user nice system idle iowait irq softirq steal guest guest_nice
    busy = total - idle
    path.write_text(f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")


class Counters:
    """A /proc/stat whose counters advance between the two reads."""

    def __init__(self, path: Path, busy_fraction: float) -> None:
        self.path = path
        self.busy_fraction = busy_fraction
        write_stat(path, 1000, 500)

    def sleep(self, seconds: float) -> None:
        ticks = 200
        write_stat(self.path, 1000 + ticks, 500 + round(ticks * (1 - self.busy_fraction)))


@pytest.mark.parametrize(
    ("busy_fraction", "threads"),
    [(0.0, 2), (0.2, 2), (0.45, 1), (0.9, 1), (1.0, 1)],  # of 2 cores: 0, 0.4 ... 2 busy
)
def test_threads_follow_the_cores_other_processes_leave_free(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, busy_fraction: float, threads: int
) -> None:
    stat = tmp_path / "stat"
    counters = Counters(stat, busy_fraction)
    monkeypatch.setattr(local.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(local.time, "sleep", counters.sleep)
    sample = local._busy_cores
    monkeypatch.setattr(local, "_busy_cores", lambda: sample(stat, own=tmp_path / "no-self"))
    assert local._threads() == threads


def test_busy_cores_reads_the_kernel_counters(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stat = tmp_path / "stat"
    counters = Counters(stat, 0.75)
    monkeypatch.setattr(local.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(local.time, "sleep", counters.sleep)
    # No counters of our own (a missing file reads as 0 ticks): the real /proc/self/stat
    # would subtract whatever CPU this test process used between the two reads.
    assert local._busy_cores(stat, own=tmp_path / "no-self-stat") == pytest.approx(3.0)


def test_this_processs_own_cpu_time_is_not_counted_as_busy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Right after ``import llama_cpp`` our own OpenMP threads spin: not another process."""
    stat, own = tmp_path / "stat", tmp_path / "self-stat"
    counters = Counters(stat, 0.75)  # 3 of 4 cores busy in all ...
    fields = ["S"] + ["0"] * 10

    def sleep(seconds: float) -> None:
        counters.sleep(seconds)
        # ... one of them is this process: 50 of the 200 ticks (utime 30, stime 20)
        own.write_text(f"4242 (python3 (x)) {' '.join(fields)} 30 20 0 0 20 0 1\n")

    own.write_text(f"4242 (python3 (x)) {' '.join(fields)} 0 0 0 0 20 0 1\n")
    monkeypatch.setattr(local.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(local.time, "sleep", sleep)
    assert local._busy_cores(stat, own=own) == pytest.approx(2.0)


def test_without_kernel_counters_every_core_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(local.os, "cpu_count", lambda: 8)
    assert local._busy_cores(tmp_path / "missing") is None
    monkeypatch.setattr(local, "_busy_cores", lambda: None)
    assert local._threads() == 8


@pytest.mark.parametrize(("setting", "threads"), [("3", 3), ("0", 8), ("many", 8)])
def test_summarizer_threads_overrides_only_with_a_positive_number(
    monkeypatch: pytest.MonkeyPatch, setting: str, threads: int
) -> None:
    monkeypatch.setenv("SUMMARIZER_THREADS", setting)
    monkeypatch.setattr(local.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(local, "_busy_cores", lambda: 0.0)
    assert local._threads() == threads


def test_the_real_machine_gives_a_sane_answer() -> None:
    busy = local._busy_cores()
    if busy is not None:
        assert -0.01 <= busy <= (local.os.cpu_count() or 1) + 0.01
    assert 1 <= local._threads() <= (local.os.cpu_count() or 1)
