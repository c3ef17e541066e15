"""Eval cases are data: one YAML file per case under ``evals/cases/``, validated here.

Unknown keys are rejected everywhere (``extra="forbid"``), so a typo in a case file is an
error when the case loads, never a silently ignored check.
"""

from __future__ import annotations

import fnmatch
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from summarizer.errors import InputError
from summarizer.tasks import Task

# What eval cases and results files called the tasks before ``Task`` named them once.
# Results files written by earlier runs (``--regrade``) may still hold these.
LEGACY_TASK_NAMES = {"summary": Task.SUMMARIZE, "translation": Task.TRANSLATE}


def task_named(name: str) -> Task:
    """The ``Task`` a results file names, in today's vocabulary or the old one.

    Raises:
        ValueError: ``name`` is no task in either.
    """
    return LEGACY_TASK_NAMES.get(name) or Task(name)


# Evidence: groups of alternatives; every group must match (AND), any alternative in a
# group may match (OR). [["Antalya"], ["Kuleba", "Kuleva"]] needs Antalya and Kuleba/Kuleva.
Evidence = list[list[str]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_evidence(value: Evidence) -> Evidence:
    if not value or any(not group or any(not term.strip() for term in group) for group in value):
        raise ValueError("evidence needs at least one group, and no group or term may be empty")
    return value


Polarity = Literal["positive", "negative"]


class Paraphrase(_Strict):
    """Another way of stating a fact, with its own polarity ("would not refuse to meet" is
    negative; "is open to meeting" states the same fact positively)."""

    evidence: Evidence
    polarity: Polarity | None = None

    _evidence = field_validator("evidence")(_check_evidence)


class Fact(_Strict):
    """One atomic reference fact the output should carry."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    statement: str = Field(min_length=1)
    evidence: Evidence
    # Other ways of saying the same fact: whole evidence sets, any one of which suffices
    # (with the fact's polarity), or {evidence, polarity} with its own polarity (none:
    # the set states the fact whether negated or not).
    paraphrases: list[Evidence | Paraphrase] = Field(default_factory=list)
    # negative: the fact says something did not happen, so a sentence stating it without
    # negation contradicts it; positive: a sentence stating it negated contradicts it.
    polarity: Polarity | None = None
    critical: bool = False
    weight: float = Field(default=1.0, gt=0)

    _evidence = field_validator("evidence")(_check_evidence)

    @field_validator("paraphrases")
    @classmethod
    def _check_paraphrases(cls, value: list[Evidence | Paraphrase]) -> list[Evidence | Paraphrase]:
        return [p if isinstance(p, Paraphrase) else _check_evidence(p) for p in value]

    @property
    def evidence_sets(self) -> list[tuple[Evidence, Polarity | None]]:
        """The evidence and every paraphrase, each with its polarity: the fact is present
        when one set matches."""
        sets: list[tuple[Evidence, Polarity | None]] = [(self.evidence, self.polarity)]
        for p in self.paraphrases:
            sets.append(
                (p.evidence, p.polarity) if isinstance(p, Paraphrase) else (p, self.polarity)
            )
        return sets


class Forbidden(_Strict):
    """A claim the output must not make, or material that is not part of the story."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    statement: str = Field(min_length=1)
    kind: Literal["contradiction", "invented", "noise", "injection"]
    evidence: Evidence

    _evidence = field_validator("evidence")(_check_evidence)


class Length(_Strict):
    """Bounds on the output's length, in words.

    For summaries they apply to the ``summary`` field; for translations to the ratio of
    output words to source words.
    """

    min_words: int | None = Field(default=None, ge=0)
    max_words: int | None = Field(default=None, ge=1)
    min_ratio: float | None = Field(default=None, gt=0)
    max_ratio: float | None = Field(default=None, gt=0)


class Constraints(_Strict):
    output_language: str | None = Field(
        default=None, description="ISO 639-1; defaults to the case's target_language."
    )
    length: Length = Field(default_factory=Length)
    required_fields: list[str] = Field(default_factory=list)


class Source(_Strict):
    """Where a real article comes from, and the licence it was published under."""

    publisher: str
    url: str
    licence: str
    published: str = ""
    retrieved: str = ""
    edits: str = ""

    @field_validator("published", "retrieved", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if value is not None else ""  # YAML reads 2022-06-23 as a date


class Case(_Strict):
    """One eval case: an article, what to do with it, and what a good output contains."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    task: Task = Task.SUMMARIZE
    article: str = Field(description="Path of the article text, relative to the case file.")
    source_language: str = Field(pattern=r"^[a-z]{2}$")
    target_language: str = Field(pattern=r"^[a-z]{2}$")
    tags: list[str] = Field(default_factory=list)
    reference_facts: list[Fact] = Field(min_length=1)
    forbidden: list[Forbidden] = Field(default_factory=list)
    constraints: Constraints = Field(default_factory=Constraints)
    # Names the output may use that do not appear in the article as written, such as
    # exonyms in the target language ("Turkey" for "Turki"): the grounding check accepts them.
    aliases: list[str] = Field(default_factory=list)
    # Real published articles say where they come from; the suite's own articles do not.
    source: Source | None = None
    # Translations: a hand-written reference, one paragraph per paragraph of the article,
    # for the chrF score (path relative to the case file), and who wrote it.
    reference_translation: str | None = None
    reference_translation_note: str = ""

    path: Path | None = Field(default=None, exclude=True)

    @field_validator("task", mode="before")
    @classmethod
    def _current_task_name(cls, value: Any) -> Any:
        if isinstance(value, str) and value in LEGACY_TASK_NAMES:
            new = LEGACY_TASK_NAMES[value].value
            raise ValueError(f"task {value!r} is now called {new!r}: write task: {new}")
        return value

    @property
    def output_language(self) -> str:
        return self.constraints.output_language or self.target_language

    def article_path(self) -> Path:
        base = self.path.parent if self.path else Path.cwd()
        return (base / self.article).resolve()

    def reference_text(self) -> str | None:
        """The hand-written reference translation, or None when the case has none.

        Raises:
            InputError: the case names a reference file that cannot be read.
        """
        if self.reference_translation is None:
            return None
        return self._read(self.reference_translation, "reference_translation")

    def article_text(self) -> str:
        """The article's text.

        Raises:
            InputError: the article file is missing.
        """
        return self._read(self.article, "article")

    def _read(self, relative: str, key: str) -> str:
        base = self.path.parent if self.path else Path.cwd()
        path = (base / relative).resolve()
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                f"Case {self.id!r} points to {path}, which cannot be read: {exc.strerror}.",
                hint=f"Fix the case's {key!r} path (relative to the case file).",
            ) from exc


def default_evals_dir() -> Path:
    """Where the suite's data is: the checkout's ``evals/`` when running from the source
    tree, else the copy the wheel ships inside the package (``summarizer/evals``), found
    the way ``prompts.default_prompts_dir`` finds the templates."""
    packaged = packaged_evals_dir()
    if packaged is not None:
        return packaged
    return Path(__file__).resolve().parent.parent.parent / "evals"


def packaged_evals_dir() -> Path | None:
    """The suite's data installed with the package, or None in a source checkout (the
    wheel force-includes ``evals/cases``, ``articles``, ``baselines`` and ``thresholds.yaml``
    as ``summarizer/evals``; see pyproject.toml)."""
    packaged = resources.files("summarizer") / "evals"
    return Path(str(packaged)) if packaged.is_dir() else None


def model_slug(model: str) -> str:
    """A file-name-safe form of a model string: ``local/smollm2`` -> ``local-smollm2``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-")


def baseline_path(model: str, evals_dir: Path | None = None) -> Path:
    """Where ``model``'s recorded scores are: ``<evals_dir>/baselines/<slug>.json``."""
    return (evals_dir or default_evals_dir()) / "baselines" / f"{model_slug(model)}.json"


def load_case(path: Path) -> Case:
    """Load and validate one case file.

    Raises:
        InputError: the file is not valid YAML or does not match the case schema.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"Cannot read eval case {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"Eval case {path} must be a YAML mapping.")
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10]
        )
        raise InputError(
            f"Eval case {path} does not match the case schema: {problems}",
            hint="See evals/README.md for the case format.",
        ) from exc
    if case.id != path.stem:
        raise InputError(f"Eval case {path} has id {case.id!r}; the id must equal the file name.")
    case.path = path
    return case


def load_cases(evals_dir: Path | None = None, pattern: str = "*") -> list[Case]:
    """Every case in ``<evals_dir>/cases`` whose id matches the glob ``pattern``, by id.

    Raises:
        InputError: no case matches, or a case file is invalid.
    """
    directory = (evals_dir or default_evals_dir()) / "cases"
    paths = sorted(directory.glob("*.yaml"))
    chosen = [
        p for p in paths if fnmatch.fnmatch(p.stem, pattern) or fnmatch.fnmatch(p.name, pattern)
    ]
    if not chosen:
        raise InputError(
            f"No eval case in {directory} matches {pattern!r}.",
            hint="Use --cases with a glob over case ids, e.g. --cases 'antalya*'.",
        )
    return [load_case(p) for p in chosen]
