"""Who may call the HTTP service, which models they may spend, and how much.

* **Keys.** With keys (``--api-key-file`` or ``SUMMARIZER_SERVER_KEYS``) every request but
  the public pages needs ``Authorization: Bearer <key>``. A key is kept only as its SHA-256
  digest and the presented one is compared with every key, in constant time and without
  stopping at a match, so neither the time taken nor an early exit tells how close a
  guess was. Without keys there is no authentication, and ``summarize serve`` then binds
  only to loopback unless told ``--insecure-no-auth``.
* **Limits per key:** requests per minute (a sliding window of the last 60 seconds) and
  model tokens per UTC day. A request is admitted while its key has tokens left; it
  reserves an estimate of its size when its article is known, and the model's reported
  usage replaces the estimate when it finishes, so many requests in flight at once cannot
  overrun the budget by more than the estimates' error. Limits live in this process's
  memory: one server process, one budget (several replicas would each have their own).
* **Models:** deny by default. Callers may name the models the server was started with
  (``--model`` and ``--fallback``) and those matched by ``--allow-model`` (globs allowed);
  anything else is refused before any provider is called.

The refusals are ``SummarizerError`` types like every other error, so the one table in
``server_errors`` gives their status: 401, 403 and 429.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import hmac
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from summarizer import backends
from summarizer.errors import ConfigError, SummarizerError

DEFAULT_REQUESTS_PER_MINUTE = 60
DEFAULT_TOKENS_PER_DAY = 1_000_000
# secrets.token_urlsafe(32) gives 43 characters; anything this short is guessable.
MIN_KEY_LENGTH = 16
# What a request's article is assumed to cost before the model says: about four
# characters a token for the input, and as much again for the answer.
CHARS_PER_TOKEN = 4
KEY_HINT = 'Make one with: python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


class Unauthorized(SummarizerError):
    """No key, or not one of the server's keys (HTTP 401)."""


class MissingKey(Unauthorized):
    """The request carries no ``Authorization: Bearer`` key."""


class InvalidKey(Unauthorized):
    """The request's key is not one of the server's."""


class ModelNotAllowed(SummarizerError):
    """The request names a model this server will not run (HTTP 403)."""


class RateLimited(SummarizerError):
    """The key has used its requests for this minute (HTTP 429)."""

    def __init__(self, message: str, *, retry_after: float, hint: str | None = None) -> None:
        #: Seconds until the key may try again (the ``Retry-After`` header, rounded up).
        self.retry_after = retry_after
        super().__init__(message, hint=hint)


class TokenBudgetSpent(RateLimited):
    """The key has used its model tokens for this UTC day (HTTP 429)."""


# -- keys -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerKey:
    """One caller's key: a name for logs and limits, and the key's digest (never the key)."""

    name: str
    digest: bytes


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


class KeyRing:
    """The keys callers may present. Entries are ``key`` or ``name:key``; a key without a
    name is known by the start of its digest, so logs never show a key."""

    def __init__(self, entries: Iterable[str], *, source: str) -> None:
        self.keys: list[ServerKey] = []
        for number, entry in enumerate(entries, start=1):
            name, _, secret = entry.rpartition(":") if ":" in entry else ("", "", entry)
            name, secret = name.strip(), secret.strip()
            if len(secret) < MIN_KEY_LENGTH:
                raise ConfigError(
                    f"Key {number} in {source} is shorter than {MIN_KEY_LENGTH} characters.",
                    hint=KEY_HINT,
                )
            digest = _digest(secret)
            self.keys.append(ServerKey(name or f"key-{digest.hex()[:8]}", digest))
        if not self.keys:
            raise ConfigError(f"{source} holds no keys.", hint=KEY_HINT)
        names = [key.name for key in self.keys]
        if len(set(names)) != len(names):
            raise ConfigError(
                f"Two keys in {source} share a name.", hint="Give each key its own name:key."
            )

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        """One entry a line; blank lines and ``#`` comments are skipped.

        Raises:
            ConfigError: the file cannot be read, holds no keys, or a key is too short.
        """
        try:
            text = path.expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"Cannot read the key file {path}: {getattr(exc, 'strerror', None) or exc}.",
                hint="Give --api-key-file a readable file with one key a line.",
            ) from exc
        lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
        return cls((line for line in lines if line), source=str(path))

    @classmethod
    def from_env(cls, value: str) -> KeyRing:
        """Comma-separated entries, as ``SUMMARIZER_SERVER_KEYS`` holds them."""
        entries = (part.strip() for part in value.split(","))
        return cls((entry for entry in entries if entry), source="SUMMARIZER_SERVER_KEYS")

    def identify(self, presented: str) -> str | None:
        """The name of the key ``presented`` is, or ``None``. Every key is compared, each in
        constant time, whether or not an earlier one matched."""
        digest = _digest(presented)
        found: str | None = None
        for key in self.keys:
            if hmac.compare_digest(digest, key.digest):
                found = key.name
        return found

    def caller(self, authorization: str | None) -> str:
        """The key name for an ``Authorization`` header's value.

        Raises:
            MissingKey: no header, or not a Bearer key.
            InvalidKey: a Bearer key the server does not know.
        """
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MissingKey(
                "This server needs an API key.",
                # Not written "Authorization: Bearer ...": redact() would hide it as a key.
                hint="Send an Authorization header whose value is 'Bearer <your key>'; the "
                "server's operator gives out keys.",
            )
        name = self.identify(token.strip())
        if name is None:
            raise InvalidKey(
                "The API key is not valid for this server.",
                hint="Check the key you were given; the server's operator can issue a new one.",
            )
        return name


# -- limits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Per key; 0 means no limit."""

    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    tokens_per_day: int = DEFAULT_TOKENS_PER_DAY


@dataclass
class _Usage:
    recent: deque[float] = field(default_factory=deque)  # admission times, last 60 s
    day: dt.date | None = None
    spent: int = 0  # tokens the model reported today
    reserved: int = 0  # estimates of requests still running


class Quotas:
    """Each key's requests this minute and tokens today. Thread-safe."""

    def __init__(
        self,
        limits: Limits,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._now = now
        self._usage: dict[str, _Usage] = {}
        self._lock = threading.Lock()

    def admit(self, caller: str) -> None:
        """Count one request for ``caller``.

        Raises:
            RateLimited: ``caller`` has made its requests for this minute.
            TokenBudgetSpent: ``caller`` has no tokens left today.
        """
        with self._lock:
            usage = self._today(caller)
            self._check_tokens(usage, 0)
            limit = self.limits.requests_per_minute
            if not limit:
                return
            moment = self._clock()
            while usage.recent and usage.recent[0] <= moment - 60:
                usage.recent.popleft()
            if len(usage.recent) >= limit:
                raise RateLimited(
                    f"This key has made its {limit} requests for this minute.",
                    retry_after=usage.recent[0] + 60 - moment,
                    hint="Wait for the time in the Retry-After header, or ask the server's "
                    "operator for a higher --requests-per-minute.",
                )
            usage.recent.append(moment)

    def reserve(self, caller: str, text: str, *, hold: bool = True) -> int:
        """Hold an estimate of what ``text`` will cost (or, not ``hold``, only check that it
        fits); returns it for ``settle``.

        Raises:
            TokenBudgetSpent: the estimate does not fit what ``caller`` has left today.
        """
        estimate = 2 * math.ceil(len(text) / CHARS_PER_TOKEN)
        with self._lock:
            usage = self._today(caller)
            self._check_tokens(usage, estimate)
            if hold:
                usage.reserved += estimate
        return estimate

    def settle(self, caller: str, reserved: int, tokens: int) -> None:
        """Replace a reservation with what the model reported (0 for a cached answer)."""
        with self._lock:
            usage = self._today(caller)
            usage.reserved = max(0, usage.reserved - reserved)
            usage.spent += tokens

    def _today(self, caller: str) -> _Usage:
        usage = self._usage.setdefault(caller, _Usage())
        today = self._now().date()
        if usage.day != today:
            usage.day, usage.spent, usage.reserved = today, 0, 0
        return usage

    def _check_tokens(self, usage: _Usage, more: int) -> None:
        """Refuse when the day's tokens (spent and held) leave no room for ``more``: none at
        all when admitting a request (``more`` 0), its estimate when reserving."""
        limit = self.limits.tokens_per_day
        held = usage.spent + usage.reserved
        if not limit or (held + more <= limit if more else held < limit):
            return
        now = self._now()
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), now.tzinfo)
        if more:
            message = (
                f"This key has {max(0, limit - held):,} of its {limit:,} model tokens left "
                f"today (UTC), and this article needs about {more:,}."
            )
        else:
            message = f"This key has used its {limit:,} model tokens for today (UTC)."
        raise TokenBudgetSpent(
            message,
            retry_after=(midnight - now).total_seconds(),
            hint="Wait for the time in the Retry-After header, send a shorter article, or ask "
            "the server's operator for a higher --tokens-per-day.",
        )


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


# -- models -----------------------------------------------------------------------------------


class ModelPolicy:
    """The models callers may name: the server's own (its default and fallbacks) and the
    ``--allow-model`` patterns. A model file (``.gguf`` path) only ever as one of the
    server's own: a pattern never lets a caller open files on the server."""

    def __init__(self, served: Sequence[str], patterns: Sequence[str] = ()) -> None:
        self.served = [backends.model_name(name) for name in served]
        self.patterns = [
            pattern if _is_glob(pattern) else backends.model_name(pattern) for pattern in patterns
        ]

    def allows(self, name: str) -> bool:
        """``name`` is a canonical model string (``backends.model_name``)."""
        if name in self.served:
            return True
        if backends.names_model_file(name):
            return False
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns)

    def listing(self) -> list[str]:
        """What a caller may use: the server's models, then the patterns, each once."""
        return list(dict.fromkeys([*self.served, *self.patterns]))

    def refusal(self, requested: str) -> ModelNotAllowed:
        if backends.names_model_file(requested):
            return ModelNotAllowed(
                "Model files cannot be chosen over HTTP.",
                hint="Name one of the models GET /v1/models lists; an operator can serve a "
                "model file with summarize serve --model PATH.gguf.",
            )
        return ModelNotAllowed(
            f"This server does not run {requested!r} for its callers.",
            hint=f"Leave model out for the default, {self.served[0]}, or name one of: "
            f"{', '.join(self.listing())} (GET /v1/models).",
        )


def _is_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


# -- start-up ---------------------------------------------------------------------------------


def load_keys(path: Path | None, env_value: str | None) -> KeyRing | None:
    """The server's keys: from ``--api-key-file`` when given, else ``SUMMARIZER_SERVER_KEYS``,
    else none.

    Raises:
        ConfigError: the file cannot be read, or the keys are unusable.
    """
    if path is not None:
        return KeyRing.from_file(path)
    if env_value and env_value.strip():
        return KeyRing.from_env(env_value)
    return None


def is_loopback(host: str) -> bool:
    """``host`` is a loopback address (or ``localhost``): only this machine can connect."""
    import ipaddress  # here: the CLI imports this module for its defaults

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def check_binding(host: str, keys: KeyRing | None, *, insecure_no_auth: bool) -> str:
    """The start-up notice for serving on ``host`` with ``keys``.

    Raises:
        ConfigError: ``host`` is reachable from other machines, there are no keys, and the
            operator did not say ``--insecure-no-auth``.
    """
    if keys is not None:
        return f"API keys required ({len(keys.keys)} key(s))."
    if is_loopback(host):
        return (
            f"No API keys: serving on {host} only, so only this machine can call it. Give "
            "--api-key-file to serve others."
        )
    if not insecure_no_auth:
        raise ConfigError(
            f"Refusing to serve on {host} without API keys: anyone who can reach it could "
            "spend this server's models and provider keys.",
            hint="Give --api-key-file FILE (one key a line) or set SUMMARIZER_SERVER_KEYS; or, "
            "if a proxy in front of it authenticates callers, pass --insecure-no-auth.",
        )
    return (
        f"WARNING: no API keys and serving on {host} (--insecure-no-auth): anyone who can "
        "reach this port can use it, with no limits."
    )
