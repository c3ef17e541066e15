"""A batch's inputs: files, folders (their article files, recursively), glob patterns, and
web pages (http(s) URLs, given as inputs or one per line in a ``--urls`` file)."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from summarizer.errors import InputError

# What a folder contributes: article-like text files, not everything in it.
ARTICLE_SUFFIXES = (".txt", ".text", ".md", ".markdown")


def find_inputs(
    patterns: Sequence[str], *, exclude: Sequence[Path] = (), urls: Path | None = None
) -> list[str]:
    """Inputs named by ``patterns`` (files, folders, globs, URLs) and the ``urls`` file,
    in order, each once: a file by its path, a page by its URL.

    Raises:
        InputError: a pattern names nothing, so a typo does not pass for an empty batch;
            a line of ``urls`` is not a URL.
    """
    from summarizer.sources import looks_like_url

    excluded = {input_key(p) for p in exclude}
    found: list[str] = []
    seen: set[str] = set(excluded)
    listed = [*patterns, *([] if urls is None else read_urls(urls))]
    for pattern in listed:
        matches = [pattern] if looks_like_url(pattern) else [str(m) for m in _matches(pattern)]
        for match in matches:
            key = input_key(match)
            if key not in seen:
                seen.add(key)
                found.append(match)
    return found


def read_urls(path: Path) -> list[str]:
    """The URLs in a ``--urls`` file: one per line; blank lines and ``#`` comments skipped.

    Raises:
        InputError: the file cannot be read, or a line is not a URL.
    """
    from summarizer.sources import looks_like_url

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path} cannot be read: {exc}.", path=str(path), hint="Check the path."
        ) from exc
    urls = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not looks_like_url(text) or not text.lower().startswith(("http://", "https://")):
            raise InputError(
                f"{path}, line {number}, is not a URL: {text[:80]!r}.",
                path=str(path),
                hint="Put one http(s) URL per line; # starts a comment.",
            )
        urls.append(text)
    return urls


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
    """How a line's ``input`` is matched to an input on re-runs: a file by its absolute
    path, a URL as it is written."""
    from summarizer.sources import looks_like_url

    if isinstance(path, str) and looks_like_url(path):
        return path
    return os.path.abspath(os.path.expanduser(str(path)))
