"""clean -> detect language -> chunk -> render -> call -> validate -> merge.

The pipeline knows nothing about litellm or llama.cpp: it talks to an ``LLMClient``
(``llm.py``), so tests drive it with a fake and ``--dry-run`` with a recorder.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
from summarizer.prompts import Message, messages_sha256, render
from summarizer.schema import (
    Meta,
    Summary,
    SummaryDraft,
    Translation,
    TranslationDraft,
    Usage,
    capped_schema,
    translation_schema,
)
from summarizer.models import parse_model as parse_model_string

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

    def render(self, task: str, **variables: Any) -> list[Message]:
        rendered = render(task, self.prompts_dir, **variables)
        for name in rendered.templates:
            if name not in self.templates:
                self.templates.append(name)
        return rendered.messages

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
            record = CallRecord(task, conversation, response, repair=attempt > 0)
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
        for name in rendered.templates:
            if name not in self.templates:
                self.templates.append(name)
        return rendered.messages

    def meta(self, chunks: int, removed: list[str]) -> Meta:
        usage = Usage()
        costs: list[float | None] = []
        for call in self.calls:
            usage = usage + call.response.usage
            costs.append(call.response.cost_usd)
        known = [c for c in costs if c is not None]
        return Meta(
            model=self.model,
            templates=self.templates,
            prompt_sha256=messages_sha256(call.messages for call in self.calls),
            usage=usage,
            cost_usd=round(sum(known), 8) if known and len(known) == len(costs) else None,
            latency_s=round(time.perf_counter() - self.started, 3),
            chunks=chunks,
            calls=len(self.calls),
            retries=sum(call.repair for call in self.calls),
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


def _tidy(draft: SummaryDraft, *, month_first: bool) -> SummaryDraft:
    """Deterministic clean-up of what small models do: repeats and free-form dates."""
    seen_names: set[str] = set()
    entities = []
    for entity in draft.entities:
        key = " ".join(entity.name.casefold().split())
        if key not in seen_names:
            seen_names.add(key)
            entities.append(entity)
    key_points = list(dict.fromkeys(p.strip() for p in draft.key_points if p.strip()))
    dates = []
    seen_dates: set[tuple[str, str]] = set()
    for item in draft.dates:
        normalized = item.model_copy(update={"date": to_iso(item.date, month_first=month_first)})
        date_key = (normalized.date, normalized.event.casefold())
        if date_key not in seen_dates:
            seen_dates.add(date_key)
            dates.append(normalized)
    quotes = list({(q.speaker, q.text): q for q in draft.quotes}.values())
    return draft.model_copy(
        update={"entities": entities, "key_points": key_points, "dates": dates, "quotes": quotes}
    )


def summarize(
    raw_text: str,
    *,
    target_language: str,
    model: str,
    client: LLMClient,
    prompts_dir: Path | None = None,
    on_call: Callable[[CallRecord], None] | None = None,
) -> Summary:
    """A structured summary of ``raw_text`` in ``target_language``.

    Long articles are summarised chunk by chunk, then the partial summaries are merged
    with the ``combine`` prompt (hierarchically when they do not fit one call).
    """
    article, source_language = prepare(raw_text)
    run = Run(client=client, model=model, prompts_dir=prompts_dir, on_call=on_call)
    languages = _language_vars(source_language, target_language)
    schema = SummaryDraft.model_json_schema()
    if parse_model_string(model).is_local:
        schema = capped_schema(schema, max_length=LOCAL_MAX_LENGTH, max_items=LOCAL_MAX_ITEMS)
    parse = parse_model(SummaryDraft)

    def summary_messages(text: str, index: int, count: int) -> list[Message]:
        return run.render(
            "summarize", article=text, chunk_index=index, chunk_count=count, **languages
        )

    # Budget with the scaffolding of a multi-part prompt, the longer of the two.
    budget = run.budget(summary_messages("", 2, 2), SUMMARY_MAX_TOKENS)
    chunks = split_by_tokens(
        article.text, max_tokens=budget, count_tokens=run.count, overlap_tokens=budget // 10
    )
    drafts = [
        run.ask(
            "summarize",
            summary_messages(chunk, index, len(chunks)),
            schema=schema,
            max_tokens=SUMMARY_MAX_TOKENS,
            parse=parse,
        )
        for index, chunk in enumerate(chunks, start=1)
    ]
    draft = _reduce(run, drafts, languages, schema, parse)
    draft = _tidy(draft, month_first=source_language == "en")
    return Summary(
        **draft.model_dump(),
        source_language=source_language,
        target_language=target_language,
        meta=run.meta(chunks=len(chunks), removed=article.removed),
    )


def _reduce(
    run: Run,
    drafts: list[SummaryDraft],
    languages: dict[str, str],
    schema: dict[str, Any],
    parse: Callable[[str], SummaryDraft],
) -> SummaryDraft:
    """Merge partial summaries with the combine prompt, in groups that fit, until one is left."""
    while len(drafts) > 1:
        budget = run.budget(run.render("combine", partials="", **languages), SUMMARY_MAX_TOKENS)
        groups: list[list[SummaryDraft]] = [[]]
        for draft in drafts:
            candidate = [*groups[-1], draft]
            if groups[-1] and run.count(_partials_json(candidate)) > budget:
                groups.append([draft])
            else:
                groups[-1] = candidate
        if len(groups) == len(drafts) and len(drafts) > 1 and len(groups[0]) == 1:
            # No two partial summaries fit one combine call: merging cannot make progress.
            raise ContextOverflowError(
                "Two partial summaries do not fit one combine request for "
                f"{run.model} ({budget} tokens available).",
                hint="Use a model with a larger context window.",
            )
        drafts = [
            group[0]
            if len(group) == 1
            else run.ask(
                "combine",
                run.render("combine", partials=_partials_json(group), **languages),
                schema=schema,
                max_tokens=SUMMARY_MAX_TOKENS,
                parse=parse,
            )
            for group in groups
        ]
    return drafts[0]


def _partials_json(drafts: Sequence[SummaryDraft]) -> str:
    return json.dumps(
        [{"part": i, **d.model_dump()} for i, d in enumerate(drafts, start=1)],
        ensure_ascii=False,
        indent=1,
    )


# -- translations -----------------------------------------------------------------------


def translate(
    raw_text: str,
    *,
    target_language: str,
    model: str,
    client: LLMClient,
    prompts_dir: Path | None = None,
    on_call: Callable[[CallRecord], None] | None = None,
) -> Translation:
    """A paragraph-preserving translation: one output paragraph per input paragraph, in order.

    Paragraphs are grouped into chunks that fit the model; a paragraph too long for one call
    is split by sentence, translated in pieces and joined back into one paragraph.
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

    translated: list[list[str]] = [[] for _ in article.paragraphs]
    for batch in batches:
        texts = [text for _, text in batch]
        input_tokens = sum(run.count(t) for t in texts)
        result = run.ask(
            "translate",
            run.render("translate", paragraphs=texts, **languages),
            schema=translation_schema([len(t) for t in texts]),
            max_tokens=max(256, int(input_tokens * TRANSLATION_EXPANSION) + 16 * len(texts)),
            parse=_parse_paragraphs(len(texts)),
        )
        for (index, _), text in zip(batch, result, strict=True):
            translated[index].append(text.strip())

    return Translation(
        source_language=source_language,
        target_language=target_language,
        paragraphs=[" ".join(pieces) for pieces in translated],
        meta=run.meta(chunks=len(batches), removed=article.removed),
    )


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
