"""The HTTP service behind ``summarize serve``: the library over JSON, with FastAPI.

Endpoints (the OpenAPI document is at ``/openapi.json``, browsable at ``/docs``)::

    POST /v1/summaries      {"text", "target_language", "model"?}  -> Summary
    POST /v1/translations   same body                              -> Translation
                            ?stream=true or Accept: text/event-stream -> server-sent events
    GET  /healthz           liveness, version and default model

Every user mistake is a 4xx with one JSON shape (``ErrorBody``): bad JSON 400, a model this
server will not run 403, an oversize body 413, a body that does not validate, an unknown
language, an empty article or one too long for the model 422. The model or provider
failing is a 502, running out of time a 504. A 500 means a bug.

The pipeline is synchronous (llama.cpp and litellm's sync client), so each request runs
in a bounded thread pool; the embedded model is loaded once per process (``local.py``
caches it, and the app loads the default one at start-up) and serialises its own calls.
A request that runs past its timeout gets a 504 at once; its worker stops before its
next model call, since a call already running cannot be interrupted.

With a response cache (``summarize serve`` opens the user's, unless ``--no-cache``), a
request the server, the CLI or a batch run has answered before is served from it and its
``meta.cached`` is true.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from summarizer import __version__, pipeline
from summarizer.cache import ResponseCache, caching_client, mark_cached
from summarizer.errors import (
    ConfigError,
    ContextOverflowError,
    InputError,
    ModelOutputError,
    ProviderError,
    SummarizerError,
    TemplateError,
    UsageError,
)
from summarizer.languages import normalize_language
from summarizer.llm import ChatRequest, ChatResponse, LLMClient
from summarizer.models import ModelRef, parse_model
from summarizer.schema import Summary, Translation, TranslationDraft

DEFAULT_MAX_BODY_BYTES = 2_000_000
DEFAULT_REQUEST_TIMEOUT = 600.0
DEFAULT_CONCURRENCY = 4


# -- the wire format ----------------------------------------------------------------------


class _ArticleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        description="The article as plain text; paragraphs separated by blank lines. Site "
        "datelines and read-also lines are removed before the model sees it.",
        examples=["Perundingan damai putaran ketiga ... berakhir 'tanpa kemajuan'."],
    )
    target_language: str = Field(
        default="en",
        min_length=1,
        max_length=64,
        description="Language of the output: an ISO 639-1 code (en, id, fr...), a code with "
        "a region (pt-BR) or an English language name.",
        examples=["en"],
    )
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        pattern=r"^\S+$",
        description="A litellm model string (openai/gpt-4o-mini, ollama/qwen2.5:7b) or a "
        "bundled model (smollm2, gemma3). Omitted: the server's default model.",
        examples=["smollm2"],
    )


class SummaryRequest(_ArticleRequest):
    """Summarize ``text`` in ``target_language``."""


class TranslationRequest(_ArticleRequest):
    """Translate ``text`` into ``target_language``, paragraph by paragraph."""


class ErrorDetail(BaseModel):
    field: str = Field(description="Where in the request, e.g. text or target_language.")
    message: str


class ErrorBody(BaseModel):
    """Every error response: what went wrong and how to fix it."""

    error: str = Field(description="Machine-readable kind, e.g. invalid_json, unknown_language.")
    message: str
    hint: str | None = None
    details: list[ErrorDetail] = Field(default_factory=list)


_JSON_HINT = (
    'Send a JSON object such as {"text": "<the article>", "target_language": "en"}'
    ' ("model" is optional).'
)


class StreamStart(BaseModel):
    """The first event of a streamed translation."""

    source_language: str
    target_language: str
    model: str
    paragraphs: int = Field(description="Paragraphs in the cleaned article.")


class StreamChunk(BaseModel):
    """One translated chunk: its paragraphs (or pieces of one long paragraph), in order."""

    chunk: int = Field(description="1, 2, 3... in the order the chunks were translated.")
    paragraphs: list[str]


def _event_schema(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": name},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": data,
            },
        },
    }


# Each server-sent event, as OpenAPI 3.1 describes an event stream without itemSchema.
_STREAM_SCHEMA: dict[str, Any] = {
    "oneOf": [
        _event_schema("start", StreamStart.model_json_schema()),
        _event_schema("chunk", StreamChunk.model_json_schema()),
        _event_schema("done", {"$ref": "#/components/schemas/Translation"}),
        _event_schema("error", {"$ref": "#/components/schemas/ErrorBody"}),
    ]
}


class Health(BaseModel):
    status: str
    version: str
    default_model: str


_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed JSON, or an unusable model string."},
    403: {"model": ErrorBody, "description": "A model this server does not run."},
    413: {"model": ErrorBody, "description": "The request body is larger than the limit."},
    415: {"model": ErrorBody, "description": "The body is not application/json."},
    422: {
        "model": ErrorBody,
        "description": "The body does not validate: empty article, unknown language, an "
        "article too long for the model...",
    },
    500: {"model": ErrorBody, "description": "A bug in the server."},
    502: {"model": ErrorBody, "description": "The model or its provider failed."},
    504: {"model": ErrorBody, "description": "The request ran past the server's timeout."},
}

# SummarizerError subclasses, most specific first, to (HTTP status, error kind).
_STATUS: list[tuple[type[SummarizerError], int, str]] = [
    (UsageError, 422, "invalid_request"),
    (InputError, 422, "invalid_input"),
    (ContextOverflowError, 422, "context_overflow"),
    (ConfigError, 400, "invalid_model"),
    (TemplateError, 500, "template_error"),
    (ModelOutputError, 502, "model_output_error"),
    (ProviderError, 502, "provider_error"),
]


class RequestTimeout(SummarizerError):
    """The request ran past the server's per-request timeout (HTTP 504)."""


class ModelNotAllowed(SummarizerError):
    """The request names a model this server will not run (HTTP 403)."""


class _Abandoned(Exception):
    """Raised in a worker whose request timed out or whose client went away."""


def error_status(exc: SummarizerError) -> tuple[int, str]:
    """The HTTP status and error kind for one of our errors."""
    if isinstance(exc, RequestTimeout):
        return 504, "timeout"
    if isinstance(exc, ModelNotAllowed):
        return 403, "model_not_allowed"
    if isinstance(exc, UsageError) and exc.message.startswith("Unknown language"):
        return 422, "unknown_language"
    if isinstance(exc, ProviderError) and "Timeout" in type(exc.__cause__).__name__:
        return 504, "provider_timeout"
    for kind, status, name in _STATUS:
        if isinstance(exc, kind):
            return status, name
    return 500, "internal_error"


def _error_json(
    status: int, body: ErrorBody, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _body_for(exc: SummarizerError) -> tuple[int, ErrorBody]:
    status, kind = error_status(exc)
    return status, ErrorBody(error=kind, message=exc.message, hint=exc.hint)


# -- request size ---------------------------------------------------------------------------


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with a 413.

    The body is read here, up to the limit, before the app sees any of it, so a large
    upload cannot reach the JSON parser; ``Content-Length`` lets it refuse without reading.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body"))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # after the body: disconnect notices, for streaming

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = ErrorBody(
            error="body_too_large",
            message=f"The request body is larger than {self.max_bytes} bytes.",
            hint="Send a shorter article, or start the server with a larger --max-body-bytes.",
        )
        payload = body.model_dump_json().encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


# -- the service ----------------------------------------------------------------------------


class _RequestClient:
    """The shared client as one request sees it: stops the request's worker before its next
    model call once the request is abandoned, and reports each answer (for streaming)."""

    def __init__(
        self,
        inner: LLMClient,
        abandoned: threading.Event,
        on_answer: Callable[[ChatRequest, ChatResponse], None] | None = None,
    ) -> None:
        self.inner = inner
        self.abandoned = abandoned
        self.on_answer = on_answer

    def complete(self, request: ChatRequest) -> ChatResponse:
        if self.abandoned.is_set():
            raise _Abandoned()
        response = self.inner.complete(request)
        if self.on_answer is not None:
            self.on_answer(request, response)
        return response

    def count_tokens(self, model: str, text: str) -> int:
        return self.inner.count_tokens(model, text)

    def context_window(self, model: str) -> int:
        return self.inner.context_window(model)


@dataclass(frozen=True)
class _Job:
    text: str
    target_language: str
    model: str
    paragraphs: int
    source_language: str


class Service:
    """What the endpoints share: the client, the default model, the worker pool, limits."""

    def __init__(
        self,
        client: LLMClient,
        *,
        default_model: ModelRef,
        request_timeout: float,
        concurrency: int,
        allowed_models: Collection[str] | None,
        cache: ResponseCache | None = None,
        api_base: str | None = None,
    ) -> None:
        self.client = client
        self.cache = cache
        self.api_base = api_base
        self.default_model = default_model
        self.request_timeout = request_timeout
        self.allowed = (
            None if allowed_models is None else {parse_model(m).name for m in allowed_models}
        )
        self.executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="summarize")

    def choose_model(self, requested: str | None) -> str:
        """The model string to run for a request.

        Raises:
            ConfigError: ``requested`` is not a usable model string.
            ModelNotAllowed: this server does not run it.
        """
        if requested is None:
            return self.default_model.name
        ref = parse_model(requested)
        if ref.name == self.default_model.name:
            return ref.name
        if self.allowed is not None and ref.name not in self.allowed:
            raise ModelNotAllowed(
                f"This server does not run {requested!r}.",
                hint="Leave model out for the default, "
                f"{self.default_model.name}, or use one of: {', '.join(sorted(self.allowed))}.",
            )
        # A .gguf path would let any client make the server open files of its choosing.
        if self.allowed is None and ref.is_local and not ref.is_bundled:
            raise ModelNotAllowed(
                "Model files cannot be chosen over HTTP.",
                hint="Use a bundled model (smollm2, gemma3), a provider model, or start the "
                "server with --model PATH.gguf to make it the default.",
            )
        check = getattr(self.client, "check_model", None)
        if callable(check):
            check(ref.name)
        return ref.name

    def validate(self, body: _ArticleRequest) -> _Job:
        """Everything about a request that can be wrong, checked before any model call."""
        target = normalize_language(body.target_language)
        model = self.choose_model(body.model)
        article, source_language = pipeline.prepare(body.text)
        return _Job(body.text, target, model, len(article.paragraphs), source_language)

    def client_for(
        self,
        job: _Job,
        abandoned: threading.Event,
        on_answer: Callable[[ChatRequest, ChatResponse], None] | None = None,
    ) -> _RequestClient:
        """The client one request runs on: through the response cache when there is one."""
        inner = caching_client(
            self.client,
            raw_text=job.text,
            model=job.model,
            api_base=self.api_base,
            enabled=self.cache is not None,
            cache=self.cache,
        )
        return _RequestClient(inner, abandoned, on_answer)

    async def run(self, work: Callable[[], Any], abandoned: threading.Event) -> Any:
        """``work()`` in the pool, within the request timeout."""
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self.executor, work), self.request_timeout
            )
        except asyncio.TimeoutError:
            raise _timeout(self.request_timeout) from None
        finally:
            abandoned.set()

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self.cache is not None:
            self.cache.close()


def _timeout(seconds: float) -> RequestTimeout:
    return RequestTimeout(
        f"The request took longer than the server's {seconds:g}-second limit.",
        hint="Retry with a shorter article or a faster model, or raise the server's --timeout.",
    )


def _sse(event: str, data: Any) -> str:
    # One line of JSON per event: SSE ends an event at a blank line.
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _translated_paragraphs(request: ChatRequest, response: ChatResponse) -> list[str] | None:
    """The paragraphs in a translate answer, when the pipeline will accept it as it is."""
    if request.task != "translate" or response.finish_reason == "length":
        return None
    try:
        expected = request.response_schema["properties"]["paragraphs"]["minItems"]  # type: ignore[index]
        draft = pipeline.parse_model(TranslationDraft)(response.text)
    except Exception:  # a malformed answer: the pipeline re-asks, no event for this one
        return None
    if len(draft.paragraphs) != expected or any(not p.strip() for p in draft.paragraphs):
        return None
    return [p.strip() for p in draft.paragraphs]


def create_app(
    *,
    client: LLMClient | None = None,
    default_model: str | None = None,
    api_base: str | None = None,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    concurrency: int = DEFAULT_CONCURRENCY,
    allowed_models: Collection[str] | None = None,
    preload: bool | None = None,
    cache: ResponseCache | None = None,
) -> FastAPI:
    """The FastAPI application.

    Args:
        client: the model client shared by all requests; by default one
            ``LiteLLMClient`` (tests pass ``tests.fakes.FakeLLM``).
        default_model: model for requests that name none (default: the bundled one).
        api_base: base URL for remote models, fixed by the server (never per request).
        request_timeout: seconds one HTTP request may take, end to end.
        max_body_bytes: largest request body accepted.
        concurrency: requests worked on at once (the embedded model still runs one
            generation at a time).
        allowed_models: if given, the only models requests may name besides the default.
        preload: load the default embedded model at start-up, so the first request does
            not pay for it. Default: when ``client`` is not given.
        cache: the response cache requests share (closed with the app), or ``None`` to
            always call the model.

    Raises:
        ConfigError: ``default_model`` is not a model string.
    """
    default_ref = parse_model(default_model)
    if preload is None:
        preload = client is None
    if client is None:
        from summarizer.client import LiteLLMClient  # imports litellm: seconds

        real = LiteLLMClient(api_base=api_base, timeout=request_timeout)
        real.check_model(default_ref.name)
        client = real
    service = Service(
        client,
        default_model=default_ref,
        request_timeout=request_timeout,
        concurrency=concurrency,
        allowed_models=allowed_models,
        cache=cache,
        api_base=api_base,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if preload and default_ref.is_local:
            from summarizer import local

            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, local.get_model, default_ref.local_name or "")
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

    @app.exception_handler(SummarizerError)
    async def _our_error(_: Request, exc: SummarizerError) -> JSONResponse:
        status, body = _body_for(exc)
        return _error_json(status, body)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_error(request, exc)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "There was an error parsing the body"
            body = ErrorBody(
                error="invalid_json",
                message="The request body could not be read as JSON text (is it UTF-8?).",
                hint=_JSON_HINT,
            )
        else:
            kinds = {404: "not_found", 405: "method_not_allowed"}
            body = ErrorBody(
                error=kinds.get(exc.status_code, "http_error"), message=str(exc.detail)
            )
        return _error_json(exc.status_code, body, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        body = ErrorBody(
            error="internal_error",
            message=f"Internal error: {type(exc).__name__}.",
            hint="This is a bug; the server log has the details. Please report it.",
        )
        return _error_json(500, body)

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Health:
        """Liveness: the server answers, with its version and default model."""
        return Health(status="ok", version=__version__, default_model=default_ref.name)

    async def answer(run: Callable[..., Any], body: Any) -> Any:
        """``run`` (pipeline.summarize or .translate) on a validated request, off the event
        loop, abandoned at the request's timeout."""
        abandoned = threading.Event()

        def work() -> Any:
            job = service.validate(body)
            client = service.client_for(job, abandoned)
            result = run(
                job.text,
                target_language=job.target_language,
                model=job.model,
                client=client,
            )
            return mark_cached(client.inner, result)

        return await service.run(work, abandoned)

    @app.post(
        "/v1/summaries",
        response_model=Summary,
        responses=_ERROR_RESPONSES,
        tags=["articles"],
        summary="Summarize an article",
    )
    async def create_summary(body: SummaryRequest) -> Summary:
        """A structured summary (title, summary, key points, entities, dates, quotes, meta):
        the JSON `summarize FILE --format json` prints."""
        result: Summary = await answer(pipeline.summarize, body)
        return result

    @app.post(
        "/v1/translations",
        response_model=Translation,
        responses={
            200: {
                "description": "The translation as JSON or, when streaming, server-sent "
                "events: `start` (languages, model, paragraph count), one `chunk` per "
                "translated chunk ({chunk, paragraphs}: the chunk's paragraphs, or pieces of a "
                "paragraph too long for one call, in order), then `done` with the full "
                "Translation, or `error` with an ErrorBody.",
                "content": {"text/event-stream": {"schema": _STREAM_SCHEMA}},
            },
            **_ERROR_RESPONSES,
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
            abandoned = threading.Event()
            job: _Job = await service.run(lambda: service.validate(body), threading.Event())
            return StreamingResponse(
                _translation_events(service, job, abandoned),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        result: Translation = await answer(pipeline.translate, body)
        return result

    return app


async def _translation_events(
    service: Service, job: _Job, abandoned: threading.Event
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    chunks = 0

    def emit(event: str, data: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (event, data))

    def on_answer(request: ChatRequest, response: ChatResponse) -> None:
        nonlocal chunks
        paragraphs = _translated_paragraphs(request, response)
        if paragraphs is not None:
            chunks += 1
            emit("chunk", StreamChunk(chunk=chunks, paragraphs=paragraphs).model_dump())

    def work() -> None:
        try:
            client = service.client_for(job, abandoned, on_answer)
            result = pipeline.translate(
                job.text,
                target_language=job.target_language,
                model=job.model,
                client=client,
            )
            result = mark_cached(client.inner, result)
            emit("done", result.model_dump(mode="json"))
        except _Abandoned:
            pass
        except SummarizerError as exc:
            emit("error", _body_for(exc)[1].model_dump(mode="json"))
        except Exception as exc:  # a bug: say so in the stream, as a 500 would
            emit(
                "error",
                ErrorBody(
                    error="internal_error", message=f"Internal error: {type(exc).__name__}."
                ).model_dump(mode="json"),
            )

    start = StreamStart(
        source_language=job.source_language,
        target_language=job.target_language,
        model=job.model,
        paragraphs=job.paragraphs,
    )
    yield _sse("start", start.model_dump())
    deadline = loop.time() + service.request_timeout
    loop.run_in_executor(service.executor, work)
    try:
        while True:
            try:
                event, data = await asyncio.wait_for(queue.get(), deadline - loop.time())
            except asyncio.TimeoutError:
                _, body = _body_for(_timeout(service.request_timeout))
                yield _sse("error", body.model_dump(mode="json"))
                return
            yield _sse(event, data)
            if event in ("done", "error"):
                return
    finally:
        # Finished, timed out, or the client went away: stop before the next model call.
        abandoned.set()


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(error.get("loc", ())[:1] == ("body",) for error in errors):
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            body = ErrorBody(
                error="unsupported_media_type",
                message=f"The request body must be JSON, not {media_type or 'untyped data'}.",
                hint="Send it with the header Content-Type: application/json.",
            )
            return _error_json(415, body)
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        reason = (bad_json.get("ctx") or {}).get("error", "it does not parse")
        body = ErrorBody(
            error="invalid_json",
            message=f"The request body is not valid JSON: {reason}.",
            hint=_JSON_HINT,
        )
        return _error_json(400, body)
    if any(tuple(e.get("loc", ())) == ("body",) for e in errors):
        body = ErrorBody(
            error="invalid_request",
            message="The request body must be a JSON object.",
            hint=_JSON_HINT,
        )
        return _error_json(422, body)
    details = [
        ErrorDetail(
            field=".".join(str(part) for part in error.get("loc", ())[1:]) or "(body)",
            message=str(error.get("msg", "invalid")),
        )
        for error in errors[:20]
    ]
    summary = "; ".join(f"{d.field}: {d.message}" for d in details[:3])
    body = ErrorBody(
        error="invalid_request",
        message=f"The request does not validate: {summary}.",
        hint=_JSON_HINT + " See /openapi.json.",
        details=details,
    )
    return _error_json(422, body)
