"""Many articles in one run (``summarize batch INPUTS... --out results.jsonl``): a thin face
over one ``Summarizer``.

* Inputs are files, folders (their ``.txt``/``.md`` files, recursively), glob patterns and
  web pages' URLs (given as inputs or in a ``--urls`` file; ``batch_inputs``); each is read
  as ``summarize`` reads it (``sources``: HTML extracted, URLs fetched within limits).
* Models that take parallel requests run ``concurrency`` articles at once on worker
  threads, spread over forked worker processes when there are more than
  ``THREADS_PER_PROCESS`` of them (``batch_engine``). A model that does not (an embedded
  llama.cpp model) runs one article at a time in one process.
* One JSON line per article is appended as soon as it completes, by one writer, each in one
  ``write``, fsynced before it is counted: ``{"input": ..., "ok": true, "result": {...}}``
  or ``{"input": ..., "ok": false, "error": {...}}`` (``batch_results``).
* Each line also records the run's settings: task, target language, model (the
  configured one, whichever fallback answered) and a hash of the prompt templates.
* Re-running with the same ``--out`` skips inputs that already have a line, so a run
  killed part-way resumes where it stopped. A torn last line (a crash mid-write) is cut
  off before appending; anything else that does not parse stops the run rather than
  being silently dropped. A file made with other settings (another ``--lang``,
  ``--translate``, model or ``--prompts-dir``) stops the run before any article, so
  results are never mixed; ``--redo`` empties it and runs every input.

Every article is ``Summarizer.run``: the Summarizer chooses and builds the client, and
answers from its response cache (``meta.cached``); batch builds no client.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from summarizer import backends
from summarizer.batch_engine import THREADS_PER_PROCESS, Engine, Groups, can_fork
from summarizer.batch_inputs import ARTICLE_SUFFIXES, find_inputs, input_key
from summarizer.batch_results import (
    Record,
    ResultsWriter,
    check_settings,
    drop_failures,
    error_record,
    load_results,
)
from summarizer.errors import UsageError
from summarizer.sources import FetchPolicy
from summarizer.tasks import Task

if TYPE_CHECKING:
    from summarizer.app import Summarizer
    from summarizer.batch_ray import RayEngine

__all__ = [
    "ARTICLE_SUFFIXES",
    "THREADS_PER_PROCESS",
    "BatchJob",
    "OnRecord",
    "OnStart",
    "Tally",
    "can_fork",
    "error_record",
    "find_inputs",
    "input_key",
    "load_results",
    "progress_display",
    "run_batch",
    "worker_processes",
]

# Told (inputs to run, inputs skipped) before the first article; told each record once
# it is written.
OnStart = Callable[[int, int], None]
OnRecord = Callable[[Record], None]


@dataclass(frozen=True)
class BatchJob:
    """What to do with every input; the model and every other setting are the
    Summarizer's."""

    task: Task
    target_language: str | None = None  # None: the Summarizer's configured language
    concurrency: int = 8  # articles in flight at once, for models that allow it
    retry_failed: bool = False
    processes: int | None = None  # worker processes; None: worker_processes() decides
    redo: bool = False  # discard the results already in the file and run every input
    urls: Path | None = None  # a file of URLs, one per line, added to the inputs
    fetch: FetchPolicy = field(default_factory=FetchPolicy)  # which URLs may be fetched
    # Run on Ray (batch_ray): "local" starts an instance, else a cluster's address.
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.redo and self.retry_failed:
            raise UsageError(
                "--redo and --retry-failed cannot be used together: --redo runs every input again.",
                hint="Pass --retry-failed to keep the results that succeeded, or --redo to "
                "discard them all.",
            )
        if self.processes is not None and self.ray_address is not None:
            raise UsageError(
                "--processes and --ray cannot be used together: --processes sets the local "
                "engine's worker processes, and on Ray its actors run the articles.",
                hint="Drop --processes; with --ray, --concurrency is the whole cluster's "
                "requests in flight.",
            )
        if self.ray_address is not None:
            from summarizer.batch_ray import check_address

            check_address(self.ray_address)  # no Ray needed: a typo fails before any work


def worker_processes(job: BatchJob, *, parallel: bool) -> int:
    """How many processes share ``job.concurrency``: one per ``THREADS_PER_PROCESS``
    requests in flight, at most one per core; always one for a model that is not
    ``parallel`` (one llama.cpp context) and where processes cannot be forked (Windows,
    macOS)."""
    if not parallel or not can_fork():
        return 1
    if job.processes is not None:
        return max(1, min(job.processes, job.concurrency))
    wanted = -(-job.concurrency // THREADS_PER_PROCESS)
    return max(1, min(wanted, os.cpu_count() or 1))


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

    def add(self, record: Record) -> None:
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


@dataclass(frozen=True)
class _Worker:
    """One input file in, its results line out: what every engine thread runs. Forked
    worker processes inherit it, and with it the Summarizer and its client."""

    summarizer: Summarizer
    task: Task
    target_language: str
    fetch: FetchPolicy
    settings: dict[str, str]  # what every line records of the run (batch_results.SETTINGS)

    @classmethod
    def for_job(cls, job: BatchJob, summarizer: Summarizer) -> _Worker:
        """Raises ``UsageError`` for an unknown language."""
        from summarizer.languages import normalize_language
        from summarizer.prompts import templates_sha256

        # The Summarizer's own language is already a checked code.
        language = (
            summarizer.language
            if job.target_language is None
            else normalize_language(job.target_language)
        )
        settings = {
            "task": job.task.value,
            "target_language": language,
            "model": summarizer.model,  # the configured model, not a fallback that answered
            "prompts_sha256": templates_sha256(summarizer.settings.prompts_dir),
        }
        return cls(summarizer, job.task, language, job.fetch, settings)

    def rebuild(self) -> Callable[[Summarizer], _Worker]:
        """This worker around another Summarizer (a Ray actor's own), picklable: the
        Summarizer itself, with its client and cache, cannot travel."""
        return functools.partial(
            _Worker,
            task=self.task,
            target_language=self.target_language,
            fetch=self.fetch,
            settings=self.settings,
        )

    def process(self, spec: str) -> Record:
        record: Record = {"input": spec, **self.settings}
        try:
            article = self.summarizer.read(spec, fetch=self.fetch)
            result = self.summarizer.run(
                self.task, article.text, lang=self.target_language, source=article.source
            )
            record.update(ok=True, result=result.model_dump(mode="json"))
        except Exception as exc:  # one article's failure is a line, not the end of the run
            record.update(ok=False, error=error_record(exc))
        return record


def run_batch(
    patterns: Sequence[str],
    out: Path,
    job: BatchJob,
    *,
    summarizer: Summarizer,
    on_start: OnStart | None = None,
    on_record: OnRecord | None = None,
    tally: Tally | None = None,
) -> Tally:
    """Run ``job`` with ``summarizer`` on every input not yet in ``out``, appending one line
    per article.

    Args:
        patterns: files, folders and globs.
        out: the JSON Lines results file; created, or resumed when it exists (emptied
            first with ``job.redo``).
        job: task, language, concurrency, retry_failed, redo, processes.
        summarizer: does every article (its model, client, cache and settings). It is
            checked here (``Summarizer.check``) before any worker process is forked, so the
            workers inherit its built client. Its own ``concurrency`` (chunks of one article
            at once) multiplies ``job.concurrency``.
        on_start: called with (inputs to run, inputs skipped) before the first article.
        on_record: called with each record once it is written (progress display).
        tally: filled in as the run goes (so a caller still has it after Ctrl-C).

    Returns:
        The tally. On Ctrl-C every finished line is already written; the exception
        propagates after ``tally.interrupted`` is set.

    Raises:
        UsageError: an unknown language, another batch is writing to ``out``, ``out``
            holds results made with another task, language, model or prompt templates
            (and ``job.redo`` is not set), or ``job`` sets both redo and retry_failed.
        InputError: an input pattern matches nothing, or ``out`` holds a corrupt line.
        ConfigError: the model cannot be used (``Summarizer.check``), or ``job.ray_address``
            is set and Ray is not installed or its cluster cannot be reached.
    """
    worker = _Worker.for_job(job, summarizer)  # an unknown language fails first
    # A typo fails before the model's check.
    paths = find_inputs(patterns, exclude=[out], urls=job.urls)
    summarizer.check()  # builds the client now: forked workers inherit it
    # One llama.cpp context serves one request at a time: parallel articles only queue.
    parallel = backends.traits(summarizer.connection()).parallel
    tally = tally if tally is not None else Tally()
    writer, todo = _open_results(out, paths, job, worker.settings, tally)
    tally.total = len(paths)  # after: a file that cannot be resumed has no tally to show
    try:
        groups = _engine(job, worker, parallel, writer).run(todo)
        _record_all(groups, writer, tally, len(todo), (on_start, on_record))
    finally:
        with contextlib.suppress(OSError):
            writer.close()
    return tally


def _engine(
    job: BatchJob, worker: _Worker, parallel: bool, writer: ResultsWriter
) -> Engine | RayEngine:
    """The local engine, or Ray's (``job.ray_address``) with the same contract."""
    if job.ray_address is not None:
        from summarizer.batch_ray import RayEngine

        return RayEngine(
            worker.rebuild(),
            worker.summarizer.settings,
            address=job.ray_address,
            concurrency=job.concurrency,
            parallel=parallel,
        )
    return Engine(
        worker.process,
        concurrency=job.concurrency if parallel else 1,
        processes=worker_processes(job, parallel=parallel),
        keep_closed=(writer.fileno(),),
    )


def _open_results(
    out: Path,
    paths: Sequence[str],
    job: BatchJob,
    settings: dict[str, str],
    tally: Tally,
) -> tuple[ResultsWriter, list[str]]:
    """The locked writer of ``out`` and the paths it has no line for yet; sets the tally's
    ``repaired`` and ``skipped``.

    Raises:
        UsageError: another run holds the lock, or ``out`` holds lines made with other
            ``settings`` (``job.redo`` empties it first).
        InputError: ``out`` holds a line that is not a result.
    """
    writer = ResultsWriter(out)  # locks first: no other run may repair or append meanwhile
    try:
        # Read even for a redo: only a results file is ever emptied, not a file named by
        # mistake.
        records, tally.repaired = load_results(out)
        if job.redo:
            writer.discard()
            records, tally.repaired = [], False
        check_settings(out, records, settings)
        if job.retry_failed:
            records = drop_failures(out, records)
            writer.close()
            writer = ResultsWriter(out)  # the rewrite replaced the file we had open
    except BaseException:
        with contextlib.suppress(OSError):
            writer.close()
        raise
    finished = {input_key(r["input"]) for r in records}
    todo = [p for p in paths if input_key(p) not in finished]
    tally.skipped = len(paths) - len(todo)
    return writer, todo


def _record_all(
    groups: Groups,
    writer: ResultsWriter,
    tally: Tally,
    todo: int,
    hooks: tuple[OnStart | None, OnRecord | None],
) -> None:
    """Write every group of records as it comes, count it, and tell the hooks."""
    on_start, on_record = hooks
    try:
        # Workers start (fork) before on_start: no display thread runs when they fork.
        next(groups)
        if on_start is not None:
            on_start(todo, tally.skipped)
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


@contextlib.contextmanager
def progress_display(*, enabled: bool) -> Iterator[tuple[OnStart, OnRecord]]:
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

    def on_record(record: Record) -> None:
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
