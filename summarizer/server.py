"""The HTTP service behind ``summarize serve``: a ``Summarizer`` over JSON, with FastAPI.

Endpoints (the OpenAPI document is at ``/openapi.json``, browsable at ``/docs``)::

    POST /v1/summaries      {"text", "target_language", "model"?}  -> Summary
    POST /v1/translations   same body                              -> Translation
                            ?stream=true or Accept: text/event-stream -> server-sent events
    GET  /healthz           liveness, version and default model

Every user mistake is a 4xx with one JSON shape (``ErrorBody``): bad JSON 400, a model this
server will not run 403, an oversize body 413, a body that does not validate, an unknown
language, an empty article or one too long for the model 422. The model or provider
failing is a 502, running out of time a 504. A 500 means a bug. (The table is in
``server_errors``; the wire format in ``server_wire``; the size limit in ``server_limits``.)

This module is a face over the application layer: the ``Summarizer`` it is given builds
the model clients, checks models, owns the response cache and runs the pipeline. The
pipeline is synchronous (llama.cpp and litellm's sync client), so each request runs in a
bounded thread pool; the embedded model is loaded once per process (at start-up, by
``Summarizer.warm_up``) and serialises its own calls. A request that runs past its timeout
gets a 504 at once; its job is cancelled, so it stops before its next model call, since a
call already running cannot be interrupted.

With a response cache (``summarize serve`` opens the user's, unless ``--no-cache``), a
request the server, the CLI or a batch run has answered before is served from it and its
``meta.cached`` is true.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.responses import StreamingResponse

from summarizer import __version__, backends
from summarizer.app import Cancelled, PreparedJob, Summarizer
from summarizer.errors import SummarizerError
from summarizer.events import ChunkDone, Event
from summarizer.languages import normalize_language
from summarizer.schema import Summary, Translation
from summarizer.server_errors import (
    ModelNotAllowed,
    body_for,
    install_error_handlers,
    internal_error,
    request_timeout,
)
from summarizer.server_limits import BodyLimit
from summarizer.server_wire import (
    ERROR_RESPONSES,
    STREAM_DESCRIPTION,
    STREAM_SCHEMA,
    ArticleRequest,
    ErrorBody,
    Health,
    StreamChunk,
    StreamStart,
    SummaryRequest,
    TranslationRequest,
    sse,
)
from summarizer.tasks import Task

__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_MAX_BODY_BYTES", "ErrorBody", "create_app"]

DEFAULT_MAX_BODY_BYTES = 2_000_000
DEFAULT_CONCURRENCY = 4

T = TypeVar("T")


class Service:
    """What the endpoints share: the ``Summarizer``, the worker pool, the limits."""

    def __init__(
        self, summarizer: Summarizer, *, concurrency: int, allowed_models: Collection[str] | None
    ) -> None:
        self.summarizer = summarizer
        # One HTTP request, end to end: the same number as one model call's timeout.
        self.request_timeout = summarizer.settings.timeout
        self.allowed = (
            None if allowed_models is None else {backends.model_name(m) for m in allowed_models}
        )
        self.executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="summarize")

    def choose_model(self, requested: str | None) -> str:
        """The model string to run for a request.

        Raises:
            ConfigError: ``requested`` is not a usable model string.
            ModelNotAllowed: this server does not run it.
        """
        default = self.summarizer.model
        if requested is None:
            return default
        name = backends.model_name(requested)
        if name == default:
            return name
        if self.allowed is not None and name not in self.allowed:
            raise ModelNotAllowed(
                f"This server does not run {requested!r}.",
                hint="Leave model out for the default, "
                f"{default}, or use one of: {', '.join(sorted(self.allowed))}.",
            )
        # A .gguf path would let any client make the server open files of its choosing.
        if self.allowed is None and backends.names_model_file(requested):
            raise ModelNotAllowed(
                "Model files cannot be chosen over HTTP.",
                hint="Use a bundled model (smollm2, gemma3), a provider model, or start the "
                "server with --model PATH.gguf to make it the default.",
            )
        self.summarizer.check(name)
        return name

    def validate(self, task: Task, body: ArticleRequest) -> PreparedJob:
        """Everything about a request that can be wrong, checked before any model call: the
        language, then the model, then the article (the order the API has always used)."""
        language = normalize_language(body.target_language)
        model = self.choose_model(body.model)
        return self.summarizer.prepare(task, body.text, lang=language, model=model)

    async def run(self, work: Callable[[], T], cancel: threading.Event) -> T:
        """``work()`` in the pool, within the request timeout; ``cancel`` is set when it
        returns, fails or runs out of time."""
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self.executor, work), self.request_timeout
            )
        except asyncio.TimeoutError:
            raise request_timeout(self.request_timeout) from None
        finally:
            cancel.set()

    async def answer(self, task: Task, body: ArticleRequest) -> Summary | Translation:
        """``task`` on a request body, off the event loop, given up at the request timeout."""
        cancel = threading.Event()

        def work() -> Summary | Translation:
            return self.summarizer.execute(self.validate(task, body), cancel=cancel)

        return await self.run(work, cancel)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.summarizer.close()


def create_app(
    summarizer: Summarizer,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    concurrency: int = DEFAULT_CONCURRENCY,
    allowed_models: Collection[str] | None = None,
    preload: bool = True,
) -> FastAPI:
    """The FastAPI application, serving ``summarizer``.

    Its settings decide the default model (for requests that name none), the API base
    (fixed by the server, never per request) and the timeout, which bounds each HTTP
    request end to end as well as each model call. The app closes ``summarizer`` (its
    response cache) when it shuts down.

    Args:
        summarizer: the application layer every request runs on (tests give it a
            ``tests.fakes.FakeLLM`` client). Streamed chunks come in the article's order
            when it runs one chunk at a time (``concurrency=1``).
        max_body_bytes: largest request body accepted.
        concurrency: requests worked on at once (the embedded model still runs one
            generation at a time).
        allowed_models: if given, the only models requests may name besides the default.
        preload: load the default model at start-up (``Summarizer.warm_up``: an embedded
            model only), so the first request does not pay for it.

    Raises:
        ConfigError: the default model cannot be used (a missing file or API key).
    """
    summarizer.check()
    service = Service(summarizer, concurrency=concurrency, allowed_models=allowed_models)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if preload:
            await asyncio.get_running_loop().run_in_executor(None, summarizer.warm_up)
        yield
        service.close()

    app = FastAPI(
        title="summarizer",
        version=__version__,
        description="Structured summaries and full translations of news articles, in the "
        "language you read, with any LLM. The same JSON as `summarize --format json`.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    install_error_handlers(app)
    _add_routes(app, service)
    return app


def _add_routes(app: FastAPI, service: Service) -> None:
    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Health:
        """Liveness: the server answers, with its version and default model."""
        return Health(status="ok", version=__version__, default_model=service.summarizer.model)

    @app.post(
        "/v1/summaries",
        response_model=Summary,
        responses=ERROR_RESPONSES,
        tags=["articles"],
        summary="Summarize an article",
    )
    async def create_summary(body: SummaryRequest) -> Summary:
        """A structured summary (title, summary, key points, entities, dates, quotes, meta):
        the JSON `summarize FILE --format json` prints."""
        summary = await service.answer(Task.SUMMARIZE, body)
        assert isinstance(summary, Summary)
        return summary

    @app.post(
        "/v1/translations",
        response_model=Translation,
        responses={
            200: {
                "description": STREAM_DESCRIPTION,
                "content": {"text/event-stream": {"schema": STREAM_SCHEMA}},
            },
            **ERROR_RESPONSES,
        },
        tags=["articles"],
        summary="Translate an article",
    )
    async def create_translation(
        body: TranslationRequest,
        request: Request,
        stream: Annotated[
            bool,
            Query(description="Stream server-sent events (same as Accept: text/event-stream)."),
        ] = False,
    ) -> Any:
        """A full, paragraph-preserving translation: the JSON `summarize translate --format
        json` prints, or a stream of events."""
        if stream or "text/event-stream" in request.headers.get("accept", ""):
            # Validate first, so that bad input is a 4xx rather than an event in a 200 stream.
            job = await service.run(
                lambda: service.validate(Task.TRANSLATE, body), threading.Event()
            )
            return StreamingResponse(
                _translation_events(service, job),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return await service.answer(Task.TRANSLATE, body)


async def _translation_events(service: Service, job: PreparedJob) -> AsyncIterator[str]:
    """``start``, a ``chunk`` per accepted chunk, then ``done`` or ``error``; the job is
    cancelled once the stream ends, times out, or its client goes away."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancel = threading.Event()

    def emit(event: str, data: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (event, data))

    start = StreamStart(
        source_language=job.source_language,
        target_language=job.target_language,
        model=job.model,
        paragraphs=job.paragraphs,
    )
    yield sse("start", start.model_dump())
    deadline = loop.time() + service.request_timeout
    loop.run_in_executor(service.executor, _translate, service.summarizer, job, emit, cancel)
    try:
        while True:
            try:
                event, data = await asyncio.wait_for(queue.get(), deadline - loop.time())
            except asyncio.TimeoutError:
                _, body = body_for(request_timeout(service.request_timeout))
                yield sse("error", body.model_dump(mode="json"))
                return
            yield sse(event, data)
            if event in ("done", "error"):
                return
    finally:
        # Finished, timed out, or the client went away: stop before the next model call.
        cancel.set()


def _translate(
    summarizer: Summarizer,
    job: PreparedJob,
    emit: Callable[[str, Any], None],
    cancel: threading.Event,
) -> None:
    """Run a translation in a worker, emitting its stream events (all but ``start``)."""

    def on_event(event: Event) -> None:
        if isinstance(event, ChunkDone) and event.task is Task.TRANSLATE:
            chunk = StreamChunk(chunk=event.chunk, paragraphs=list(event.paragraphs))
            emit("chunk", chunk.model_dump())

    try:
        result = summarizer.execute(job, on_event=on_event, cancel=cancel)
        emit("done", result.model_dump(mode="json"))
    except Cancelled:
        pass
    except SummarizerError as exc:
        emit("error", body_for(exc)[1].model_dump(mode="json"))
    except Exception as exc:  # a bug: say so in the stream, as a 500 would
        emit("error", internal_error(exc).model_dump(mode="json"))
