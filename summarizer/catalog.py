"""What ``summarize models`` lists: the bundled models, what each scored on the eval
suite, and how to name any other model.

Cheap on purpose: no model is loaded, litellm is not imported, nothing is called. A
bundled model's file is located the way every run locates it (``bundled``, verified once
per machine), its context window is the one the embedded backend opens
(``local.DEFAULT_N_CTX``), and its quality is what the eval suite measured, read from the
baselines committed with the suite (``evals/baselines/<model>.json``).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarizer.bundled import BUNDLED_MODELS, resolve_local_path
from summarizer.errors import ModelNotFoundError
from summarizer.local import DEFAULT_N_CTX
from summarizer.models import DEFAULT_LOCAL_MODEL, LOCAL_PREFIX

NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class SuiteScores:
    """What a model scored on the eval suite (means over every run of every case)."""

    language_accuracy: float  # share of output fields in the language asked for
    fact_recall: float  # weighted share of the reference facts kept
    critical_recall: float  # share of the critical facts kept
    cases_passed: int
    cases: int
    recorded: str  # when, ISO 8601

    def describe(self) -> str:
        return (
            f"language {self.language_accuracy:.2f}, facts {self.fact_recall:.2f}, "
            f"{self.cases_passed}/{self.cases} cases passed"
        )


@dataclass(frozen=True)
class ModelInfo:
    """One bundled model, as ``summarize models`` shows it."""

    alias: str  # what --model takes: gemma3
    model: str  # the model string: local/gemma3
    description: str
    default: bool  # used when no model is named
    context_window: int  # tokens
    file_size: int | None  # bytes of the GGUF file; None when it is not installed
    problem: str | None  # why the file was not found, and how to fix it
    scores: SuiteScores | None  # None: no baseline recorded for it

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["scores"] = None if self.scores is None else dict(vars(self.scores))
        return data


def bundled_models(evals_dir: Path | None = None) -> list[ModelInfo]:
    """The bundled models, the default first.

    Args:
        evals_dir: the eval suite whose baselines hold the scores; by default the one
            ``summarize eval`` uses (the checkout's, or the copy installed with the package).
    """
    if evals_dir is None:
        from summarizer.evaluation.cases import default_evals_dir

        evals_dir = default_evals_dir()
    infos = [_info(alias, evals_dir) for alias in BUNDLED_MODELS]
    return sorted(infos, key=lambda info: not info.default)


def _info(alias: str, evals_dir: Path) -> ModelInfo:
    size: int | None = None
    problem: str | None = None
    try:
        size = resolve_local_path(alias).stat().st_size
    except ModelNotFoundError as exc:
        problem = str(exc)
    except OSError as exc:
        problem = f"Its file cannot be read: {exc.strerror}."
    model = LOCAL_PREFIX + alias
    return ModelInfo(
        alias=alias,
        model=model,
        description=BUNDLED_MODELS[alias].description,
        default=alias == DEFAULT_LOCAL_MODEL,
        context_window=DEFAULT_N_CTX,
        file_size=size,
        problem=problem,
        scores=suite_scores(model, evals_dir),
    )


def suite_scores(model: str, evals_dir: Path) -> SuiteScores | None:
    """``model``'s recorded eval scores, or None when it has no (readable) baseline."""
    from summarizer.evaluation.cases import baseline_path

    try:
        data = json.loads(baseline_path(model, evals_dir).read_text(encoding="utf-8"))
        scores = data["scores"]
        cases = len(data["cases"])
        return SuiteScores(
            language_accuracy=float(scores["language_accuracy"]),
            fact_recall=float(scores["fact_recall"]),
            critical_recall=float(scores["critical_recall"]),
            cases_passed=round(float(scores["case_pass_rate"]) * cases),
            cases=cases,
            recorded=str(data["recorded"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _size(info: ModelInfo) -> str:
    return "not installed" if info.file_size is None else f"{info.file_size / 1e6:,.0f} MB"


def _row(info: ModelInfo) -> list[str]:
    scores = info.scores
    measured = (
        [NOT_MEASURED, "", ""]
        if scores is None
        else [
            f"{scores.language_accuracy:.2f}",
            f"{scores.fact_recall:.2f}",
            f"{scores.cases_passed}/{scores.cases}",
        ]
    )
    alias = info.alias + (" *" if info.default else "")
    return [alias, info.model, _size(info), f"{info.context_window:,}", *measured]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]  # fmt: skip


def _wrapped(text: str) -> list[str]:
    return textwrap.wrap(text, width=88, initial_indent="  ", subsequent_indent="  ")


HEADER = ["alias", "model", "file", "context", "language", "facts", "cases passed"]
MEASURES = (
    "language: share of output fields in the language asked for; facts: weighted share of "
    "the reference facts kept; cases passed: cases meeting their thresholds. Measured by "
    "the eval suite (summarize eval), as recorded in its baselines. These small models are "
    "demonstrations: use a real model for anything you rely on."
)
PROVIDERS = """\
Any other model: name it as litellm does, provider/model, with --model (or SUMMARIZER_MODEL).
  --model openai/gpt-4o-mini              OpenAI; set OPENAI_API_KEY first
  --model ollama/qwen2.5:7b               a model Ollama serves on this machine
  --model openai/<name> --api-base URL    any OpenAI-compatible server (vLLM, llama.cpp
                                          server, LM Studio...)
  add --context-window N                  for a model litellm does not know (8,192 tokens
                                          is assumed otherwise)
Every provider and its key: https://docs.litellm.ai/docs/providers"""


def models_text(infos: Sequence[ModelInfo]) -> str:
    """``infos`` as a readable table, and how to name a provider's model instead."""
    lines = ["Bundled models: offline, on this machine, no API key.", ""]
    lines += _table([HEADER, *(_row(info) for info in infos)])
    lines.append("")
    lines += [f"  {info.alias}: {info.description}" for info in infos]
    if any(info.default for info in infos):
        lines.append("  * the default, used when no --model is given; --model ALIAS names one.")
    for info in infos:
        if info.problem:
            lines += _wrapped(f"{info.alias} is not usable: {info.problem}")
    lines += ["", *_wrapped(MEASURES), "", PROVIDERS]
    return "\n".join(lines) + "\n"
