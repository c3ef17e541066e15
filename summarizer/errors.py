"""Every error this package raises on purpose.

One base class, so callers can catch ``SummarizerError`` and show ``str(exc)``: each message
says what went wrong and how to fix it. Each class carries the process exit code the CLI
uses for it (documented in the README)::

    SummarizerError                 1  (base; never raised directly)
    ├── UsageError                  2  bad option values: unknown --lang, --format ...
    ├── InputError                  3  the article cannot be read or is empty
    ├── ConfigError                 4  config file, unknown model string, missing API key
    │   └── ModelNotFoundError      4  a local model alias or .gguf path that does not exist
    ├── TemplateError               4  a prompt template is missing or broken
    ├── ProviderError               5  the model provider failed (network, auth, rate limit, 5xx)
    ├── ModelOutputError            6  the model's answer never matched the schema
    └── ContextOverflowError        7  a piece of input cannot fit the model's context window
"""

from __future__ import annotations


class SummarizerError(Exception):
    """Base class: a message for people and the exit code the CLI returns."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} {hint}")


class UsageError(SummarizerError):
    exit_code = 2


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
        self, message: str, *, model: str, provider: str | None = None, hint: str | None = None
    ) -> None:
        self.model = model
        self.provider = provider
        super().__init__(message, hint=hint)


class ModelOutputError(SummarizerError):
    exit_code = 6

    def __init__(self, message: str, *, model: str, last_output: str, hint: str | None = None):
        self.model = model
        self.last_output = last_output
        super().__init__(message, hint=hint)


class ContextOverflowError(SummarizerError):
    exit_code = 7
