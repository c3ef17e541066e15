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
        "model (smollm2, gemma3) or a .gguf path. [env: SUMMARIZER_MODEL; default: gemma3]",
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
    typer.Option(
        "--timeout",
        help="Seconds one remote model request may take, a hard limit. "
        "[env: SUMMARIZER_TIMEOUT; default: 600]",
        show_default=False,
    ),
]
RetriesOpt = Annotated[
    int | None,
    typer.Option(
        "--retries",
        help="Further attempts per remote model after a timeout, dropped connection, 429 or "
        "5xx, with backoff. [env: SUMMARIZER_RETRIES; default: 2]",
        show_default=False,
    ),
]
FallbackOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--fallback",
        help="A model to try when the previous one fails; repeat for more, tried in order.",
        show_default=False,
    ),
]
EncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="The article's text encoding when it is not UTF-8 (cp1252, latin-1, utf-16...).",
        show_default=False,
    ),
]
PromptsDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--prompts-dir",
        help="Use the prompt templates in this folder (one sub-folder per task).",
        show_default=False,
    ),
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
NoCacheOpt = Annotated[
    bool,
    typer.Option("--no-cache", help="Call the model even when the response cache has the answer."),
]


def _fail(exc: SummarizerError) -> None:
    typer.echo(f"Error: {exc.message}", err=True)
    if exc.hint:
        typer.echo(f"  {exc.hint}", err=True)


def _traceback(exc: BaseException) -> None:
    """``--debug``: the traceback, with any API key a provider echoed redacted."""
    import traceback

    from summarizer.errors import redact

    typer.echo(redact("".join(traceback.format_exception(exc))), err=True)


def _guarded(debug: bool, action: Callable[[], T]) -> T:
    """Run ``action``; errors become one clear message and an exit code (README table)."""
    from summarizer.errors import redact

    try:
        return action()
    except SummarizerError as exc:
        if debug:
            _traceback(exc)
        _fail(exc)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:
        if debug:
            _traceback(exc)
        typer.echo("Interrupted.", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:
        if debug:
            _traceback(exc)
        typer.echo(redact(f"Internal error: {type(exc).__name__}: {exc}"), err=True)
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
    reliability: dict[str, Any] | None = None,
    no_cache: bool = False,
) -> None:
    from summarizer.config import load_settings
    from summarizer.files import load_article, write_atomic
    from summarizer.languages import normalize_language
    from summarizer.models import parse_model

    extra = reliability or {}
    settings = load_settings(
        model=model, lang=lang, api_base=api_base, timeout=timeout, retries=extra.get("retries")
    )
    target_language = normalize_language(settings.lang)
    model_ref = parse_model(settings.model)
    fallbacks = [parse_model(name).name for name in extra.get("fallbacks") or []]
    article = load_article(file, max_bytes=settings.max_input_bytes, encoding=extra.get("encoding"))
    text = article.text
    if article.notice and not quiet:
        typer.echo(f"Note: {article.notice}", err=True)

    from summarizer import display, pipeline, render
    from summarizer.llm import DryRunClient, LazyClient

    progress = display.TerminalProgress(enabled=not quiet and not dry_run)

    def real_client() -> LLMClient:
        # The heavy imports only when a model or its tokenizer is really needed: a run
        # answered from the cache never gets here, and a local model alone needs no litellm.
        if model_ref.is_local and not fallbacks:
            from summarizer.local import LocalClient

            local_client = LocalClient(on_generation=progress.on_generation)
            local_client.check_models(model_ref.name)
            return local_client
        from summarizer.client import LiteLLMClient

        client = LiteLLMClient(
            api_base=settings.api_base,
            timeout=settings.timeout,
            retries=settings.retries,
            fallbacks=fallbacks,
            notify=None if quiet else lambda notice: typer.echo(f"Note: {notice}", err=True),
        )
        client.check_models(model_ref.name)
        return client

    real = LazyClient(real_client)
    if no_cache or dry_run:
        real.resolve()  # nothing can come from the cache: check the settings up front
    if model_ref.is_bundled and settings.model is None and not quiet and not dry_run:
        typer.echo(
            f"Note: using the small bundled demo model {model_ref.name}; its output is rough. "
            "For real summaries name a model, e.g. --model openai/gpt-4o-mini "
            "(with OPENAI_API_KEY set) or --model ollama/qwen2.5:7b.",
            err=True,
        )
    from summarizer.cache import caching_client, mark_cached

    client: LLMClient = (
        DryRunClient(real)
        if dry_run
        else caching_client(
            real,
            raw_text=text,
            model=model_ref.name,
            api_base=settings.api_base,
            enabled=not no_cache,
            fallbacks=fallbacks,
        )
    )
    run = pipeline.summarize if task == "summary" else pipeline.translate
    with progress:
        result: Any = run(
            text,
            target_language=target_language,
            model=model_ref.name,
            client=client,
            on_call=display.call_logger() if verbose and not dry_run else None,
            on_progress=progress.on_progress,
            concurrency=concurrency,
            prompts_dir=extra.get("prompts_dir"),
        )
    result = mark_cached(client, result)

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
    retries: RetriesOpt = None,
    fallback: FallbackOpt = None,
    encoding: EncodingOpt = None,
    prompts_dir: PromptsDirOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    no_cache: NoCacheOpt = False,
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
            reliability={
                "retries": retries,
                "fallbacks": fallback,
                "encoding": encoding,
                "prompts_dir": prompts_dir,
            },
            no_cache=no_cache,
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
    retries: RetriesOpt = None,
    fallback: FallbackOpt = None,
    encoding: EncodingOpt = None,
    prompts_dir: PromptsDirOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    no_cache: NoCacheOpt = False,
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
            reliability={
                "retries": retries,
                "fallbacks": fallback,
                "encoding": encoding,
                "prompts_dir": prompts_dir,
            },
            no_cache=no_cache,
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
def batch(
    inputs: Annotated[
        list[str],
        typer.Argument(help="Article files, folders (their .txt/.md files) and glob patterns."),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="JSON Lines results file, one line per article; run again with the same "
            "file to resume (inputs already in it are skipped).",
        ),
    ],
    lang: LangOpt = None,
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    timeout: TimeoutOpt = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            max=256,
            help="Articles in flight at once for remote models (a local model runs one at a time).",
        ),
    ] = 8,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            min=1,
            max=64,
            help="Worker processes sharing --concurrency (remote models, Linux). "
            "[default: one per 8 in flight, at most one per core]",
            show_default=False,
        ),
    ] = None,
    translate: Annotated[
        bool, typer.Option("--translate", help="Full translations instead of summaries.")
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="Run inputs whose earlier attempt failed again (their error lines are replaced).",
        ),
    ] = False,
    no_cache: NoCacheOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Summarize (or translate) many articles into a JSON Lines file, resumably.

    Exits 0 when every article succeeded, 1 when some failed (their lines say why).
    """
    from summarizer.batch import Tally, run_batch_command

    tally = Tally()

    def action() -> None:
        try:
            run_batch_command(
                inputs,
                out,
                task="translate" if translate else "summary",
                lang=lang,
                model=model,
                api_base=api_base,
                timeout=timeout,
                concurrency=concurrency,
                processes=processes,
                retry_failed=retry_failed,
                use_cache=not no_cache,
                progress=not quiet,
                tally=tally,
            )
        finally:
            if tally.repaired and not quiet:
                typer.echo(f"Note: cut a torn last line off {out} (a run was killed).", err=True)
            if tally.total and not quiet:
                typer.echo(tally.line(), err=True)

    _guarded(debug, action)
    if tally.failed:
        raise typer.Exit(1)


@app.command()
def cache(
    action: Annotated[
        str, typer.Argument(help="info: where it is and what it holds; clear: empty it.")
    ],
) -> None:
    """Inspect or empty the local response cache."""
    from summarizer.cache import ResponseCache, cache_path, missing_cache_info

    if action not in ("info", "clear"):
        typer.echo(f"Error: unknown cache action {action!r}.", err=True)
        typer.echo("  Use: summarize cache info, or summarize cache clear.", err=True)
        raise typer.Exit(2)
    if not cache_path().exists():
        info = missing_cache_info()
        if action == "clear":
            typer.echo(f"The cache at {info.path} is already empty.")
            return
    else:
        store = _guarded(False, ResponseCache)
        try:
            if action == "clear":
                removed = store.clear()
                typer.echo(f"Removed {removed} cached responses from {store.path}.")
                return
            info = store.info()
        finally:
            store.close()
    typer.echo(f"path: {info.path}")
    typer.echo(f"entries: {info.entries}")
    typer.echo(f"hits: {info.hits}")
    typer.echo(f"size: {info.size_bytes:,} bytes")
    typer.echo(f"saved: ${info.saved_usd:.4f} (where prices are known)")


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
    no_cache: NoCacheOpt = False,
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

        from summarizer.cache import ResponseCache

        application = create_app(
            cache=None if no_cache else ResponseCache(),
            default_model=settings.model,
            api_base=settings.api_base,
            request_timeout=settings.timeout,
            max_body_bytes=max_body_bytes,
            concurrency=workers,
            allowed_models=allow_model or None,
        )
        uvicorn.run(application, host=host, port=port, log_level="debug" if debug else "info")

    _guarded(debug, action)


@app.command("eval")
def eval_(
    model: ModelOpt = None,
    judge: Annotated[
        str | None,
        typer.Option("--judge", help="Also grade each fact with this model (A-E verdicts)."),
    ] = None,
    cases: Annotated[
        str, typer.Option("--cases", help="Glob over case ids in evals/cases/.")
    ] = "*",
    repeat: Annotated[
        int, typer.Option("--repeat", min=1, help="Run each case N times; report stability.")
    ] = 1,
    api_base: ApiBaseOpt = None,
    timeout: TimeoutOpt = None,
    evals_dir: Annotated[
        Path | None,
        typer.Option("--evals-dir", help="Folder with cases/, thresholds.yaml, baselines/."),
    ] = None,
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", help="Where reports go. [default: evals/results]")
    ] = None,
    regrade: Annotated[
        Path | None,
        typer.Option("--regrade", help="Re-grade the outputs of an earlier results JSON file."),
    ] = None,
    update_baseline: Annotated[
        bool, typer.Option("--update-baseline", help="Record this run as the model's baseline.")
    ] = False,
    gate: Annotated[
        str, typer.Option("--gate", help="What fails the run: all, thresholds, baseline, none.")
    ] = "all",
    debug: DebugOpt = False,
) -> None:
    """Run the eval suite: grade outputs against reference facts; exit 1 under the gate."""

    def action() -> bool:
        from summarizer.config import load_settings
        from summarizer.errors import UsageError
        from summarizer.evaluation.suite import run_eval
        from summarizer.models import parse_model

        if gate not in ("all", "thresholds", "baseline", "none"):
            raise UsageError(f"--gate must be all, thresholds, baseline or none, not {gate!r}.")
        settings = load_settings(model=model, api_base=api_base, timeout=timeout)
        model_name = parse_model(settings.model).name
        client = judge_client = None
        judge_name = parse_model(judge).name if judge else None
        if regrade is None or judge_name:
            from summarizer.client import LiteLLMClient

            client = LiteLLMClient(api_base=settings.api_base, timeout=settings.timeout)
            if regrade is None:
                client.check_model(model_name)
            if judge_name:
                judge_client = client
                client.check_model(judge_name)
        result = run_eval(
            model=model_name,
            client=client,
            judge=judge_name,
            judge_client=judge_client,
            cases=cases,
            repeat=repeat,
            evals_dir=evals_dir,
            output_dir=output_dir,
            regrade=regrade,
            update_baseline=update_baseline,
            gate=gate,  # type: ignore[arg-type]
            echo=typer.echo,
            progress=lambda line: typer.echo(line, err=True),
        )
        return result.suite.gate.passed

    # The gate's verdict is the exit code: 1 when a case or the baseline fails.
    if not _guarded(debug, action):
        raise typer.Exit(1)


def _terminated(signum: int, frame: object) -> None:
    # SIGTERM unwinds like an exception, so --output's temporary file is removed.
    raise SystemExit(128 + signum)


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminated)
    app()
