"""What a person sees on stderr while a long job runs: progress bars (the job's phases,
the answer being written) and, with ``--verbose``, one log line per model call (model,
tokens, latency; never the article)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from summarizer.events import Event
from summarizer.events import Progress as PipelineProgress
from summarizer.llm import Generation
from summarizer.structured import CallRecord


def call_logger(stream: TextIO | None = None) -> Callable[[CallRecord], None]:
    """Logs each call (a ``CallDone`` event's record) without its content."""
    out = stream or sys.stderr

    def log(record: CallRecord) -> None:
        response = record.response
        cost = "" if response.cost_usd is None else f" cost=${response.cost_usd:.6f}"
        line = (
            f"call {record.task}{' (repair)' if record.repair else ''}: "
            f"in={response.usage.input_tokens} out={response.usage.output_tokens} tokens "
            f"latency={response.latency_s:.2f}s finish={response.finish_reason}{cost}\n"
        )
        out.write(line)  # one write: calls running at once never interleave their lines
        out.flush()

    return log


class TerminalProgress:
    """Progress on stderr while a job runs: a bar per pipeline phase ("summarize" 3 of
    12) and, for a model that reports it (the embedded ones), the answer being written:
    tokens against the answer's budget and the decode rate.

    Draws nothing when disabled or when stderr is not a terminal, so logs and pipes stay
    clean. Use it as a context manager around the job and hand it the job's events
    (``on_event``); an event outside it is ignored.
    """

    def __init__(self, *, enabled: bool, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)
        self.enabled = enabled and self._console.is_terminal
        self._bar: Progress | None = None
        self._phases: dict[str, TaskID] = {}
        self._writing: TaskID | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> TerminalProgress:
        if self.enabled:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )
            self._bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.stop()

    def on_event(self, event: Event) -> None:
        """Draw what a job reports: its phases' progress, an answer being written."""
        if not self.enabled:
            return
        if isinstance(event, PipelineProgress):
            self._phase(event)
        elif isinstance(event, Generation):
            self._generation(event)

    def _phase(self, event: PipelineProgress) -> None:
        # Single-call jobs get no phase bar: there is nothing to follow.
        with self._lock:
            if self._bar is None or event.total <= 1:
                return
            if event.phase not in self._phases:
                self._phases[event.phase] = self._bar.add_task(
                    event.phase, total=event.total, detail=""
                )
            self._bar.update(self._phases[event.phase], completed=event.done)

    def _generation(self, event: Generation) -> None:
        with self._lock:
            if self._bar is None:
                return
            if self._writing is None:
                self._writing = self._bar.add_task("", total=event.budget, detail="")
            if event.done:
                self._bar.update(self._writing, visible=False)
                return
            rate = event.tokens_per_s
            detail = (
                "tokens, reading the prompt"
                if event.generated == 0
                else f"tokens, {rate:.1f} tok/s"
                if rate is not None
                else "tokens"
            )
            self._bar.update(
                self._writing,
                description=f"writing ({event.task})",
                completed=event.generated,
                total=event.budget,
                detail=detail,
                visible=True,
            )
