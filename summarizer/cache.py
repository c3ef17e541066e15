"""A local response cache: an identical model request is never paid for twice.

One SQLite file, ``$SUMMARIZER_CACHE_DIR/responses.sqlite3`` or
``~/.cache/summarizer/responses.sqlite3`` (``$XDG_CACHE_HOME`` respected), shared by the
CLI, batch runs and other processes (WAL mode, so readers and a writer do not block).

Caching happens per model request, as a wrapper around any ``LLMClient``: the pipeline
does not know about it. A key is the SHA-256 of the cleaned article, the rendered
messages, the model and every option that changes the answer (schema, token limit,
temperature, API base, the GGUF file of a local model). Per-request keys mean that a long
article that failed at its sixth chunk pays only for the sixth chunk when run again.

A response served from the cache reports zero tokens and zero cost (nothing was spent);
a result whose every answer came from the cache has ``meta.cached`` set.

The cache also remembers what it measured for a model: token counts of texts and the
context window. A repeated run then needs nothing from the real client, which is built
lazily (``llm.LazyClient``), so it does not pay the seconds of importing litellm or
loading a tokenizer: a cached CLI run costs little more than process start-up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from summarizer.clean import clean_article
from summarizer.errors import ConfigError
from summarizer.llm import ChatRequest, ChatResponse, LLMClient
from summarizer.paths import CACHE_DIR_ENV, cache_dir
from summarizer.schema import Summary, Translation, Usage

CACHE_FILENAME = "responses.sqlite3"
# Part of every key: bump it when the key's recipe or the stored format changes.
KEY_VERSION = 1

Result = TypeVar("Result", bound=Summary | Translation)

# Measures kept in memory per cache, and how many may wait to be written.
MAX_REMEMBERED_MEASURES = 4096
MAX_UNWRITTEN_MEASURES = 256


def cache_path() -> Path:
    """The cache's SQLite file (it may not exist yet)."""
    return cache_dir() / CACHE_FILENAME


@dataclass(frozen=True)
class CacheInfo:
    """What ``summarize cache info`` prints."""

    path: Path
    exists: bool
    entries: int
    hits: int
    size_bytes: int
    saved_usd: float


# Connections a forked worker inherited: never used, never closed (see _locked).
_INHERITED_CONNECTIONS: list[sqlite3.Connection] = []
_ADOPTING = threading.Lock()


class ResponseCache:
    """Model responses stored by request key in one SQLite file; safe to share across threads.

    Args:
        path: the SQLite file; its folder is created when missing.

    Raises:
        ConfigError: the file cannot be created or is not a cache.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_path()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._db = self._open()
        # Measures are read far more often than written, and each write would be its own
        # transaction: they are kept here too, and written with the next response.
        self._measures: dict[str, int] = {}
        self._unwritten: dict[str, int] = {}

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One connection shared by the batch's threads, serialised by self._lock.
            db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            # A cache may lose its last entries on power loss, never its consistency: skip
            # the fsync per write that the default (FULL) costs.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                " key TEXT PRIMARY KEY, model TEXT NOT NULL, response TEXT NOT NULL,"
                " cost_usd REAL, created REAL NOT NULL, hits INTEGER NOT NULL DEFAULT 0)"
            )
            # Token counts and context windows, by measure_key(): facts about a model's
            # tokenizer, so they never go stale for the same model and options.
            db.execute(
                "CREATE TABLE IF NOT EXISTS measures (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
            )
            return db
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"The response cache {self.path} cannot be opened: {exc}.",
                hint=f"Run with --no-cache, set {CACHE_DIR_ENV} to a writable folder, or "
                "delete the file.",
            ) from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        """The connection, for this thread alone; a new one in a forked batch worker."""
        if self._pid != os.getpid():
            with _ADOPTING:
                if self._pid != os.getpid():
                    # SQLite connections must not cross fork(), and closing the parent's
                    # here could disturb it: keep it, unused, and open our own.
                    _INHERITED_CONNECTIONS.append(self._db)
                    self._lock = threading.Lock()
                    self._db = self._open()
                    self._pid = os.getpid()
        with self._lock:
            yield self._db

    def get(self, key: str) -> ChatResponse | None:
        """The stored answer for ``key``, as a free response (no tokens, no cost)."""
        with self._locked() as db:
            row = db.execute("SELECT response FROM responses WHERE key = ?", (key,))
            found = row.fetchone()
            if found is None:
                return None
            db.execute("UPDATE responses SET hits = hits + 1 WHERE key = ?", (key,))
        data = json.loads(found[0])
        return ChatResponse(
            text=data["text"],
            usage=Usage(),
            cost_usd=0.0,
            finish_reason=data.get("finish_reason"),
            latency_s=0.0,
        )

    def put(self, key: str, model: str, response: ChatResponse) -> None:
        """Store ``response`` under ``key`` (replacing any older answer)."""
        record = json.dumps(
            {
                "text": response.text,
                "finish_reason": response.finish_reason,
                "usage": response.usage.model_dump(),
            },
            ensure_ascii=False,
        )
        with self._locked() as db:
            db.execute("BEGIN")
            db.execute(
                "INSERT OR REPLACE INTO responses (key, model, response, cost_usd, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, model, record, response.cost_usd, time.time()),
            )
            self._write_measures(db)
            db.execute("COMMIT")

    def get_measure(self, key: str) -> int | None:
        """A remembered token count or context window (see ``measure_key``)."""
        with self._locked() as db:
            if key in self._measures:
                return self._measures[key]
            found = db.execute("SELECT value FROM measures WHERE key = ?", (key,)).fetchone()
            if found is None:
                return None
            self._remember(key, int(found[0]))
            return int(found[0])

    def put_measure(self, key: str, value: int) -> None:
        """Remember a measurement; it is written with the next response, or on ``close``."""
        with self._locked() as db:
            self._remember(key, value)
            self._unwritten[key] = value
            if len(self._unwritten) >= MAX_UNWRITTEN_MEASURES:
                self._write_measures(db)

    def _remember(self, key: str, value: int) -> None:
        if len(self._measures) >= MAX_REMEMBERED_MEASURES:
            self._measures.clear()  # crude, but bounded; the file still has them all
        self._measures[key] = value

    def _write_measures(self, db: sqlite3.Connection) -> None:
        if self._unwritten:
            db.executemany(
                "INSERT OR REPLACE INTO measures (key, value) VALUES (?, ?)",
                self._unwritten.items(),
            )
            self._unwritten.clear()

    def info(self) -> CacheInfo:
        """Entries, hits, size on disk and the money the hits saved (where prices are known)."""
        with self._locked() as db:
            entries, hits, saved = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(hits), 0), COALESCE(SUM(hits * cost_usd), 0)"
                " FROM responses"
            ).fetchone()
        size = sum(
            p.stat().st_size
            for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm"))
            if p.exists()
        )
        return CacheInfo(self.path, True, int(entries), int(hits), size, float(saved))

    def clear(self) -> int:
        """Delete every entry and give the space back; returns how many there were."""
        with self._locked() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM responses").fetchone()
            db.execute("DELETE FROM responses")
            db.execute("DELETE FROM measures")
            db.execute("VACUUM")
            self._measures.clear()
            self._unwritten.clear()
        return int(count)

    def close(self) -> None:
        with self._locked() as db:
            with contextlib.suppress(sqlite3.Error):  # a cache that cannot be written to
                self._write_measures(db)  # is no reason to fail a finished run
            db.close()


def missing_cache_info() -> CacheInfo:
    """``cache info`` for a cache that was never created (no file is made to answer)."""
    return CacheInfo(cache_path(), False, 0, 0, 0, 0.0)


def article_sha256(raw_text: str) -> str:
    """Hash of the article as the pipeline sees it: cleaned, so noise changes do not count."""
    return hashlib.sha256(clean_article(raw_text).text.encode()).hexdigest()


def request_key(request: ChatRequest, *, article: str, options: Mapping[str, Any]) -> str:
    """The cache key of one request: everything that can change the model's answer."""
    payload = {
        "version": KEY_VERSION,
        "article": article,
        "model": request.model,
        "messages": request.messages,
        "task": request.task,
        "schema": request.response_schema,
        "schema_name": request.schema_name,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "options": dict(options),
    }
    if request.seed is not None:  # unset keeps the keys of earlier versions
        payload["seed"] = request.seed
    encoded = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def measure_key(kind: str, model: str, options: Mapping[str, Any], text: str = "") -> str:
    """The key of a remembered measurement: ``kind`` ("tokens", "window") of ``text`` for
    ``model`` with ``options`` (a local model's GGUF file decides its tokenizer)."""
    payload = json.dumps(
        [KEY_VERSION, kind, model, dict(options)], sort_keys=True, default=str
    ).encode()
    digest = hashlib.sha256(payload)
    digest.update(b"\0" + text.encode())
    return digest.hexdigest()


class CachingClient:
    """An ``LLMClient`` that answers a request it has seen from the cache, for one article.

    Make one per article (the article's hash is part of every key); it is thread-safe, so
    the pipeline may send an article's chunks concurrently.

    Args:
        inner: the client that really calls the model.
        cache: where answers are kept.
        raw_text: the article, as passed to the pipeline.
        options: what besides the model string decides its answers (``ModelTraits.identity``).
    """

    def __init__(
        self,
        inner: LLMClient,
        cache: ResponseCache,
        *,
        raw_text: str,
        options: Mapping[str, Any],
    ) -> None:
        self.inner = inner
        self.cache = cache
        self.article = article_sha256(raw_text)
        self.options = dict(options)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        # Fallback models do not change how the primary model counts: share its measures.
        self._measure_options = {k: v for k, v in self.options.items() if k != "fallbacks"}

    def complete(self, request: ChatRequest) -> ChatResponse:
        key = request_key(request, article=self.article, options=self.options)
        cached = self.cache.get(key)
        if cached is not None:
            with self._lock:
                self.hits += 1
            return cached
        response = self.inner.complete(request)
        # Every answer is kept, even one the pipeline will reject: the re-ask that follows
        # is a different request, so a repeated run replays the same path for free.
        self.cache.put(key, request.model, response)
        with self._lock:
            self.misses += 1
        return response

    def count_tokens(self, model: str, text: str) -> int:
        return self._measured("tokens", model, text, lambda: self.inner.count_tokens(model, text))

    def context_window(self, model: str) -> int:
        # Asked often; after the first time the cache answers from memory.
        return self._measured("window", model, "", lambda: self.inner.context_window(model))

    def _measured(self, kind: str, model: str, text: str, measure: Callable[[], int]) -> int:
        key = measure_key(kind, model, self._measure_options, text)
        value = self.cache.get_measure(key)
        if value is None:
            value = measure()
            self.cache.put_measure(key, value)
        return value

    @property
    def fully_cached(self) -> bool:
        """Every answer so far came from the cache (and there was at least one)."""
        return self.hits > 0 and self.misses == 0

    def mark(self, result: Result) -> Result:
        """``result`` with ``meta.cached`` set when every answer came from the cache."""
        if not self.fully_cached:
            return result
        meta = result.meta.model_copy(update={"cached": True})
        return cast(Result, result.model_copy(update={"meta": meta}))


def caching_client(
    inner: LLMClient,
    *,
    raw_text: str,
    identity: Mapping[str, Any],
    cache: ResponseCache | None,
) -> LLMClient:
    """``inner`` behind ``cache`` for one article, or ``inner`` itself without a cache.

    ``identity`` is what besides the model string decides its answers: the backend's
    ``ModelTraits.identity`` (a local model's GGUF file, a remote one's API base, the
    fallback models).
    """
    if cache is None:
        return inner
    return CachingClient(inner, cache, raw_text=raw_text, options=identity)


def mark_cached(client: LLMClient, result: Result) -> Result:
    """``result`` with ``meta.cached`` set when ``client`` answered all of it from the cache."""
    return client.mark(result) if isinstance(client, CachingClient) else result
