"""``POST /v1/chat/completions``: the service as an OpenAI-compatible chat model, so that the
``openai`` SDK, Open WebUI, LibreChat or simonw/llm can use it without knowing its API.

A face like ``server.py``: it parses OpenAI's request shape, calls the same ``Service``
(so keys, limits, model policy, timeouts, token budgets and cancellation all apply) and
renders OpenAI's response shape. Errors carry the service's ``ErrorBody`` fields nested
under ``error``, as OpenAI's clients read them (``NestedErrors``).

**Model names choose the task and the language**::

    summarizer-<lang>            a structured summary in <lang>, as Markdown
    translator-<lang>            the whole article translated into <lang>
    summarizer-<lang>@<model>    the same on one of the server's allowed models

``<lang>`` is anything ``normalize_language`` accepts (``en``, ``pt-BR``, ``French``); an
unknown one is the 422 ``unknown_language`` every endpoint gives. A model outside the
scheme is a 400 ``invalid_model``, as a model string that names no model is elsewhere; a
model after ``@`` follows ``--model``/``--allow-model`` like the ``model`` field (403).

**The last user message is the article**; earlier messages (the system prompts chat UIs
add, earlier turns) are ignored, since each answer is about one article.
``response_format`` ``json_object`` or ``json_schema`` makes the content the JSON that
``/v1/summaries`` or ``/v1/translations`` returns (the caller's schema is not used).

**Streaming** (``stream: true``) is OpenAI's server-sent events: a first chunk with the
role, content deltas, a chunk with ``finish_reason: "stop"``, a usage chunk when
``stream_options.include_usage``, then ``data: [DONE]``. A translation arrives paragraph
by paragraph as its chunks are translated, in the article's order, then the notes after
the paragraphs; the deltas add up to the unstreamed answer, except that a paragraph too
long for one model call arrives as its pieces, separated like paragraphs. A summary only
exists once the model has finished, so it arrives then, one delta per Markdown block; a
JSON answer (either task) arrives whole, in one delta. Bad input is an HTTP error before
the stream starts; a failure once it has started is a chunk ``{"error": ChatError}`` then
``[DONE]``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from summarizer import render
from summarizer.app import PreparedJob
from summarizer.errors import ConfigError, InputError
from summarizer.events import ChunkDone
from summarizer.languages import normalize_language
from summarizer.schema import Summary, Translation
from summarizer.server_access import Quotas
from summarizer.server_stream import JobRunner, StreamItem, job_items
from summarizer.server_wire import (
    ERROR_RESPONSES,
    ArticleRequest,
    ErrorBody,
    ErrorDetail,
    ModelCard,
)
from summarizer.sources import looks_like_url
from summarizer.tasks import Task

__all__ = ["ChatService", "chat_model_cards", "install_chat_routes", "parse_chat_model"]

log = logging.getLogger("summarizer.server")

T = TypeVar("T")

# The languages GET /v1/models lists chat models for, after the server's default; any
# other language works too, by name.
LISTED_LANGUAGES = ("en", "id", "fr", "es", "de", "pt", "zh", "ja", "ar", "ru")
_FAMILIES = {"summarizer": Task.SUMMARIZE, "translator": Task.TRANSLATE}
_MODEL_STRING = re.compile(r"\S{1,300}")
_SCHEME_HINT = (
    "Name summarizer-<lang> (a summary) or translator-<lang> (a translation), e.g. "
    "summarizer-en or translator-pt-BR, optionally followed by @<model>; GET /v1/models "
    "lists them."
)


class ChatService(JobRunner, Protocol):
    """What the chat endpoint uses of ``server.Service`` (which this module cannot import:
    ``server`` imports this module): a stream's ``JobRunner``, and more."""

    @property
    def quotas(self) -> Quotas | None: ...

    async def answer(
        self, task: Task, body: ArticleRequest, caller: str | None
    ) -> Summary | Translation: ...

    def validate(self, task: Task, body: ArticleRequest) -> PreparedJob: ...

    async def run(self, work: Callable[[], T], cancel: threading.Event) -> T: ...


# -- wire format ------------------------------------------------------------------------------


class _Lenient(BaseModel):
    """OpenAI's request objects: fields we do not use are accepted and ignored (clients
    send temperature, top_p, user, tools...), but the ones we read are checked strictly."""

    model_config = ConfigDict(extra="ignore", strict=True)


class ContentPart(_Lenient):
    """One part of a message's content; only ``text`` parts are read."""

    type: str = Field(examples=["text"])
    text: str | None = None


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = Field(
        default=None, description="Text, or a list of parts of which the text ones are read."
    )


class ResponseFormat(_Lenient):
    type: Literal["text", "json_object", "json_schema"] = Field(
        description="json_object or json_schema: the content is the Summary or Translation "
        "JSON of /v1/summaries or /v1/translations (a json_schema given is not used)."
    )


class StreamOptions(_Lenient):
    include_usage: bool | None = Field(
        default=False, description="Send a last chunk with the usage before [DONE]."
    )


class ChatCompletionRequest(_Lenient):
    """OpenAI's chat completion request. The last user message is the article; other
    fields OpenAI defines (temperature, max_tokens...) are accepted and ignored."""

    model: str = Field(
        min_length=1,
        max_length=400,
        description="summarizer-<lang> or translator-<lang> (an ISO 639-1 code, a code with "
        "a region or an English language name), optionally @<model>, a model of GET "
        "/v1/models.",
        examples=["summarizer-en", "translator-fr", "summarizer-id@openai/gpt-4o-mini"],
    )
    messages: list[ChatMessage] = Field(
        description="The last message with role user is the article; the others are ignored."
    )
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    n: int | None = Field(default=None, ge=1, le=1, description="Only 1: one answer.")


class ChatUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatAnswer(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatAnswer
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    """OpenAI's chat completion: one choice, the answer as Markdown or JSON."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = Field(description="The model name the request gave.")
    choices: list[ChatChoice]
    usage: ChatUsage
    system_fingerprint: str | None = Field(
        default=None, description="From the SHA-256 of the prompts sent."
    )


class ChatDelta(BaseModel):
    role: Literal["assistant"] | None = Field(default=None, exclude_if=lambda v: v is None)
    content: str | None = Field(default=None, exclude_if=lambda v: v is None)


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChatDelta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed answer."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: ChatUsage | None = None
    system_fingerprint: str | None = None


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` written in place: inside the OpenAPI document a
    ``#/$defs/...`` reference would point at the document's root."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return dict(resolve(schema))


def _data_schema(content: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": content,
            }
        },
    }


CHUNK_STREAM_SCHEMA: dict[str, Any] = {
    "oneOf": [
        _data_schema(_inlined(ChatCompletionChunk.model_json_schema())),
        _data_schema(
            {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"$ref": "#/components/schemas/ChatError"}},
            }
        ),
        {"type": "object", "required": ["data"], "properties": {"data": {"const": "[DONE]"}}},
    ]
}

CHUNK_STREAM_DESCRIPTION = (
    "The answer as a chat completion or, with stream true, server-sent events in OpenAI's "
    "format: `data: <chat.completion.chunk>` lines (the role, content deltas, a chunk with "
    'finish_reason "stop", a usage chunk if stream_options.include_usage), or `data: '
    '{"error": ChatError}` if the job fails once started, then `data: [DONE]`.'
)


# -- the request ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatModel:
    """What a chat model name asks for."""

    task: Task
    language: str
    model: str | None = None


def parse_chat_model(name: str) -> ChatModel:
    """The task, language and optional underlying model a chat model name selects.

    Raises:
        ConfigError: ``name`` is not ``summarizer-<lang>`` or ``translator-<lang>``, or what
            follows its ``@`` is not a model string.
        UnknownLanguageError: ``<lang>`` is not a language.
    """
    # On the first "@" only: litellm model strings may hold one (claude-3@20240620).
    chat, at, model = name.partition("@")
    family, _, language = chat.partition("-")
    task = _FAMILIES.get(family.lower())
    if task is None or not language:
        raise ConfigError(f"No chat model is called {name!r}.", hint=_SCHEME_HINT)
    if at and not _MODEL_STRING.fullmatch(model):
        raise ConfigError(
            f"{model!r} after the @ of {name!r} is not a model string.", hint=_SCHEME_HINT
        )
    return ChatModel(task, normalize_language(language), model or None)


def _message_text(message: ChatMessage) -> str:
    if isinstance(message.content, list):
        texts = (part.text for part in message.content if part.type == "text" and part.text)
        return "\n\n".join(texts)
    return message.content or ""


def _article_request(messages: list[ChatMessage], chosen: ChatModel) -> ArticleRequest:
    """The service's request for a chat: the last user message is the article, or the URL
    of a web page (one http(s) URL and nothing else), fetched when the server allows it
    (``--allow-fetch``; 403 ``url_not_allowed`` otherwise, as on the other endpoints).

    Raises:
        InputError: there is no user message, or the last one has no text.
    """
    users = [message for message in messages if message.role == "user"]
    if not users:
        raise InputError(
            "The request has no user message.",
            hint="Send the article as the content of a message with role user.",
        )
    text = _message_text(users[-1])
    if not text.strip():
        raise InputError(
            "The last user message has no text.",
            hint="Send the article as its content: a string, or text parts.",
        )
    url = text.strip()
    if looks_like_url(url):
        if len(url) > MAX_URL_CHARS:
            raise InputError(
                f"The URL in the last user message is {len(url):,} characters long, over "
                f"{MAX_URL_CHARS:,}.",
                hint="Send a shorter URL, or the article's text.",
            )
        return ArticleRequest(url=url, target_language=chosen.language, model=chosen.model)
    return ArticleRequest(text=text, target_language=chosen.language, model=chosen.model)


# -- the answer -------------------------------------------------------------------------------


def translation_text(translation: Translation) -> tuple[str, str]:
    """A translation as chat content, in two parts: the title and paragraphs, then the
    rest. The CLI's Markdown (``render.translation_markdown``), with any failed-checks note
    moved after the paragraphs: a stream can only add to what it has sent, and the checks
    come last."""
    markdown = render.translation_markdown(translation)
    body = "\n\n".join(translation.paragraphs)
    start = markdown.rfind(body)
    if start < 0:  # not the shape this expects (render changed): the CLI's, as it is
        return markdown, ""
    end = start + len(body)
    verdict = markdown[:start].strip()
    head = f"# {translation.title}\n\n" if translation.title else ""
    return head + body, (f"\n\n{verdict}" if verdict else "") + markdown[end:]


def _content(result: Summary | Translation, json_mode: bool) -> str:
    if json_mode:
        return result.model_dump_json()
    if isinstance(result, Translation):
        return "".join(translation_text(result))
    return render.summary_markdown(result)


def _usage(result: Summary | Translation) -> ChatUsage:
    usage = result.meta.usage
    return ChatUsage(
        prompt_tokens=usage.input_tokens,
        completion_tokens=usage.output_tokens,
        total_tokens=usage.input_tokens + usage.output_tokens,
    )


def _fingerprint(result: Summary | Translation) -> str:
    return f"fp_{result.meta.prompt_sha256[:16]}"


@dataclass(frozen=True)
class _Reply:
    """What every chunk or completion of one answer says about it."""

    model: str
    json_mode: bool = False
    include_usage: bool = False
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))

    def completion(self, result: Summary | Translation) -> ChatCompletion:
        answer = ChatAnswer(content=_content(result, self.json_mode))
        return ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[ChatChoice(message=answer)],
            usage=_usage(result),
            system_fingerprint=_fingerprint(result),
        )

    def chunk(self, choices: list[ChunkChoice], **extra: Any) -> str:
        chunk = ChatCompletionChunk(
            id=self.id, created=self.created, model=self.model, choices=choices, **extra
        )
        return f"data: {chunk.model_dump_json()}\n\n"

    def delta(self, content: str) -> str:
        return self.chunk([ChunkChoice(delta=ChatDelta(content=content))])


# -- the stream -------------------------------------------------------------------------------

DONE = "data: [DONE]\n\n"


@dataclass
class _Transcript:
    """Turns what a job reports into chat chunks: translated chunks in the article's
    order (they may finish out of order), then whatever the finished answer adds."""

    reply: _Reply
    sent: str = ""
    next_index: int = 0
    waiting: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def lines(self, item: StreamItem) -> list[str]:
        if isinstance(item, ChunkDone):
            return self._chunk(item)
        if isinstance(item, ErrorBody):
            error = _nested_error(item.model_dump_json().encode()).decode()
            return [f"data: {error}\n\n", DONE]
        return [*self._finish(item), DONE]

    def _chunk(self, event: ChunkDone) -> list[str]:
        if self.reply.json_mode:  # the JSON comes whole, at the end
            return []
        self.waiting[event.index] = event.paragraphs
        lines = []
        while self.next_index in self.waiting:
            for paragraph in self.waiting.pop(self.next_index):
                text = f"\n\n{paragraph}" if self.sent else paragraph
                self.sent += text
                lines.append(self.reply.delta(text))
            self.next_index += 1
        return lines

    def _finish(self, result: Summary | Translation) -> list[str]:
        if isinstance(result, Translation) and not self.reply.json_mode:
            lead, rest = translation_text(result)
            # What was sent differs from the lead only when a paragraph came in pieces
            # (the answer joins them): what was sent stays, and the rest follows it.
            pieces = [lead[len(self.sent) :] + rest] if lead.startswith(self.sent) else [rest]
        else:
            # Markdown blocks, each with the blank line after it.
            pieces = re.split(r"(?<=\n\n)", _content(result, self.reply.json_mode))
        lines = [self.reply.delta(piece) for piece in pieces if piece]
        stop = ChunkChoice(delta=ChatDelta(), finish_reason="stop")
        lines.append(self.reply.chunk([stop], system_fingerprint=_fingerprint(result)))
        if self.reply.include_usage:
            lines.append(self.reply.chunk([], usage=_usage(result)))
        return lines


async def _chat_stream(
    service: ChatService, job: PreparedJob, caller: str | None, reply: _Reply
) -> AsyncIterator[str]:
    """The role, then the job's chunks and answer (or error), then ``[DONE]``; the job is
    cancelled once the stream ends, times out, or its client goes away."""
    yield reply.chunk([ChunkChoice(delta=ChatDelta(role="assistant", content=""))])
    transcript = _Transcript(reply)
    async with aclosing(job_items(service, job, caller)) as items:
        async for item in items:
            for line in transcript.lines(item):
                yield line


# -- routes and listing -----------------------------------------------------------------------


def chat_model_cards(default_language: str) -> list[ModelCard]:
    """``GET /v1/models``'s cards for the chat models: a summarizer and a translator for
    the server's default language and a few common ones (``owned_by`` "summarizer")."""
    languages = dict.fromkeys([default_language, *LISTED_LANGUAGES])
    return [
        ModelCard(id=f"{family}-{language}", owned_by="summarizer")
        for family in _FAMILIES
        for language in languages
    ]


CHAT_PATH = "/v1/chat/completions"
# As ArticleRequest.url allows.
MAX_URL_CHARS = 2048


class ChatError(BaseModel):
    """``ErrorBody``'s fields as OpenAI's error object: ``type`` and ``code`` are its kind."""

    message: str
    type: str
    code: str
    param: None = None
    hint: str | None = None
    details: list[ErrorDetail] = Field(default_factory=list)


class ChatErrorBody(BaseModel):
    """An error of the chat endpoint (all but a 500 from a bug: Starlette's outermost
    error middleware answers that one, in the flat ``ErrorBody`` shape)."""

    error: ChatError


CHAT_ERROR_RESPONSES = {
    status: {**response, "model": ChatErrorBody} for status, response in ERROR_RESPONSES.items()
}


class NestedErrors:
    """ASGI middleware: on the chat endpoint, an error body ``{"error": kind, "message",
    "hint", "details"}`` goes out as OpenAI's ``{"error": {"message", "type", "code",
    "param", "hint", "details"}}``.

    OpenAI's SDK (and the chat UIs built on it) read a message only from ``error.message``:
    with the service's flat shape, ``openai`` 3.x said nothing but "Error code: 422". The
    refusals that come before routing (the key, the limits, the body's size) are rewritten
    too, so it sits outside every other middleware. Other paths keep the flat shape; so
    does a 500 from a bug, which Starlette's own outermost middleware answers.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith(CHAT_PATH):
            await self.app(scope, receive, send)
            return
        held: dict[str, Any] = {}
        body = bytearray()

        async def nesting(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                held.update(message)  # sent with the rewritten body
                return
            if message["type"] != "http.response.body" or not held:
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            nested = _nested_error(bytes(body))
            headers = [(k, v) for k, v in held["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(nested)).encode()))
            await send({**held, "headers": headers})
            await send({"type": "http.response.body", "body": nested})

        await self.app(scope, receive, nesting)


def _nested_error(body: bytes) -> bytes:
    """An ``ErrorBody`` as OpenAI's error object; anything else as it was."""
    try:
        flat = json.loads(body)
    except ValueError:
        return body
    if not isinstance(flat, dict) or not isinstance(flat.get("error"), str):
        return body
    kind = flat["error"]
    error = {"message": flat.get("message", kind), "type": kind, "code": kind, "param": None}
    error.update(hint=flat.get("hint"), details=flat.get("details", []))
    return json.dumps({"error": error}, ensure_ascii=False).encode()


def install_chat_routes(app: FastAPI, service: ChatService, secured: list[Any]) -> None:
    """Add ``POST /v1/chat/completions`` to ``app`` (``secured``: its OpenAPI security),
    with its errors in OpenAI's shape (``NestedErrors``: call this after every other
    middleware is added, so that it wraps them all)."""
    app.add_middleware(NestedErrors)

    @app.post(
        CHAT_PATH,
        response_model=ChatCompletion,
        responses={
            200: {
                "description": CHUNK_STREAM_DESCRIPTION,
                "content": {"text/event-stream": {"schema": CHUNK_STREAM_SCHEMA}},
            },
            **CHAT_ERROR_RESPONSES,
        },
        tags=["chat"],
        dependencies=secured,
        summary="Summarize or translate an article as an OpenAI chat model",
    )
    async def create_chat_completion(body: ChatCompletionRequest, request: Request) -> Any:
        """OpenAI's chat completion: model summarizer-<lang> or translator-<lang>, the
        article as the last user message; the answer as Markdown, or as JSON with
        response_format json_object."""
        chosen = parse_chat_model(body.model)
        article = _article_request(body.messages, chosen)
        reply = _Reply(
            model=body.model,
            json_mode=body.response_format is not None and body.response_format.type != "text",
            include_usage=bool(body.stream_options and body.stream_options.include_usage),
        )
        # The key name the Guard found (server._caller; None without keys).
        caller: str | None = getattr(request.state, "caller", None)
        if not body.stream:
            return reply.completion(await service.answer(chosen.task, article, caller))
        job = await service.run(
            lambda: _validate(service, chosen.task, article, caller), cancel=threading.Event()
        )
        return StreamingResponse(
            _chat_stream(service, job, caller, reply),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _validate(
    service: ChatService, task: Task, body: ArticleRequest, caller: str | None
) -> PreparedJob:
    """Check a streamed request before its stream starts, so that bad input or a spent
    budget is an HTTP error rather than an event in a 200 stream (the tokens are held
    once the stream runs)."""
    job = service.validate(task, body)
    if service.quotas is not None and caller is not None:
        service.quotas.reserve(caller, job.text, hold=False)
    return job
