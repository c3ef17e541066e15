"""The HTTP service behind ``summarize serve``: a ``Summarizer`` over JSON, with FastAPI.

Endpoints (the OpenAPI document is at ``/openapi.json``, browsable at ``/docs`` and
``/redoc``, served from installed files so they work offline)::

    POST /v1/summaries      {"text", "target_language", "model"?}  -> Summary
    POST /v1/translations   same body                              -> Translation
                            ?stream=true or Accept: text/event-stream -> server-sent events
    POST /v1/chat/completions  OpenAI's chat shape: model summarizer-<lang> or
                            translator-<lang>, the article as the last user message
                            (``server_openai``)
    GET  /v1/models         the models a caller may name, then the chat models
    GET  /healthz           liveness, version, default model, whether keys are needed
    GET  /                  a web page over these endpoints (``server_web``; no key)

A body's article is its ``text`` (HTML is extracted) or, with ``--allow-fetch``, a ``url``
the server fetches (``sources``: never a private address unless allowed).

Who may call and how much (``server_access``): with keys, every ``/v1`` request needs
``Authorization: Bearer <key>`` and stays within its key's requests per minute and tokens
per day; callers may name only the server's own models and the ``--allow-model`` patterns.
Refusals happen before the request's body is read or any model is called
(``server_limits``).

Every user mistake is a 4xx with one JSON shape (``ErrorBody``): bad JSON 400, no key or a
wrong one 401, a model this server will not run 403, an oversize body 413, a body that
does not validate, an unknown language, an empty article or one too long for the model
422, a spent limit 429. The model or provider failing is a 502, running out of time a 504,
with a stable body that never echoes the provider. A 500 means a bug. (The table is in
``server_errors``; the wire format in ``server_wire``.)

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
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing, asynccontextmanager, contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI, Query, Request, Security
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPBearer

from summarizer import __version__, backends
from summarizer.app import PreparedJob, Summarizer
from summarizer.events import ChunkDone
from summarizer.languages import normalize_language
from summarizer.schema import Summary, Translation
from summarizer.server_access import KeyRing, Limits, ModelPolicy, Quotas
from summarizer.server_docs import install_docs, is_public
from summarizer.server_errors import (
    install_error_handlers,
    request_timeout,
)
from summarizer.server_limits import BodyLimit, Guard
from summarizer.server_openai import chat_model_cards, install_chat_routes
from summarizer.server_stream import job_items
from summarizer.server_web import install_web, is_web_path
from summarizer.server_wire import (
    ERROR_RESPONSES,
    STREAM_DESCRIPTION,
    STREAM_SCHEMA,
    ArticleRequest,
    ErrorBody,
    Health,
    ModelCard,
    ModelList,
    StreamChunk,
    StreamStart,
    SummaryRequest,
    TranslationRequest,
    sse,
)
from summarizer.sources import FetchPolicy
from summarizer.tasks import Task

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_BODY_BYTES",
    "ErrorBody",
    "KeyRing",
    "Limits",
    "create_app",
]

DEFAULT_MAX_BODY_BYTES = 2_000_000
DEFAULT_CONCURRENCY = 4

T = TypeVar("T")


class Service:
    """What the endpoints share: the ``Summarizer``, the worker pool, the model policy and
    the callers' token budgets (``None`` without keys)."""

    def __init__(
        self,
        summarizer: Summarizer,
        *,
        concurrency: int,
        policy: ModelPolicy,
        quotas: Quotas | None,
        fetch: FetchPolicy,
    ) -> None:
        self.summarizer = summarizer
        self.fetch = fetch
        # One HTTP request, end to end: the same number as one model call's timeout.
        self.request_timeout = summarizer.settings.timeout
        self.policy = policy
        self.quotas = quotas
        self.executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="summarize")

    def choose_model(self, requested: str | None) -> str:
        """The model string to run for a request.

        Raises:
            ConfigError: ``requested`` is not a model string, or the server cannot use it
                (no API key for its provider).
            ModelNotAllowed: callers of this server may not name it.
        """
        if requested is None:
            return self.summarizer.model
        name = backends.model_name(requested)
        if not self.policy.allows(name):
            raise self.policy.refusal(requested)
        self.summarizer.check(name)
        return name

    def validate(self, task: Task, body: ArticleRequest) -> PreparedJob:
        """Everything about a request that can be wrong, checked before any model call: the
        language, then the model, then the article (the order the API has always used)."""
        language = normalize_language(body.target_language)
        model = self.choose_model(body.model)
        # The text (HTML extracted), or the page at the url when this server fetches.
        article = self.summarizer.read_given(text=body.text, url=body.url, fetch=self.fetch)
        return self.summarizer.prepare(
            task, article.text, lang=language, model=model, source=article.source
        )

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

    async def answer(
        self, task: Task, body: ArticleRequest, caller: str | None
    ) -> Summary | Translation:
        """``task`` on a request body, off the event loop, given up at the request timeout;
        its tokens charged to ``caller``."""
        cancel = threading.Event()

        def work() -> Summary | Translation:
            job = self.validate(task, body)
            with self.charging(caller, job) as record:
                result = self.summarizer.execute(job, cancel=cancel)
                record(result)
                return result

        return await self.run(work, cancel)

    @contextmanager
    def charging(
        self, caller: str | None, job: PreparedJob
    ) -> Iterator[Callable[[Summary | Translation], None]]:
        """Hold an estimate of ``job``'s tokens against ``caller``'s day while it runs; yield
        a function to record the result with, and charge what the model reported, or the
        estimate when there is no result (its calls may have cost tokens nothing reports).

        Raises:
            TokenBudgetSpent: the estimate does not fit what ``caller`` has left today.
        """
        if self.quotas is None or caller is None:
            yield lambda result: None
            return
        held = self.quotas.reserve(caller, job.text)
        spent = [held]

        def record(result: Summary | Translation) -> None:
            usage = result.meta.usage
            spent[0] = usage.input_tokens + usage.output_tokens

        try:
            yield record
        finally:
            self.quotas.settle(caller, held, spent[0])

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.summarizer.close()


def create_app(
    summarizer: Summarizer,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    concurrency: int = DEFAULT_CONCURRENCY,
    allowed_models: Sequence[str] = (),
    keys: KeyRing | None = None,
    limits: Limits | None = None,
    preload: bool = True,
    fetch: FetchPolicy | None = None,
) -> FastAPI:
    """The FastAPI application, serving ``summarizer``.

    Its settings decide the default model (for requests that name none) and its fallbacks,
    the API base (fixed by the server, never per request) and the timeout, which bounds
    each HTTP request end to end as well as each model call. The app closes ``summarizer``
    (its response cache) when it shuts down.

    Args:
        summarizer: the application layer every request runs on (tests give it a
            ``tests.fakes.FakeLLM`` client). Streamed chunks come in the article's order
            when it runs one chunk at a time (``concurrency=1``).
        max_body_bytes: largest request body accepted.
        concurrency: requests worked on at once (the embedded model still runs one
            generation at a time).
        allowed_models: models (or glob patterns) callers may name besides the server's
            default and fallbacks; nothing else.
        keys: the callers' API keys; ``None``: no authentication and no limits (the CLI
            then binds to loopback only).
        limits: per key; default ``Limits()`` (60 requests a minute, 1,000,000 tokens a
            day). Only with ``keys``.
        preload: load the default model at start-up (``Summarizer.warm_up``: an embedded
            model only), so the first request does not pay for it.
        fetch: whether requests may name a ``url`` and which addresses it may reach;
            default: no fetching (``url`` is 403 ``url_not_allowed``).

    Raises:
        ConfigError: the default model cannot be used (a missing file or API key).
    """
    summarizer.check()
    policy = ModelPolicy([summarizer.model, *summarizer.fallbacks], allowed_models)
    quotas = None if keys is None else Quotas(limits or Limits())
    fetch = fetch or FetchPolicy(enabled=False)
    service = Service(
        summarizer, concurrency=concurrency, policy=policy, quotas=quotas, fetch=fetch
    )
    app = _application(service, preload=preload)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    if keys is not None and quotas is not None:  # added last: runs first
        app.add_middleware(Guard, keys=keys, quotas=quotas, public=_is_public)
    install_error_handlers(app)
    # The key requirement in the OpenAPI document (and Swagger UI's Authorize button),
    # only where there is one: the Guard enforces it, this only describes it.
    secured = [Security(HTTPBearer(auto_error=False))] if keys is not None else []
    _add_service_routes(app, service, secured)
    _add_article_routes(app, service, secured)
    install_chat_routes(app, service, secured)
    return app


def _application(service: Service, *, preload: bool) -> FastAPI:
    """The bare FastAPI app: its description, its docs pages, and its lifespan (warm the
    default model up, close the service)."""
    summarizer = service.summarizer

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
        # FastAPI's own pages load their scripts from a CDN: server_docs serves them.
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    install_web(app)
    app.state.service = service
    return app


def _is_public(path: str) -> bool:
    """Needs no key: liveness, the docs pages, the OpenAPI document, and the web page and
    its files (the API calls the page makes still do)."""
    return path == "/healthz" or is_public(path) or is_web_path(path)


def _caller(request: Request) -> str | None:
    """The key name the Guard found for this request (``None`` without keys)."""
    return getattr(request.state, "caller", None)


def _add_service_routes(app: FastAPI, service: Service, secured: list[Any]) -> None:
    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Health:
        """Liveness: the server answers, with its version, default model, and whether
        requests need a key."""
        return Health(
            status="ok",
            version=__version__,
            default_model=service.summarizer.model,
            auth=service.quotas is not None,  # quotas exist exactly when keys do
        )

    @app.get(
        "/v1/models",
        response_model=ModelList,
        responses=ERROR_RESPONSES,
        tags=["service"],
        dependencies=secured,
        summary="List the models a caller may name",
    )
    async def list_models() -> ModelList:
        """The server's own models (its default first) and the patterns it allows: a
        request naming anything else gets a 403. Their ``owned_by`` is their provider.
        Then the chat models of ``/v1/chat/completions`` (``owned_by`` "summarizer"), which
        chat clients pick from this list."""
        default = service.summarizer.model
        cards = [
            ModelCard(
                id=name,
                owned_by=name.split("/", 1)[0] or "local",
                default=name == default,
                pattern=name not in service.policy.served,
            )
            for name in service.policy.listing()
        ]
        return ModelList(data=[*cards, *chat_model_cards(service.summarizer.language)])


def _add_article_routes(app: FastAPI, service: Service, secured: list[Any]) -> None:
    @app.post(
        "/v1/summaries",
        response_model=Summary,
        responses=ERROR_RESPONSES,
        tags=["articles"],
        dependencies=secured,
        summary="Summarize an article",
    )
    async def create_summary(body: SummaryRequest, request: Request) -> Summary:
        """A structured summary (title, summary, key points, entities, dates, quotes, meta):
        the JSON `summarize FILE --format json` prints."""
        summary = await service.answer(Task.SUMMARIZE, body, _caller(request))
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
        dependencies=secured,
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
        caller = _caller(request)
        if stream or "text/event-stream" in request.headers.get("accept", ""):

            def validate() -> PreparedJob:
                job = service.validate(Task.TRANSLATE, body)
                # A spent budget is a 429 now rather than an event in a 200 stream; the
                # tokens are held once the stream runs (one never read holds nothing).
                if service.quotas is not None and caller is not None:
                    service.quotas.reserve(caller, job.text, hold=False)
                return job

            # Validate first, so that bad input is a 4xx rather than an event in a 200 stream.
            job = await service.run(validate, threading.Event())
            return StreamingResponse(
                _translation_events(service, job, caller),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return await service.answer(Task.TRANSLATE, body, caller)


async def _translation_events(
    service: Service, job: PreparedJob, caller: str | None
) -> AsyncIterator[str]:
    """``start``, a ``chunk`` per accepted chunk, then ``done`` or ``error``; the job is
    cancelled once the stream ends, times out, or its client goes away."""
    start = StreamStart(
        source_language=job.source_language,
        target_language=job.target_language,
        model=job.model,
        paragraphs=job.paragraphs,
    )
    yield sse("start", start.model_dump())
    async with aclosing(job_items(service, job, caller)) as items:
        async for item in items:
            if isinstance(item, ChunkDone):
                chunk = StreamChunk(chunk=item.chunk, paragraphs=list(item.paragraphs))
                yield sse("chunk", chunk.model_dump())
            elif isinstance(item, ErrorBody):
                yield sse("error", item.model_dump(mode="json"))
            else:
                yield sse("done", item.model_dump(mode="json"))
