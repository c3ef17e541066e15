"""Reading articles and writing results, carefully.

Input: a path or ``-`` for stdin. Refused before it is read when it is too large (the
limit is ``max_input_bytes``: config file or ``SUMMARIZER_MAX_INPUT_BYTES``), and refused
with a reason when it is binary, an image, or text in an encoding we cannot tell. UTF-8
(with or without a BOM) and UTF-16 with a BOM are read as they are; Windows-1252/Latin-1
text is recognised and decoded with a notice; anything else needs ``--encoding``. Line
endings (``\\r\\n``, ``\\r``, mixed) all become ``\\n``.

Output: written through a temporary file in the same folder and renamed into place, so a
failed or interrupted run leaves the previous file intact and never a partial one. On
Linux the temporary file is unnamed (``O_TMPFILE``) until it is complete, so even a
``kill -9`` mid-write leaves nothing behind; elsewhere (or on a filesystem without
``O_TMPFILE``) it is named ``.NAME.summarizer-PID-HOST.XXXXXXXX.tmp``, and the next write
into that folder removes those whose process on this host is gone.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import secrets
import socket
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from summarizer.errors import InputError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Magic numbers of files people pass by mistake, so the message can say what it is.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"RIFF", "a RIFF file (WebP image, WAV audio...)"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or a .docx/.odt document)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x7fELF", "an executable"),
)
SIZE_HINT = "Split it, or raise max_input_bytes (config file or SUMMARIZER_MAX_INPUT_BYTES)."
# Our temporary files: ``.NAME.summarizer-PID-HOST.XXXXXXXX.tmp``; the name says whose.
_TEMPORARY = re.compile(
    r"^\..*\.summarizer-(?P<pid>[0-9]{1,10})-(?P<host>[A-Za-z0-9-]*)\.[a-z0-9_]{8}\.tmp$"
)
_O_TMPFILE: int = getattr(os, "O_TMPFILE", 0)  # Linux 3.11+
# False once linking an unnamed file into a folder has failed: this process cannot.
_unnamed_links = True
# In Western European text written in Windows-1252 most letters are ASCII; when most are
# not, it is more likely another 8-bit code page (Cyrillic, Greek...) that also decodes.
_MAX_NON_ASCII_LETTER_SHARE = 0.3


@dataclass(frozen=True)
class Article:
    """An article's text and how it was read."""

    text: str
    source: str
    encoding: str
    notice: str | None = None


def _what_binary(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    return None


def _looks_like_cp1252(text: str) -> bool:
    """Whether ``text`` (decoded as cp1252) reads like Western European prose."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return False
    foreign = sum(1 for ch in letters if ord(ch) > 127)
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v")
    return foreign / len(letters) <= _MAX_NON_ASCII_LETTER_SHARE and controls == 0


def decode_article(data: bytes, *, source: str, encoding: str | None = None) -> Article:
    """``data`` as text, with how it was decoded.

    Raises:
        InputError: binary, an image, or not text in an encoding we can tell.
    """
    if encoding is not None:
        return _decode_as(data, source, encoding)
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return Article(_newlines(data.decode(name)), source, name)
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{source} starts with a {name} byte-order mark but is not valid {name}.",
                    path=source,
                    hint="Re-save it as UTF-8.",
                ) from exc
    _refuse_binary(data, source)
    return _decode_guessing(data, source)


def _decode_as(data: bytes, source: str, encoding: str) -> Article:
    """``data`` in the ``encoding`` the user named."""
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise InputError(
            f"Unknown encoding {encoding!r}.",
            path=source,
            hint="Use a Python codec name: utf-8, cp1252, latin-1, utf-16, koi8-r, ...",
        ) from exc
    try:
        return Article(_newlines(data.decode(encoding)), source, encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source} is not valid {encoding} (invalid byte at position {exc.start}).",
            path=source,
            hint="Check the file's encoding (file -i FILE) and pass it with --encoding.",
        ) from exc


def _refuse_binary(data: bytes, source: str) -> None:
    """Raise ``InputError`` for images, documents and other files that are not text."""
    kind = _what_binary(data)
    if kind is not None:
        raise InputError(
            f"{source} is {kind}, not text.",
            path=source,
            hint="Pass the article as a plain-text file (copy its text out first).",
        )
    if b"\x00" in data:
        sample = data[:4096]
        if sample.count(b"\x00") * 3 >= len(sample):  # every other byte: UTF-16 sans BOM
            raise InputError(
                f"{source} looks like UTF-16 text without a byte-order mark.",
                path=source,
                hint="Pass --encoding utf-16-le (or utf-16-be), or re-save it as UTF-8.",
            )
        raise InputError(
            f"{source} is a binary file (it contains NUL bytes), not text.",
            path=source,
            hint="Pass the article as a plain-text file.",
        )


def _decode_guessing(data: bytes, source: str) -> Article:
    """UTF-8, else Windows-1252 when it reads like Western European prose."""
    try:
        return Article(_newlines(data.decode("utf-8")), source, "utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None and _looks_like_cp1252(text):
        return Article(
            _newlines(text),
            source,
            "cp1252",
            notice=f"{source} is not UTF-8; read it as Windows-1252 (Latin-1). "
            "If the text looks wrong, pass --encoding.",
        )
    raise InputError(
        f"{source} is not UTF-8 text (invalid byte at position {utf8_error.start}) and its "
        "encoding cannot be told.",
        path=source,
        hint="Pass its encoding with --encoding (e.g. --encoding cp1251), or convert it: "
        "iconv -f ENCODING -t UTF-8 FILE.",
    ) from utf8_error


def _newlines(text: str) -> str:
    """Windows, old-Mac and mixed line endings, all as ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_article(path: str, *, max_bytes: int, encoding: str | None = None) -> Article:
    """The article at ``path`` (``-`` reads stdin), read at most ``max_bytes + 1`` bytes.

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
            raise InputError(
                f"{file} does not exist.", path=source, hint="Check the path and spelling."
            )
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
                    hint=SIZE_HINT,
                )
            with file.open("rb") as handle:
                # Never more than the limit and one byte, whatever stat said (pipes, /dev/*).
                data = handle.read(max_bytes + 1)
        except PermissionError as exc:
            raise InputError(
                f"{file} cannot be read: permission denied.",
                path=source,
                hint="Check the file's permissions (ls -l).",
            ) from exc
        except OSError as exc:
            raise InputError(
                f"{file} cannot be read: {exc.strerror or exc}.",
                path=source,
                hint="Check the path and that it is a regular file.",
            ) from exc
    if len(data) > max_bytes:
        raise InputError(
            f"{source} is over the {max_bytes:,}-byte limit.", path=source, hint=SIZE_HINT
        )
    article = decode_article(data, source=source, encoding=encoding)
    if not article.text.strip():
        raise InputError(
            f"{source} is empty{' (only whitespace)' if article.text else ''}.",
            path=source,
            hint="Pass a file with the article's text in it.",
        )
    return article


def read_article(path: str, *, max_bytes: int, encoding: str | None = None) -> str:
    """The text of ``load_article``.

    Raises:
        InputError: as ``load_article``.
    """
    return load_article(path, max_bytes=max_bytes, encoding=encoding).text


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one.

    A writer killed mid-write leaves no temporary file on Linux, and elsewhere one that the
    next write into the folder removes (see the module docstring).

    Raises:
        InputError: the folder does not exist or cannot be written (exit code 3 as for the
            input: a path the user gave us that we cannot use).
    """
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(
            f"Cannot write {path}: it is a directory.",
            path=str(path),
            hint="Name a file for --output.",
        )
    _sweep_temporaries(directory)
    if not _write_unnamed(path, directory, text):
        _write_named(path, directory, text)


def _write_unnamed(path: Path, directory: Path, text: str) -> bool:
    """Write through an ``O_TMPFILE`` file, which has no name until it is complete and
    linked in place; ``False`` (nothing written) where the system cannot."""
    global _unnamed_links
    if not _O_TMPFILE or not _unnamed_links:
        return False
    try:
        descriptor = os.open(directory, _O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError:  # a filesystem without it, or no such folder: the named way says why
        return False
    temporary = None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
            temporary = _link_unnamed(handle.fileno(), path)
        if temporary is None:
            _unnamed_links = False
            return False
        os.replace(temporary, path)
    except BaseException:
        if temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        raise
    return True


def _link_unnamed(descriptor: int, path: Path) -> str | None:
    """Give the unnamed file ``descriptor`` a temporary name next to ``path``, for
    ``os.replace``; ``None`` where this process cannot.

    ``/proc/self/fd`` first, as open(2) describes; some sandboxes refuse that (EXDEV), and
    ``linkat(AT_EMPTY_PATH)`` does the same without ``/proc`` (Linux 6.10+, or with
    ``CAP_DAC_READ_SEARCH``).
    """
    name = str(path.parent / f"{_temporary_prefix(path)}{secrets.token_hex(4)}.tmp")
    try:
        os.link(f"/proc/self/fd/{descriptor}", name, follow_symlinks=True)
        return name
    except OSError:
        pass
    import ctypes

    try:
        linkat = ctypes.CDLL(None).linkat
    except (OSError, AttributeError):
        return None
    at_fdcwd, at_empty_path = -100, 0x1000  # <fcntl.h>
    linked = linkat(descriptor, b"", at_fdcwd, os.fsencode(name), at_empty_path)
    return name if linked == 0 else None


def _write_named(path: Path, directory: Path, text: str) -> None:
    """Write through a named temporary file, renamed into place once complete."""
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=_temporary_prefix(path), suffix=".tmp", dir=directory
        )
    except OSError as exc:
        raise InputError(
            f"Cannot write {path}: {exc.strerror or exc}.",
            path=str(path),
            hint="Check that the folder exists and is writable.",
        ) from exc
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


def _temporary_prefix(path: Path) -> str:
    """``.NAME.summarizer-PID-HOST.``: hidden, next to ``path``, and whose it is."""
    return f".{path.name[:100]}.summarizer-{os.getpid()}-{_host()}."


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40]


def _sweep_temporaries(directory: Path) -> None:
    """Remove the temporary files in ``directory`` that a writer on this host left when it
    was killed (its process is gone).

    A writer that is still running, on this host or another sharing the folder, keeps its
    own. Only names of our own shape are touched. Nothing is swept on Windows.
    """
    if os.name != "posix":  # os.kill(pid, 0) would not ask, it would act
        return
    host = _host()
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            match = _TEMPORARY.match(entry.name)
            if match is None or match["host"] != host or _alive(int(match["pid"])):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a zombie still does, until it is reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # EPERM: another user's process
        return True
    return True
