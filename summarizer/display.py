"""What a person sees on stderr while a long job runs: a progress bar and, with
``--verbose``, one log line per model call (model, tokens, latency; never the article)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

from summarizer.pipeline import CallRecord
from summarizer.pipeline import Progress as PipelineProgress


def call_logger(stream: TextIO | None = None) -> Callable[[CallRecord], None]:
    """A ``pipeline`` ``on_call`` hook that logs each call without its content."""
    out = stream or sys.stderr

    def log(record: CallRecord) -> None:
        response = record.response
        cost = "" if response.cost_usd is None else f" cost=${response.cost_usd:.6f}"
        print(
            f"call {record.task}{' (repair)' if record.repair else ''}: "
            f"in={response.usage.input_tokens} out={response.usage.output_tokens} tokens "
            f"latency={response.latency_s:.2f}s finish={response.finish_reason}{cost}",
            file=out,
            flush=True,
        )

    return log


@contextmanager
def progress_bar(*, enabled: bool) -> Iterator[Callable[[PipelineProgress], None] | None]:
    """A ``pipeline`` ``on_progress`` hook drawing a rich progress bar on stderr.

    Yields ``None`` (no hook) when disabled or when stderr is not a terminal, so logs and
    pipes stay clean. Single-call jobs never show a bar: there is nothing to follow.
    """
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(event: PipelineProgress) -> None:
            if event.total <= 1:
                return
            if event.phase not in tasks:
                tasks[event.phase] = bar.add_task(event.phase, total=event.total)
            bar.update(tasks[event.phase], completed=event.done)

        yield update
