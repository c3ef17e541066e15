"""Many articles in one run: ``summarize batch INPUTS... --out results.jsonl``.

* Inputs are files, folders (their ``.txt``/``.md`` files, recursively) and glob patterns.
* Remote models run ``concurrency`` articles at once on worker threads (litellm's calls
  are blocking and release the GIL while they wait), spread over forked worker processes
  when there are more than ``THREADS_PER_PROCESS`` of them: each article costs the client
  ~10 ms of CPU (litellm's request handling, tokenising, validation), and one interpreter
  lock shared by dozens of threads cannot keep up. A local model runs one at a time.
* One JSON line per article is appended as soon as it completes, by one writer, each in
  one ``write``, fsynced before it is counted: ``{"input": ..., "ok": true, "result": {...}}`` or
  ``{"input": ..., "ok": false, "error": {...}}``.
* Re-running with the same ``--out`` skips inputs that already have a line, so a run
  killed part-way resumes where it stopped. A torn last line (a crash mid-write) is cut
  off before appending; anything else that does not parse stops the run rather than
  being silently dropped.
"""

from __future__ import annotations

import contextlib
import glob
import json
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from summarizer.errors import InputError, SummarizerError, UsageError
from summarizer.llm import LLMClient

# What a folder contributes: article-like text files, not everything in it.
ARTICLE_SUFFIXES = (".txt", ".text", ".md", ".markdown")


@dataclass(frozen=True)
class BatchJob:
    """What to do with every input."""

    task: str  # "summary" or "translate"
    target_language: str
    model: str
    concurrency: int = 8
    max_input_bytes: int = 10_000_000
    retry_failed: bool = False
    processes: int | None = None  # worker processes; None: worker_processes() decides


# Measured with benchmarks/bench_batch.py: one process keeps ~90 % of the ideal rate with up
# to about 8 requests of 0.5 s in flight, and falls behind beyond that (66 % at 32).
THREADS_PER_PROCESS = 8


def worker_processes(job: BatchJob) -> int:
    """How many processes share ``job.concurrency``: one per ``THREADS_PER_PROCESS``
    requests in flight, at most one per core; always one for a local model (one llama.cpp
    context) and where processes cannot be forked (Windows, macOS)."""
    from summarizer.models import parse_model

    if parse_model(job.model).is_local or not can_fork():
        return 1
    if job.processes is not None:
        return max(1, min(job.processes, job.concurrency))
    wanted = -(-job.concurrency // THREADS_PER_PROCESS)
    return max(1, min(wanted, os.cpu_count() or 1))


def can_fork() -> bool:
    # Forking is what makes workers cheap (no second import of litellm); macOS has fork but
    # its system libraries are not fork-safe, so only Linux and the BSDs use it.
    return "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"


@dataclass
class Tally:
    """The end-of-run counts; ``line()`` is what the CLI prints."""

    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_unknown: int = 0
    interrupted: bool = False
    repaired: bool = False  # a torn last line was cut off the results file

    def add(self, record: dict[str, Any]) -> None:
        if not record["ok"]:
            self.failed += 1
            return
        self.done += 1
        meta = record["result"]["meta"]
        self.cached += bool(meta.get("cached"))
        self.input_tokens += meta["usage"]["input_tokens"]
        self.output_tokens += meta["usage"]["output_tokens"]
        if meta["cost_usd"] is None:
            self.cost_unknown += 1
        else:
            self.cost_usd += meta["cost_usd"]

    def line(self) -> str:
        cost = f"${self.cost_usd:.4f}"
        if self.cost_unknown:
            cost += f" (+ unknown for {self.cost_unknown})"
        parts = [
            f"done {self.done}",
            f"failed {self.failed}",
            f"skipped {self.skipped}",
            f"tokens {self.input_tokens + self.output_tokens:,} "
            f"(in {self.input_tokens:,}, out {self.output_tokens:,})",
            f"cost {cost}",
        ]
        if self.cached:
            parts.append(f"from cache {self.cached}")
        prefix = "Interrupted: " if self.interrupted else ""
        return prefix + ", ".join(parts)


# -- inputs ------------------------------------------------------------------------------


def find_inputs(patterns: Sequence[str], *, exclude: Sequence[Path] = ()) -> list[Path]:
    """Files named by ``patterns`` (files, folders, globs), in order, each once.

    Raises:
        InputError: a pattern names nothing, so a typo does not pass for an empty batch.
    """
    excluded = {p.resolve() for p in exclude}
    found: list[Path] = []
    seen: set[Path] = set()
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            matches = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in ARTICLE_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            matches = [path]
        elif glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
            matches = [p for p in matches if p.is_file()]
        else:
            raise InputError(f"{pattern} does not exist.", path=pattern, hint="Check the path.")
        if not matches:
            raise InputError(
                f"{pattern} names no article files.",
                path=pattern,
                hint=f"A folder contributes its {', '.join(ARTICLE_SUFFIXES)} files; "
                "quote a glob so the shell does not expand it.",
            )
        for match in matches:
            resolved = match.resolve()
            if resolved not in seen and resolved not in excluded:
                seen.add(resolved)
                found.append(match)
    return found


def input_key(path: str | Path) -> str:
    """How a line's ``input`` is matched to a file on re-runs: its absolute path."""
    return os.path.abspath(os.path.expanduser(str(path)))


# -- the results file --------------------------------------------------------------------


def load_results(out: Path) -> tuple[list[dict[str, Any]], bool]:
    """The records already in ``out``, and whether a torn last line had to be cut off.

    Raises:
        InputError: a line other than the last is not a result record.
    """
    if not out.exists():
        return [], False
    data = out.read_bytes()
    records: list[dict[str, Any]] = []
    position = 0
    number = 0
    while position < len(data):
        end = data.find(b"\n", position)
        if end == -1:
            break  # no newline: the process died in the middle of this line
        number += 1
        raw = data[position:end]
        if raw.strip():
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                record = None
            if not _is_record(record):
                if not data[end + 1 :].strip():
                    break  # the last line: torn, cut below
                raise InputError(
                    f"{out} line {number} is not a batch result.",
                    path=str(out),
                    hint="Fix or remove that line, or write to another --out file.",
                )
            records.append(record)
        position = end + 1
    if position < len(data):
        # Only ever removes the last line, never a record that parsed.
        with out.open("r+b") as handle:
            handle.truncate(position)
        return records, True
    return records, False


def _is_record(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("input"), str)
        and isinstance(value.get("ok"), bool)
        and ("result" in value if value["ok"] else "error" in value)
    )


class _ResultsWriter:
    """Appends whole lines, one ``write`` each, and fsyncs once per group of lines."""

    def __init__(self, out: Path) -> None:
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[bytes] = out.open("ab")
        _lock_exclusively(self._handle, out)

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        for record in records:
            self._handle.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
            self._handle.flush()
        # One fsync for every record that finished meanwhile: at tens of articles a second
        # a sync per line would be the writer's limit.
        os.fsync(self._handle.fileno())

    def fileno(self) -> int:
        return self._handle.fileno()

    def close(self) -> None:
        self._handle.close()


def _lock_exclusively(handle: IO[bytes], out: Path) -> None:
    """Two runs appending to one file would both redo the same inputs: refuse the second."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, no guard
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise UsageError(
            f"Another summarize batch is writing to {out}.",
            hint="Wait for it to finish, or write to another --out file.",
        ) from exc


def _drop_failures(out: Path, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite ``out`` without its error lines, atomically, so retried inputs stay unique."""
    from summarizer.files import write_atomic

    kept = [r for r in records if r["ok"]]
    if len(kept) != len(records):
        write_atomic(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
    return kept


# -- running -----------------------------------------------------------------------------

# Builds the client for one article: a caching wrapper per article, or the shared client.
ClientFactory = Callable[[str], LLMClient]
# Turns a finished result into what is written (``CachingClient.mark``, for example).
Finisher = Callable[[LLMClient, Any], Any]


@dataclass
class _Outcome:
    path: Path
    record: dict[str, Any] = field(default_factory=dict)


def error_record(exc: BaseException) -> dict[str, Any]:
    """How a failed article is written: enough to act on without a traceback."""
    if isinstance(exc, SummarizerError):
        return {
            "type": type(exc).__name__,
            "message": exc.message,
            "hint": exc.hint,
            "exit_code": exc.exit_code,
        }
    return {
        "type": type(exc).__name__,
        "message": f"Internal error: {exc}",
        "hint": "Run this article alone with --debug for the traceback, and report it.",
        "exit_code": 1,
    }


def _process(
    path: Path, job: BatchJob, make_client: ClientFactory, finish: Finisher | None
) -> dict[str, Any]:
    from summarizer import pipeline
    from summarizer.files import read_article

    record: dict[str, Any] = {
        "input": str(path),
        "task": job.task,
        "target_language": job.target_language,
    }
    try:
        text = read_article(str(path), max_bytes=job.max_input_bytes)
        client = make_client(text)
        run = pipeline.summarize if job.task == "summary" else pipeline.translate
        result: Any = run(text, target_language=job.target_language, model=job.model, client=client)
        if finish is not None:
            result = finish(client, result)
        record.update(ok=True, result=result.model_dump(mode="json"))
    except Exception as exc:  # one article's failure is a line, not the end of the run
        record.update(ok=False, error=error_record(exc))
    return record


def _thread_workers(
    take: Callable[[], Path | None],
    put: Callable[[dict[str, Any]], None],
    job: BatchJob,
    make_client: ClientFactory,
    finish: Finisher | None,
    count: int,
    *,
    ramp: Callable[[int], float] = lambda index: 0.0,
) -> list[threading.Thread]:
    """``count`` started daemon threads that process what ``take()`` gives until it gives
    ``None``, and ``put`` each record; thread ``i`` waits ``ramp(i)`` seconds first."""

    def work(index: int) -> None:
        time.sleep(ramp(index))
        while (path := take()) is not None:
            put(_process(path, job, make_client, finish))

    threads = [
        threading.Thread(target=work, args=(i,), name=f"batch-{i}", daemon=True)
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    return threads


def _workers(
    paths: Sequence[Path],
    job: BatchJob,
    make_client: ClientFactory,
    finish: Finisher | None,
    concurrency: int,
    processes: int = 1,
    keep_closed: Sequence[int] = (),
) -> Generator[list[dict[str, Any]], None, None]:
    """Records in completion order, from ``concurrency`` daemon worker threads (spread over
    ``processes`` forked processes, which close the file descriptors ``keep_closed``), in
    groups of those that finished since the last group was taken. The first group is
    empty: it says every worker has started.

    Daemon threads, not a ThreadPoolExecutor: on Ctrl-C the process must exit at once,
    not wait for every request in flight to time out.
    """
    if not paths:
        yield []
        return
    if processes > 1:
        yield from _process_workers(
            paths, job, make_client, finish, concurrency, processes, keep_closed
        )
        return
    todo: queue.SimpleQueue[Path] = queue.SimpleQueue()
    for path in paths:
        todo.put(path)
    done: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
    stop = threading.Event()

    def take() -> Path | None:
        if stop.is_set():
            return None
        try:
            return todo.get_nowait()
        except queue.Empty:
            return None

    count = min(concurrency, len(paths))
    _thread_workers(take, done.put, job, make_client, finish, count, ramp=_ramp(count))
    try:
        yield []
        yield from _in_groups(lambda remaining: done.get(), done.get_nowait, len(paths))
    finally:
        stop.set()


def _in_groups(
    wait_for_one: Callable[[int], dict[str, Any]],
    take_ready: Callable[[], dict[str, Any]],
    total: int,
) -> Iterator[list[dict[str, Any]]]:
    """``total`` records in groups: one waited for (told how many are still due), then every
    one already there (``take_ready`` raises ``queue.Empty`` when there is none)."""
    remaining = total
    while remaining:
        group = [wait_for_one(remaining)]
        with contextlib.suppress(queue.Empty):
            while len(group) < remaining:
                group.append(take_ready())
        remaining -= len(group)
        yield group


# Workers start spread over this many seconds rather than at once: requests sent together
# come back together, and their answers then queue for the client's CPU (and a provider's
# rate limiter) together, wave after wave. Measured with bench_batch.py at concurrency 32.
RAMP_S = 0.5


def _ramp(total: int, offset: int = 0, step: int = 1) -> Callable[[int], float]:
    """Start delays: the thread numbered ``offset + i * step`` of ``total`` waits its share
    of ``RAMP_S``."""
    return lambda index: RAMP_S * (offset + index * step) / max(1, total)


def _process_workers(
    paths: Sequence[Path],
    job: BatchJob,
    make_client: ClientFactory,
    finish: Finisher | None,
    concurrency: int,
    processes: int,
    keep_closed: Sequence[int],
) -> Iterator[list[dict[str, Any]]]:
    """``_workers`` over forked processes: each runs its share of the threads and sends
    records back; only this process writes the results file.

    Forked, so each worker has the clients and settings already built, without a second
    import of litellm; the response cache reopens its SQLite connection in a worker, and
    litellm's pooled connections are not shared (``client.py``).
    """
    context = multiprocessing.get_context("fork")
    threads = -(-concurrency // processes)
    todo: Any = context.Queue()
    done: Any = context.Queue()
    for path in paths:
        todo.put(str(path))
    for _ in range(processes * threads):
        todo.put(None)  # one stop sign per thread
    workers = [
        context.Process(
            target=_worker_process,
            args=(
                todo,
                done,
                job,
                make_client,
                finish,
                threads,
                _ramp(processes * threads, offset=i, step=processes),
                os.getpid(),
                keep_closed,
            ),
            name=f"summarize-batch-{i}",
            daemon=True,
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()

    def wait_for_one(remaining: int) -> dict[str, Any]:
        while True:
            try:
                record: dict[str, Any] = done.get(timeout=1.0)
                return record
            except queue.Empty:
                if any(worker.is_alive() for worker in workers):
                    continue
            codes = sorted({worker.exitcode for worker in workers}, key=str)
            raise RuntimeError(
                f"The batch's worker processes stopped with {remaining} articles "
                f"unfinished (exit codes {codes}); run the same command again to resume."
            )

    try:
        yield []
        yield from _in_groups(wait_for_one, done.get_nowait, len(paths))
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        for worker in workers:
            worker.join(5)
        for channel in (todo, done):
            channel.cancel_join_thread()  # never wait on a pipe nobody reads any more
            channel.close()


def _worker_process(
    todo: Any,
    done: Any,
    job: BatchJob,
    make_client: ClientFactory,
    finish: Finisher | None,
    threads: int,
    ramp: Callable[[int], float],
    parent: int,
    keep_closed: Sequence[int],
) -> None:
    # Ctrl-C reaches the whole process group: the parent handles it and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The results file: its lock must go with the parent, not wait for us.
    for descriptor in keep_closed:
        with contextlib.suppress(OSError):
            os.close(descriptor)

    def watch_parent() -> None:
        # A parent killed with SIGKILL cannot stop us: stop paying for requests nobody
        # will write down (the next run redoes them).
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch_parent, name="batch-parent-watch", daemon=True).start()

    def take() -> Path | None:
        item = todo.get()
        return None if item is None else Path(item)

    for thread in _thread_workers(take, done.put, job, make_client, finish, threads, ramp=ramp):
        thread.join()
    done.close()
    done.join_thread()  # every record is in the pipe before this process exits


def run_batch(
    patterns: Sequence[str],
    out: Path,
    job: BatchJob,
    *,
    make_client: ClientFactory,
    finish: Finisher | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    tally: Tally | None = None,
) -> Tally:
    """Run ``job`` on every input not yet in ``out``, appending one line per article.

    Args:
        patterns: files, folders and globs.
        out: the JSON Lines results file; created, or resumed when it exists.
        job: task, language, model and concurrency.
        make_client: the ``LLMClient`` for one article, given its text.
        finish: applied to each result before it is written (e.g. marking cache hits).
        on_start: called with (inputs to run, inputs skipped) before the first article.
        on_record: called with each record once it is written (progress display).
        tally: filled in as the run goes (so a caller still has it after Ctrl-C).

    Returns:
        The tally. On Ctrl-C every finished line is already written; the exception
        propagates after ``tally.interrupted`` is set.

    Raises:
        InputError: an input pattern matches nothing, or ``out`` holds a corrupt line.
        UsageError: another batch is writing to ``out``.
    """
    from summarizer.models import parse_model

    paths = find_inputs(patterns, exclude=[out])
    writer = _ResultsWriter(out)  # locks first: no other run may repair or append meanwhile
    tally = tally if tally is not None else Tally()
    tally.total = len(paths)
    try:
        records, tally.repaired = load_results(out)
        if job.retry_failed:
            records = _drop_failures(out, records)
            writer.close()
            writer = _ResultsWriter(out)  # the rewrite replaced the file we had open
        finished = {input_key(r["input"]) for r in records}
        todo = [p for p in paths if input_key(p) not in finished]
        tally.skipped = len(paths) - len(todo)
        # One llama.cpp context serves one request at a time: parallel articles only queue.
        concurrency = 1 if parse_model(job.model).is_local else job.concurrency
        processes = worker_processes(job)
        groups = _workers(
            todo, job, make_client, finish, concurrency, processes, keep_closed=[writer.fileno()]
        )
        try:
            # Workers start (fork) before on_start: no display thread runs when they fork.
            next(groups)
            if on_start is not None:
                on_start(len(todo), tally.skipped)
            for group in groups:
                writer.write(group)
                for record in group:
                    tally.add(record)
                    if on_record is not None:
                        on_record(record)
        except KeyboardInterrupt:
            tally.interrupted = True
            raise
        finally:
            groups.close()  # stops the workers, now rather than when collected
    finally:
        with contextlib.suppress(OSError):
            writer.close()
    return tally


# -- the command -------------------------------------------------------------------------


@contextlib.contextmanager
def progress_display(
    *, enabled: bool
) -> Iterator[tuple[Callable[[int, int], None], Callable[[dict[str, Any]], None]]]:
    """``(on_start, on_record)`` hooks drawing a rich progress bar (rate, ETA) on stderr.

    The hooks do nothing when disabled or when stderr is not a terminal, so logs and pipes
    stay clean; the tally line is printed either way.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield (lambda todo, skipped: None), (lambda record: None)
        return
    # Started in on_start, not here: batch worker processes fork before it, and a fork
    # should not copy a thread that may be holding the terminal's lock.
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task: list[TaskID] = []

    def on_start(todo: int, skipped: int) -> None:
        bar.start()
        label = "articles" if not skipped else f"articles ({skipped} already done)"
        task.append(bar.add_task(label, total=todo, failed=0, rate="-/s"))

    def on_record(record: dict[str, Any]) -> None:
        current = bar.tasks[0]
        failed = int(current.fields["failed"]) + (not record["ok"])
        speed = current.speed
        rate = f"{speed:.1f}/s" if speed else "-/s"
        bar.update(task[0], advance=1, failed=failed, rate=rate)

    try:
        yield on_start, on_record
    finally:
        if task:
            bar.stop()


def run_batch_command(
    inputs: Sequence[str],
    out: Path,
    *,
    task: str,
    lang: str | None,
    model: str | None,
    api_base: str | None,
    timeout: float | None,
    concurrency: int,
    retry_failed: bool,
    use_cache: bool,
    progress: bool,
    tally: Tally | None = None,
    processes: int | None = None,
) -> Tally:
    """``summarize batch``: settings, one real client, the cache, the progress bar.

    Raises:
        SummarizerError: bad settings, a model that cannot be used, inputs that match
            nothing, or an unusable results file; one article's failure is a line instead.
    """
    from summarizer.config import load_settings
    from summarizer.languages import normalize_language
    from summarizer.models import parse_model

    settings = load_settings(model=model, lang=lang, api_base=api_base, timeout=timeout)
    job = BatchJob(
        task=task,
        target_language=normalize_language(settings.lang),
        model=parse_model(settings.model).name,
        concurrency=concurrency,
        max_input_bytes=settings.max_input_bytes,
        retry_failed=retry_failed,
        processes=processes,
    )
    find_inputs(inputs, exclude=[out])  # a typo fails before litellm's seconds of import

    from summarizer.cache import ResponseCache, caching_client, mark_cached
    from summarizer.client import LiteLLMClient

    real = LiteLLMClient(api_base=settings.api_base, timeout=settings.timeout)
    real.check_model(job.model)
    cache = ResponseCache() if use_cache else None

    def make_client(text: str) -> LLMClient:
        return caching_client(
            real,
            raw_text=text,
            model=job.model,
            api_base=settings.api_base,
            enabled=use_cache,
            cache=cache,
        )

    try:
        with progress_display(enabled=progress) as (on_start, on_record):
            return run_batch(
                inputs,
                out,
                job,
                make_client=make_client,
                finish=mark_cached,
                on_start=on_start,
                on_record=on_record,
                tally=tally,
            )
    finally:
        if cache is not None:
            cache.close()
