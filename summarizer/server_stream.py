"""A job run on the service's worker pool as an async stream of what it produces: each
translated chunk as it is accepted, then the answer or the error (a timeout included).

The translation stream (``server``, Server-Sent Events) and the chat stream
(``server_openai``, OpenAI's chunks) are two renderings of these items; the queue, the
deadline and the cancellation live here once. The job is cancelled once its stream ends,
times out, or its client goes away (consumers close it with ``contextlib.aclosing``, so
that happens when the response is closed, not when the generator is collected).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Executor
from contextlib import AbstractContextManager
from typing import Protocol

from summarizer.app import Cancelled, PreparedJob, Summarizer
from summarizer.errors import SummarizerError
from summarizer.events import ChunkDone, Event
from summarizer.schema import Summary, Translation
from summarizer.server_errors import body_for, internal_error, request_timeout
from summarizer.server_wire import ErrorBody
from summarizer.tasks import Task

log = logging.getLogger("summarizer.server")

# A translated chunk, then the answer or an error, which ends the stream.
StreamItem = ChunkDone | Summary | Translation | ErrorBody


class JobRunner(Protocol):
    """What a stream uses of ``server.Service``."""

    @property
    def summarizer(self) -> Summarizer: ...
    @property
    def request_timeout(self) -> float: ...
    @property
    def executor(self) -> Executor: ...

    def charging(
        self, caller: str | None, job: PreparedJob
    ) -> AbstractContextManager[Callable[[Summary | Translation], None]]: ...


async def job_items(
    service: JobRunner, job: PreparedJob, caller: str | None
) -> AsyncGenerator[StreamItem, None]:
    """``job``'s translated chunks, then its answer or error; it starts on the first
    ``anext`` and has ``service.request_timeout`` from then to finish."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[StreamItem] = asyncio.Queue()
    cancel = threading.Event()

    def put(item: StreamItem) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    deadline = loop.time() + service.request_timeout
    loop.run_in_executor(service.executor, _run, service, (job, caller), put, cancel)
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), deadline - loop.time())
            except asyncio.TimeoutError:
                item = body_for(request_timeout(service.request_timeout))[1]
            yield item
            if not isinstance(item, ChunkDone):
                return
    finally:
        # Finished, timed out, or the client went away: stop before the next model call.
        cancel.set()


def _run(
    service: JobRunner,
    request: tuple[PreparedJob, str | None],
    put: Callable[[StreamItem], None],
    cancel: threading.Event,
) -> None:
    """Run a job in a worker, putting its translated chunks, then its answer or error."""
    job, caller = request

    def on_event(event: Event) -> None:
        if isinstance(event, ChunkDone) and event.task is Task.TRANSLATE:
            put(event)

    try:
        with service.charging(caller, job) as record:
            result = service.summarizer.execute(job, on_event=on_event, cancel=cancel)
            record(result)
        put(result)
    except Cancelled:
        pass
    except SummarizerError as exc:
        put(body_for(exc)[1])
    except Exception as exc:  # a bug: say so in the stream, as a 500 would
        log.exception("stream failed")
        put(internal_error(exc))
