"""Split long text into pieces that fit a token budget: the only module that imports
langchain-text-splitters.

Token counts come from the caller (the target model's own tokenizer where it is local), so
a chunk that "fits" really fits. Nothing is ever dropped: if a piece cannot be split under
the budget, that is an error, not a truncation.
"""

from __future__ import annotations

from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from summarizer.errors import ContextOverflowError

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
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=max_tokens,
        chunk_overlap=min(overlap_tokens, max_tokens // 4),
        length_function=count_tokens,
        separators=SEPARATORS,
        keep_separator="end",
        strip_whitespace=True,
    )
    chunks = splitter.split_text(text)
    for chunk in chunks:
        if count_tokens(chunk) > max_tokens:  # the splitter keeps what it cannot split
            raise ContextOverflowError(
                f"A piece of the article ({count_tokens(chunk)} tokens) cannot be split to fit "
                f"the {max_tokens} tokens available.",
                hint="Use a model with a larger context window.",
            )
    return chunks
