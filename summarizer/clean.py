"""Clean an article before any model sees it.

News pages carry noise that small models happily summarise: the site's dateline
("TRIBUNNEWSSULTRA.COM - ..."), read-also links ("Baca juga: ..."), share prompts,
and ragged whitespace. Everything here is deterministic and offline.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Lines that point at another article: "Baca juga: ...", "Read also: ...", in the languages
# our users read most. Matched at the start of a line, case-insensitively, before a colon.
READ_ALSO_PREFIXES = (
    # Indonesian / Malay
    "baca juga",
    "baca pula",
    "lihat juga",
    "simak juga",
    "artikel terkait",
    "berita terkait",
    "baca selengkapnya",
    "tonton juga",
    # English
    "read also",
    "also read",
    "read more",
    "see also",
    "related",
    "related articles",
    "related story",
    "recommended",
    "watch",
    "more on this story",
    # French, Spanish, Portuguese, Italian, German, Dutch
    "lire aussi",
    "à lire aussi",
    "voir aussi",
    "lee también",
    "leer también",
    "ver también",
    "leia também",
    "leia mais",
    "veja também",
    "leggi anche",
    "vedi anche",
    "lesen sie auch",
    "mehr zum thema",
    "auch interessant",
    "lees ook",
    # Turkish, Russian, Ukrainian, Polish
    "ayrıca okuyun",
    "ilgili haber",
    "читайте также",
    "читайте також",
    "czytaj także",
    "czytaj też",
)
_READ_ALSO = re.compile(
    r"^\s*(?:" + "|".join(re.escape(p) for p in READ_ALSO_PREFIXES) + r")\s*[:：>»\-–—]",
    re.IGNORECASE,
)

# A site dateline at the very start: "TRIBUNNEWSSULTRA.COM - ", "JAKARTA, KOMPAS.com - ",
# "LONDON (Reuters) - ". The separator must be a spaced dash so ordinary sentences survive.
_DATELINE = re.compile(
    r"""^(?:
        (?:[A-Z][\w .'/]{1,40},\s*)?(?:[\w-]+\.)+[A-Za-z]{2,}(?:\s*\([^)]{1,40}\))?
      | [A-Z][A-Z .'/]{1,40}(?:,\s*[\w .]{1,30})?\s*\([A-Za-z .]{2,30}\)
    )\s+[-–—]{1,2}\s+""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class CleanedArticle:
    """The article as the model will see it, and what cleaning took out."""

    text: str
    paragraphs: list[str]
    removed: list[str] = field(default_factory=list)


def split_paragraphs(text: str) -> list[str]:
    """Split text into paragraphs.

    Blank lines separate blocks. Inside a block, hard-wrapped prose is unwrapped into one
    paragraph, but lines that each end a sentence are paragraphs of their own, as in many
    scraped articles (the seed among them) that put one paragraph per line.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraphs: list[str] = []
    for block in re.split(r"\n[ \t]*\n+", text):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        if any(_STRUCTURED_LINE.match(line) for line in lines):
            # Lists, headings and quotations keep their line breaks: their shape is content.
            paragraphs.append("\n".join(lines))
        elif len(lines) > 1 and _looks_hard_wrapped(lines):
            paragraphs.append(" ".join(lines))
        else:
            paragraphs.extend(lines)
    return paragraphs


# A line that starts a list item, heading or quotation keeps its own line.
_STRUCTURED_LINE = re.compile(r"^\s*(?:[-*•+]\s|\d{1,3}[.)]\s|#{1,6}\s|>)")
# How a line that ends a paragraph usually ends: a full stop, a closing quote, a colon...
_SENTENCE_END = re.compile(r"[.!?:;。！？…\"'”’»)\]]$")


def _looks_hard_wrapped(lines: list[str]) -> bool:
    """True when most lines but the last stop mid-sentence: prose wrapped at a width."""
    inner = lines[:-1]
    unfinished = sum(1 for line in inner if not _SENTENCE_END.search(line))
    return unfinished * 2 > len(inner)


def _normalize_whitespace(paragraph: str) -> str:
    paragraph = unicodedata.normalize("NFC", paragraph)
    # Non-breaking and zero-width spaces come from HTML copies; tabs from bad exports.
    paragraph = re.sub(r"[\u200b\u200c\u200d\ufeff]", "", paragraph)
    lines = paragraph.split("\n")
    return "\n".join(
        re.sub(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+", " ", line).strip() for line in lines
    ).strip()


def clean_article(raw: str) -> CleanedArticle:
    """Strip datelines and read-also lines, normalise whitespace, keep paragraph structure."""
    removed: list[str] = []
    kept: list[str] = []
    for paragraph in split_paragraphs(raw):
        paragraph = _normalize_whitespace(paragraph)
        if _READ_ALSO.match(paragraph):
            removed.append(paragraph)
            continue
        if not kept:
            match = _DATELINE.match(paragraph)
            if match:
                removed.append(match.group(0).strip())
                paragraph = paragraph[match.end() :].strip()
        if paragraph:
            kept.append(paragraph)
    return CleanedArticle(text="\n\n".join(kept), paragraphs=kept, removed=removed)
