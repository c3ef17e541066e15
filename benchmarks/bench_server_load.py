"""Load on ``summarize serve``: 1,000 requests, 50 at a time, against the stub model.

The service runs as an operator would start it, in its own process: ``summarize serve
--model openai/stub --api-base <stub> --api-key-file <keys> --workers 50 --no-cache``,
with authentication on and the per-key limits off (``--requests-per-minute 0
--tokens-per-day 0``), in front of ``stub_server.py`` (another process, a fixed latency
per answer). One ``httpx.AsyncClient`` keeps exactly ``--concurrency`` ``POST
/v1/summaries`` in flight, each a distinct copy of the seed article, until ``--requests``
are done, and records each one's latency and status. Anything but a 200 carrying a
summary made by the model is an error, counted by kind. Target: 0 errors, and a p99
explained by what the processes measured: each one's CPU time (from ``/proc``) and the
pipeline's own time in every answer's ``meta.latency_s``.

A second run with a stub that answers at once (latency 0) shows the service's own
overhead: its throughput there is the most it can serve on this machine. Each run (start-up,
warm-up, the requests) took about 2.5 minutes on 2 shared cores, where the server serves
about 12 requests a second; ``--no-overhead-run`` skips the second.

    python3 benchmarks/bench_server_load.py [--requests 1000] [--concurrency 50]
        [--latency 0.5] [--no-overhead-run] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import SEED, machine, script, write_section
from stub_server import running_stub

# Requests before the clock starts, all at once: the first the server sees (imports, models
# loaded on first use, litellm's clients), timed apart.
WARM_UP = 20
# CPython's default sys.getswitchinterval(): how long a thread may keep the GIL while
# others wait for it.
SWITCH_INTERVAL_S = 0.005
CLIENT_TIMEOUT_S = 300.0  # longer than any answer should take: a slow one is measured
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    started: float  # time.perf_counter() when the request was sent
    seconds: float
    error: str | None = None  # None: a 200 with a summary
    pipeline_s: float = 0.0  # the answer's meta.latency_s
    calls: int = 0  # the answer's meta.calls


@dataclass
class Run:
    latency: float
    concurrency: int
    samples: list[Sample]
    wall_s: float
    cpu: dict[str, float]  # CPU seconds during the timed requests, by process
    machine_busy: float  # fraction of all CPUs busy during them
    startup_s: float  # from starting `summarize serve` to its first 200 on /healthz
    warm_up: list[Sample] = field(default_factory=list)
    warm_up_s: float = 0.0
    server_threads: int = 0
    server_peak_rss_mib: float = 0.0
    log_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.error is None]

    @property
    def errors(self) -> Counter[str]:
        return Counter(s.error for s in self.samples if s.error is not None)

    @property
    def warm_up_errors(self) -> Counter[str]:
        return Counter(s.error for s in self.warm_up if s.error is not None)

    @property
    def rate(self) -> float:
        return len(self.samples) / self.wall_s

    @property
    def server_cpu(self) -> float:
        """The server's CPU seconds per request."""
        return self.cpu["server"] / len(self.samples)

    @property
    def ceiling(self) -> float:
        """Requests a second one core could serve at the server's CPU per request."""
        return 1 / self.server_cpu

    @property
    def others_busy(self) -> float:
        """The part of the machine's CPUs that the server, stub and client did not use."""
        ours = sum(self.cpu.values()) / (self.wall_s * (os.cpu_count() or 1))
        return max(0.0, self.machine_busy - ours)

    @property
    def ideal(self) -> float | None:
        return self.concurrency / self.latency if self.latency else None


# -- /proc ------------------------------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """User and system CPU seconds of process ``pid``, all its threads."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, all CPUs, since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


def process_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def stub_pid() -> int:
    """The stub server ``running_stub`` started: this process's child running stub_server.py."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == me and b"stub_server.py" in command:
            return int(entry.name)
    raise SystemExit("cannot find the stub server's process")


# -- the service ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_service(
    stub_url: str, concurrency: int, work: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str, str, float, Path]]:
    """``summarize serve`` in front of the stub, authentication on; yields its process, URL,
    a caller's key, its start-up time and its log file."""
    key = secrets.token_urlsafe(32)
    keys = work / "keys.txt"
    keys.write_text(f"# bench_server_load.py\nbench:{key}\n", encoding="utf-8")
    port = free_port()
    argv = [
        script("summarize"),
        "serve",
        "--model",
        "openai/stub",
        "--api-base",
        stub_url,
        "--port",
        str(port),
        "--api-key-file",
        str(keys),
        "--requests-per-minute",
        "0",
        "--tokens-per-day",
        "0",
        "--workers",
        str(concurrency),
        "--no-cache",
    ]
    log = work / "serve.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        startup = wait_healthy(process, url, key, log) - started
        yield process, url, key, startup, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_healthy(process: subprocess.Popen[bytes], url: str, key: str, log: Path) -> float:
    """When ``GET /healthz`` first answered 200 (asked with the key, which it should not
    need); stops the benchmark if the server exits, or answers anything else."""
    deadline = time.monotonic() + 120
    headers = {"Authorization": f"Bearer {key}"}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"summarize serve exited ({process.returncode}):\n{_tail(log)}")
        try:
            status = httpx.get(f"{url}/healthz", headers=headers, timeout=2).status_code
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        if status == 200:
            return time.perf_counter()
        raise SystemExit(f"GET /healthz answered {status}:\n{_tail(log)}")
    raise SystemExit(f"summarize serve did not answer /healthz in 120 s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def log_problems(log: Path) -> list[str]:
    """Lines of the server's log that are not its start-up notice or a 200 access line."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return [
        line
        for line in lines
        if any(word in line for word in ("Traceback", "ERROR", "WARNING", "Error"))
        or (" HTTP/1.1" in line and '" 200' not in line)
    ]


# -- the client -------------------------------------------------------------------------------


def articles(count: int, offset: int) -> list[str]:
    """Distinct copies of the seed article, so that no layer could answer from a cache."""
    seed = SEED.read_text(encoding="utf-8")
    return [f"{seed}\n\nCatatan nomor {offset + i}.\n" for i in range(count)]


async def one(client: httpx.AsyncClient, text: str) -> Sample:
    started = time.perf_counter()
    try:
        response = await client.post("/v1/summaries", json={"text": text, "target_language": "en"})
    except httpx.HTTPError as exc:
        return Sample(started, time.perf_counter() - started, f"transport: {type(exc).__name__}")
    seconds = time.perf_counter() - started
    try:
        body = response.json()
    except ValueError:
        return Sample(started, seconds, f"HTTP {response.status_code}, not JSON")
    if response.status_code != 200:
        return Sample(started, seconds, f"HTTP {response.status_code} {body.get('error')}")
    meta = body.get("meta") or {}
    if not body.get("summary") or not meta.get("calls") or meta.get("cached"):
        return Sample(started, seconds, "HTTP 200 without a model-made summary")
    return Sample(started, seconds, None, float(meta["latency_s"]), int(meta["calls"]))


async def load(
    url: str, key: str, texts: Sequence[str], concurrency: int
) -> tuple[list[Sample], float]:
    """All of ``texts``, exactly ``concurrency`` in flight until the last ones; the samples
    and the wall seconds."""
    samples: list[Sample] = []
    pending = iter(texts)  # shared: each worker takes the next article when it is free
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {key}"},
        limits=limits,
        timeout=CLIENT_TIMEOUT_S,
    ) as client:

        async def worker() -> None:
            for text in pending:
                samples.append(await one(client, text))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return samples, time.perf_counter() - started


# -- one run ----------------------------------------------------------------------------------


def measure(latency: float, requests: int, concurrency: int) -> Run:
    with running_stub(latency=latency) as stub_url, tempfile.TemporaryDirectory() as tmp:
        with running_service(stub_url, concurrency, Path(tmp)) as (process, url, key, up, log):
            warm, warm_s = asyncio.run(
                load(url, key, articles(WARM_UP, requests), min(concurrency, WARM_UP))
            )
            stub = stub_pid()
            pids = {"server": process.pid, "stub": stub}
            before = {name: process_cpu(pid) for name, pid in pids.items()}
            client_before, busy_before = time.process_time(), machine_jiffies()
            samples, wall = asyncio.run(load(url, key, articles(requests, 0), concurrency))
            cpu = {name: process_cpu(pid) - before[name] for name, pid in pids.items()}
            cpu["client"] = time.process_time() - client_before
            busy_after = machine_jiffies()
            status = process_status(process.pid)
            busy = (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1])
        return Run(
            latency=latency,
            concurrency=concurrency,
            samples=samples,
            wall_s=wall,
            cpu=cpu,
            machine_busy=busy,
            startup_s=up,
            warm_up=warm,
            warm_up_s=warm_s,
            server_threads=int(status.get("Threads", "0")),
            server_peak_rss_mib=int(status.get("VmHWM", "0 kB").split()[0]) / 1024,
            log_problems=log_problems(log),
        )


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value with at least ``p`` % of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary_line(run: Run) -> str:
    times = [s.seconds for s in run.samples]
    ideal = f"ideal {run.ideal:.0f}/s ({run.rate / run.ideal:.1%})" if run.ideal else "no ideal"
    return (
        f"latency {run.latency:g} s: {len(run.samples)} requests in {run.wall_s:.2f} s = "
        f"{run.rate:.1f}/s, {ideal}; p50 {percentile(times, 50):.3f} s, "
        f"p99 {percentile(times, 99):.3f} s, max {max(times):.3f} s; errors "
        f"{sum(run.errors.values())} {dict(run.errors)}; server CPU "
        f"{1000 * run.cpu['server'] / len(run.samples):.1f} ms/request; machine busy "
        f"{run.machine_busy:.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.5, help="the stub's, seconds")
    parser.add_argument(
        "--no-overhead-run", action="store_true", help="skip the run with a 0-latency stub"
    )
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md")
    args = parser.parse_args()

    latencies = [args.latency] if args.no_overhead_run or not args.latency else [args.latency, 0.0]
    runs = []
    for latency in latencies:
        run = measure(latency, args.requests, args.concurrency)
        print(summary_line(run), file=sys.stderr)
        runs.append(run)

    body = report(runs, args)
    if args.no_write:
        print(body)
    else:
        write_section("bench_server_load", body)


# -- the RESULTS.md section -------------------------------------------------------------------


def report(runs: list[Run], args: argparse.Namespace) -> str:
    latency_rows = []
    cpu_rows = []
    for run in runs:
        times = [s.seconds for s in run.samples]
        ideal = f"{run.ideal:.0f} | {run.rate / run.ideal:.1%}" if run.ideal else "- | -"
        latency_rows.append(
            f"| {run.latency:g} s | {len(run.samples)} | {run.concurrency} "
            f"| {sum(run.errors.values())} | {run.wall_s:.1f} | {run.rate:.1f} | {ideal} "
            f"| {percentile(times, 50):.2f} | {percentile(times, 90):.2f} "
            f"| {percentile(times, 99):.2f} | {max(times):.2f} |"
        )
        cpu_rows.append(
            f"| {run.latency:g} s | {1000 * run.server_cpu:.0f} | {run.ceiling:.1f} "
            f"| {run.cpu['server'] / run.wall_s:.2f} "
            f"| {1000 * run.cpu['stub'] / len(run.samples):.1f} "
            f"| {1000 * run.cpu['client'] / len(run.samples):.1f} "
            f"| {run.machine_busy:.0%} ({run.others_busy:.0%}) "
            f"| {_pair([s.pipeline_s for s in run.ok])} "
            f"| {_pair([s.seconds - s.pipeline_s for s in run.ok])} | {_calls(run)} |"
        )
    return "\n".join(
        [
            "## Load on the HTTP service (issue 14, `bench_server_load.py`)",
            "",
            f"`summarize serve` as its own process (`--workers {args.concurrency} --no-cache`, "
            "API keys required, per-key limits off) in front of `stub_server.py`; one "
            f"`httpx.AsyncClient` keeping {args.concurrency} `POST /v1/summaries` in flight "
            f"until {args.requests} are done, each a distinct copy of the seed article "
            f"({SEED.name}), after {WARM_UP} untimed warm-up requests. An error is anything but "
            "a 200 carrying a model-made summary. Target: 0 errors, and a p99 we can explain. "
            "Latencies in seconds, as the client saw them (nearest-rank percentiles).",
            "",
            "| stub latency | requests | concurrency | errors | seconds | requests/s "
            "| ideal/s | fraction of ideal | p50 | p90 | p99 | max |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *latency_rows,
            "",
            *_errors(runs),
            "Where the time and the CPU went during the timed requests:",
            "",
            "| stub latency | server CPU ms/request | its ceiling, requests/s | server cores busy "
            "| stub CPU ms/request | client CPU ms/request | machine busy (other jobs) "
            "| pipeline s p50 / p99 | outside it s p50 / p99 | model calls: requests |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *cpu_rows,
            "",
            "The ceiling is 1 / (server CPU per request): what one core serves, and one core is "
            "all the server's Python threads get while they hold the GIL; cores busy is its CPU "
            "time over the wall time. Machine busy counts every process on all "
            f"{os.cpu_count()} CPUs, in brackets the part that was none of the three. Pipeline "
            "is each answer's `meta.latency_s` (the checks and the model call, the stub's "
            "latency included); outside it is the rest of what the client waited: HTTP, the key "
            "check, cleaning the article and detecting its language, waiting for a worker "
            "thread, and the client's own event loop.",
            "",
            *_explanation(runs),
            *_server_notes(runs),
            f"Machine: {machine()}. Reproduce: `python3 benchmarks/bench_server_load.py`.",
        ]
    )


def _explanation(runs: list[Run]) -> list[str]:
    """The p50 and the p99, explained from the figures: Little's law with the CPU ceiling for
    the one, where the slowest requests spent their time for the other."""
    lines = []
    for run in runs:
        times = [s.seconds for s in run.samples]
        p50, p99 = percentile(times, 50), percentile(times, 99)
        bound = run.rate >= 0.8 * run.ceiling
        stub = (
            f"the stub's {run.latency:g} s is {run.latency / p50:.0%} of the p50"
            if run.latency
            else "the stub answers at once"
        )
        slow = [s for s in run.ok if s.seconds >= p99]
        first = {id(s) for s in sorted(run.samples, key=lambda s: s.started)[: run.concurrency]}
        spread = statistics.pstdev(times) / statistics.mean(times)
        turns = run.server_cpu / SWITCH_INTERVAL_S
        lines.append(
            f"**Why p50 {p50:.2f} s and p99 {p99:.2f} s ({run.latency:g} s stub).** The "
            f"server spent {1000 * run.server_cpu:.0f} ms of CPU on each request, so one core "
            f"serves at most {run.ceiling:.1f} requests/s; it served {run.rate:.1f}/s "
            + ("(CPU-bound). " if bound else f"({run.rate / run.ceiling:.0%} of that). ")
            + f"With {run.concurrency} requests always in flight, Little's law gives a mean "
            f"latency of {run.concurrency} / {run.rate:.1f} = {run.concurrency / run.rate:.2f} s "
            f"(measured {statistics.mean(times):.2f} s): {stub}, "
            + (
                "the rest is requests waiting their turn for the server's one GIL. "
                if bound
                else f"and the server did not even use its core (other jobs took "
                f"{run.others_busy:.0%} of the machine). "
            )
            + (
                f"The slowest 1 % ({len(slow)}, {sum(id(s) in first for s in slow)} of them "
                f"among the first {run.concurrency} sent) spent a median "
                f"{statistics.median(s.pipeline_s for s in slow):.2f} s in the pipeline "
                f"(every request: {statistics.median(s.pipeline_s for s in run.ok):.2f} s) "
                f"and {statistics.median(s.seconds - s.pipeline_s for s in slow):.2f} s outside "
                f"it ({statistics.median(s.seconds - s.pipeline_s for s in run.ok):.2f} s): "
                "they did the same work as the others and got fewer turns at the CPU. "
                if slow
                else ""
            )
            + (
                f"Handed out in {1000 * SWITCH_INTERVAL_S:g} ms turns to whichever of "
                f"{run.concurrency} threads gets the GIL, {turns:.0f} turns per request would "
                f"spread latencies by about 1/sqrt({turns:.0f}) = {turns**-0.5:.2f} of their "
                f"mean; the measured spread (standard deviation over mean) is {spread:.2f}"
                + (
                    ", the rest from sharing the machine with other jobs."
                    if spread > turns**-0.5
                    else "."
                )
                if bound
                else ""
            )
        )
    return [line for paragraph in lines for line in (paragraph, "")]


def _pair(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.3f} / {percentile(values, 99):.3f}"


def _calls(run: Run) -> str:
    counts = Counter(s.calls for s in run.ok)
    return ", ".join(f"{calls}: {n}" for calls, n in sorted(counts.items())) or "-"


def _errors(runs: list[Run]) -> list[str]:
    lines = []
    for run in runs:
        kinds = run.errors + run.warm_up_errors
        if kinds:
            listed = "; ".join(f"{kind}: {n}" for kind, n in kinds.most_common())
            lines.append(
                f"Errors with the {run.latency:g} s stub (warm-up included, "
                f"{sum(run.warm_up_errors.values())} of them): {listed}."
            )
    return [*(lines or ["No errors, in the warm-up or the timed requests."]), ""]


def _server_notes(runs: list[Run]) -> list[str]:
    notes = []
    for run in runs:
        problems = len(run.log_problems)
        notes.append(
            f"With the {run.latency:g} s stub the server started (to its first `/healthz`) in "
            f"{run.startup_s:.1f} s; the {len(run.warm_up)} warm-up requests, "
            f"{min(run.concurrency, WARM_UP)} at a time, "
            f"took {run.warm_up_s:.1f} s (slowest {max(s.seconds for s in run.warm_up):.1f} s); "
            f"it ran {run.server_threads} threads at the end with a peak "
            f"RSS of {run.server_peak_rss_mib:.0f} MiB, and its log had {problems} line(s) "
            "other than the start-up notice and 200 access lines"
            + (f", the first: `{run.log_problems[0].strip()[:200]}`." if problems else ".")
        )
    return [" ".join(notes), ""]


if __name__ == "__main__":
    main()
