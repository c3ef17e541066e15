"""Settings, resolved as: defaults < config file < ``SUMMARIZER_*`` env vars < CLI flags.

The config file is TOML, at ``$SUMMARIZER_CONFIG`` or ``~/.config/summarizer/config.toml``
(``$XDG_CONFIG_HOME`` respected)::

    model = "openai/gpt-4o-mini"
    lang = "en"
    api_base = "http://localhost:8080/v1"
    timeout = 120
    retries = 2
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from summarizer.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_PREFIX = "SUMMARIZER_"


@dataclass(frozen=True)
class Settings:
    model: str | None = None
    lang: str = "en"
    api_base: str | None = None
    timeout: float = 600.0
    retries: int = 2
    max_input_bytes: int = 10_000_000


def config_path() -> Path:
    explicit = os.environ.get(ENV_PREFIX + "CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "summarizer" / "config.toml"


def _coerce(name: str, value: Any, source: str) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if "float" in str(kind):
            return float(value)
        if "int" in str(kind):
            return int(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{source}: {name} must be a {str(kind).split(' ')[0]}, not {value!r}.",
            hint="Fix the value.",
        ) from exc


def load_settings(**overrides: Any) -> Settings:
    """Settings from every source; ``overrides`` (CLI flags) that are ``None`` are ignored."""
    settings = Settings()
    names = {f.name for f in fields(Settings)}
    path = config_path()
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"The config file {path} does not parse: {exc}.",
                hint="Fix it, or point SUMMARIZER_CONFIG at another file.",
            ) from exc
        except OSError as exc:
            raise ConfigError(
                f"The config file {path} cannot be read: {exc.strerror}.",
                hint="Check its permissions, or point SUMMARIZER_CONFIG at another file.",
            ) from exc
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(
                f"The config file {path} has unknown keys: {', '.join(unknown)}.",
                hint=f"Known keys: {', '.join(sorted(names))}.",
            )
        settings = replace(settings, **{k: _coerce(k, v, str(path)) for k, v in data.items()})
    from_env = {
        name: _coerce(name, os.environ[ENV_PREFIX + name.upper()], ENV_PREFIX + name.upper())
        for name in names
        if os.environ.get(ENV_PREFIX + name.upper())
    }
    settings = replace(settings, **from_env)
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
