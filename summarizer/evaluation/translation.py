"""Translations scored: chrF against a hand-written reference, and every paragraph checked
against its own source paragraph.

* **chrF** (sacrebleu) per paragraph and for the document, against the case's reference
  translation (``reference_translation``, one paragraph per paragraph of the article).
  chrF works on character n-grams, so it rewards a right word in another inflection and
  needs no tokenizer for Indonesian.
* **Alignment**: the numbers, dates and names of source paragraph *i* must be found in
  output paragraph *i*. Merged, re-split, reordered or dropped paragraphs lose them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from summarizer.clean import clean_article, split_paragraphs
from summarizer.dates import MONTHS
from summarizer.evaluation.claims import Unit, as_list, sentences
from summarizer.evaluation.grounding import (
    UNCHECKED_NUMBERS,
    capitalised_words,
    cldr_name_in,
    is_common_word,
    weekday_names,
)
from summarizer.evaluation.normalize import fold

# Share of a source paragraph's numbers, dates and names its translation must keep, in
# paragraphs with at least MIN_ANCHORS of them (a headline's two names may be translated
# out of recognition; chrF judges those).
MIN_ANCHOR_SHARE = 0.5
MIN_ANCHORS = 3
# A paragraph with more sentences than its source and its reference, and this much longer
# than the reference, has gained a sentence nobody wrote (a translator who splits a long
# sentence in two keeps the length).
MAX_GROWTH_WITH_EXTRA_SENTENCE = 1.15


@dataclass
class TranslationScore:
    chrf: float | None
    paragraph_chrf: list[float] = field(default_factory=list)
    misaligned: list[str] = field(default_factory=list)
    problem: str = ""


def aligned_reference(article: str, reference: str) -> list[str]:
    """The reference's paragraphs for the paragraphs the pipeline translates.

    The reference translates the article as published, paragraph by paragraph; cleaning
    drops read-also lines and empty datelines, so their references are dropped too.

    Raises:
        ValueError: the reference has another number of paragraphs than the article.
    """
    source, target = split_paragraphs(article), split_paragraphs(reference)
    if len(source) != len(target):
        raise ValueError(
            f"the reference has {len(target)} paragraphs and the article {len(source)}"
        )
    return [t for s, t in zip(source, target, strict=True) if clean_article(s).paragraphs]


def _anchors(paragraph: str, language: str) -> tuple[set[str], list[frozenset[float]], set[str]]:
    unit = Unit.read(paragraph, language)
    dates = {sorted(m.readings)[0] for _, m in unit.dates if m.readings}
    # Small numbers are often idioms in translation ("every 30 minutes" is "every half hour").
    numbers = [v for _, v, _ in unit.numbers if not v <= UNCHECKED_NUMBERS and max(v) >= 10]
    calendar = set(MONTHS) | set(weekday_names(language))
    names = {
        fold(w)
        for w in capitalised_words(paragraph)
        if not is_common_word(w, language) and len(w) > 2 and fold(w) not in calendar
    }
    return dates, numbers, names


def _kept_share(source: str, output: str, source_language: str, output_language: str) -> float:
    dates, numbers, names = _anchors(source, source_language)
    total = len(dates) + len(numbers) + len(names)
    if total < MIN_ANCHORS:
        return 1.0
    unit = Unit.read(output, output_language)
    out_dates = {r for _, m in unit.dates for r in m.readings}
    out_values = {x for _, v, _ in unit.numbers for x in v}
    words = set(re.findall(r"\w+", fold(output)))
    kept = len(dates & out_dates) + sum(bool(v & out_values) for v in numbers)
    for name in names:
        spellings = [name, *cldr_name_in(name, source_language, output_language)]
        kept += any(all(w in words for w in re.findall(r"\w+", s)) for s in spellings)
    return kept / total


def misaligned_paragraphs(
    source: list[str], paragraphs: list[str], source_language: str, output_language: str
) -> list[str]:
    """The output paragraphs that lose their source paragraph's numbers, dates and names
    (the eval's translation grader and the product's own check both call this)."""
    found = []
    for i, (src, out) in enumerate(zip(source, paragraphs, strict=False)):
        share = _kept_share(src, out, source_language, output_language)
        if share < MIN_ANCHOR_SHARE:
            found.append(
                f"paragraph {i + 1} keeps {share:.0%} of its source's names, numbers and dates"
            )
    return found


def score_translation(
    output: dict[str, Any],
    article: str,
    reference: str | None,
    source_language: str,
    output_language: str,
) -> TranslationScore:
    """chrF and paragraph alignment of a translation output."""
    paragraphs = [str(p) for p in as_list(output.get("paragraphs"))]
    source = clean_article(article).paragraphs
    score = TranslationScore(chrf=None)
    if len(paragraphs) != len(source):
        score.problem = f"{len(paragraphs)} paragraphs for {len(source)} in the source"
    score.misaligned = misaligned_paragraphs(source, paragraphs, source_language, output_language)
    if reference is None:
        return score
    try:
        references = aligned_reference(article, reference)
    except ValueError as exc:
        score.problem = f"reference unusable: {exc}"
        return score
    for i, (src, out, ref) in enumerate(zip(source, paragraphs, references, strict=False)):
        extra = len(sentences(out, output_language)) > max(
            len(sentences(src, source_language)), len(sentences(ref, output_language))
        )
        if extra and len(out) > MAX_GROWTH_WITH_EXTRA_SENTENCE * len(ref):
            score.misaligned.append(f"paragraph {i + 1} has a sentence its source does not")
    from sacrebleu.metrics.chrf import CHRF

    chrf = CHRF()
    padded = paragraphs + [""] * (len(references) - len(paragraphs))
    score.paragraph_chrf = [
        round(chrf.sentence_score(hyp, [ref]).score, 2)
        for hyp, ref in zip(padded, references, strict=False)
    ]
    score.chrf = round(
        chrf.corpus_score(["\n".join(paragraphs)], [["\n".join(references)]]).score, 2
    )
    return score
