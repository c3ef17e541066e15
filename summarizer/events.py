"""What a running job reports while it works: typed events, one stream for every face.

The application layer (``app.Summarizer``) sends each to the ``on_event`` callback it was
given: the CLI draws progress bars and logs calls, the HTTP service streams translated
chunks, batch and eval ignore most of them. Events are sent from worker threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from summarizer.llm import Generation
from summarizer.structured import CallRecord
from summarizer.tasks import Task


@dataclass(frozen=True)
class Progress:
    """After each unit of work: phase "summarize" 3 of 12, "translate" 5 of 40..."""

    phase: str
    done: int
    total: int


@dataclass(frozen=True)
class CallDone:
    """One model call finished (a re-ask is a call of its own)."""

    record: CallRecord


@dataclass(frozen=True)
class ChunkDone:
    """A chunk's answer was accepted. For a translation, ``paragraphs`` are its translated
    paragraphs (or the pieces of one paragraph too long for one call), in order.

    Chunks running concurrently finish in any order: ``index`` is the chunk's place in
    the article (0-based), ``chunk`` the order of acceptance (1, 2, 3...)."""

    task: Task
    chunk: int
    index: int
    paragraphs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Notice:
    """Something a person should know, though the job goes on: a retry, a fallback."""

    text: str


Event = Progress | CallDone | ChunkDone | Notice | Generation
OnEvent = Callable[[Event], None]

__all__ = ["CallDone", "ChunkDone", "Event", "Generation", "Notice", "OnEvent", "Progress"]
