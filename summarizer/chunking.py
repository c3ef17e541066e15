"""Split long text into pieces that fit a token budget: the only module that imports
langchain-text-splitters.

Token counts come from the caller (the target model's own tokenizer where it is local), so
a chunk that "fits" really fits. Nothing is ever dropped: if a piece cannot be split under
the budget, that is an error, not a truncation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from summarizer.errors import ContextOverflowError

if TYPE_CHECKING:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

TokenCounter = Callable[[str], int]

# Paragraphs first, then lines, then sentences (Latin, CJK and Devanagari stops), then words.
SEPARATORS = ["\n\n", "\n", ". ", "! ", "? ", "。", "！", "？", "।", "; ", ", ", " ", ""]


def split_by_tokens(
    text: str, *, max_tokens: int, count_tokens: TokenCounter, overlap_tokens: int = 0
) -> list[str]:
    """Split ``text`` into chunks of at most ``max_tokens`` tokens.

    Raises:
        ContextOverflowError: the budget is too small to hold even a single piece.
    """
    if max_tokens < 16:
        raise ContextOverflowError(
            f"Only {max_tokens} tokens are left for the article after the prompt and the answer.",
            hint="Use a model with a larger context window.",
        )
    if count_tokens(text) <= max_tokens:
        return [text]
    chunks: list[str] = []
    for chunk in _splitter(max_tokens, overlap_tokens, count_tokens).split_text(text):
        chunks.extend(_fit(chunk, max_tokens, count_tokens))
    return chunks


def _splitter(
    chunk_size: int, overlap_tokens: int, count_tokens: TokenCounter
) -> RecursiveCharacterTextSplitter:
    # Imported here: most articles fit one chunk, and the import costs a few tenths of a second.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=min(overlap_tokens, chunk_size // 4),
        length_function=count_tokens,
        separators=SEPARATORS,
        keep_separator="end",
        strip_whitespace=True,
    )


def _fit(chunk: str, max_tokens: int, count_tokens: TokenCounter) -> list[str]:
    """``chunk`` itself, or its pieces when it came out over budget.

    The splitter measures pieces one by one and adds them up, but a tokenizer can count the
    joined text a few tokens higher than the sum of its parts. Such a chunk is split again
    with a proportionally smaller target; a piece that cannot be split is an error.
    """
    tokens = count_tokens(chunk)
    if tokens <= max_tokens:
        return [chunk]
    target = max(8, int(max_tokens * max_tokens / tokens * 0.95))
    pieces = _splitter(target, 0, count_tokens).split_text(chunk)
    if len(pieces) <= 1:  # the splitter keeps what it cannot split
        raise ContextOverflowError(
            f"A piece of the article ({tokens} tokens) cannot be split to fit "
            f"the {max_tokens} tokens available.",
            hint="Use a model with a larger context window.",
        )
    fitted: list[str] = []
    for piece in pieces:
        fitted.extend(_fit(piece, max_tokens, count_tokens))
    return fitted
