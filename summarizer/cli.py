"""The ``summarize`` command: parse options, call the application layer, render, and map
errors to exit codes. Each command is a thin adapter over ``app.Summarizer``.

Nothing heavy is imported at module level: ``--help``, ``--version`` and argument errors
answer without loading litellm, llama.cpp or a model.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from summarizer import __version__
from summarizer.cli_options import (
    Options,
    OutputFormat,
    command,
    own_argument,
    own_option,
)
from summarizer.errors import SummarizerError
from summarizer.server_access import DEFAULT_REQUESTS_PER_MINUTE, DEFAULT_TOKENS_PER_DAY
from summarizer.tasks import Task

if TYPE_CHECKING:
    from summarizer.app import Summarizer
    from summarizer.config import Settings
    from summarizer.display import TerminalProgress
    from summarizer.events import Event, OnEvent
    from summarizer.sources import ArticleText

T = TypeVar("T")


class _SummaryByDefault(TyperGroup):
    """``summarize FILE`` means ``summarize summary FILE``; subcommands stay reachable.
    ``batch ... --ray`` with no address (last, or before another option) means
    ``--ray local``: click's own optional-value options are not passed through by typer."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "--version"):
            args = ["summary", *args]
        if args and args[0] == "batch":
            args = [given for i in range(len(args)) for given in _with_ray_address(args, i)]
        return super().parse_args(ctx, args)


def _with_ray_address(args: list[str], i: int) -> tuple[str, ...]:
    """``args[i]``, followed by ``local`` where it is a ``--ray`` given no address."""
    alone = args[i] == "--ray" and (i + 1 == len(args) or args[i + 1].startswith("-"))
    return (args[i], "local") if alone else (args[i],)


app = typer.Typer(
    cls=_SummaryByDefault,
    help="Structured summaries and full translations of news articles, in the language you "
    "read, with any LLM. Offline by default (a small bundled model).\n\n"
    "summarize FILE (or URL) is short for summarize summary FILE.",
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


# -- errors -------------------------------------------------------------------------------


def _fail(exc: SummarizerError) -> None:
    typer.echo(f"Error: {exc.message}", err=True)
    if exc.hint:
        typer.echo(f"  {exc.hint}", err=True)


def _traceback(exc: BaseException) -> None:
    """``--debug``: the traceback, with any API key a provider echoed redacted."""
    import traceback

    from summarizer.errors import redact

    typer.echo(redact("".join(traceback.format_exception(exc))), err=True)


def _debug_logging() -> None:
    """``--debug``: the package's debug log (answer keys dropped...) on stderr."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("debug: %(message)s"))
    logger = logging.getLogger("summarizer")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _guarded(debug: bool, action: Callable[[], T]) -> T:
    """Run ``action``; errors become one clear message and an exit code (README table)."""
    from summarizer.errors import redact

    if debug:
        _debug_logging()
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


def _summarizer(settings: Settings, **kwargs: Any) -> Summarizer:
    """The application object every command runs on (imported late: it is not light)."""
    from summarizer.app import Summarizer

    return Summarizer(settings, **kwargs)


# -- summary and translate -----------------------------------------------------------------

# What `summary` and `translate` take, in --help order.
_TASK_OPTIONS = [
    "file",
    "lang",
    "model",
    "api_base",
    "output_format",
    "output",
    "dry_run",
    "timeout",
    "concurrency",
    "retries",
    "fallback",
    "context_window",
    "encoding",
    "allow_private_urls",
    "prompts_dir",
    "strict",
    "quiet",
    "verbose",
    "no_cache",
    "debug",
]
# What every command that calls a model takes.
_MODEL_OPTIONS = [
    "model",
    "fallback",
    "api_base",
    "timeout",
    "retries",
    "context_window",
    "prompts_dir",
    "no_cache",
    "strict",
]


@command(app, "summary", _TASK_OPTIONS)
def summary(options: Options) -> None:
    """Summarize an article: title, summary, key points, entities, dates, quotes (default)."""
    _guarded(options.debug, lambda: _run_task(Task.SUMMARIZE, options))


@command(app, "translate", _TASK_OPTIONS)
def translate(options: Options) -> None:
    """Translate a whole article, paragraph by paragraph, keeping its structure."""
    _guarded(options.debug, lambda: _run_task(Task.TRANSLATE, options))


def _run_task(task: Task, options: Options) -> None:
    from summarizer.display import TerminalProgress
    from summarizer.sources import FetchPolicy

    progress = TerminalProgress(enabled=not options.quiet and not options.dry_run)
    listener = _listener(options, progress)
    # Built first: a bad --lang or model string is reported before a missing file.
    with _summarizer(
        options.settings(), on_event=listener, concurrency=options.concurrency
    ) as summarizer:
        fetch = FetchPolicy(allow_private=options.allow_private_urls)
        article = summarizer.read(options.file, encoding=options.encoding, fetch=fetch)
        if article.notice and not options.quiet:
            typer.echo(f"Note: {article.notice}", err=True)
        if options.dry_run:
            rendered = _dry_run(summarizer, task, article.text, options.output_format)
        else:
            rendered = _real_run(summarizer, task, article, options, progress)
    _write(rendered, options)


@command(
    app,
    "extract",
    ["file", "encoding", "allow_private_urls", "output_format", "output", "quiet", "debug"],
)
def extract(options: Options) -> None:
    """Print the article text a web page or HTML file gives the model: title, date, main
    text (--format json adds where it came from). Saved as a file, it summarizes the same."""
    _guarded(options.debug, lambda: _write(_extracted(options), options))


def _extracted(options: Options) -> str:
    from summarizer.sources import FetchPolicy

    with _summarizer(options.settings()) as summarizer:
        fetch = FetchPolicy(allow_private=options.allow_private_urls)
        article = summarizer.read(options.file, encoding=options.encoding, fetch=fetch)
    if article.notice and not options.quiet:
        typer.echo(f"Note: {article.notice}", err=True)
    if options.output_format is OutputFormat.json:
        source = None if article.source is None else article.source.model_dump(mode="json")
        return (
            json.dumps({"text": article.text, "source": source}, ensure_ascii=False, indent=2)
            + "\n"
        )
    return article.text + "\n"


def _dry_run(summarizer: Summarizer, task: Task, text: str, output_format: OutputFormat) -> str:
    from summarizer import render

    requests = summarizer.plan(task, text)
    if output_format is OutputFormat.json:
        return render.dry_run_json(requests)
    return render.dry_run_text(requests)


def _real_run(
    summarizer: Summarizer,
    task: Task,
    article: ArticleText,
    options: Options,
    progress: TerminalProgress,
) -> str:
    from summarizer import render
    from summarizer.checks import verdict_line
    from summarizer.schema import Translation

    if options.no_cache:
        summarizer.check()  # nothing can come from the cache: check the settings up front
    if summarizer.uses_demo_model and not options.quiet:
        typer.echo(
            f"Note: using the small bundled demo model {summarizer.model}; its output is "
            "rough. For real summaries name a model, e.g. --model openai/gpt-4o-mini "
            "(with OPENAI_API_KEY set) or --model ollama/qwen2.5:7b.",
            err=True,
        )
    with progress:
        result = summarizer.run(task, article.text, source=article.source)
    flagged = verdict_line(result)
    if flagged and not options.quiet:
        typer.echo(f"Warning: the answer failed checks, flagged in the output: {flagged}", err=True)
    if options.output_format is OutputFormat.json:
        return render.to_json(result)
    if isinstance(result, Translation):
        return render.translation_markdown(result)
    return render.summary_markdown(result)


def _listener(options: Options, progress: TerminalProgress) -> OnEvent:
    """What a person sees of a job's events on stderr, as the options ask."""
    from summarizer.display import call_logger
    from summarizer.events import CallDone, Notice

    log_call = call_logger() if options.verbose and not options.dry_run else None

    def on_event(event: Event) -> None:
        if isinstance(event, Notice):
            if not options.quiet:
                typer.echo(f"Note: {event.text}", err=True)
        elif isinstance(event, CallDone):
            if log_call is not None:
                log_call(event.record)
        else:
            progress.on_event(event)

    return on_event


def _write(rendered: str, options: Options) -> None:
    from summarizer.files import write_atomic

    if options.output is None:
        sys.stdout.write(rendered)
        return
    write_atomic(options.output, rendered)
    if not options.quiet:
        typer.echo(f"Wrote {options.output}", err=True)


# -- everything else -------------------------------------------------------------------------


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
def models() -> None:
    """List the bundled models, and say how to name a provider's model."""
    from summarizer.catalog import bundled_models, models_text

    typer.echo(_guarded(False, lambda: models_text(bundled_models())), nl=False)


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


@command(
    app,
    "batch",
    ["lang", *_MODEL_OPTIONS, "allow_private_urls", "quiet", "debug"],
    own={
        "inputs": own_argument(
            list[str] | None,
            help="Article files (text or HTML), folders (their .txt/.md files), glob "
            "patterns and http(s) URLs of web pages.",
            default=None,
        ),
        "urls": own_option(
            Path | None,
            "--urls",
            help="A file of web page URLs to add to the inputs, one per line (# comments).",
        ),
        "out": own_option(
            Path,
            "--out",
            "-o",
            help="JSON Lines results file, one line per article; run again with the same "
            "file to resume (inputs already in it are skipped).",
            default=...,
        ),
        "articles_in_flight": own_option(
            int,
            "--concurrency",
            "-c",
            help="Model requests in flight at once (here: articles, each one request at a "
            "time), for models that allow it (an embedded model runs one at a time). "
            "[default: 8]",
            default=8,
            min=1,
            max=256,
        ),
        "processes": own_option(
            int | None,
            "--processes",
            help="Worker processes sharing --concurrency (remote models, Linux). "
            "[default: one per 8 in flight, at most one per core]",
            min=1,
            max=64,
        ),
        "translate": own_option(
            bool, "--translate", help="Full translations instead of summaries.", default=False
        ),
        "retry_failed": own_option(
            bool,
            "--retry-failed",
            help="Run inputs whose earlier attempt failed again (their error lines are replaced).",
            default=False,
        ),
        "redo": own_option(
            bool,
            "--redo",
            help="Discard the results already in --out and run every input again (needed "
            "when they were made with another task, --lang, model or --prompts-dir).",
            default=False,
        ),
        "ray": own_option(
            str | None,
            "--ray",
            help="Run the articles on Ray (pip install 'summarizer[ray]'): alone or with "
            "'local' it starts Ray on this machine; 'auto' or HOST:PORT (the head's GCS) "
            "joins a cluster from one of its nodes. --concurrency is then the whole "
            "cluster's; this machine alone writes --out.",
            metavar="[ADDRESS]",
        ),
    },
)
def batch(options: Options) -> None:
    """Summarize (or translate) many articles into a JSON Lines file, resumably.

    Exits 0 when every article succeeded, 1 when some failed (their lines say why).
    """
    from summarizer.batch import Tally

    tally = Tally()
    out: Path = options.extra["out"]

    def action() -> None:
        try:
            _run_batch(options, tally)
        finally:
            if tally.repaired and not options.quiet:
                typer.echo(f"Note: cut a torn last line off {out} (a run was killed).", err=True)
            if tally.total and not options.quiet:
                typer.echo(tally.line(), err=True)

    _guarded(options.debug, action)
    if tally.failed:
        raise typer.Exit(1)


def _run_batch(options: Options, tally: Any) -> None:
    from summarizer.batch import BatchJob, progress_display, run_batch
    from summarizer.errors import UsageError
    from summarizer.sources import FetchPolicy

    extra = options.extra
    if not extra["inputs"] and extra["urls"] is None:
        raise UsageError(
            "batch needs inputs: files, folders, globs or URLs, or --urls FILE.",
            hint="For example: summarize batch articles/ --out results.jsonl",
        )
    job = BatchJob(
        task=Task.TRANSLATE if extra["translate"] else Task.SUMMARIZE,
        concurrency=extra["articles_in_flight"],
        retry_failed=extra["retry_failed"],
        processes=extra["processes"],
        redo=extra["redo"],
        urls=extra["urls"],
        fetch=FetchPolicy(allow_private=options.allow_private_urls),
        ray_address=extra["ray"],
    )
    # One chunk at a time per article, as before: --concurrency sets articles in flight.
    with (
        _summarizer(options.settings(), concurrency=1) as summarizer,
        progress_display(enabled=not options.quiet) as (on_start, on_record),
    ):
        run_batch(
            extra["inputs"] or [],
            extra["out"],
            job,
            summarizer=summarizer,
            on_start=on_start,
            on_record=on_record,
            tally=tally,
        )


@command(
    app,
    "serve",
    [*_MODEL_OPTIONS, "allow_private_urls", "debug"],
    own={
        "allow_fetch": own_option(
            bool,
            "--allow-fetch",
            help="Let callers send a url instead of the text: the server fetches the page "
            "(public addresses only, unless --allow-private-urls too).",
            default=False,
        ),
        "host": own_option(str, "--host", help="Interface to listen on.", default="127.0.0.1"),
        "port": own_option(int, "--port", help="TCP port.", default=8000, min=0, max=65535),
        "max_body_bytes": own_option(
            int,
            "--max-body-bytes",
            help="Largest request body (413 above).",
            default=2_000_000,
            min=1,
        ),
        "workers": own_option(
            int,
            "--workers",
            help="Requests worked on at once (an embedded model still generates one at a time).",
            default=4,
            min=1,
            max=256,
        ),
        "allow_model": own_option(
            list[str] | None,
            "--allow-model",
            help="A model callers may name besides --model and --fallback; a glob such as "
            "'openai/gpt-4o*' allowed; repeat for more. Callers may name nothing else.",
        ),
        "api_key_file": own_option(
            Path | None,
            "--api-key-file",
            help="Callers' API keys, one a line ('name:key' or 'key'); every request then "
            "needs Authorization: Bearer <key>. [default: SUMMARIZER_SERVER_KEYS, "
            "comma-separated; without keys, loopback only]",
        ),
        "insecure_no_auth": own_option(
            bool,
            "--insecure-no-auth",
            help="Serve a non-loopback --host without keys (a proxy in front authenticates).",
            default=False,
        ),
        "requests_per_minute": own_option(
            int,
            "--requests-per-minute",
            help="Per key; 0 for no limit (429 with Retry-After above it).",
            default=DEFAULT_REQUESTS_PER_MINUTE,
            min=0,
        ),
        "tokens_per_day": own_option(
            int,
            "--tokens-per-day",
            help="Model tokens per key per UTC day; 0 for no limit.",
            default=DEFAULT_TOKENS_PER_DAY,
            min=0,
        ),
    },
)
def serve(options: Options) -> None:
    """Serve summaries and translations over HTTP (OpenAPI document at /docs)."""
    _guarded(options.debug, lambda: _serve(options))


def _serve(options: Options) -> None:
    from summarizer.errors import ConfigError

    extra = options.extra
    settings = options.settings()
    # Only now the heavy imports: FastAPI and uvicorn; the model loads at start-up.
    try:
        import uvicorn

        from summarizer.server import create_app
        from summarizer.server_access import Limits, check_binding, load_keys
        from summarizer.server_limits import guarded_protocol
        from summarizer.sources import FetchPolicy
    except ImportError as exc:
        raise ConfigError(
            f"The HTTP service needs FastAPI and uvicorn ({exc.name} is missing).",
            hint='Install them with: pip install "summarizer[server]"',
        ) from exc
    keys = load_keys(extra["api_key_file"], os.environ.get("SUMMARIZER_SERVER_KEYS"))
    notice = check_binding(extra["host"], keys, insecure_no_auth=extra["insecure_no_auth"])
    application = create_app(
        # One chunk at a time per request, as before: --workers sets requests in flight.
        _summarizer(settings, concurrency=1),
        max_body_bytes=extra["max_body_bytes"],
        concurrency=extra["workers"],
        allowed_models=extra["allow_model"] or (),
        keys=keys,
        limits=Limits(extra["requests_per_minute"], extra["tokens_per_day"]),
        fetch=FetchPolicy(enabled=extra["allow_fetch"], allow_private=options.allow_private_urls),
    )
    service = application.state.service
    if keys is not None:
        limits = service.quotas.limits
        notice += (
            f" Per key: {limits.requests_per_minute or 'unlimited'} requests a minute, "
            f"{format(limits.tokens_per_day, ',') if limits.tokens_per_day else 'unlimited'} "
            "tokens a day (UTC)."
        )
    notice += f" Models callers may name: {', '.join(service.policy.listing())}."
    if service.fetch.enabled:
        reach = "any address" if service.fetch.allow_private else "public addresses only"
        notice += f" Fetches the url callers send ({reach})."
    typer.echo(notice, err=True)
    level = "debug" if options.debug else "info"
    uvicorn.run(
        application,
        host=extra["host"],
        port=extra["port"],
        log_level=level,
        # uvicorn's h11 protocol with a deadline for each request's headers (slowloris).
        http=guarded_protocol(),
    )


@command(
    app,
    "eval",
    [*_MODEL_OPTIONS, "debug"],
    own={
        "judge": own_option(
            str | None, "--judge", help="Also grade each fact with this model (A-E verdicts)."
        ),
        "cases": own_option(str, "--cases", help="Glob over case ids. [default: *]", default="*"),
        "repeat": own_option(
            int,
            "--repeat",
            help="Run each case N times and report stability; runs after the first sample at "
            "temperature 0.3 with their own seed, standing in for other machines. [default: 1]",
            default=1,
            min=1,
        ),
        "evals_dir": own_option(
            Path | None,
            "--evals-dir",
            help="Folder with cases/, articles/, thresholds.yaml, baselines/. [default: the "
            "suite installed with summarizer]",
        ),
        "output_dir": own_option(
            Path | None,
            "--output-dir",
            help="Where reports go. [default: ./eval-results]",
        ),
        "regrade": own_option(
            Path | None, "--regrade", help="Re-grade the outputs of an earlier results JSON file."
        ),
        "update_baseline": own_option(
            bool,
            "--update-baseline",
            help="Record this run as the model's baseline.",
            default=False,
        ),
        "labelled": own_option(
            bool,
            "--labelled",
            help="Test the graders instead of a model: grade the hand-labelled outputs in "
            "labelled/ and print the confusion table (exit 1 if any verdict is wrong).",
            default=False,
        ),
        "gate": own_option(
            str,
            "--gate",
            help="What fails the run: all, thresholds, baseline, none. [default: all]",
            default="all",
        ),
    },
)
def eval_(options: Options) -> None:
    """Run the eval suite: grade outputs against reference facts; exit 1 under the gate."""
    # The gate's verdict is the exit code: 1 when a case or the baseline fails.
    if not _guarded(options.debug, lambda: _eval(options)):
        raise typer.Exit(1)


def _eval(options: Options) -> bool:
    from summarizer.evaluation.suite import EvalOptions, run_eval

    extra = dict(options.extra)
    if extra.pop("labelled"):
        return _eval_graders(options, extra)
    eval_options = EvalOptions(**extra)
    # The suite measures the model: it is always called, never answered from the cache
    # (whose key for an embedded model does not cover llama.cpp's version or decoding).
    settings = options.settings().model_copy(update={"cache": False})
    with _summarizer(settings, concurrency=1) as summarizer:
        result = run_eval(
            summarizer,
            eval_options,
            echo=typer.echo,
            progress=lambda line: typer.echo(line, err=True),
        )
    return result.suite.gate.passed


def _eval_graders(options: Options, extra: dict[str, Any]) -> bool:
    from summarizer.evaluation.suite import run_labelled

    judge = extra["judge"]
    if judge is None:
        report = run_labelled(None, extra["evals_dir"], extra["cases"])
    else:
        settings = options.settings().model_copy(update={"cache": False})
        with _summarizer(settings, concurrency=1) as summarizer:
            report = run_labelled(summarizer, extra["evals_dir"], extra["cases"], judge)
    typer.echo(report.text())
    return not report.wrong


def _terminated(signum: int, frame: object) -> None:
    # SIGTERM unwinds like an exception, so --output's temporary file is removed.
    raise SystemExit(128 + signum)


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminated)
    app()
