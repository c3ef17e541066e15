"""What we output, as pydantic models; every JSON Schema comes from here.

Two layers:

* ``SummaryDraft`` / ``TranslationDraft``: what a model is asked to write. Strings and lists
  carry upper bounds because llama.cpp turns the schema into a grammar, and an unbounded
  string lets a small model run out of tokens in the middle of the JSON.
* ``Summary`` / ``Translation``: the draft plus what we know better than the model
  (languages, and ``meta``: model, templates, prompt hash, usage, cost, latency, chunks).

The field names are a public contract documented in the README: keep them stable.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

EntityType = Literal["person", "organization", "location", "event", "other"]
MERGED_MAX_ITEMS = 40
KeyPoint = Annotated[str, Field(min_length=1, max_length=240)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Entity(_Strict):
    name: str = Field(min_length=1, max_length=80)
    type: EntityType
    description: str = Field(default="", max_length=160)


class DatedEvent(_Strict):
    date: str = Field(
        min_length=1,
        max_length=20,
        description="ISO 8601 (YYYY-MM-DD, YYYY-MM or YYYY) where the article allows it.",
    )
    event: str = Field(min_length=1, max_length=200)


class Quote(_Strict):
    speaker: str = Field(min_length=1, max_length=80)
    text: str = Field(min_length=1, max_length=400, description="In the target language.")


class SummaryDraft(_Strict):
    """The part of a summary a model writes."""

    title: str = Field(min_length=1, max_length=150)
    summary: str = Field(min_length=1, max_length=1000, description="2-4 sentences.")
    key_points: list[KeyPoint] = Field(max_length=8)
    entities: list[Entity] = Field(max_length=12)
    dates: list[DatedEvent] = Field(max_length=8)
    quotes: list[Quote] = Field(max_length=5)


class ProseDraft(_Strict):
    """What the ``combine`` prompt writes: the prose fields of a merged summary. Entities,
    dates and quotes of the parts are merged deterministically, without a model."""

    title: str = Field(min_length=1, max_length=150)
    summary: str = Field(min_length=1, max_length=1000, description="2-4 sentences.")
    key_points: list[KeyPoint] = Field(max_length=8)


class Usage(_Strict):
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


class Check(_Strict):
    """One check an answer took before it was printed (``summarizer.checks``)."""

    name: str = Field(description="grounding, candidates, language, key_points or alignment.")
    passed: bool
    flagged: list[str] = Field(
        default_factory=list, description="What failed, each item as found in the answer."
    )
    detail: str = Field(default="", description="The findings in one line, for people.")


class Source(_Strict):
    """Where the article came from, when it was a web page or HTML: what was fetched and
    what the extraction found. (Plain text has no ``meta.source``.)"""

    kind: Literal["url", "html"] = Field(
        description="url: fetched from the web; html: an HTML file or HTML on stdin."
    )
    url: str | None = Field(default=None, description="The URL as given.")
    final_url: str | None = Field(default=None, description="After redirects.")
    title: str | None = Field(default=None, description="The page's article title.")
    date: str | None = Field(default=None, description="Its publication date, YYYY-MM-DD.")
    author: str | None = None
    sitename: str | None = None
    html_chars: int = Field(description="Characters of HTML the article was extracted from.")
    text_chars: int = Field(description="Characters of article text extracted.")
    extractor: str = Field(description="What extracted it, with its version.")


class Meta(_Strict):
    """How a result was made: enough to reproduce it and to account for it."""

    model: str
    templates: list[str]
    prompt_sha256: str = Field(description="SHA-256 of every rendered message sent, in order.")
    usage: Usage
    cost_usd: float | None = Field(description="Null when litellm does not know the price.")
    latency_s: float
    chunks: int
    calls: int
    retries: int = 0
    removed_noise: list[str] = Field(
        default_factory=list, description="Datelines and read-also lines stripped from the input."
    )
    checks: list[Check] = Field(
        default_factory=list,
        description="Every check the final answer took, after the repairs; a failed one is "
        "printed as it is, with its findings here.",
    )
    check_s: float = Field(
        default=0.0,
        description="Seconds spent reading the article for candidates and checking answers.",
    )
    repair_s: float = Field(
        default=0.0, description="Seconds the model spent on re-asked answers (repairs)."
    )
    cached: bool = Field(
        default=False,
        description="Every model answer came from the local response cache: nothing was paid "
        "for, so usage and cost are zero.",
    )
    source: Source | None = Field(
        default=None,
        exclude_if=lambda source: source is None,
        description="Where the article came from, when it was a web page or HTML.",
    )


class Summary(SummaryDraft):
    """A structured summary, as printed by ``summarize --format json``."""

    # A long article merged from many parts keeps more than one call may write.
    entities: list[Entity] = Field(max_length=MERGED_MAX_ITEMS)
    dates: list[DatedEvent] = Field(max_length=MERGED_MAX_ITEMS)
    quotes: list[Quote] = Field(max_length=MERGED_MAX_ITEMS)

    source_language: str = Field(description="Detected, ISO 639-1.")
    target_language: str = Field(description="ISO 639-1.")
    meta: Meta


class TranslationDraft(_Strict):
    """What a model writes for one chunk of a translation: one string per input paragraph.

    Validate with ``context={"paragraphs": n}`` to enforce the paragraph rule: exactly
    ``n`` strings, none empty. The pipeline, the service's stream and the graders all
    check translations with this one validator.
    """

    paragraphs: list[str]

    @field_validator("paragraphs")
    @classmethod
    def _one_per_source_paragraph(cls, value: list[str], info: ValidationInfo) -> list[str]:
        expected = (info.context or {}).get("paragraphs")
        if expected is not None and len(value) != expected:
            raise ValueError(
                f"it has {len(value)} paragraphs instead of {expected}: return exactly "
                f"{expected} strings, one per numbered paragraph"
            )
        if any(not paragraph.strip() for paragraph in value):
            raise ValueError("a paragraph is empty: no string may be empty")
        return value


class Translation(_Strict):
    """A full translation, as printed by ``summarize translate --format json``."""

    source_language: str
    target_language: str
    # Left out of the JSON when the article has no title to translate, rather than null.
    title: str | None = Field(default=None, exclude_if=lambda title: title is None)
    paragraphs: list[str]
    meta: Meta


def translation_schema(paragraph_lengths: list[int]) -> dict[str, Any]:
    """JSON Schema for translating exactly ``len(paragraph_lengths)`` paragraphs.

    The exact item count lets llama.cpp's grammar enforce one output paragraph per input
    paragraph; items are bounded to a generous multiple of the longest source paragraph.
    """
    longest = max(paragraph_lengths, default=0)
    return {
        "type": "object",
        "properties": {
            "paragraphs": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": max(200, 3 * longest)},
                "minItems": len(paragraph_lengths),
                "maxItems": len(paragraph_lengths),
            }
        },
        "required": ["paragraphs"],
        "additionalProperties": False,
    }


def capped_schema(schema: Any, *, max_length: int, max_items: int) -> Any:
    """``schema`` with every string and list bound lowered to at most these caps.

    Small local models fill whatever room a grammar leaves them, slowly; the capped schema
    is still a subset of the contract, so what they write validates against the full models.
    """
    if isinstance(schema, list):
        return [capped_schema(s, max_length=max_length, max_items=max_items) for s in schema]
    if not isinstance(schema, dict):
        return schema
    capped: dict[str, Any] = {
        key: capped_schema(value, max_length=max_length, max_items=max_items)
        for key, value in schema.items()
    }
    if capped.get("type") == "string" and "enum" not in capped:
        capped["maxLength"] = min(capped.get("maxLength", max_length), max_length)
    if capped.get("type") == "array":
        capped["maxItems"] = min(capped.get("maxItems", max_items), max_items)
    return capped
