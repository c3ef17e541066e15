"""render.py: Markdown for people, JSON for machines, dry-run listings."""

from __future__ import annotations

import json

from summarizer import render
from summarizer.llm import ChatRequest
from summarizer.schema import Meta, Summary, Translation, Usage
from tests.fakes import draft

META = Meta(
    model="openai/test-model",
    templates=["summarize/system.j2", "summarize/user.j2"],
    prompt_sha256="0" * 64,
    usage=Usage(input_tokens=10, output_tokens=5),
    cost_usd=None,
    latency_s=1.5,
    chunks=1,
    calls=1,
)


def summary(**overrides: object) -> Summary:
    return Summary(
        **{**draft(), **overrides}, source_language="id", target_language="en", meta=META
    )


def test_summary_markdown_has_every_section() -> None:
    text = render.summary_markdown(summary())

    assert text.startswith("# Russia-Ukraine talks in Antalya end without progress\n\n")
    assert "## Key points\n\n- No ceasefire was agreed.\n" in text
    assert "- **Dmytro Kuleba** (person): Ukraine's foreign minister" in text
    assert "## Dates\n\n- 2022-03-10: Talks in Antalya\n" in text
    assert "> Ukraine has not surrendered.\n> — Dmytro Kuleba" in text
    assert "Indonesian (id) → English (en), by openai/test-model" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_empty_sections_are_left_out() -> None:
    text = render.summary_markdown(summary(key_points=[], entities=[], dates=[], quotes=[]))

    for heading in ("## Key points", "## Who and what", "## Dates", "## Quotes"):
        assert heading not in text


def test_json_round_trips_through_the_schema() -> None:
    original = summary()
    text = render.to_json(original)

    assert Summary.model_validate_json(text) == original
    assert json.loads(text)["meta"]["cost_usd"] is None


def test_translation_markdown_is_the_paragraphs_in_order() -> None:
    translation = Translation(
        source_language="id", target_language="en", paragraphs=["One.", "Two."], meta=META
    )

    text = render.translation_markdown(translation)

    assert text.startswith("One.\n\nTwo.\n\n---\n")


def test_dry_run_listings_show_every_message_of_every_call() -> None:
    requests = [
        ChatRequest(
            model="m",
            task="summarize",
            messages=[{"role": "system", "content": "S1"}, {"role": "user", "content": "U1"}],
        ),
        ChatRequest(model="m", task="combine", messages=[{"role": "user", "content": "U2"}]),
    ]

    calls = json.loads(render.dry_run_json(requests))
    assert [c["call"] for c in calls] == [1, 2]
    assert [c["task"] for c in calls] == ["summarize", "combine"]
    assert calls[0]["messages"] == requests[0].messages

    text = render.dry_run_text(requests)
    assert "=== call 1 of 2: summarize -> m" in text
    assert "=== call 2 of 2: combine -> m" in text
    assert text.index("S1") < text.index("U1") < text.index("U2")
