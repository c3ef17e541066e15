"""Structured calls: ask a model for an answer of a given pydantic shape, validate it,
and re-ask with the problems until it fits; the shape ``instructor`` gives this loop.

Everything that asks a model for JSON goes through ``ask``: the summary's map and reduce
steps, the translation's chunks and the eval's judge. It knows nothing of articles.

Answers are read leniently where it costs nothing: code fences and chatter around the
JSON object are ignored, and keys the schema does not know are dropped (logged at debug
level) rather than failing the answer, since some providers ignore ``response_format``
and add keys of their own. What the schema does say is enforced.
"""

from __future__ import annotations

import json
import logging
import re
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from summarizer.errors import ContextOverflowError, ModelOutputError
from summarizer.llm import ChatRequest, ChatResponse, LLMClient
from summarizer.prompts import Message

Answer = TypeVar("Answer", bound=BaseModel)

# Re-asks after the first answer, before giving up.
MAX_REPAIRS = 2

logger = logging.getLogger("summarizer")


@dataclass(frozen=True)
class CallRecord:
    """One model call and its answer."""

    task: str
    messages: list[Message]
    response: ChatResponse
    repair: bool
    # (reduce level, chunk index, attempt): calls made concurrently are recorded, hashed and
    # reported in this order, so the same input always gives the same prompt_sha256.
    order: tuple[int, int, int] = (0, 0, 0)


@dataclass(frozen=True)
class Question:
    """One structured request: what to send and how long the answer may be."""

    task: str
    model: str
    messages: list[Message]
    schema: dict[str, Any]
    max_tokens: int
    order: tuple[int, int] = (0, 0)  # (reduce level, chunk index), see CallRecord


class Unusable(Exception):
    """An answer that cannot be used, with what to tell the model when re-asking."""

    def __init__(self, problem: str, errors: Sequence[str] = ()) -> None:
        self.problem = problem
        self.errors = list(errors)
        super().__init__(problem)


# Renders the re-ask message from (problem, errors).
RepairPrompt = Callable[[str, list[str]], list[Message]]


def count_messages(client: LLMClient, model: str, messages: Sequence[Message]) -> int:
    """Prompt tokens of ``messages`` for ``model``, with a few per message for the template."""
    return sum(client.count_tokens(model, m["content"]) for m in messages) + 8 * len(messages)


@dataclass(frozen=True)
class Findings:
    """What the content checks found in an answer: the problems as the re-ask names them,
    and how many items they flag (what makes one answer better than another)."""

    problems: list[str]
    flagged: int


@dataclass(frozen=True)
class Checking:
    """Content checks of a valid answer, and how often a failed one is re-asked."""

    check: Callable[[Any], Findings]
    repairs: int = 1


@dataclass
class _Best:
    """The answer with the fewest check findings so far."""

    answer: Any = None
    flagged: int | None = None

    def offer(self, answer: Any, findings: Findings) -> None:
        # A tie goes to the later answer: it was written knowing the findings.
        if self.flagged is None or findings.flagged <= self.flagged:
            self.answer, self.flagged = answer, findings.flagged


def ask(
    client: LLMClient,
    question: Question,
    response_model: type[Answer],
    *,
    context: dict[str, Any] | None = None,
    max_repairs: int = MAX_REPAIRS,
    repair: RepairPrompt | None = None,
    on_call: Callable[[CallRecord], None] | None = None,
    checking: Checking | None = None,
) -> Answer:
    """The model's answer to ``question`` as a ``response_model``, re-asked up to
    ``max_repairs`` times with the problems when it does not validate.

    Args:
        context: pydantic validation context (e.g. how many paragraphs are expected).
        repair: renders the re-ask message; the built-in ``repair`` prompt by default.
        on_call: told about every call, re-asks included (usage accounting, logging).
        checking: the content checks of a valid answer; when they find problems, the
            model is re-asked with them, at most ``checking.repairs`` times and within
            ``max_repairs``. The valid answer with the fewest findings is returned: a
            re-ask that does worse never replaces a better answer.

    Raises:
        ContextOverflowError: the conversation does not fit the model's context window.
        ModelOutputError: no answer validated.
    """
    repair, window = repair or _builtin_repair, client.context_window(question.model)
    conversation, last_text, best, checked = list(question.messages), "", _Best(), 0
    for attempt in range(max_repairs + 1):
        try:
            response = _call(client, question, conversation, window, attempt, on_call)
        except ContextOverflowError:
            if best.answer is None:
                raise
            break  # the re-ask does not fit: the valid answer stands, with its findings
        last_text = response.text
        try:
            if response.finish_reason == "length":
                raise Unusable("the answer was cut off at the token limit")
            answer = parse_answer(response.text, response_model, context=context)
            findings = checking.check(answer) if checking is not None else Findings([], 0)
            best.offer(answer, findings)
            if not findings.problems or checking is None or checked >= checking.repairs:
                return typing.cast(Answer, best.answer)
            checked += 1
            raise Unusable("its content failed the checks", findings.problems)
        except Unusable as problem:
            _log_unusable(question, attempt, problem)
            conversation = _re_ask(
                client, question, response.text, repair(problem.problem, problem.errors), window
            )
    if best.answer is None:
        raise _no_valid_answer(question, max_repairs, last_text)
    return typing.cast(Answer, best.answer)


def _no_valid_answer(question: Question, max_repairs: int, last_text: str) -> ModelOutputError:
    return ModelOutputError(
        f"{question.model} did not return a valid {question.task} answer after "
        f"{max_repairs + 1} attempts.",
        model=question.model,
        last_output=last_text[:2000],
        hint="Try a stronger model with --model (see README, 'Naming a real provider').",
    )


def _call(
    client: LLMClient,
    question: Question,
    conversation: list[Message],
    window: int,
    attempt: int,
    on_call: Callable[[CallRecord], None] | None,
) -> ChatResponse:
    request = ChatRequest(
        model=question.model,
        messages=conversation,
        task=question.task,
        response_schema=question.schema,
        schema_name=question.task,
        max_tokens=_answer_room(client, question, conversation, window, repair=attempt > 0),
    )
    response = client.complete(request)
    if on_call is not None:
        order = (*question.order, attempt)
        on_call(CallRecord(question.task, conversation, response, attempt > 0, order))
    return response


def _log_unusable(question: Question, attempt: int, problem: Unusable) -> None:
    """``--debug``: why an answer was refused (the model is re-asked with the same words)."""
    errors = "".join(f"\n  {error}" for error in problem.errors)
    logger.debug(
        "%s answer %d from %s is unusable: %s%s",
        question.task,
        attempt + 1,
        question.model,
        problem.problem,
        errors,
    )


# A re-ask's answer may be this much shorter than the first answer's budget: the repair
# message takes room from an article chunk that was sized to fill the window without it.
MIN_REPAIR_ANSWER_SHARE = 0.5


def _answer_room(
    client: LLMClient, question: Question, conversation: list[Message], window: int, repair: bool
) -> int:
    """The answer's token budget: ``question.max_tokens``, or for a re-ask what the window
    has left once the repair message is in, if that is at least half of it.

    Raises:
        ContextOverflowError: the conversation does not leave room for the answer.
    """
    prompt_tokens = count_messages(client, question.model, conversation)
    left = window - prompt_tokens
    if left >= question.max_tokens:
        return question.max_tokens
    if repair and left >= question.max_tokens * MIN_REPAIR_ANSWER_SHARE:
        return left
    raise ContextOverflowError(
        f"A {question.task} request needs {prompt_tokens} prompt tokens plus "
        f"{question.max_tokens} for the answer, more than {question.model}'s "
        f"{window}-token context window.",
        hint="Use a model with a larger context window.",
    )


def _re_ask(
    client: LLMClient,
    question: Question,
    bad_answer: str,
    repair_messages: list[Message],
    window: int,
) -> list[Message]:
    conversation = [
        *question.messages,
        {"role": "assistant", "content": bad_answer},
        *repair_messages,
    ]
    if count_messages(client, question.model, conversation) + question.max_tokens > window:
        # The bad answer itself does not fit again: describe it, don't quote it.
        conversation = [*question.messages, *repair_messages]
    return conversation


def _builtin_repair(problem: str, errors: list[str]) -> list[Message]:
    from summarizer.prompts import render

    return render("repair", None, roles=("user",), problem=problem, errors=errors).messages


def json_object(text: str) -> Any:
    """The JSON object in a model's answer, tolerating code fences and chatter around it.

    Raises:
        Unusable: there is no JSON object, or it does not parse.
    """
    stripped = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", text.strip())
    start, end = stripped.find("{"), stripped.rfind("}")
    if start == -1 or end < start:
        raise Unusable("it contained no JSON object")
    try:
        # strict=False: a raw newline inside a string, which llama_cpp.server's own
        # grammar lets a model write, is read as the newline it means.
        return json.loads(stripped[start : end + 1], strict=False)
    except json.JSONDecodeError as exc:
        raise Unusable(f"it was not valid JSON ({exc.msg} at position {exc.pos})") from exc


def parse_answer(
    text: str, response_model: type[Answer], *, context: dict[str, Any] | None = None
) -> Answer:
    """``text`` read as a ``response_model``: unknown keys dropped, the rest validated.

    Raises:
        Unusable: it is not JSON, or it does not validate (the errors say where and why).
    """
    data = json_object(text)
    dropped = drop_unknown_keys(data, response_model)
    if dropped:
        logger.debug("Dropped keys the schema does not know: %s", ", ".join(dropped))
    try:
        return response_model.model_validate(data, context=context)
    except ValidationError as exc:
        errors = [
            f"{'.'.join(str(p) for p in error['loc']) or '(top level)'}: {error['msg']}"
            for error in exc.errors()[:20]
        ]
        raise Unusable("it did not match the JSON schema", errors) from exc


def drop_unknown_keys(data: Any, model: type[BaseModel], path: str = "") -> list[str]:
    """Remove, in place, the keys of ``data`` that ``model`` (and its nested models) do not
    declare; returns their dotted paths."""
    if not isinstance(data, dict):
        return []
    dropped: list[str] = []
    for key in [k for k in data if k not in model.model_fields]:
        dropped.append(f"{path}{key}")
        del data[key]
    for name, field in model.model_fields.items():
        nested = _nested_model(field.annotation)
        value = data.get(name)
        if nested is None or value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            where = f"{path}{name}[{index}]." if isinstance(value, list) else f"{path}{name}."
            dropped += drop_unknown_keys(item, nested, where)
    return dropped


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (``Model``, ``list[Model]``, ``Model | None``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, typing.Union, types.UnionType):
        for argument in typing.get_args(annotation):
            found = _nested_model(argument)
            if found is not None:
                return found
    return None
