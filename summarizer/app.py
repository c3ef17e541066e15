"""The application layer: one ``Summarizer`` that every face (the CLI, batch runs, the
HTTP service, the eval suite) and every library user calls.

It is built from resolved ``Settings`` (model, fallbacks, retries, timeout, API base,
context window, cache, prompts folder) and owns what used to be rebuilt by each face:
choosing and building the model client (``backends``), checking the model, wrapping the
response cache around it, and dispatching a ``Task`` to the pipeline. Faces parse their
input, call it, and render what it returns; they never build a client themselves.

    from summarizer import Summarizer

    with Summarizer(model="openai/gpt-4o-mini") as summarizer:
        summary = summarizer.summarize(article_text, lang="en")
        print(summary.title, summary.key_points)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from summarizer import backends, pipeline
from summarizer.cache import ResponseCache, caching_client, mark_cached
from summarizer.checks import require_passed
from summarizer.clean import CleanedArticle
from summarizer.config import Settings, load_settings, override
from summarizer.errors import InputError
from summarizer.events import Event, Notice, OnEvent
from summarizer.languages import normalize_language
from summarizer.llm import ChatRequest, ChatResponse, DryRunClient, LazyClient, LLMClient
from summarizer.schema import Source, Summary, Translation
from summarizer.sources import ArticleText, FetchPolicy, from_text, read_input, read_url
from summarizer.tasks import Task

# Chunk requests of one article in flight at once (models that allow it).
DEFAULT_CONCURRENCY = 4


class Cancelled(Exception):
    """Raised inside a job whose caller gave up (its ``cancel`` event was set); the job
    stops before its next model call, since a call already running cannot be interrupted."""


@dataclass(frozen=True)
class PreparedJob:
    """A job checked and ready to run: everything that can be wrong with it, checked
    before any model call (``Summarizer.prepare``)."""

    task: Task
    text: str
    target_language: str
    model: str
    article: CleanedArticle
    source_language: str
    #: Where the article came from, when it was a web page or HTML (``meta.source``).
    source: Source | None = None

    @property
    def paragraphs(self) -> int:
        """Paragraphs in the cleaned article."""
        return len(self.article.paragraphs)


class Summarizer:
    """Structured summaries and translations of articles, with any model.

    Args:
        settings: resolved settings; by default read like the CLI reads them (defaults <
            config file < ``SUMMARIZER_*`` environment variables < ``overrides``).
        client: the model client for every model (tests pass a fake); by default the
            backend that serves each model, built on first use.
        response_cache: the response cache to use; by default the user's, opened on
            first use when ``settings.cache`` is true. It is closed with the Summarizer.
        on_event: hears every event (progress, calls, chunks, notices, tokens being
            written) from every job; calls also take their own listener.
        concurrency: chunk requests of one article in flight at once, for models that
            allow parallel requests.
        overrides: setting values that win over every other source, ``settings``
            included (``None`` ignored): ``Summarizer(model="openai/gpt-4o-mini")``.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        client: LLMClient | None = None,
        response_cache: ResponseCache | None = None,
        on_event: OnEvent | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **overrides: Any,
    ) -> None:
        self.settings = _resolve(settings, overrides)
        self.language = self.settings.lang  # an ISO 639-1 code: Settings checks it
        if self.settings.prompts_dir is not None:
            from summarizer.prompts import check_prompts_dir

            check_prompts_dir(self.settings.prompts_dir)
        self.model = backends.model_name(self.settings.model)
        self._fallbacks = tuple(backends.model_name(m) for m in self.settings.fallbacks)
        self._given_client = client
        self._clients: dict[backends.Connection, LazyClient] = {}
        self._cache = response_cache
        self._cache_given = response_cache is not None
        self._cache_opened = self._cache_given
        self._on_event = on_event
        self.concurrency = concurrency
        self._lock = threading.Lock()

    # -- settings as the faces need them ------------------------------------------------

    @property
    def uses_demo_model(self) -> bool:
        """No model was named, so the small bundled demo model runs."""
        return self.settings.model is None and backends.is_bundled(None)

    @property
    def fallbacks(self) -> tuple[str, ...]:
        """The configured model's fallbacks, as canonical model strings."""
        return self._fallbacks

    def connection(self, model: str | None = None) -> backends.Connection:
        """How ``model`` (default: the configured one) is reached with these settings. The
        fallbacks are the configured model's: another model (a judge, a model an HTTP
        request names) gets none."""
        name = self.model if model is None else backends.model_name(model)
        return backends.Connection(
            model=name,
            fallbacks=self._fallbacks if name == self.model else (),
            api_base=self.settings.api_base,
            timeout=self.settings.timeout,
            retries=self.settings.retries,
            context_window=self.settings.context_window,
        )

    def client(self, model: str | None = None) -> LLMClient:
        """The client for ``model`` (default: the configured one), built on first use: a
        job answered wholly from the cache never imports litellm nor loads a model."""
        if self._given_client is not None:
            return self._given_client
        connection = self.connection(model)
        with self._lock:
            key = connection.client_key
            if key not in self._clients:
                self._clients[key] = LazyClient(lambda: self._connect(connection))
            return self._clients[key]

    def _connect(self, connection: backends.Connection) -> LLMClient:
        return backends.connect(connection, notify=self._notify, on_generation=self._emit)

    def check(self, model: str | None = None) -> None:
        """Check now that ``model`` can be used (its file, provider and API key), rather
        than at the first call that misses the cache.

        Raises:
            ConfigError: what is wrong and how to fix it.
        """
        self._response_cache()  # an unusable cache fails now, not once per article
        client = self.client(model)
        # Building a client checks its own models; one litellm client serves every remote
        # model, so another model (an HTTP request's) is checked on the client as it is.
        resolved = client.resolve() if isinstance(client, LazyClient) else client
        check = getattr(resolved, "check_model", None)
        if callable(check):
            check(self.connection(model).model)

    def warm_up(self) -> None:
        """Load now what the first job would (a server's start-up): the configured model if
        it runs in-process, and the language identifier every job uses."""
        from summarizer.detect import detect_language

        detect_language("warm up")
        if self._given_client is None:
            backends.warm_up(self.model)

    # -- jobs ------------------------------------------------------------------------------

    def read(
        self, spec: str, *, encoding: str | None = None, fetch: FetchPolicy | None = None
    ) -> ArticleText:
        """The article ``spec`` names (a file, ``-`` for stdin, or a URL), HTML extracted,
        within ``max_input_bytes``; ``fetch`` says which URLs may be fetched.

        Raises:
            URLNotAllowed, FetchError, InputError: see ``sources.read_input``.
        """
        return read_input(
            spec, max_bytes=self.settings.max_input_bytes, encoding=encoding, fetch=fetch
        )

    def read_given(
        self, *, text: str | None = None, url: str | None = None, fetch: FetchPolicy
    ) -> ArticleText:
        """The article a request gives: its ``text`` (HTML extracted) or the page at its
        ``url``, fetched as ``fetch`` allows (the HTTP service's and chat's bodies).

        Raises:
            URLNotAllowed, FetchError, InputError: see ``sources.read_url``.
        """
        if url is not None:
            return read_url(url, max_bytes=self.settings.max_input_bytes, fetch=fetch)
        if text is None:
            raise InputError("Give the article as text or as a url.")
        return from_text(text)

    def prepare(
        self,
        task: Task,
        text: str,
        *,
        lang: str | None = None,
        model: str | None = None,
        source: Source | None = None,
    ) -> PreparedJob:
        """Check a job without running it: the language, the model string, the article
        (``source``: where it came from, when a web page or HTML gave it, for its meta).

        Raises:
            UsageError: an unknown language.
            ConfigError: ``model`` cannot name a model.
            InputError: nothing is left of the article once cleaned.
        """
        target = self.language if lang is None else normalize_language(lang)
        name = self.model if model is None else backends.model_name(model)
        article, source_language = pipeline.prepare(text)
        return PreparedJob(task, text, target, name, article, source_language, source)

    def summarize(
        self,
        text: str,
        *,
        lang: str | None = None,
        model: str | None = None,
        on_event: OnEvent | None = None,
    ) -> Summary:
        """A structured summary of ``text`` in ``lang`` (default: the configured language)."""
        result = self.run(Task.SUMMARIZE, text, lang=lang, model=model, on_event=on_event)
        assert isinstance(result, Summary)
        return result

    def translate(
        self,
        text: str,
        *,
        lang: str | None = None,
        model: str | None = None,
        on_event: OnEvent | None = None,
    ) -> Translation:
        """The whole of ``text`` translated into ``lang``, paragraph by paragraph."""
        result = self.run(Task.TRANSLATE, text, lang=lang, model=model, on_event=on_event)
        assert isinstance(result, Translation)
        return result

    def run(
        self,
        task: Task,
        text: str,
        *,
        lang: str | None = None,
        model: str | None = None,
        on_event: OnEvent | None = None,
        source: Source | None = None,
    ) -> Summary | Translation:
        """``summarize`` or ``translate``, by ``task``."""
        job = self.prepare(task, text, lang=lang, model=model, source=source)
        return self.execute(job, on_event=on_event)

    def execute(
        self,
        request: PreparedJob,
        *,
        on_event: OnEvent | None = None,
        cancel: threading.Event | None = None,
    ) -> Summary | Translation:
        """Run a prepared job: through the response cache, reporting its events.

        Args:
            cancel: set it to stop the job before its next model call (``Cancelled``).
        """
        connection = self.connection(request.model)
        traits = backends.traits(connection)
        client = caching_client(
            self.client(request.model),
            raw_text=request.text,
            identity=traits.identity,
            cache=self._response_cache(),
        )
        job = pipeline.Job(
            client=client if cancel is None else _Cancellable(client, cancel),
            model=request.model,
            target_language=request.target_language,
            traits=traits,
            prompts_dir=self.settings.prompts_dir,
            concurrency=self.concurrency,
            on_event=self._listener(on_event),
            check_repairs=self.settings.check_repairs,
        )
        prepared = (request.article, request.source_language)
        result = mark_cached(client, pipeline.run(request.task, request.text, job, prepared))
        if request.source is not None:
            result.meta.source = request.source
        if self.settings.strict:
            require_passed(result)
        return result

    def plan(
        self, task: Task, text: str, *, lang: str | None = None, model: str | None = None
    ) -> list[ChatRequest]:
        """The requests a job would send, with placeholder answers: a dry run. It calls
        nothing, reads no cache, and needs no API key (nor litellm)."""
        request = self.prepare(task, text, lang=lang, model=model)
        measure = self._given_client or backends.estimator(self.connection(request.model))
        recorder = DryRunClient(measure)
        job = pipeline.Job(
            client=recorder,
            model=request.model,
            target_language=request.target_language,
            traits=backends.traits(self.connection(request.model)),
            prompts_dir=self.settings.prompts_dir,
        )
        pipeline.run(task, text, job, (request.article, request.source_language))
        return recorder.requests

    # -- plumbing --------------------------------------------------------------------------

    def _response_cache(self) -> ResponseCache | None:
        with self._lock:
            if not self._cache_opened and self.settings.cache:
                self._cache = ResponseCache()
            self._cache_opened = True
            return self._cache

    def _listener(self, on_event: OnEvent | None) -> OnEvent | None:
        if on_event is None or self._on_event is None:
            return on_event or self._on_event
        everyone = self._on_event

        def both(event: Event) -> None:
            everyone(event)
            on_event(event)

        return both

    def _emit(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def _notify(self, text: str) -> None:
        self._emit(Notice(text))

    def close(self) -> None:
        """Close the response cache (it writes the measurements it still holds). The user's
        cache is opened again if the Summarizer is used again; one handed in is not."""
        with self._lock:
            cache, self._cache = self._cache, None
            self._cache_opened = self._cache_given
        if cache is not None:
            cache.close()

    def __enter__(self) -> Summarizer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _resolve(settings: Settings | None, overrides: dict[str, Any]) -> Settings:
    """``settings`` (default: read like the CLI reads them) with ``overrides`` applied."""
    if settings is None:
        return load_settings(**overrides)
    return override(settings, **overrides)


class _Cancellable:
    """A client that refuses the next call once its job was given up."""

    def __init__(self, inner: LLMClient, cancel: threading.Event) -> None:
        self.inner = inner
        self.cancel = cancel

    def complete(self, request: ChatRequest) -> ChatResponse:
        if self.cancel.is_set():
            raise Cancelled()
        return self.inner.complete(request)

    def count_tokens(self, model: str, text: str) -> int:
        return self.inner.count_tokens(model, text)

    def context_window(self, model: str) -> int:
        return self.inner.context_window(model)
