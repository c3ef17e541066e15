"""summarizer: structured summaries and translations of news articles with any LLM.

The public surface is what ``__all__`` names; every other module is internal and may
change. Kept import-light on purpose: ``summarize --help`` and ``--version`` must answer
without loading litellm or a model, so the names below are imported on first use.

    from summarizer import Summarizer

    with Summarizer(model="openai/gpt-4o-mini") as summarizer:
        summary = summarizer.summarize(article_text, lang="en")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "Summarizer": "summarizer.app",
    "PreparedJob": "summarizer.app",
    "Cancelled": "summarizer.app",
    "Settings": "summarizer.config",
    "load_settings": "summarizer.config",
    "Task": "summarizer.tasks",
    "Summary": "summarizer.schema",
    "Translation": "summarizer.schema",
    "Event": "summarizer.events",
    "Progress": "summarizer.events",
    "CallDone": "summarizer.events",
    "ChunkDone": "summarizer.events",
    "Notice": "summarizer.events",
    "SummarizerError": "summarizer.errors",
    "UsageError": "summarizer.errors",
    "InputError": "summarizer.errors",
    "ConfigError": "summarizer.errors",
    "ProviderError": "summarizer.errors",
    "ModelOutputError": "summarizer.errors",
    "ContextOverflowError": "summarizer.errors",
}

__all__ = [
    "CallDone",
    "Cancelled",
    "ChunkDone",
    "ConfigError",
    "ContextOverflowError",
    "Event",
    "InputError",
    "ModelOutputError",
    "Notice",
    "PreparedJob",
    "Progress",
    "ProviderError",
    "Settings",
    "Summarizer",
    "SummarizerError",
    "Summary",
    "Task",
    "Translation",
    "UsageError",
    "__version__",
    "load_settings",
]

if TYPE_CHECKING:
    from summarizer.app import Cancelled, PreparedJob, Summarizer
    from summarizer.config import Settings, load_settings
    from summarizer.errors import (
        ConfigError,
        ContextOverflowError,
        InputError,
        ModelOutputError,
        ProviderError,
        SummarizerError,
        UsageError,
    )
    from summarizer.events import CallDone, ChunkDone, Event, Notice, Progress
    from summarizer.schema import Summary, Translation
    from summarizer.tasks import Task


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'summarizer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
