"""The HTTP service's wire format: request, response, stream-event and error bodies, and the
OpenAPI description of the translation event stream (``server.py`` serves them)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

JSON_HINT = (
    'Send a JSON object such as {"text": "<the article>", "target_language": "en"}'
    ' ("model" is optional).'
)


class ArticleRequest(BaseModel):
    """What both endpoints take: an article (its text, or a URL), a language, and optionally
    a model."""

    # Exactly one of text and url, said in the document too (clients and fuzzers read it).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["text"]}, {"required": ["url"]}]},
    )

    text: str | None = Field(
        default=None,
        min_length=1,
        description="The article as plain text (paragraphs separated by blank lines) or as "
        "an HTML page, whose article is extracted. Site datelines and read-also lines are "
        "removed before the model sees it. Give text or url, not both.",
        examples=["Perundingan damai putaran ketiga ... berakhir 'tanpa kemajuan'."],
    )
    url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        description="An http(s) URL of a web page to fetch and extract the article from, "
        "when the server allows fetching (--allow-fetch; 403 url_not_allowed otherwise, "
        "and always for private, loopback and link-local addresses unless the operator "
        "allows them).",
        examples=["https://example.com/news/antalya-talks.html"],
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

    @model_validator(mode="after")
    def _text_or_url(self) -> ArticleRequest:
        if (self.text is None) == (self.url is None):
            raise ValueError("give the article as text or as url, one of the two")
        return self


class SummaryRequest(ArticleRequest):
    """Summarize ``text`` in ``target_language``."""


class TranslationRequest(ArticleRequest):
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


class ModelCard(BaseModel):
    """A model a caller may name, in the shape of OpenAI's model list."""

    id: str = Field(description="The model string to send as model, or a glob pattern.")
    object: str = "model"
    created: int = 0
    owned_by: str = "summarizer"
    default: bool = Field(default=False, description="Used when a request names no model.")
    pattern: bool = Field(
        default=False, description="A glob (openai/gpt-4o*): any model it matches."
    )


class ModelList(BaseModel):
    """``GET /v1/models``: every model a caller of this server may name."""

    object: str = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: str
    version: str
    default_model: str
    auth: bool = Field(
        default=False,
        description="Requests to /v1 need Authorization: Bearer <key> (the web page then "
        "asks for one).",
    )


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
STREAM_SCHEMA: dict[str, Any] = {
    "oneOf": [
        _event_schema("start", StreamStart.model_json_schema()),
        _event_schema("chunk", StreamChunk.model_json_schema()),
        _event_schema("done", {"$ref": "#/components/schemas/Translation"}),
        _event_schema("error", {"$ref": "#/components/schemas/ErrorBody"}),
    ]
}

STREAM_DESCRIPTION = (
    "The translation as JSON or, when streaming, server-sent "
    "events: `start` (languages, model, paragraph count), one `chunk` per "
    "translated chunk ({chunk, paragraphs}: the chunk's paragraphs, or pieces of a "
    "paragraph too long for one call, in order), then `done` with the full "
    "Translation, or `error` with an ErrorBody."
)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed JSON, or an unusable model string."},
    401: {
        "model": ErrorBody,
        "description": "No API key, or not one this server knows (when it has keys).",
    },
    403: {
        "model": ErrorBody,
        "description": "A model this server does not run, or a url it may not fetch.",
    },
    408: {
        "model": ErrorBody,
        "description": "The request's headers or body did not arrive in time (10 s, 30 s).",
    },
    413: {"model": ErrorBody, "description": "The request body is larger than the limit."},
    415: {"model": ErrorBody, "description": "The body is not application/json."},
    422: {
        "model": ErrorBody,
        "description": "The body does not validate: empty article, unknown language, an "
        "article too long for the model...",
    },
    429: {
        "model": ErrorBody,
        "description": "The key's requests for this minute or tokens for today are used; "
        "Retry-After says when to try again.",
    },
    431: {"model": ErrorBody, "description": "The request's headers are larger than 16 KiB."},
    500: {"model": ErrorBody, "description": "A bug in the server."},
    502: {"model": ErrorBody, "description": "The model or its provider failed."},
    504: {"model": ErrorBody, "description": "The request ran past the server's timeout."},
}


def sse(event: str, data: Any) -> str:
    """One server-sent event; its data as one line of JSON (SSE ends an event at a blank
    line)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
