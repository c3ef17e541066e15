"""The ``summarize`` command: parse, validate, call the library, map errors to exit codes.

Nothing heavy is imported at module level: ``--help``, ``--version`` and argument errors
answer without loading litellm, llama.cpp or a model.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from summarizer import __version__
from summarizer.errors import SummarizerError

if TYPE_CHECKING:
    from summarizer.llm import LLMClient

T = TypeVar("T")


class OutputFormat(str, Enum):
    markdown = "markdown"
    json = "json"


class _SummaryByDefault(TyperGroup):
    """``summarize FILE`` means ``summarize summary FILE``; subcommands stay reachable."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "--version"):
            args = ["summary", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_SummaryByDefault,
    help="Structured summaries and full translations of news articles, in the language you "
    "read, with any LLM. Offline by default (a small bundled model).\n\n"
    "summarize FILE is short for summarize summary FILE.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"summarize {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    pass


FileArg = Annotated[
    str, typer.Argument(help="The article: a UTF-8 text file, or - for standard input.")
]
LangOpt = Annotated[
    str | None,
    typer.Option("--lang", "-l", help="Target language, ISO 639-1 (en, id, fr...). [default: en]"),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Any litellm model string (openai/gpt-4o-mini, ollama/qwen2.5:7b...), a bundled "
        "model (smollm2, gemma3) or a .gguf path. [env: SUMMARIZER_MODEL; default: smollm2]",
        show_default=False,
    ),
]
ApiBaseOpt = Annotated[
    str | None,
    typer.Option(
        "--api-base", help="Base URL of an OpenAI-compatible server. [env: SUMMARIZER_API_BASE]"
    ),
]
FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="markdown for people, json for machines.")
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the result to this file (atomically)."),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Print the exact chat messages and call nothing.")
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", help="Seconds one model request may take. [default: 600]"),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No notices or progress bar on stderr.")
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="Log each model call (tokens, latency) on stderr, never the text."
    ),
]
ConcurrencyOpt = Annotated[
    int,
    typer.Option(
        "--concurrency",
        min=1,
        max=64,
        help="Chunk requests in flight at once for remote models (local models run one at a time).",
    ),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]


def _fail(exc: SummarizerError) -> None:
    typer.echo(f"Error: {exc.message}", err=True)
    if exc.hint:
        typer.echo(f"  {exc.hint}", err=True)


def _guarded(debug: bool, action: Callable[[], T]) -> T:
    """Run ``action``; errors become one clear message and an exit code (README table)."""
    try:
        return action()
    except SummarizerError as exc:
        if debug:
            raise
        _fail(exc)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        if debug:
            raise
        typer.echo("Interrupted.", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:
        if debug:
            raise
        typer.echo(f"Internal error: {type(exc).__name__}: {exc}", err=True)
        typer.echo("  Run again with --debug for the traceback, and report it.", err=True)
        raise typer.Exit(1) from None


def _run_task(
    task: str,
    file: str,
    *,
    lang: str | None,
    model: str | None,
    api_base: str | None,
    output_format: OutputFormat,
    output: Path | None,
    dry_run: bool,
    timeout: float | None,
    quiet: bool,
    verbose: bool = False,
    concurrency: int = 4,
) -> None:
    from summarizer.config import load_settings
    from summarizer.files import read_article, write_atomic
    from summarizer.languages import normalize_language
    from summarizer.models import parse_model

    settings = load_settings(model=model, lang=lang, api_base=api_base, timeout=timeout)
    target_language = normalize_language(settings.lang)
    model_ref = parse_model(settings.model)
    text = read_article(file, max_bytes=settings.max_input_bytes)

    # Only now the heavy imports: litellm, and llama.cpp through it.
    from summarizer import display, pipeline, render
    from summarizer.client import LiteLLMClient
    from summarizer.llm import DryRunClient

    real = LiteLLMClient(api_base=settings.api_base, timeout=settings.timeout)
    real.check_model(model_ref.name)
    if model_ref.is_bundled and settings.model is None and not quiet and not dry_run:
        typer.echo(
            f"Note: using the small bundled demo model {model_ref.name}; its output is rough. "
            "For real summaries name a model, e.g. --model openai/gpt-4o-mini "
            "(with OPENAI_API_KEY set) or --model ollama/qwen2.5:7b.",
            err=True,
        )
    client: LLMClient = DryRunClient(real) if dry_run else real
    run = pipeline.summarize if task == "summary" else pipeline.translate
    with display.progress_bar(enabled=not quiet and not dry_run) as on_progress:
        result: Any = run(
            text,
            target_language=target_language,
            model=model_ref.name,
            client=client,
            on_call=display.call_logger() if verbose and not dry_run else None,
            on_progress=on_progress,
            concurrency=concurrency,
        )

    if isinstance(client, DryRunClient):
        rendered = (
            render.dry_run_json(client.requests)
            if output_format is OutputFormat.json
            else render.dry_run_text(client.requests)
        )
    elif output_format is OutputFormat.json:
        rendered = render.to_json(result)
    elif task == "summary":
        rendered = render.summary_markdown(result)
    else:
        rendered = render.translation_markdown(result)

    if output is None:
        sys.stdout.write(rendered)
    else:
        write_atomic(output, rendered)
        if not quiet:
            typer.echo(f"Wrote {output}", err=True)


@app.command()
def summary(
    file: FileArg,
    lang: LangOpt = None,
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    output_format: FormatOpt = OutputFormat.markdown,
    output: OutputOpt = None,
    dry_run: DryRunOpt = False,
    timeout: TimeoutOpt = None,
    concurrency: ConcurrencyOpt = 4,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Summarize an article: title, summary, key points, entities, dates, quotes (default)."""
    _guarded(
        debug,
        lambda: _run_task(
            "summary",
            file,
            lang=lang,
            model=model,
            api_base=api_base,
            output_format=output_format,
            output=output,
            dry_run=dry_run,
            timeout=timeout,
            quiet=quiet,
            verbose=verbose,
            concurrency=concurrency,
        ),
    )


@app.command()
def translate(
    file: FileArg,
    lang: LangOpt = None,
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    output_format: FormatOpt = OutputFormat.markdown,
    output: OutputOpt = None,
    dry_run: DryRunOpt = False,
    timeout: TimeoutOpt = None,
    concurrency: ConcurrencyOpt = 4,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Translate a whole article, paragraph by paragraph, keeping its structure."""
    _guarded(
        debug,
        lambda: _run_task(
            "translate",
            file,
            lang=lang,
            model=model,
            api_base=api_base,
            output_format=output_format,
            output=output,
            dry_run=dry_run,
            timeout=timeout,
            quiet=quiet,
            verbose=verbose,
            concurrency=concurrency,
        ),
    )


@app.command()
def schema(
    translation: Annotated[
        bool, typer.Option("--translation", help="The translation output instead.")
    ] = False,
) -> None:
    """Print the JSON Schema of the summary output (or of a translation)."""
    from summarizer.schema import Summary, Translation

    model = Translation if translation else Summary
    typer.echo(json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False))


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds one HTTP request may take, end to end (504 after). "
            "[env: SUMMARIZER_TIMEOUT; default: 600]",
            show_default=False,
        ),
    ] = None,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", min=1, help="Largest request body (413 above).")
    ] = 2_000_000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=256,
            help="Requests worked on at once (a local model still generates one at a time).",
        ),
    ] = 4,
    allow_model: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-model",
            help="A model requests may name besides the default; repeat for more. Without "
            "it, any bundled or provider model (never a .gguf path).",
            show_default=False,
        ),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Serve summaries and translations over HTTP (OpenAPI document at /docs)."""

    def action() -> None:
        from summarizer.config import load_settings
        from summarizer.errors import ConfigError
        from summarizer.models import parse_model

        settings = load_settings(model=model, api_base=api_base, timeout=timeout)
        parse_model(settings.model)
        # Only now the heavy imports: FastAPI, uvicorn, litellm; the model loads at start-up.
        try:
            import uvicorn

            from summarizer.server import create_app
        except ImportError as exc:
            raise ConfigError(
                f"The HTTP service needs FastAPI and uvicorn ({exc.name} is missing).",
                hint='Install them with: pip install "summarizer[server]"',
            ) from exc

        application = create_app(
            default_model=settings.model,
            api_base=settings.api_base,
            request_timeout=settings.timeout,
            max_body_bytes=max_body_bytes,
            concurrency=workers,
            allowed_models=allow_model or None,
        )
        uvicorn.run(application, host=host, port=port, log_level="debug" if debug else "info")

    _guarded(debug, action)


def main() -> None:
    app()
