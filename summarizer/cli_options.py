"""The CLI's options, declared once: every command that takes ``--timeout`` (or
``--retries``, ``--fallback``, ``--no-cache``...) takes the same option, with the same help,
read into the same ``Settings`` by ``Options.settings``.

Typer reads a command's options from its function signature; ``command`` builds that
signature from this table, so a command names the options it takes instead of repeating
seventeen parameters, and its body receives one ``Options`` object.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from summarizer.config import Settings


class OutputFormat(str, Enum):
    markdown = "markdown"
    json = "json"


@dataclass(frozen=True)
class _Declared:
    annotation: Any
    default: Any = None


def _option(kind: Any, *decls: str, help: str, default: Any = None, **extra: Any) -> _Declared:
    return _Declared(
        Annotated[kind, typer.Option(*decls, help=help, show_default=False, **extra)], default
    )


_MODEL_HELP = (
    "Any litellm model string (openai/gpt-4o-mini, ollama/qwen2.5:7b...), a bundled model "
    "(smollm2, gemma3) or a .gguf path. [env: SUMMARIZER_MODEL; default: gemma3]"
)

# Every option, by the parameter name commands use for it.
DECLARED: dict[str, _Declared] = {
    "file": _Declared(
        Annotated[
            str,
            typer.Argument(
                help="The article: a text or HTML file, an http(s) URL of a web page, or - "
                "for standard input (text or HTML)."
            ),
        ],
        ...,
    ),
    "lang": _option(
        str | None,
        "--lang",
        "-l",
        help="Target language, ISO 639-1 (en, id, fr...). [env: SUMMARIZER_LANG; default: en]",
    ),
    "model": _option(str | None, "--model", "-m", help=_MODEL_HELP),
    "fallback": _option(
        list[str] | None,
        "--fallback",
        help="A model to try when the previous one fails; repeat for more, tried in order. "
        "[env: SUMMARIZER_FALLBACKS, comma-separated]",
    ),
    "api_base": _option(
        str | None,
        "--api-base",
        help="Base URL of an OpenAI-compatible server. [env: SUMMARIZER_API_BASE]",
    ),
    "timeout": _option(
        float | None,
        "--timeout",
        help="Seconds one model request may take, a hard limit (the service also gives each "
        "HTTP request this long). [env: SUMMARIZER_TIMEOUT; default: 600]",
    ),
    "retries": _option(
        int | None,
        "--retries",
        help="Further attempts per remote model after a timeout, dropped connection, 429 or "
        "5xx, with backoff. [env: SUMMARIZER_RETRIES; default: 2]",
    ),
    "context_window": _option(
        int | None,
        "--context-window",
        help="Tokens a remote model accepts, for a server litellm does not know "
        "(default there: 8192). [env: SUMMARIZER_CONTEXT_WINDOW]",
    ),
    "prompts_dir": _option(
        Path | None,
        "--prompts-dir",
        help="Prompt templates to use instead of the built-in ones (one sub-folder per "
        "task; templates missing there come from the built-in set). "
        "[env: SUMMARIZER_PROMPTS_DIR]",
    ),
    "no_cache": _option(
        bool,
        "--no-cache",
        help="Call the model even when the response cache has the answer.",
        default=False,
    ),
    "strict": _option(
        bool,
        "--strict",
        help="Fail (exit code 8, nothing written to --output) when the answer still fails "
        "a check after the repairs: a name, number or date not in the article, a field "
        "in the wrong language, a field name as a key point. Without it the answer is "
        "printed with the findings flagged. [env: SUMMARIZER_STRICT]",
        default=False,
    ),
    "quiet": _option(
        bool, "--quiet", "-q", help="No notices or progress bar on stderr.", default=False
    ),
    "verbose": _option(
        bool,
        "--verbose",
        "-v",
        help="Log each model call (tokens, latency) on stderr, never the text.",
        default=False,
    ),
    "debug": _option(
        bool,
        "--debug",
        help="Show tracebacks on errors, and debug logs (e.g. answer keys dropped).",
        default=False,
    ),
    "output_format": _option(
        OutputFormat,
        "--format",
        "-f",
        help="markdown for people, json for machines. [default: markdown]",
        default=OutputFormat.markdown,
    ),
    "output": _option(
        Path | None, "--output", "-o", help="Write the result to this file (atomically)."
    ),
    "dry_run": _option(
        bool,
        "--dry-run",
        help="Print the chat messages a run would send, and call nothing (no API key "
        "needed; a provider's model is chunked with an estimate of its tokenizer).",
        default=False,
    ),
    "concurrency": _option(
        int,
        "--concurrency",
        help="Model requests in flight at once (here: chunks of the article), for models "
        "that allow it (an embedded model runs one at a time). [default: 4]",
        default=4,
        min=1,
        max=64,
    ),
    "allow_private_urls": _option(
        bool,
        "--allow-private-urls",
        help="Fetch URLs whose host is a private, loopback or link-local address (an "
        "intranet page, a local test server). Off: only public addresses are fetched.",
        default=False,
    ),
    "encoding": _option(
        str | None,
        "--encoding",
        help="The article's text encoding when it is not UTF-8 (cp1252, latin-1, utf-16...).",
    ),
}


@dataclass(frozen=True)
class Options:
    """What a command was given; ``None`` where an option was not given."""

    file: str = "-"
    lang: str | None = None
    model: str | None = None
    fallback: list[str] | None = None
    api_base: str | None = None
    timeout: float | None = None
    retries: int | None = None
    context_window: int | None = None
    prompts_dir: Path | None = None
    no_cache: bool = False
    strict: bool = False
    quiet: bool = False
    verbose: bool = False
    debug: bool = False
    output_format: OutputFormat = OutputFormat.markdown
    output: Path | None = None
    dry_run: bool = False
    concurrency: int = 4
    encoding: str | None = None
    allow_private_urls: bool = False
    # The command's own options (serve's --port, batch's --out...).
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, values: dict[str, Any]) -> Options:
        shared = {f.name for f in fields(cls)} - {"extra"}
        return cls(
            **{k: v for k, v in values.items() if k in shared},
            extra={k: v for k, v in values.items() if k not in shared},
        )

    def settings(self) -> Settings:
        """The settings these options select, over the config file and environment.

        Raises:
            UsageError: a bad flag value. ConfigError: a bad config file or variable.
        """
        from summarizer.config import load_settings

        return load_settings(
            model=self.model,
            lang=self.lang,
            api_base=self.api_base,
            timeout=self.timeout,
            retries=self.retries,
            fallbacks=self.fallback or None,
            context_window=self.context_window,
            prompts_dir=self.prompts_dir,
            cache=False if self.no_cache else None,
            strict=True if self.strict else None,
        )


def command(
    app: typer.Typer, name: str, shared: list[str], own: dict[str, _Declared] | None = None
) -> Callable[[Callable[[Options], None]], Callable[[Options], None]]:
    """Register the decorated ``body(options)`` as command ``name`` taking the ``shared``
    options (by their name in ``DECLARED``) and its ``own``, in that order."""
    declared = {**{n: DECLARED[n] for n in shared}, **(own or {})}
    parameters = [
        inspect.Parameter(
            n, inspect.Parameter.KEYWORD_ONLY, default=d.default, annotation=d.annotation
        )
        for n, d in declared.items()
    ]

    def decorate(body: Callable[[Options], None]) -> Callable[[Options], None]:
        def run(**values: Any) -> None:
            body(Options.of(values))

        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        run.__doc__ = body.__doc__
        run.__name__ = name
        app.command(name)(run)
        return body

    return decorate


def own_option(kind: Any, *decls: str, help: str, default: Any = None, **extra: Any) -> _Declared:
    """A command's own option, for ``command(..., own={...})``."""
    return _option(kind, *decls, help=help, default=default, **extra)


def own_argument(kind: Any, *, help: str, default: Any = ...) -> _Declared:
    """A command's own positional argument (required unless given a default)."""
    return _Declared(Annotated[kind, typer.Argument(help=help, show_default=False)], default)
