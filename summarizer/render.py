"""Results for people (Markdown) and for machines (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from summarizer.languages import language_name
from summarizer.llm import ChatRequest
from summarizer.schema import Summary, Translation


def summary_markdown(summary: Summary) -> str:
    lines = [f"# {summary.title}", "", summary.summary, "", *_verdict(summary)]
    if summary.key_points:
        lines += ["## Key points", "", *[f"- {point}" for point in summary.key_points], ""]
    if summary.entities:
        lines += ["## Who and what", ""]
        for entity in summary.entities:
            about = f": {entity.description}" if entity.description else ""
            lines.append(f"- **{entity.name}** ({entity.type}){about}")
        lines.append("")
    if summary.dates:
        lines += ["## Dates", "", *[f"- {d.date}: {d.event}" for d in summary.dates], ""]
    if summary.quotes:
        lines += ["## Quotes", ""]
        for quote in summary.quotes:
            lines += [f"> {quote.text}", f"> — {quote.speaker}", ""]
    lines.append(_footer(summary.source_language, summary.target_language, summary.meta.model))
    return "\n".join(lines) + "\n"


def _verdict(result: Summary | Translation) -> list[str]:
    """A line for each failed check, so a reader sees what to distrust; none if all passed."""
    failed = [check for check in result.meta.checks if not check.passed]
    if not failed:
        return []
    return [
        "> **Failed checks** (the answer is shown as the model wrote it):",
        *(f"> - {check.detail}" for check in failed),
        "",
    ]


def translation_markdown(translation: Translation) -> str:
    verdict = "\n".join(_verdict(translation))
    body = "\n\n".join(translation.paragraphs)
    body = f"{verdict}\n{body}" if verdict else body
    footer = _footer(
        translation.source_language, translation.target_language, translation.meta.model
    )
    return f"{body}\n\n{footer}\n"


def _footer(source: str, target: str, model: str) -> str:
    return (
        f"---\n*{language_name(source)} ({source}) → {language_name(target)} ({target}), "
        f"by {model}. Machine-generated: check important facts against the article.*"
    )


def to_json(result: Summary | Translation) -> str:
    return result.model_dump_json(indent=2) + "\n"


def dry_run_json(requests: Sequence[ChatRequest]) -> str:
    calls = [
        {
            "call": index,
            "task": request.task,
            "model": request.model,
            "max_tokens": request.max_tokens,
            "response_schema": request.response_schema,
            "messages": request.messages,
        }
        for index, request in enumerate(requests, start=1)
    ]
    return json.dumps(calls, ensure_ascii=False, indent=2) + "\n"


def dry_run_text(requests: Sequence[ChatRequest]) -> str:
    parts = []
    for index, request in enumerate(requests, start=1):
        parts.append(
            f"=== call {index} of {len(requests)}: {request.task} -> {request.model} "
            f"(max_tokens={request.max_tokens}) ==="
        )
        for message in request.messages:
            parts += [f"--- {message['role']} ---", message["content"]]
        parts.append("")
    return "\n".join(parts)
