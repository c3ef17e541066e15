"""Settings, resolved as: defaults < config file < ``SUMMARIZER_*`` env vars < CLI flags.

The config file is TOML, at ``$SUMMARIZER_CONFIG`` or ``~/.config/summarizer/config.toml``
(``$XDG_CONFIG_HOME`` respected); every key is optional, and an unknown key is an error::

    model = "openai/gpt-4o-mini"        # default: the bundled local model
    lang = "en"                         # language of the summary
    api_base = "http://localhost:8080/v1"
    timeout = 120                       # seconds per model call, > 0 (default 600)
    retries = 2                         # retries of a transient failure, >= 0
    fallbacks = ["openai/gpt-4o", "ollama/qwen2.5:7b"]  # tried in order when a model fails
    context_window = 32768              # tokens, for a server litellm does not know (8192)
    prompts_dir = "~/my-prompts"        # templates that replace the bundled ones
    cache = true                        # answer repeated requests from the response cache
    max_input_bytes = 10000000          # larger articles are refused

Each key also comes from the environment as ``SUMMARIZER_<KEY>`` (``SUMMARIZER_TIMEOUT=120``;
an empty variable is ignored); ``SUMMARIZER_FALLBACKS`` is comma-separated
(``openai/gpt-4o,ollama/qwen2.5:7b``). A bad value in the file or the environment is a
``ConfigError`` (exit 4) naming where it came from; a bad CLI flag is a ``UsageError`` (exit 2).

This module is on the CLI's fast path: it imports pydantic-settings and nothing heavier.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from summarizer.errors import ConfigError, SummarizerError, UnknownLanguageError, UsageError

ENV_PREFIX = "SUMMARIZER_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"


class Settings(BaseSettings):
    """Every setting; build it with :func:`load_settings`, which turns errors into ours."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid", frozen=True
    )

    model: str | None = Field(
        None, description="Model string (openai/gpt-4o-mini, ollama/...); None: bundled model."
    )
    lang: str = Field("en", description="Language of the summary or translation.")
    api_base: str | None = Field(None, description="Base URL of an OpenAI-compatible server.")
    timeout: float = Field(600.0, gt=0, description="Seconds to wait for one model call.")
    retries: int = Field(2, ge=0, description="Retries of a transient provider failure.")
    fallbacks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Models tried in order when the previous one fails (env: comma-separated).",
    )
    context_window: int | None = Field(
        None,
        gt=0,
        description="Tokens a remote model accepts, for OpenAI-compatible servers litellm "
        "does not know (there the default is 8192).",
    )
    prompts_dir: Path | None = Field(
        None, description="Directory of prompt templates that replace the bundled ones."
    )
    cache: bool = Field(True, description="Answer repeated requests from the response cache.")
    check_repairs: int = Field(
        1,
        ge=0,
        le=2,
        description="Re-asks of an answer that validates but fails a check (grounding, "
        "language, key points, alignment), within the 2 re-asks an answer may have.",
    )
    strict: bool = Field(
        False,
        description="An answer that still fails a check after the repairs is an error "
        "(exit code 8) instead of a result printed with its findings.",
    )
    max_input_bytes: int = Field(
        10_000_000, gt=0, description="Articles larger than this many bytes are refused."
    )

    @field_validator("fallbacks", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("lang")
    @classmethod
    def _known_language(cls, value: str) -> str:
        """The ISO 639-1 code of a language code or name (``pt-BR``, ``French``)."""
        from summarizer.languages import normalize_language

        try:
            return normalize_language(value)
        except UnknownLanguageError as exc:
            raise ValueError(exc.message) from exc

    @field_validator("prompts_dir")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Highest priority first: overrides (CLI flags), ``SUMMARIZER_*``, the config file."""
        return init_settings, env_settings, _ConfigFile(settings_cls, _existing_config_file())


class _ConfigFile(TomlConfigSettingsSource):
    """The TOML config file, whose read and parse errors are ``ConfigError``."""

    def _read_file(self, file_path: Path) -> dict[str, Any]:
        try:
            return super()._read_file(file_path)
        except OSError as exc:
            raise ConfigError(
                f"The config file {file_path} cannot be read: {exc.strerror}.",
                hint="Check its permissions, or point SUMMARIZER_CONFIG at another file.",
            ) from exc
        except ValueError as exc:  # tomllib.TOMLDecodeError, UnicodeDecodeError
            raise ConfigError(
                f"The config file {file_path} does not parse: {exc}.",
                hint="Fix it, or point SUMMARIZER_CONFIG at another file.",
            ) from exc


# What each key must be (for error messages), and an example value (for their hints).
_EXPECTED: dict[str, tuple[str, object]] = {
    "model": ("a model string", "openai/gpt-4o-mini"),
    "lang": ("a language name or code", "en"),
    "api_base": ("a URL", "http://localhost:8080/v1"),
    "timeout": ("a positive number of seconds", 120),
    "retries": ("0 or more", 2),
    "check_repairs": ("0, 1 or 2", 1),
    "strict": ("true or false", True),
    "fallbacks": ("a list of model strings", ["openai/gpt-4o", "ollama/qwen2.5:7b"]),
    "context_window": ("a positive number of tokens", 32768),
    "prompts_dir": ("a directory", "~/my-prompts"),
    "cache": ("true or false", False),
    "max_input_bytes": ("a positive number of bytes", 10_000_000),
}


def config_path() -> Path:
    """``$SUMMARIZER_CONFIG``, else ``summarizer/config.toml`` under the XDG config home."""
    explicit = os.environ.get(CONFIG_ENV)
    return Path(explicit).expanduser() if explicit else _default_config_path()


def _default_config_path() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "summarizer" / "config.toml"


def _existing_config_file() -> Path | None:
    """The config file to read; ``None`` when the default one does not exist."""
    path = config_path()
    if path.is_file():
        return path
    if os.environ.get(CONFIG_ENV):
        problem = "is not a file" if path.exists() else "does not exist"
        raise ConfigError(
            f"The config file {path} named by {CONFIG_ENV} {problem}.",
            hint=f"Fix {CONFIG_ENV}, or unset it to use {_default_config_path()}.",
        )
    return None


def load_settings(**overrides: Any) -> Settings:
    """Settings from every source; ``overrides`` (CLI flags) that are ``None`` are ignored.

    Raises ``ConfigError`` (exit 4) for a config file or ``SUMMARIZER_*`` variable that is
    unreadable or holds a bad value, naming where it came from, and ``UsageError`` (exit 2)
    for a bad override, naming its flag (``--`` and the field name with ``-`` for ``_``).
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"load_settings() got unknown settings: {', '.join(unknown)}")
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise _explain(exc, given) from None


def override(settings: Settings, **overrides: Any) -> Settings:
    """``settings`` with ``overrides`` applied and validated (``None`` values ignored).

    Raises:
        UsageError: a bad value, named like a CLI flag.
        TypeError: a name that is not a setting.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    unknown = sorted(set(given) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(unknown)}")
    if not given:
        return settings
    try:
        return Settings.model_validate({**settings.model_dump(), **given})
    except ValidationError as exc:
        raise _explain(exc, given) from None


def _explain(exc: ValidationError, given: dict[str, Any]) -> SummarizerError:
    """``exc`` as our error, blaming the source the offending value came from."""
    errors = exc.errors()
    extra = sorted(str(err["loc"][0]) for err in errors if err["type"] == "extra_forbidden")
    if extra:  # only the config file can bring keys we do not know
        return ConfigError(
            f"The config file {config_path()} has unknown keys: {', '.join(extra)}.",
            hint=f"Known keys: {', '.join(Settings.model_fields)}.",
        )
    loc = errors[0]["loc"]
    name = str(loc[0])
    language = _unknown_language(errors[0])
    if language is not None:
        return _blame_language(language, name in given)
    expected, example = _EXPECTED[name]
    if name in given:
        flag = "--" + name.replace("_", "-")
        return UsageError(
            f"{flag} must be {expected}, not {_show(given[name])}.",
            hint=f"For example {flag} {_env_form(example)}.",
        )
    variable = _env_variable(name)
    if variable is not None:
        return ConfigError(
            f"{variable} must be {expected}, not {os.environ[variable]!r}.",
            hint=f"Fix or unset it, for example {variable}={_env_form(example)}.",
        )
    item = f" (item {int(loc[1]) + 1})" if len(loc) > 1 else ""
    path = config_path()
    return ConfigError(
        f"{name} in the config file {path} must be {expected}, "
        f"not {_show(errors[0]['input'])}{item}.",
        hint=f"Fix it in {path}, for example {name} = {_toml_form(example)}.",
    )


def _unknown_language(error: Any) -> UnknownLanguageError | None:
    """The ``UnknownLanguageError`` behind a ``lang`` validation error, if that is what it is."""
    cause = getattr((error.get("ctx") or {}).get("error"), "__cause__", None)
    return cause if isinstance(cause, UnknownLanguageError) else None


def _blame_language(error: UnknownLanguageError, from_flag: bool) -> SummarizerError:
    """An unknown ``--lang`` as it is (exit 2); from a variable or the file, a ConfigError
    naming where it came from (exit 4)."""
    if from_flag:
        return error
    where = _env_variable("lang") or f"the config file {config_path()}"
    return ConfigError(f"{error.message.rstrip('.')}, in {where}.", hint=error.hint)


def _env_variable(name: str) -> str | None:
    """The non-empty ``SUMMARIZER_*`` variable that sets ``name`` (matched like pydantic)."""
    wanted = (ENV_PREFIX + name).upper()
    return next((var for var, value in os.environ.items() if var.upper() == wanted and value), None)


def _show(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if isinstance(value, int | float) else repr(value)


def _env_form(value: object) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def _toml_form(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml_form, value)) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value).lower() if isinstance(value, bool) else str(value)
