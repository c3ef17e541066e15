"""Many articles in one run: ``summarize batch INPUTS... --out results.jsonl``.

* Inputs are files, folders (their ``.txt``/``.md`` files, recursively) and glob patterns.
* Remote models run ``concurrency`` articles at once on worker threads (litellm's calls
  are blocking and release the GIL while they wait); a local model runs one at a time.
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
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
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


def _workers(
    paths: Sequence[Path],
    job: BatchJob,
    make_client: ClientFactory,
    finish: Finisher | None,
    concurrency: int,
) -> Iterator[list[dict[str, Any]]]:
    """Records in completion order, from ``concurrency`` daemon worker threads, in groups of
    those that finished since the last group was taken.

    Daemon threads, not a ThreadPoolExecutor: on Ctrl-C the process must exit at once,
    not wait for every request in flight to time out.
    """
    todo: queue.SimpleQueue[Path] = queue.SimpleQueue()
    for path in paths:
        todo.put(path)
    done: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                path = todo.get_nowait()
            except queue.Empty:
                return
            done.put(_process(path, job, make_client, finish))

    threads = [
        threading.Thread(target=work, name=f"batch-{i}", daemon=True)
        for i in range(max(1, min(concurrency, len(paths))))
    ]
    for thread in threads:
        thread.start()
    try:
        remaining = len(paths)
        while remaining:
            group = [done.get()]
            with contextlib.suppress(queue.Empty):
                while len(group) < remaining:
                    group.append(done.get_nowait())
            remaining -= len(group)
            yield group
    finally:
        stop.set()


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
        if on_start is not None:
            on_start(len(todo), tally.skipped)
        # One llama.cpp context serves one request at a time: parallel articles only queue.
        concurrency = 1 if parse_model(job.model).is_local else job.concurrency
        try:
            for group in _workers(todo, job, make_client, finish, concurrency):
                writer.write(group)
                for record in group:
                    tally.add(record)
                    if on_record is not None:
                        on_record(record)
        except KeyboardInterrupt:
            tally.interrupted = True
            raise
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
    with Progress(
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
    ) as bar:
        task: list[TaskID] = []

        def on_start(todo: int, skipped: int) -> None:
            label = "articles" if not skipped else f"articles ({skipped} already done)"
            task.append(bar.add_task(label, total=todo, failed=0, rate="-/s"))

        def on_record(record: dict[str, Any]) -> None:
            current = bar.tasks[0]
            failed = int(current.fields["failed"]) + (not record["ok"])
            speed = current.speed
            rate = f"{speed:.1f}/s" if speed else "-/s"
            bar.update(task[0], advance=1, failed=failed, rate=rate)

        yield on_start, on_record


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
