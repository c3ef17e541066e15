"""The HTTP service's errors: each exception type to an HTTP status and error kind, and the
handlers that turn every failure into one JSON shape (``ErrorBody``).

    bad JSON, FastAPI's body parse error         400 invalid_json
    a model string that names no model, or one   400 invalid_model       ConfigError
      the server cannot use (no key for it)
    no API key, or not a Bearer key              401 missing_api_key     MissingKey
    a key the server does not know               401 invalid_api_key     InvalidKey
    a model this server will not run             403 model_not_allowed   ModelNotAllowed
    a URL while fetching is off, or a private    403 url_not_allowed     URLNotAllowed
      address nobody allowed, or not http(s)
    not found, wrong method                      404, 405
    a body that is not JSON                      415 unsupported_media_type
    a body that does not validate                422 invalid_request
    an unknown language                          422 unknown_language    UnknownLanguageError
    other bad values                             422 invalid_request     UsageError
    an empty article, a page with no article     422 invalid_input       InputError
      text, a URL that is not a web page
    an article too long for the model            422 context_overflow    ContextOverflowError
    the key's requests for this minute are used  429 rate_limited        RateLimited
    the key's tokens for today are used          429 token_budget_spent  TokenBudgetSpent
    a broken prompt template                     500 template_error      TemplateError
    the model's answers never valid              502 model_output_error  ModelOutputError
    strict, and the answer failed its checks     502 unchecked_answer    UncheckedAnswerError
    the page at a url could not be fetched       502 fetch_failed        FetchError
    ... in time                                  504 fetch_timeout       FetchError
    the provider timed out                       504 provider_timeout    ProviderTimeout
    the provider failed                          502 provider_error      ProviderError
    past the server's per-request timeout        504 timeout             RequestTimeout
    anything else: a bug                         500 internal_error

(The oversize body, 413 ``body_too_large``, is refused before the app, as are the 401s and
429s: ``server_limits``.) A 401 carries ``WWW-Authenticate: Bearer``, a 429 ``Retry-After``.

A provider's own words never reach the caller: they can name the server's account, its
provider's internal hosts or a truncated key. The body for a provider failure is a stable
sentence chosen by the failure's kind and status; the provider's message goes to the
server's log (``summarizer.server``), redacted like every message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from summarizer.errors import (
    ConfigError,
    ContextOverflowError,
    FetchError,
    FormatRejected,
    InputError,
    ModelOutputError,
    ProviderError,
    ProviderTimeout,
    SummarizerError,
    TemplateError,
    UncheckedAnswerError,
    UnknownLanguageError,
    URLNotAllowed,
    UsageError,
)
from summarizer.server_access import (
    InvalidKey,
    MissingKey,
    ModelNotAllowed,
    RateLimited,
    TokenBudgetSpent,
    Unauthorized,
    retry_after_header,
)
from summarizer.server_wire import JSON_HINT, ErrorBody, ErrorDetail

__all__ = ["ModelNotAllowed", "RequestTimeout", "body_for", "error_headers", "error_status"]

log = logging.getLogger("summarizer.server")


class RequestTimeout(SummarizerError):
    """The request ran past the server's per-request timeout (HTTP 504)."""


# Error types, most specific first, to (HTTP status, error kind).
_STATUS: list[tuple[type[SummarizerError], int, str]] = [
    (RequestTimeout, 504, "timeout"),
    (MissingKey, 401, "missing_api_key"),
    (InvalidKey, 401, "invalid_api_key"),
    (ModelNotAllowed, 403, "model_not_allowed"),
    (URLNotAllowed, 403, "url_not_allowed"),
    (TokenBudgetSpent, 429, "token_budget_spent"),
    (RateLimited, 429, "rate_limited"),
    (UnknownLanguageError, 422, "unknown_language"),
    (UsageError, 422, "invalid_request"),
    (InputError, 422, "invalid_input"),
    (ContextOverflowError, 422, "context_overflow"),
    (ConfigError, 400, "invalid_model"),
    (TemplateError, 500, "template_error"),
    (ModelOutputError, 502, "model_output_error"),
    (UncheckedAnswerError, 502, "unchecked_answer"),
    (ProviderTimeout, 504, "provider_timeout"),
    (ProviderError, 502, "provider_error"),
]


def error_status(exc: SummarizerError) -> tuple[int, str]:
    """The HTTP status and error kind for one of our errors."""
    if isinstance(exc, FetchError):
        return (504, "fetch_timeout") if exc.timed_out else (502, "fetch_failed")
    for kind, status, name in _STATUS:
        if isinstance(exc, kind):
            return status, name
    return 500, "internal_error"


def body_for(exc: SummarizerError) -> tuple[int, ErrorBody]:
    """The HTTP status and error body for one of our errors."""
    status, kind = error_status(exc)
    if isinstance(exc, ProviderError):
        return status, _provider_body(exc, kind)
    return status, ErrorBody(error=kind, message=exc.message, hint=exc.hint)


def error_headers(exc: SummarizerError) -> dict[str, str]:
    """The headers an error's response carries: how to authenticate, when to retry."""
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": 'Bearer realm="summarizer"'}
    if isinstance(exc, RateLimited):
        return {"Retry-After": retry_after_header(exc.retry_after)}
    if isinstance(exc, ProviderError) and exc.retry_after:
        return {"Retry-After": retry_after_header(exc.retry_after)}
    return {}


def _provider_body(exc: ProviderError, kind: str) -> ErrorBody:
    """A stable sentence for a provider failure; the provider's words go to the log."""
    log.warning("%s from %s: %s", kind, exc.model, exc.message)
    if isinstance(exc, ProviderTimeout):
        message = f"The provider of {exc.model} did not answer in time."
    elif isinstance(exc, FormatRejected):
        message = f"The provider of {exc.model} refused the structured-output request."
    elif exc.status == 429:
        message = f"The provider of {exc.model} is limiting this server's requests."
    elif exc.status in (401, 403):
        message = f"The provider of {exc.model} refused this server's credentials."
    elif exc.status is not None:
        message = f"The provider of {exc.model} failed (HTTP {exc.status})."
    else:
        message = f"The provider of {exc.model} failed or could not be reached."
    if exc.retryable:
        hint = "Retry later. The server's log has the provider's message."
    else:
        hint = "Tell the server's operator: the server's log has the provider's message."
    return ErrorBody(error=kind, message=message, hint=hint)


def internal_error(exc: Exception, *, hint: str | None = None) -> ErrorBody:
    """The body for a bug: the exception's type only, never its text."""
    return ErrorBody(
        error="internal_error", message=f"Internal error: {type(exc).__name__}.", hint=hint
    )


def request_timeout(seconds: float) -> RequestTimeout:
    return RequestTimeout(
        f"The request took longer than the server's {seconds:g}-second limit.",
        hint="Retry with a shorter article or a faster model, or raise the server's --timeout.",
    )


def error_json(
    status: int, body: ErrorBody, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Make every failure an ``ErrorBody`` with its status."""

    @app.exception_handler(SummarizerError)
    async def _our_error(_: Request, exc: SummarizerError) -> JSONResponse:
        return error_json(*body_for(exc), headers=error_headers(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(request, exc)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return error_json(exc.status_code, _http_error_body(exc), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        hint = "This is a bug; the server log has the details. Please report it."
        return error_json(500, internal_error(exc, hint=hint))


def _http_error_body(exc: HTTPException) -> ErrorBody:
    if exc.status_code == 400:  # FastAPI's "There was an error parsing the body"
        return ErrorBody(
            error="invalid_json",
            message="The request body could not be read as JSON text (is it UTF-8?).",
            hint=JSON_HINT,
        )
    kinds = {404: "not_found", 405: "method_not_allowed"}
    return ErrorBody(error=kinds.get(exc.status_code, "http_error"), message=str(exc.detail))


def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A request FastAPI could not validate: 415 not JSON, 400 bad JSON, 422 the rest."""
    errors = list(exc.errors())
    if any(error.get("loc", ())[:1] == ("body",) for error in errors):
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            body = ErrorBody(
                error="unsupported_media_type",
                message=f"The request body must be JSON, not {media_type or 'untyped data'}.",
                hint="Send it with the header Content-Type: application/json.",
            )
            return error_json(415, body)
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        reason = (bad_json.get("ctx") or {}).get("error", "it does not parse")
        body = ErrorBody(
            error="invalid_json",
            message=f"The request body is not valid JSON: {reason}.",
            hint=JSON_HINT,
        )
        return error_json(400, body)
    if any(tuple(e.get("loc", ())) == ("body",) for e in errors):
        body = ErrorBody(
            error="invalid_request",
            message="The request body must be a JSON object.",
            hint=JSON_HINT,
        )
        return error_json(422, body)
    return error_json(422, _invalid_fields(errors))


def _invalid_fields(errors: Sequence[Any]) -> ErrorBody:
    details = [
        ErrorDetail(
            field=".".join(str(part) for part in error.get("loc", ())[1:]) or "(body)",
            message=str(error.get("msg", "invalid")),
        )
        for error in errors[:20]
    ]
    summary = "; ".join(f"{d.field}: {d.message}" for d in details[:3])
    return ErrorBody(
        error="invalid_request",
        message=f"The request does not validate: {summary}.",
        hint=JSON_HINT + " See /openapi.json.",
        details=details,
    )
