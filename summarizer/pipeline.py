"""clean -> detect language -> chunk -> render -> call -> validate -> merge.

The pipeline knows nothing about litellm or llama.cpp: it talks to an ``LLMClient``
(``llm.py``), so tests drive it with a fake and ``--dry-run`` with a recorder.
"""

from __future__ import annotations

import json
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from summarizer.chunking import split_by_tokens
from summarizer.clean import CleanedArticle, clean_article
from summarizer.dates import to_iso
from summarizer.detect import detect_language
from summarizer.errors import ContextOverflowError, InputError, ModelOutputError
from summarizer.languages import language_name
from summarizer.llm import ChatRequest, ChatResponse, LLMClient
from summarizer.models import parse_model as parse_model_string
from summarizer.prompts import Message, messages_sha256, render
from summarizer.schema import (
    MERGED_MAX_ITEMS,
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

T = TypeVar("T")
Model = TypeVar("Model", bound=BaseModel)

# Tokens kept free for chat-template wrapping and tokenizer differences.
SAFETY_MARGIN = 64
# Largest answer we ask for. A summary's JSON is bounded by the schema to about 9,000
# characters; 3,000 tokens hold it in any language we target.
SUMMARY_MAX_TOKENS = 3000
# A translation is about as long as its source, longer in some scripts: budget 2x.
TRANSLATION_EXPANSION = 2.0
MAX_REPAIRS = 2
# Bounds for the embedded models' summaries (see schema.capped_schema): at about 25 tokens
# a second on two cores, the full bounds would let a small model write for minutes.
LOCAL_MAX_LENGTH = 240
LOCAL_MAX_ITEMS = 4


@dataclass
class CallRecord:
    task: str
    messages: list[Message]
    response: ChatResponse
    repair: bool
    # (reduce level, chunk index, attempt): calls made concurrently are recorded, hashed and
    # reported in this order, so the same input always gives the same prompt_sha256.
    order: tuple[int, int, int] = (0, 0, 0)


@dataclass(frozen=True)
class Progress:
    """Reported after each unit of work: "summarize" 3 of 12, "translate" 5 of 40..."""

    phase: str
    done: int
    total: int


class _ProgressCounter:
    def __init__(self, callback: Callable[[Progress], None] | None, phase: str, total: int) -> None:
        self.callback, self.phase, self.total, self.done = callback, phase, total, 0
        self.lock = threading.Lock()
        if callback is not None:
            callback(Progress(phase, 0, total))

    def advance(self) -> None:
        with self.lock:
            self.done += 1
            if self.callback is not None:
                self.callback(Progress(self.phase, self.done, self.total))


def _effective_concurrency(model: str, requested: int) -> int:
    # One llama.cpp context serves one request at a time: parallel calls only queue.
    return 1 if parse_model_string(model).is_local else max(1, requested)


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

    client: LLMClient
    model: str
    prompts_dir: Path | None = None
    max_repairs: int = MAX_REPAIRS
    on_call: Callable[[CallRecord], None] | None = None
    calls: list[CallRecord] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def render(self, task: str, **variables: Any) -> list[Message]:
        rendered = render(task, self.prompts_dir, **variables)
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
        return min(SUMMARY_MAX_TOKENS, self.client.context_window(self.model) // 3)

    def count(self, text: str) -> int:
        return self.client.count_tokens(self.model, text)

    def count_messages(self, messages: Sequence[Message]) -> int:
        return sum(self.count(m["content"]) for m in messages) + 8 * len(messages)

    def budget(self, messages_without_input: Sequence[Message], answer_tokens: int) -> int:
        """Tokens left for input once the prompt scaffolding and the answer are paid for."""
        window = self.client.context_window(self.model)
        return window - self.count_messages(messages_without_input) - answer_tokens - SAFETY_MARGIN

    def ask(
        self,
        task: str,
        messages: list[Message],
        *,
        schema: dict[str, Any],
        max_tokens: int,
        parse: Callable[[str], T],
        order: tuple[int, int] = (0, 0),
    ) -> T:
        """One model answer, parsed; re-asks with the problems when it does not parse."""
        window = self.client.context_window(self.model)
        conversation = list(messages)
        last_text = ""
        for attempt in range(self.max_repairs + 1):
            prompt_tokens = self.count_messages(conversation)
            if prompt_tokens + max_tokens > window:
                raise ContextOverflowError(
                    f"A {task} request needs {prompt_tokens} prompt tokens plus {max_tokens} for "
                    f"the answer, more than {self.model}'s {window}-token context window.",
                    hint="Use a model with a larger context window.",
                )
            request = ChatRequest(
                model=self.model,
                messages=conversation,
                task=task,
                response_schema=schema,
                schema_name=task,
                max_tokens=max_tokens,
            )
            response = self.client.complete(request)
            record = CallRecord(
                task, conversation, response, repair=attempt > 0, order=(*order, attempt)
            )
            with self.lock:
                self.calls.append(record)
                if self.on_call is not None:
                    self.on_call(record)
            last_text = response.text
            try:
                if response.finish_reason == "length":
                    raise _Unusable("the answer was cut off at the token limit", [])
                return parse(response.text)
            except _Unusable as problem:
                repair = self.render_repair(problem)
                conversation = [
                    *messages,
                    {"role": "assistant", "content": response.text},
                    *repair,
                ]
                if self.count_messages(conversation) + max_tokens > window:
                    # The bad answer itself does not fit again: describe it, don't quote it.
                    conversation = [*messages, *repair]
        raise ModelOutputError(
            f"{self.model} did not return a valid {task} answer after "
            f"{self.max_repairs + 1} attempts.",
            model=self.model,
            last_output=last_text[:2000],
            hint="Try a stronger model with --model (see README, 'Naming a real provider').",
        )

    def render_repair(self, problem: _Unusable) -> list[Message]:
        rendered = render(
            "repair",
            self.prompts_dir,
            roles=("user",),
            problem=problem.problem,
            errors=problem.errors,
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
        )


class _Unusable(Exception):
    def __init__(self, problem: str, errors: list[str]) -> None:
        self.problem = problem
        self.errors = errors
        super().__init__(problem)


def _json_object(text: str) -> Any:
    """The JSON object in a model's answer, tolerating code fences and chatter around it."""
    stripped = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", text.strip())
    start, end = stripped.find("{"), stripped.rfind("}")
    if start == -1 or end < start:
        raise _Unusable("it contained no JSON object", [])
    try:
        return json.loads(stripped[start : end + 1])
    except json.JSONDecodeError as exc:
        raise _Unusable(f"it was not valid JSON ({exc.msg} at position {exc.pos})", []) from exc


def parse_model(model: type[Model]) -> Callable[[str], Model]:
    def parse(text: str) -> Model:
        data = _json_object(text)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = [
                f"{'.'.join(str(p) for p in error['loc']) or '(top level)'}: {error['msg']}"
                for error in exc.errors()[:20]
            ]
            raise _Unusable("it did not match the JSON schema", errors) from exc

    return parse


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


def answer_schema(draft: type[BaseModel], model: str) -> dict[str, Any]:
    """The JSON Schema a ``draft`` answer must follow for ``model``: capped for local models.

    A fresh copy each time (a provider adapter may edit it in place); the schema itself is
    built once, since pydantic takes milliseconds per build, a real cost in large batches.
    """
    schema: dict[str, Any] = json.loads(
        _answer_schema_json(draft, parse_model_string(model).is_local)
    )
    return schema


@lru_cache(maxsize=16)
def _answer_schema_json(draft: type[BaseModel], local: bool) -> str:
    schema = draft.model_json_schema()
    if local:
        schema = capped_schema(schema, max_length=LOCAL_MAX_LENGTH, max_items=LOCAL_MAX_ITEMS)
    return json.dumps(schema)


def summarize(
    raw_text: str,
    *,
    target_language: str,
    model: str,
    client: LLMClient,
    prompts_dir: Path | None = None,
    on_call: Callable[[CallRecord], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    concurrency: int = 1,
) -> Summary:
    """A structured summary of ``raw_text`` in ``target_language``.

    Map: one structured summary per chunk (chunks sized by the model's own token count to
    fit its context window, with overlap so no sentence is cut in two). Reduce: entities,
    dates and quotes merged deterministically; title, summary and key points merged by the
    ``combine`` prompt, hierarchically when the parts do not fit one call.

    Args:
        concurrency: chunk requests in flight at once; local models always run one at a time.
    """
    article, source_language = prepare(raw_text)
    run = Run(client=client, model=model, prompts_dir=prompts_dir, on_call=on_call)
    languages = _language_vars(source_language, target_language)
    schema = answer_schema(SummaryDraft, model)
    parse = parse_model(SummaryDraft)

    def summary_messages(text: str, index: int, count: int) -> list[Message]:
        return run.render(
            "summarize", article=text, chunk_index=index, chunk_count=count, **languages
        )

    # Budget with the scaffolding of a multi-part prompt, the longer of the two.
    budget = run.budget(summary_messages("", 2, 2), run.answer_tokens)
    chunks = split_by_tokens(
        article.text, max_tokens=budget, count_tokens=run.count, overlap_tokens=budget // 10
    )
    progress = _ProgressCounter(on_progress, "summarize", len(chunks))
    drafts = _map_in_order(
        lambda index: run.ask(
            "summarize",
            summary_messages(chunks[index], index + 1, len(chunks)),
            schema=schema,
            max_tokens=run.answer_tokens,
            parse=parse,
            order=(0, index),
        ),
        len(chunks),
        concurrency=_effective_concurrency(model, concurrency),
        done=progress.advance,
    )
    month_first = source_language == "en"
    if len(drafts) == 1:
        prose = ProseDraft(
            title=drafts[0].title, summary=drafts[0].summary, key_points=drafts[0].key_points
        )
        details = merge_details(drafts, month_first=month_first, max_items=MERGED_MAX_ITEMS)
    else:
        prose = _reduce_prose(run, drafts, languages, on_progress)
        details = merge_details(drafts, month_first=month_first)
    return Summary(
        title=prose.title,
        summary=prose.summary,
        key_points=_tidy_key_points(prose.key_points),
        **details,
        source_language=source_language,
        target_language=target_language,
        meta=run.meta(chunks=len(chunks), removed=article.removed),
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
    run: Run,
    drafts: Sequence[SummaryDraft],
    languages: dict[str, str],
    on_progress: Callable[[Progress], None] | None,
) -> ProseDraft:
    """Merge the parts' prose with the combine prompt, in groups that fit, until one is left."""
    schema = answer_schema(ProseDraft, run.model)
    parse = parse_model(ProseDraft)
    budget = run.budget(run.render("combine", partials="", **languages), run.answer_tokens)
    parts: list[ProseDraft | SummaryDraft] = list(drafts)
    level = 0
    while len(parts) > 1:
        level += 1
        groups: list[list[ProseDraft | SummaryDraft]] = [[]]
        for part in parts:
            candidate = [*groups[-1], part]
            if groups[-1] and run.count(_prose_json(candidate)) > budget:
                groups.append([part])
            else:
                groups[-1] = candidate
        if all(len(group) == 1 for group in groups):
            # Not even two parts fit one combine call: merging cannot make progress.
            raise ContextOverflowError(
                f"Two partial summaries do not fit one combine request for {run.model} "
                f"({budget} tokens available).",
                hint="Use a model with a larger context window.",
            )
        progress = _ProgressCounter(on_progress, f"combine (level {level})", len(groups))
        merged: list[ProseDraft | SummaryDraft] = []
        for index, group in enumerate(groups):
            if len(group) == 1:
                merged.append(group[0])
            else:
                merged.append(
                    run.ask(
                        "combine",
                        run.render("combine", partials=_prose_json(group), **languages),
                        schema=schema,
                        max_tokens=run.answer_tokens,
                        parse=parse,
                        order=(level, index),
                    )
                )
            progress.advance()
        parts = merged
    last = parts[0]
    return ProseDraft(title=last.title, summary=last.summary, key_points=last.key_points)


# -- translations -----------------------------------------------------------------------


def translate(
    raw_text: str,
    *,
    target_language: str,
    model: str,
    client: LLMClient,
    prompts_dir: Path | None = None,
    on_call: Callable[[CallRecord], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    concurrency: int = 1,
) -> Translation:
    """A paragraph-preserving translation: one output paragraph per input paragraph, in order.

    Paragraphs are grouped into chunks that fit the model and never split, unless one alone
    is too long: then it is split by sentence, translated in pieces and joined back into one
    paragraph. Chunks run ``concurrency`` at a time (local models one at a time) and are
    reassembled in order.
    """
    article, source_language = prepare(raw_text)
    run = Run(client=client, model=model, prompts_dir=prompts_dir, on_call=on_call)
    languages = _language_vars(source_language, target_language)
    window = client.context_window(model)
    scaffolding = run.count_messages(run.render("translate", paragraphs=[], **languages))
    # Input plus an answer up to TRANSLATION_EXPANSION times as long must fit.
    budget = int((window - scaffolding - SAFETY_MARGIN) / (1 + TRANSLATION_EXPANSION))

    # Units: (paragraph index, text). A long paragraph becomes several units.
    units: list[tuple[int, str]] = []
    for index, paragraph in enumerate(article.paragraphs):
        for piece in split_by_tokens(paragraph, max_tokens=budget, count_tokens=run.count):
            units.append((index, piece))

    batches: list[list[tuple[int, str]]] = [[]]
    used = 0
    for unit in units:
        cost = run.count(unit[1]) + 8
        if batches[-1] and used + cost > budget:
            batches.append([])
            used = 0
        batches[-1].append(unit)
        used += cost

    def translate_batch(number: int) -> list[str]:
        texts = [text for _, text in batches[number]]
        input_tokens = sum(run.count(t) for t in texts)
        return run.ask(
            "translate",
            run.render("translate", paragraphs=texts, **languages),
            schema=translation_schema([len(t) for t in texts]),
            max_tokens=max(256, int(input_tokens * TRANSLATION_EXPANSION) + 16 * len(texts)),
            parse=_parse_paragraphs(len(texts)),
            order=(0, number),
        )

    progress = _ProgressCounter(on_progress, "translate", len(batches))
    results = _map_in_order(
        translate_batch,
        len(batches),
        concurrency=_effective_concurrency(model, concurrency),
        done=progress.advance,
    )
    translated: list[list[str]] = [[] for _ in article.paragraphs]
    for batch, result in zip(batches, results, strict=True):
        for (index, _), text in zip(batch, result, strict=True):
            translated[index].append(text.strip())

    return Translation(
        source_language=source_language,
        target_language=target_language,
        paragraphs=[_join_pieces(pieces, target_language) for pieces in translated],
        meta=run.meta(chunks=len(batches), removed=article.removed),
    )


def _join_pieces(pieces: Sequence[str], language: str) -> str:
    # Sentences of a split paragraph join with a space, except in scripts written without.
    separator = "" if language in ("zh", "ja", "th", "lo", "km", "my") else " "
    return separator.join(pieces)


def _parse_paragraphs(expected: int) -> Callable[[str], list[str]]:
    parse_draft = parse_model(TranslationDraft)

    def parse(text: str) -> list[str]:
        draft = parse_draft(text)
        if len(draft.paragraphs) != expected:
            raise _Unusable(
                f"it had {len(draft.paragraphs)} paragraphs instead of {expected}",
                [f"paragraphs: return exactly {expected} strings, one per numbered paragraph"],
            )
        if any(not p.strip() for p in draft.paragraphs):
            raise _Unusable("it left a paragraph empty", ["paragraphs: no string may be empty"])
        return draft.paragraphs

    return parse
