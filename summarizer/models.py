"""Model strings: one litellm-style ``provider/model`` string names every model.

``local/<alias>`` and ``local/<path.gguf>`` name the embedded llama.cpp models; bare
aliases (``smollm2``) and bare ``.gguf`` paths are accepted as shorthands. Everything else
is handed to litellm (``openai/gpt-4o-mini``, ``ollama/qwen2.5:7b`` ...), which validates it.
"""

from __future__ import annotations

from dataclasses import dataclass

from summarizer.bundled import BUNDLED_MODELS
from summarizer.errors import ConfigError

LOCAL_PREFIX = "local/"
# Chosen by measurement on the seed article and the eval suite (README, "Bundled models").
DEFAULT_LOCAL_MODEL = "gemma3"


@dataclass(frozen=True)
class ModelRef:
    """A validated model string."""

    name: str
    local_name: str | None = None

    @property
    def is_local(self) -> bool:
        return self.local_name is not None

    @property
    def is_bundled(self) -> bool:
        return self.local_name in BUNDLED_MODELS


def parse_model(value: str | None) -> ModelRef:
    """Turn what the user wrote (or nothing) into a ``ModelRef``.

    Raises:
        ConfigError: the string cannot name a model at all.
    """
    if value is None or not value.strip():
        return ModelRef(LOCAL_PREFIX + DEFAULT_LOCAL_MODEL, DEFAULT_LOCAL_MODEL)
    value = value.strip()
    if value.startswith(LOCAL_PREFIX):
        local_name = value[len(LOCAL_PREFIX) :]
        if not local_name:
            raise ConfigError(
                "'local/' needs a model after it.",
                hint=f"Use local/<alias> ({', '.join(BUNDLED_MODELS)}) or local/<path.gguf>.",
            )
        return ModelRef(value, local_name)
    if value in BUNDLED_MODELS or value.lower().endswith(".gguf"):
        return ModelRef(LOCAL_PREFIX + value, value)
    if any(ch.isspace() for ch in value):
        raise ConfigError(
            f"{value!r} is not a model string.",
            hint="Name a model as provider/model, e.g. openai/gpt-4o-mini or ollama/qwen2.5:7b.",
        )
    return ModelRef(value)
