"""A batch's inputs: files, folders (their article files, recursively) and glob patterns."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from summarizer.errors import InputError

# What a folder contributes: article-like text files, not everything in it.
ARTICLE_SUFFIXES = (".txt", ".text", ".md", ".markdown")


def find_inputs(patterns: Sequence[str], *, exclude: Sequence[Path] = ()) -> list[Path]:
    """Files named by ``patterns`` (files, folders, globs), in order, each once.

    Raises:
        InputError: a pattern names nothing, so a typo does not pass for an empty batch.
    """
    excluded = {p.resolve() for p in exclude}
    found: list[Path] = []
    seen: set[Path] = set()
    for pattern in patterns:
        for match in _matches(pattern):
            resolved = match.resolve()
            if resolved not in seen and resolved not in excluded:
                seen.add(resolved)
                found.append(match)
    return found


def _matches(pattern: str) -> list[Path]:
    """The files one pattern names, sorted within a folder or a glob.

    Raises:
        InputError: it names nothing, or no article file.
    """
    path = Path(pattern)
    if path.is_dir():
        matches = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in ARTICLE_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    elif path.is_file():
        matches = [path]
    elif glob.has_magic(pattern):
        matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
        matches = [p for p in matches if p.is_file()]
    else:
        raise InputError(f"{pattern} does not exist.", path=pattern, hint="Check the path.")
    if not matches:
        raise InputError(
            f"{pattern} names no article files.",
            path=pattern,
            hint=f"A folder contributes its {', '.join(ARTICLE_SUFFIXES)} files; "
            "quote a glob so the shell does not expand it.",
        )
    return matches


def input_key(path: str | Path) -> str:
    """How a line's ``input`` is matched to a file on re-runs: its absolute path."""
    return os.path.abspath(os.path.expanduser(str(path)))
