"""Every case loads through the schema, and the suite covers what the issue asks for."""

from __future__ import annotations

from pathlib import Path

import pytest

from summarizer.errors import InputError
from summarizer.evaluation.cases import default_evals_dir, load_case, load_cases, task_named
from summarizer.pipeline import SUMMARY_MAX_TOKENS, Job, Run, _language_vars, prepare
from summarizer.tasks import Task

EVALS = default_evals_dir()
CASES = load_cases(EVALS)
SEED = "antalya-talks-id-en"


def test_at_least_ten_cases_plus_the_seed() -> None:
    assert len([c for c in CASES if c.id != SEED]) >= 10
    seed = next(c for c in CASES if c.id == SEED)
    assert len(seed.reference_facts) >= 10
    assert len(seed.forbidden) >= 4
    seed_text = (Path(__file__).parent.parent / "examples" / "antalya-talks.id.txt").read_text()
    assert seed.article_text() == seed_text


def test_languages_and_kinds_of_case_are_covered() -> None:
    assert {"id", "en"} <= {c.source_language for c in CASES}
    assert len({c.source_language for c in CASES}) >= 4
    assert {"en", "id"} <= {c.target_language for c in CASES}
    assert len({c.target_language for c in CASES}) >= 3
    tags = {t for c in CASES for t in c.tags}
    assert {"long", "prompt-injection", "numbers", "dates", "boilerplate", "translation"} <= tags
    assert {c.task for c in CASES} == set(Task)


def test_cases_name_tasks_like_everything_else() -> None:
    """One vocabulary: a case's task is a ``Task`` ("summarize" / "translate")."""
    assert all(isinstance(c.task, Task) for c in CASES)
    for path in (EVALS / "cases").glob("*.yaml"):
        text = path.read_text("utf-8")
        assert "\ntask: summarize\n" in text or "\ntask: translate\n" in text, path.name


@pytest.mark.parametrize(("old", "new"), [("summary", "summarize"), ("translation", "translate")])
def test_a_case_with_an_old_task_name_says_the_new_one(tmp_path: Path, old: str, new: str) -> None:
    source = (EVALS / "cases" / f"{SEED}.yaml").read_text("utf-8")
    (tmp_path / f"{SEED}.yaml").write_text(source.replace("task: summarize", f"task: {old}"))
    with pytest.raises(InputError, match=f"now called '{new}'"):
        load_case(tmp_path / f"{SEED}.yaml")


def test_results_files_may_use_the_old_task_names() -> None:
    assert task_named("summary") is task_named("summarize") is Task.SUMMARIZE
    assert task_named("translation") is task_named("translate") is Task.TRANSLATE
    with pytest.raises(ValueError):
        task_named("précis")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_is_sound(case) -> None:
    text = case.article_text()
    assert text.strip()
    assert any(f.critical for f in case.reference_facts)
    assert case.forbidden, "every case needs at least one forbidden item"
    ids = [f.id for f in case.reference_facts] + [f.id for f in case.forbidden]
    assert len(ids) == len(set(ids))


def test_unknown_keys_are_rejected(tmp_path: Path) -> None:
    source = (EVALS / "cases" / f"{SEED}.yaml").read_text("utf-8")
    (tmp_path / f"{SEED}.yaml").write_text(source + "colour: blue\n", "utf-8")
    with pytest.raises(InputError, match="colour"):
        load_case(tmp_path / f"{SEED}.yaml")


def test_unknown_keys_in_a_fact_are_rejected(tmp_path: Path) -> None:
    source = (EVALS / "cases" / f"{SEED}.yaml").read_text("utf-8")
    broken = source.replace("    critical: true\n", "    critcal: true\n", 1)
    (tmp_path / f"{SEED}.yaml").write_text(broken, "utf-8")
    with pytest.raises(InputError, match="critcal"):
        load_case(tmp_path / f"{SEED}.yaml")


class _Tokenizer:
    """Just enough of an LLMClient to plan chunks with a bundled model's own tokenizer."""

    def __init__(self, name: str) -> None:
        from summarizer import local

        self.model = local.get_model(name, vocab_only=True)

    def complete(self, request):  # pragma: no cover - never called
        raise AssertionError("no model calls here")

    def count_tokens(self, model: str, text: str) -> int:
        return self.model.count_tokens(text)

    def context_window(self, model: str) -> int:
        from summarizer.local import DEFAULT_N_CTX

        return DEFAULT_N_CTX


@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
def test_long_case_needs_several_chunks_with_the_key_fact_at_the_end(name: str) -> None:
    # The suite's own long case, whose critical fact sits in its last paragraph.
    case = next(c for c in CASES if c.id == "weir-inquiry-id-en")
    article, source = prepare(case.article_text())
    client = _Tokenizer(name)
    run = Run(Job(client=client, model=f"local/{name}", target_language=case.target_language))
    scaffolding = run.render(
        "summarize",
        article="",
        chunk_index=2,
        chunk_count=2,
        **_language_vars(source, case.target_language),
    )
    assert run.count(article.text) > run.budget(scaffolding, SUMMARY_MAX_TOKENS)
    # The critical fact (the resignation) is only in the last paragraph.
    assert [i for i, p in enumerate(article.paragraphs) if "mengundurkan" in p.lower()
            or "pengunduran" in p.lower()] == [len(article.paragraphs) - 1]  # fmt: skip
