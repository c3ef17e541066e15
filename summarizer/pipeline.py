"""clean -> detect language -> chunk -> render -> ask -> merge: the map/reduce of one article.

The pipeline knows nothing about litellm, llama.cpp or which kind of model it talks to:
it gets a ``Job`` (an ``LLMClient``, the model's ``ModelTraits``, the prompts folder, an
event callback) from the application layer (``app.Summarizer``), so tests drive it with
a fake and ``--dry-run`` with a recorder. Each structured call goes through
``structured.ask``, which validates and re-asks.
"""

from __future__ import annotations

import json
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from summarizer.candidates import constrained_schema
from summarizer.checks import Reference, check_summary, check_translation, problems
from summarizer.chunking import split_by_tokens
from summarizer.clean import CleanedArticle, clean_article
from summarizer.dates import to_iso
from summarizer.detect import detect_language
from summarizer.errors import ContextOverflowError, InputError
from summarizer.events import CallDone, ChunkDone, OnEvent, Progress
from summarizer.languages import language_name
from summarizer.llm import LLMClient, ModelTraits
from summarizer.prompts import Message, messages_sha256, render
from summarizer.schema import (
    MERGED_MAX_ITEMS,
    Check,
    DatedEvent,
    Entity,
    Meta,
    ProseDraft,
    Quote,
    Summary,
    SummaryDraft,
    Translation,
    TranslationDraft,
    Usage,
    capped_schema,
    translation_schema,
)
from summarizer.structured import (
    MAX_REPAIRS,
    CallRecord,
    Checking,
    Findings,
    Question,
    ask,
    count_messages,
)
from summarizer.tasks import Task

T = TypeVar("T")
Answer = TypeVar("Answer", bound=BaseModel)

# Tokens kept free for chat-template wrapping and tokenizer differences.
SAFETY_MARGIN = 64
# Largest answer we ask for. A summary's JSON is bounded by the schema to about 9,000
# characters; 3,000 tokens hold it in any language we target.
SUMMARY_MAX_TOKENS = 3000
# A translation is about as long as its source, longer in some scripts: budget 2x.
TRANSLATION_EXPANSION = 2.0


@dataclass(frozen=True)
class Job:
    """One article's work as the application layer hands it over."""

    client: LLMClient
    model: str
    target_language: str
    traits: ModelTraits = field(default_factory=ModelTraits)
    prompts_dir: Path | None = None
    # Chunk requests in flight at once; models that are not ``traits.parallel`` get one.
    concurrency: int = 1
    on_event: OnEvent | None = None
    max_repairs: int = MAX_REPAIRS
    # Re-asks for an answer that validates but fails a content check (within max_repairs);
    # the application layer passes ``Settings.check_repairs``; a dry run asks none, since
    # its placeholder answers fail every check.
    check_repairs: int = 0

    @property
    def effective_concurrency(self) -> int:
        return max(1, self.concurrency) if self.traits.parallel else 1


class _ProgressCounter:
    def __init__(self, on_event: OnEvent | None, phase: str, total: int) -> None:
        self.on_event, self.phase, self.total, self.done = on_event, phase, total, 0
        self.lock = threading.Lock()
        if on_event is not None:
            on_event(Progress(phase, 0, total))

    def advance(self) -> None:
        with self.lock:
            self.done += 1
            if self.on_event is not None:
                self.on_event(Progress(self.phase, self.done, self.total))


def _map_in_order(
    work: Callable[[int], T], count: int, *, concurrency: int, done: Callable[[], None]
) -> list[T]:
    """``[work(0), ..., work(count - 1)]`` with up to ``concurrency`` running at once."""

    def step(index: int) -> T:
        result = work(index)
        done()
        return result

    if concurrency <= 1 or count <= 1:
        return [step(index) for index in range(count)]
    with ThreadPoolExecutor(max_workers=min(concurrency, count)) as pool:
        return list(pool.map(step, range(count)))


@dataclass
class Run:
    """Everything one summary or translation sent and received: the source of ``meta``."""

    job: Job
    calls: list[CallRecord] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted_chunks: int = 0
    reference: Reference | None = None
    check_s: float = 0.0

    @property
    def model(self) -> str:
        return self.job.model

    def render(self, task: str, **variables: Any) -> list[Message]:
        rendered = render(task, self.job.prompts_dir, **variables)
        self._note_templates(rendered.templates)
        return rendered.messages

    def _note_templates(self, names: Sequence[str]) -> None:
        with self.lock:
            for name in names:
                if name not in self.templates:
                    self.templates.append(name)

    @property
    def answer_tokens(self) -> int:
        """Tokens reserved for a summary answer: the schema's worst case, or a third of a
        small model's window (its answer is then shorter, and still validated)."""
        return min(SUMMARY_MAX_TOKENS, self.job.client.context_window(self.model) // 3)

    def count(self, text: str) -> int:
        return self.job.client.count_tokens(self.model, text)

    def count_messages(self, messages: Sequence[Message]) -> int:
        return count_messages(self.job.client, self.model, messages)

    def budget(self, messages_without_input: Sequence[Message], answer_tokens: int) -> int:
        """Tokens left for input once the prompt scaffolding and the answer are paid for."""
        window = self.job.client.context_window(self.model)
        return window - self.count_messages(messages_without_input) - answer_tokens - SAFETY_MARGIN

    def ask(
        self,
        question: Question,
        response_model: type[Answer],
        context: dict[str, Any] | None = None,
        check: Callable[[Answer], list[Check]] | None = None,
    ) -> Answer:
        """One validated answer (re-asked as needed), every call recorded and reported;
        with ``check``, an answer that fails its checks is re-asked with the findings."""

        def findings(answer: Answer) -> Findings:
            assert check is not None
            checks = self.timed(lambda: check(answer))
            flagged = sum(len(c.flagged) for c in checks if not c.passed)
            return Findings(problems(checks, self.job.target_language), flagged)

        return ask(
            self.job.client,
            question,
            response_model,
            context=context,
            max_repairs=self.job.max_repairs,
            repair=self.render_repair,
            on_call=self._record,
            checking=Checking(findings, self.job.check_repairs) if check is not None else None,
        )

    def timed(self, work: Callable[[], T]) -> T:
        """``work()``, its wall time counted in ``meta.check_s``."""
        started = time.perf_counter()
        try:
            return work()
        finally:
            with self.lock:
                self.check_s += time.perf_counter() - started

    def _record(self, record: CallRecord) -> None:
        with self.lock:
            self.calls.append(record)
        if self.job.on_event is not None:
            self.job.on_event(CallDone(record))

    def chunk_done(self, task: Task, index: int, paragraphs: Sequence[str] = ()) -> None:
        """Report that chunk ``index`` of the article was accepted."""
        with self.lock:
            self.accepted_chunks += 1
            number = self.accepted_chunks
        if self.job.on_event is not None:
            self.job.on_event(ChunkDone(task, number, index, tuple(paragraphs)))

    def check_summary(self, answer: BaseModel) -> list[Check]:
        assert self.reference is not None
        data = answer.model_dump(exclude={"meta", "source_language", "target_language"})
        return check_summary(data, self.reference)

    def check_translation(self, paragraphs: Sequence[str], sources: Sequence[str]) -> list[Check]:
        assert self.reference is not None
        return check_translation(paragraphs, sources, self.reference)

    def render_repair(self, problem: str, errors: list[str]) -> list[Message]:
        rendered = render(
            "repair", self.job.prompts_dir, roles=("user",), problem=problem, errors=errors
        )
        self._note_templates(rendered.templates)
        return rendered.messages

    def meta(self, chunks: int, removed: list[str]) -> Meta:
        calls = sorted(self.calls, key=lambda call: call.order)
        usage = Usage()
        costs: list[float | None] = []
        for call in calls:
            usage = usage + call.response.usage
            costs.append(call.response.cost_usd)
        known = [c for c in costs if c is not None]
        # Name the models that really answered: with --fallback it may not be the one asked.
        answered = list(dict.fromkeys(call.response.model or self.model for call in calls))
        extraction = self.reference.extraction_s if self.reference else 0.0
        return Meta(
            model=", ".join(answered) if answered else self.model,
            templates=self.templates,
            prompt_sha256=messages_sha256(call.messages for call in calls),
            usage=usage,
            cost_usd=round(sum(known), 8) if known and len(known) == len(costs) else None,
            latency_s=round(time.perf_counter() - self.started, 3),
            chunks=chunks,
            calls=len(calls),
            retries=sum(call.repair for call in calls),
            removed_noise=removed,
            check_s=round(extraction + self.check_s, 3),
            repair_s=round(sum(call.response.latency_s for call in calls if call.repair), 3),
        )


# -- summaries --------------------------------------------------------------------------


def prepare(raw_text: str) -> tuple[CleanedArticle, str]:
    """Clean the article and detect its language.

    Raises:
        InputError: nothing is left to summarise.
    """
    article = clean_article(raw_text)
    if not article.text.strip():
        raise InputError(
            "The article is empty once whitespace and boilerplate are removed.",
            hint="Pass a file with the article's text.",
        )
    source_language, _ = detect_language(article.text)
    return article, source_language


def _language_vars(source_language: str, target_language: str) -> dict[str, str]:
    return {
        "source_language": source_language,
        "source_language_name": language_name(source_language),
        "target_language": target_language,
        "target_language_name": language_name(target_language),
    }


def _name_key(text: str) -> str:
    """Entities compare equal across parts whatever their case, accents or spacing."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).split())


def merge_details(
    drafts: Sequence[SummaryDraft], *, month_first: bool, max_items: int = MERGED_MAX_ITEMS
) -> dict[str, Any]:
    """Entities, dates and quotes of all parts, merged without a model.

    Exact where exactness is possible: duplicates (by normalised name, by ISO date and
    event, by quote text) collapse into their first appearance, and order of first
    appearance is kept. When more than ``max_items`` remain, the ones that recur in the most
    parts are kept, still in order of first appearance.
    """
    entities: dict[str, Entity] = {}
    entity_parts: dict[str, int] = {}
    dates: dict[tuple[str, str], DatedEvent] = {}
    date_parts: dict[tuple[str, str], int] = {}
    quotes: dict[str, Quote] = {}
    quote_parts: dict[str, int] = {}
    for draft in drafts:
        for entity in draft.entities:
            key = _name_key(entity.name)
            if key not in entities:
                entities[key] = entity
            elif not entities[key].description and entity.description:
                entities[key] = entities[key].model_copy(update={"description": entity.description})
            entity_parts[key] = entity_parts.get(key, 0) + 1
        for item in draft.dates:
            item = item.model_copy(update={"date": to_iso(item.date, month_first=month_first)})
            date_key = (item.date, _name_key(item.event))
            dates.setdefault(date_key, item)
            date_parts[date_key] = date_parts.get(date_key, 0) + 1
        for quote in draft.quotes:
            quote_key = _name_key(quote.text)
            quotes.setdefault(quote_key, quote)
            quote_parts[quote_key] = quote_parts.get(quote_key, 0) + 1
    return {
        "entities": _most_recurring(entities, entity_parts, max_items),
        "dates": _most_recurring(dates, date_parts, max_items),
        "quotes": _most_recurring(quotes, quote_parts, max_items),
    }


K = TypeVar("K")


def _most_recurring(items: dict[K, T], counts: dict[K, int], limit: int) -> list[T]:
    if len(items) <= limit:
        return list(items.values())
    order = {key: index for index, key in enumerate(items)}
    keep = set(sorted(items, key=lambda key: (-counts[key], order[key]))[:limit])
    return [value for key, value in items.items() if key in keep]


def _tidy_key_points(points: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(point.strip() for point in points if point.strip()))


def answer_schema(draft: type[BaseModel], traits: ModelTraits) -> dict[str, Any]:
    """The JSON Schema a ``draft`` answer must follow: capped where the model needs it.

    A fresh copy each time (a provider adapter may edit it in place); the schema itself is
    built once, since pydantic takes milliseconds per build, a real cost in large batches.
    """
    schema: dict[str, Any] = json.loads(_answer_schema_json(draft, traits.schema_caps))
    return schema


@lru_cache(maxsize=16)
def _answer_schema_json(draft: type[BaseModel], caps: tuple[int, int] | None) -> str:
    schema = draft.model_json_schema()
    if caps is not None:
        schema = capped_schema(schema, max_length=caps[0], max_items=caps[1])
    return json.dumps(schema)


# The article cleaned and its language detected (``prepare``), when the caller has them.
Prepared = tuple[CleanedArticle, str]


def run(
    task: Task, raw_text: str, job: Job, prepared: Prepared | None = None
) -> Summary | Translation:
    """``summarize`` or ``translate``, by ``task``."""
    if task is Task.SUMMARIZE:
        return summarize(raw_text, job, prepared)
    return translate(raw_text, job, prepared)


def summarize(raw_text: str, job: Job, prepared: Prepared | None = None) -> Summary:
    """A structured summary of ``raw_text`` in ``job.target_language``.

    Map: one structured summary per chunk (chunks sized by the model's own token count to
    fit its context window, with overlap so no sentence is cut in two). Reduce: entities,
    dates and quotes merged deterministically; title, summary and key points merged by the
    ``combine`` prompt, hierarchically when the parts do not fit one call.
    """
    article, source_language = prepared or prepare(raw_text)
    run = Run(job, reference=Reference.read(article, source_language, job.target_language))
    languages = _language_vars(source_language, job.target_language)
    chunks = _summary_chunks(run, article, languages)
    drafts = _map_summaries(run, chunks, languages)
    month_first = source_language == "en"
    if len(drafts) == 1:
        only = drafts[0]
        prose = ProseDraft(title=only.title, summary=only.summary, key_points=only.key_points)
    else:
        prose = _reduce_prose(run, drafts, languages)
    summary = Summary(
        title=prose.title,
        summary=prose.summary,
        key_points=_tidy_key_points(prose.key_points),
        **merge_details(drafts, month_first=month_first),
        source_language=source_language,
        target_language=job.target_language,
        meta=run.meta(chunks=len(chunks), removed=article.removed),
    )
    return _with_checks(run, summary, lambda: run.check_summary(summary))


R = TypeVar("R", Summary, Translation)


def _with_checks(run: Run, result: R, check: Callable[[], list[Check]]) -> R:
    """``result`` with the final answer's checks, and their time, in its ``meta``."""
    started = time.perf_counter()
    checks = check()
    spent = time.perf_counter() - started
    meta = result.meta.model_copy(
        update={"checks": checks, "check_s": round(result.meta.check_s + spent, 3)}
    )
    return result.model_copy(update={"meta": meta})


def _summary_messages(
    run: Run, languages: dict[str, str], text: str, index: int, count: int
) -> list[Message]:
    return run.render("summarize", article=text, chunk_index=index, chunk_count=count, **languages)


def _summary_chunks(run: Run, article: CleanedArticle, languages: dict[str, str]) -> list[str]:
    # Budget with the scaffolding of a multi-part prompt, the longer of the two.
    budget = run.budget(_summary_messages(run, languages, "", 2, 2), run.answer_tokens)
    return split_by_tokens(
        article.text, max_tokens=budget, count_tokens=run.count, overlap_tokens=budget // 10
    )


def _map_summaries(
    run: Run, chunks: Sequence[str], languages: dict[str, str]
) -> list[SummaryDraft]:
    schema = answer_schema(SummaryDraft, run.job.traits)
    if run.reference is not None:
        same = languages["source_language"] == languages["target_language"]
        schema = constrained_schema(schema, run.reference.candidates, same_language=same)

    def summarize_chunk(index: int) -> SummaryDraft:
        question = Question(
            task=Task.SUMMARIZE.value,
            model=run.model,
            messages=_summary_messages(run, languages, chunks[index], index + 1, len(chunks)),
            schema=schema,
            max_tokens=run.answer_tokens,
            order=(0, index),
        )
        # One part of a long article is re-asked for nothing its final summary will not
        # show: its prose goes through the combine call, which is checked and re-asked,
        # and its entities, dates and quotes are held to the candidates by the schema. So
        # an article costs one repair at most, however many parts it has.
        check = run.check_summary if len(chunks) == 1 else None
        draft = run.ask(question, SummaryDraft, check=check)
        run.chunk_done(Task.SUMMARIZE, index)
        return draft

    progress = _ProgressCounter(run.job.on_event, Task.SUMMARIZE.value, len(chunks))
    return _map_in_order(
        summarize_chunk,
        len(chunks),
        concurrency=run.job.effective_concurrency,
        done=progress.advance,
    )


def _prose_json(parts: Sequence[ProseDraft | SummaryDraft]) -> str:
    return json.dumps(
        [
            {"part": i, "title": p.title, "summary": p.summary, "key_points": p.key_points}
            for i, p in enumerate(parts, start=1)
        ],
        ensure_ascii=False,
        indent=1,
    )


def _reduce_prose(
    run: Run, drafts: Sequence[SummaryDraft], languages: dict[str, str]
) -> ProseDraft:
    """Merge the parts' prose with the combine prompt, in groups that fit, until one is left."""
    budget = run.budget(run.render("combine", partials="", **languages), run.answer_tokens)
    parts: list[ProseDraft | SummaryDraft] = list(drafts)
    level = 0
    while len(parts) > 1:
        level += 1
        groups = _combine_groups(run, parts, budget)
        progress = _ProgressCounter(run.job.on_event, f"combine (level {level})", len(groups))
        merged: list[ProseDraft | SummaryDraft] = []
        for index, group in enumerate(groups):
            merged.append(
                group[0]
                if len(group) == 1
                else _combine(run, group, languages, (level, index), final=len(groups) == 1)
            )
            progress.advance()
        parts = merged
    last = parts[0]
    return ProseDraft(title=last.title, summary=last.summary, key_points=last.key_points)


def _combine_groups(
    run: Run, parts: Sequence[ProseDraft | SummaryDraft], budget: int
) -> list[list[ProseDraft | SummaryDraft]]:
    """``parts`` in consecutive groups, each fitting one combine call.

    Raises:
        ContextOverflowError: not even two parts fit one call, so merging cannot progress.
    """
    groups: list[list[ProseDraft | SummaryDraft]] = [[]]
    for part in parts:
        candidate = [*groups[-1], part]
        if groups[-1] and run.count(_prose_json(candidate)) > budget:
            groups.append([part])
        else:
            groups[-1] = candidate
    if all(len(group) == 1 for group in groups):
        raise ContextOverflowError(
            f"Two partial summaries do not fit one combine request for {run.model} "
            f"({budget} tokens available).",
            hint="Use a model with a larger context window.",
        )
    return groups


def _combine(
    run: Run,
    group: Sequence[ProseDraft | SummaryDraft],
    languages: dict[str, str],
    order: tuple[int, int],
    *,
    final: bool,
) -> ProseDraft:
    question = Question(
        task="combine",
        model=run.model,
        messages=run.render("combine", partials=_prose_json(group), **languages),
        schema=answer_schema(ProseDraft, run.job.traits),
        max_tokens=run.answer_tokens,
        order=order,
    )
    # Only the last combine writes what the reader sees: it alone is checked and re-asked.
    return run.ask(question, ProseDraft, check=run.check_summary if final else None)


# -- translations -----------------------------------------------------------------------

# (paragraph index, text): a long paragraph becomes several units.
_Unit = tuple[int, str]


def translate(raw_text: str, job: Job, prepared: Prepared | None = None) -> Translation:
    """A paragraph-preserving translation: one output paragraph per input paragraph, in order.

    Paragraphs are grouped into chunks that fit the model and never split, unless one alone
    is too long: then it is split by sentence, translated in pieces and joined back into one
    paragraph. Chunks run ``job.concurrency`` at a time (one at a time for a model that
    cannot run requests in parallel) and are reassembled in order.
    """
    article, source_language = prepared or prepare(raw_text)
    run = Run(job, reference=Reference.read(article, source_language, job.target_language))
    languages = _language_vars(source_language, job.target_language)
    batches = _translation_batches(run, article, languages)
    progress = _ProgressCounter(job.on_event, Task.TRANSLATE.value, len(batches))
    results = _map_in_order(
        lambda number: _translate_batch(run, batches[number], languages, number),
        len(batches),
        concurrency=job.effective_concurrency,
        done=progress.advance,
    )
    translated: list[list[str]] = [[] for _ in article.paragraphs]
    for batch, result in zip(batches, results, strict=True):
        for (index, _), text in zip(batch, result, strict=True):
            translated[index].append(text.strip())
    translation = Translation(
        source_language=source_language,
        target_language=job.target_language,
        paragraphs=[_join_pieces(pieces, job.target_language) for pieces in translated],
        meta=run.meta(chunks=len(batches), removed=article.removed),
    )
    return _with_checks(
        run,
        translation,
        lambda: run.check_translation(translation.paragraphs, article.paragraphs),
    )


def _translation_batches(
    run: Run, article: CleanedArticle, languages: dict[str, str]
) -> list[list[_Unit]]:
    """The article's paragraphs (pieces of the long ones) in groups that fit one call."""
    window = run.job.client.context_window(run.model)
    scaffolding = run.count_messages(run.render("translate", paragraphs=[], **languages))
    # Input plus an answer up to TRANSLATION_EXPANSION times as long must fit.
    budget = int((window - scaffolding - SAFETY_MARGIN) / (1 + TRANSLATION_EXPANSION))
    units: list[_Unit] = []
    for index, paragraph in enumerate(article.paragraphs):
        for piece in split_by_tokens(paragraph, max_tokens=budget, count_tokens=run.count):
            units.append((index, piece))
    batches: list[list[_Unit]] = [[]]
    used = 0
    for unit in units:
        cost = run.count(unit[1]) + 8
        if batches[-1] and used + cost > budget:
            batches.append([])
            used = 0
        batches[-1].append(unit)
        used += cost
    return batches


def _translate_batch(
    run: Run, batch: Sequence[_Unit], languages: dict[str, str], number: int
) -> list[str]:
    texts = [text for _, text in batch]
    input_tokens = sum(run.count(t) for t in texts)
    question = Question(
        task=Task.TRANSLATE.value,
        model=run.model,
        messages=run.render("translate", paragraphs=texts, **languages),
        schema=translation_schema([len(t) for t in texts]),
        max_tokens=max(256, int(input_tokens * TRANSLATION_EXPANSION) + 16 * len(texts)),
        order=(0, number),
    )
    draft = run.ask(
        question,
        TranslationDraft,
        context={"paragraphs": len(texts)},
        check=lambda answer: run.check_translation(answer.paragraphs, texts),
    )
    run.chunk_done(Task.TRANSLATE, number, [p.strip() for p in draft.paragraphs])
    return draft.paragraphs


def _join_pieces(pieces: Sequence[str], language: str) -> str:
    # Sentences of a split paragraph join with a space, except in scripts written without.
    separator = "" if language in ("zh", "ja", "th", "lo", "km", "my") else " "
    return separator.join(pieces)
