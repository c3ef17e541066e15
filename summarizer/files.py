"""Reading articles and writing results, carefully.

Input: a path or ``-`` for stdin, refused early when it is too large, binary or not text.
Output: written through a temporary file in the same folder and renamed into place, so a
failed or interrupted run leaves the previous file intact and never a partial one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from summarizer.errors import InputError

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def decode_article(data: bytes, *, source: str) -> str:
    """Text of ``data``: UTF-8, or UTF-16 with a byte-order mark; anything else is refused."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    if b"\x00" in data:
        raise InputError(
            f"{source} looks like a binary file, not text.",
            path=source,
            hint="Pass the article as a plain-text file.",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source} is not UTF-8 text (invalid byte at position {exc.start}).",
            path=source,
            hint="Convert it first, e.g. iconv -f WINDOWS-1252 -t UTF-8 FILE.",
        ) from exc


def read_article(path: str, *, max_bytes: int) -> str:
    """The article text at ``path`` (``-`` reads stdin).

    Raises:
        InputError: missing, a directory, unreadable, too large, binary, not text, or empty.
    """
    if path == "-":
        data = sys.stdin.buffer.read(max_bytes + 1)
        source = "standard input"
    else:
        file = Path(path)
        source = str(file)
        if not file.exists():
            raise InputError(f"{file} does not exist.", path=source, hint="Check the path.")
        if file.is_dir():
            raise InputError(
                f"{file} is a directory.", path=source, hint="Pass the article's file."
            )
        try:
            size = file.stat().st_size
            if size > max_bytes:
                raise InputError(
                    f"{file} is {size:,} bytes, over the {max_bytes:,}-byte limit.",
                    path=source,
                    hint="Split it, or raise the limit with SUMMARIZER_MAX_INPUT_BYTES.",
                )
            with file.open("rb") as handle:
                data = handle.read(max_bytes + 1)
        except PermissionError as exc:
            raise InputError(
                f"{file} cannot be read: permission denied.",
                path=source,
                hint="Check the file's permissions.",
            ) from exc
        except OSError as exc:
            raise InputError(f"{file} cannot be read: {exc.strerror}.", path=source) from exc
    if len(data) > max_bytes:
        raise InputError(
            f"{source} is over the {max_bytes:,}-byte limit.",
            path=source,
            hint="Split it, or raise the limit with SUMMARIZER_MAX_INPUT_BYTES.",
        )
    text = decode_article(data, source=source)
    if not text.strip():
        raise InputError(f"{source} is empty.", path=source, hint="Pass a file with text in it.")
    return text


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    directory = path.parent if str(path.parent) else Path(".")
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
