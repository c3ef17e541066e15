"""Every error this package raises on purpose.

One base class, so callers can catch ``SummarizerError`` and show ``str(exc)``: each message
says what went wrong and how to fix it. Each class carries the process exit code the CLI
uses for it (documented in the README)::

    SummarizerError                 1  (base; never raised directly)
    ├── UsageError                  2  bad option values: --timeout 0, --format ...
    │   ├── UnknownLanguageError    2  a --lang that is not a language we know
    │   └── URLNotAllowed           2  a URL we will not fetch: not http(s), or a private,
    │                                  loopback or link-local address nobody allowed
    ├── InputError                  3  the article cannot be read or is empty
    ├── ConfigError                 4  config file, unknown model string, missing API key
    │   └── ModelNotFoundError      4  a local model alias or .gguf path that does not exist
    ├── TemplateError               4  a prompt template is missing or broken
    ├── ProviderError               5  the model provider failed (network, auth, rate limit, 5xx)
    │   ├── ProviderTimeout         5  no complete answer within --timeout
    │   └── FormatRejected          5  the server refused our response_format
    ├── ModelOutputError            6  the model's answer never matched the schema
    ├── ContextOverflowError        7  a piece of input cannot fit the model's context window
    ├── UncheckedAnswerError        8  --strict, and the answer failed its checks
    └── FetchError                  9  a web page could not be fetched: DNS, connection,
                                       timeout, an HTTP error status, too many redirects, or
                                       larger than the download cap

    (not exceptions: 130 interrupted with Ctrl-C, 1 an internal error, i.e. a bug)

Every message and hint passes through ``redact``: an API key that a provider echoes back
in an error never reaches the terminal, a log or a results file.
"""

from __future__ import annotations

import os
import re

# Environment variables whose values are secrets, by name.
_SECRET_NAME = re.compile(r"(?:_API_KEY|_KEY|_TOKEN|_SECRET|_PASSWORD)$|^(?:API_KEY|TOKEN)$")
# Shapes of secrets even when we do not know the value: bearer tokens, key-looking words,
# and the value of any header or field named like a credential.
_SECRET_SHAPES = (
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}"),
    re.compile(r"\b(?:sk|pk|rk|gsk|xai|hf)[-_][A-Za-z0-9_-]{6,}"),
    re.compile(
        r"(?i)((?:authorization|proxy-authorization|x-api-key|api[-_]?key|x-goog-api-key)"
        r"[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic)\s+)?[^\s\"',;}]+"
    ),
)
REDACTED = "[redacted]"


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name says its value is a secret (``*_API_KEY``,
    ``*_TOKEN``, ``*_SECRET``...)."""
    return bool(_SECRET_NAME.search(name.upper()))


def redact(text: str) -> str:
    """``text`` with API keys and credential headers replaced by ``[redacted]``.

    Known secrets (the values of ``*_API_KEY``, ``*_TOKEN``... environment variables) go
    first, then anything shaped like a credential, so a key we were never told about is
    still hidden when it appears as ``Authorization: Bearer ...``.
    """
    for name, value in os.environ.items():
        if len(value) >= 8 and is_secret_name(name) and value in text:
            text = text.replace(value, REDACTED)
    text = _SECRET_SHAPES[0].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _SECRET_SHAPES[1].sub(REDACTED, text)
    return _SECRET_SHAPES[2].sub(lambda m: f"{m.group(1)}{REDACTED}", text)


class SummarizerError(Exception):
    """Base class: a message for people and the exit code the CLI returns."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self._message = redact(message)
        self.hint = None if hint is None else redact(hint)
        super().__init__(self._message)

    @property
    def message(self) -> str:
        """What went wrong, in one line, with secrets redacted."""
        return self._message

    @message.setter
    def message(self, value: str) -> None:
        self._message = redact(value)
        self.args = (self._message,)

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} {self.hint}"


class UsageError(SummarizerError):
    exit_code = 2


class UnknownLanguageError(UsageError):
    """A ``--lang`` (or a detected language) that is not one we know."""


class URLNotAllowed(UsageError):
    """A URL this process will not fetch: a scheme other than http and https, credentials
    in it, or an address that is private, loopback, link-local or otherwise not public
    when nobody allowed those (``--allow-private-urls``); on the HTTP service, any URL when
    fetching is off (``--allow-fetch``)."""

    def __init__(self, message: str, *, url: str, hint: str | None = None) -> None:
        self.url = url
        super().__init__(message, hint=hint)


class InputError(SummarizerError):
    exit_code = 3

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None) -> None:
        self.path = path
        super().__init__(message, hint=hint)


class ConfigError(SummarizerError):
    exit_code = 4


class ModelNotFoundError(ConfigError):
    def __init__(self, message: str, *, model: str, hint: str | None = None) -> None:
        self.model = model
        super().__init__(message, hint=hint)


class TemplateError(SummarizerError):
    exit_code = 4


class ProviderError(SummarizerError):
    exit_code = 5

    def __init__(
        self,
        message: str,
        *,
        model: str,
        provider: str | None = None,
        hint: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        self.model = model
        self.provider = provider
        #: A transient fault (timeout, dropped connection, 429, 5xx): worth another try.
        self.retryable = retryable
        #: Seconds the provider asked us to wait before retrying (``Retry-After``).
        self.retry_after = retry_after
        #: The HTTP status, when there was one.
        self.status = status
        super().__init__(message, hint=hint)


class ProviderTimeout(ProviderError):
    """The provider gave no complete answer within ``--timeout``: it went silent, or it kept
    the connection alive past the hard deadline. Retryable; the HTTP service answers 504."""


class FormatRejected(ProviderError):
    """The server refused our ``response_format``: the client re-sends the request with a
    simpler form (``json_schema``, then ``json_object``, then none) before giving up."""


class ModelOutputError(SummarizerError):
    exit_code = 6

    def __init__(self, message: str, *, model: str, last_output: str, hint: str | None = None):
        self.model = model
        self.last_output = redact(last_output)
        super().__init__(message, hint=hint)


class ContextOverflowError(SummarizerError):
    exit_code = 7


class UncheckedAnswerError(SummarizerError):
    """``--strict``: the answer still failed a check (grounding, language, key points,
    alignment) after the repairs. Without ``--strict`` it is printed with the findings."""

    exit_code = 8


class FetchError(SummarizerError):
    """A web page could not be fetched: DNS, connection, timeout, an HTTP error status,
    too many redirects, or a download over the size cap. ``retryable`` for timeouts,
    dropped connections, 429 and 5xx; the HTTP service answers 502 (504 for a timeout)."""

    exit_code = 9

    def __init__(
        self,
        message: str,
        *,
        url: str,
        hint: str | None = None,
        retryable: bool = False,
        status: int | None = None,
        timed_out: bool = False,
    ) -> None:
        self.url = url
        self.retryable = retryable
        #: The page's HTTP status, when there was one.
        self.status = status
        self.timed_out = timed_out
        super().__init__(message, hint=hint)
