"""files.py: every kind of bad input is refused with a reason; output is written atomically."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from summarizer.errors import InputError
from summarizer.files import decode_article, load_article, read_article, write_atomic

LIMIT = 1_000_000
FRENCH = "Le ministre a déclaré à Genève : « Nous espérons un accord » — été 2022.\n"


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _refusal(path: str, **kwargs: object) -> InputError:
    with pytest.raises(InputError) as caught:
        load_article(path, max_bytes=int(kwargs.pop("max_bytes", LIMIT)), **kwargs)  # type: ignore[arg-type]
    return caught.value


# -- refused -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("empty.txt", b"", "is empty"),
        ("blank.txt", b"  \n\t\r\n  \n", "is empty (only whitespace)"),
        ("nul.bin", b"text\x00with\x00\x01\x02 NUL bytes", "binary file (it contains NUL bytes)"),
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "a PNG image"),
        ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "a JPEG image"),
        ("doc.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
        ("utf16-nobom.txt", "Berita hari ini".encode("utf-16-le"), "UTF-16 text without a"),
        # Cyrillic in Windows-1251 also decodes as cp1252, but as mojibake: refuse it.
        ("russian.txt", "Переговоры в Анталье".encode("cp1251"), "encoding cannot be told"),
    ],
)
def test_bad_input_is_refused_with_a_reason(
    tmp_path: Path, name: str, data: bytes, says: str
) -> None:
    error = _refusal(_write(tmp_path, name, data))

    assert says in error.message
    assert error.hint
    assert error.exit_code == 3
    assert error.path == str(tmp_path / name)


def test_missing_path(tmp_path: Path) -> None:
    error = _refusal(str(tmp_path / "nope.txt"))

    assert error.message == f"{tmp_path / 'nope.txt'} does not exist."


def test_directory(tmp_path: Path) -> None:
    assert "is a directory" in _refusal(str(tmp_path)).message


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root reads any file; see next test"
)
def test_unreadable_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "secret.txt", b"text")
    os.chmod(path, 0)

    assert "permission denied" in _refusal(path).message


def test_unreadable_file_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "secret.txt", b"text")

    def denied(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", denied)

    error = _refusal(path)
    assert error.message == f"{path} cannot be read: permission denied."


def test_over_the_size_limit_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "big.txt", b"word " * 1000)

    def must_not_open(self: Path, *args: object, **kwargs: object) -> None:
        raise AssertionError("opened a file that stat already showed too large")

    monkeypatch.setattr(Path, "open", must_not_open)

    error = _refusal(path, max_bytes=4000)
    assert "5,000 bytes, over the 4,000-byte limit" in error.message
    assert "SUMMARIZER_MAX_INPUT_BYTES" in (error.hint or "")


def test_a_device_that_never_ends_is_read_only_up_to_the_limit() -> None:
    # /dev/zero reports size 0 to stat; the bounded read is what protects us.
    error = _refusal("/dev/zero", max_bytes=10_000)

    assert "over the 10,000-byte limit" in error.message


def test_stdin_is_read_only_up_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.BytesIO(b"a" * 5000)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stream))

    error = _refusal("-", max_bytes=100)
    assert error.message == "standard input is over the 100-byte limit."
    assert stream.tell() == 101


def test_unknown_encoding_name(tmp_path: Path) -> None:
    error = _refusal(_write(tmp_path, "a.txt", b"text"), encoding="klingon-8")

    assert error.message == "Unknown encoding 'klingon-8'."


def test_text_that_does_not_decode_with_the_given_encoding(tmp_path: Path) -> None:
    error = _refusal(_write(tmp_path, "a.txt", b"caf\xe9 au lait"), encoding="utf-8")

    assert "not valid utf-8 (invalid byte at position 3)" in error.message


# -- decoded -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (FRENCH.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + FRENCH.encode("utf-8"), "utf-8-sig"),
        (FRENCH.encode("utf-16"), "utf-16"),  # with its BOM, little-endian here
        (b"\xfe\xff" + FRENCH.encode("utf-16-be"), "utf-16"),
        (FRENCH.encode("utf-32"), "utf-32"),
    ],
)
def test_unicode_encodings_are_read_exactly(encoded: bytes, encoding: str) -> None:
    article = decode_article(encoded, source="a.txt")

    assert article.text == FRENCH
    assert article.encoding == encoding
    assert article.notice is None


@pytest.mark.parametrize("codec", ["cp1252", "latin-1"])
def test_western_8_bit_text_is_detected_and_decoded_with_a_notice(codec: str) -> None:
    text = "Le ministre a déclaré à Genève : « Nous espérons un accord ».\n"

    article = decode_article(text.encode(codec), source="a.txt")

    assert article.text == text
    assert article.encoding == "cp1252"
    assert article.notice is not None and "Windows-1252" in article.notice


def test_cp1252_typographic_quotes_and_dashes() -> None:
    text = "\u201cSmart quotes\u201d \u2013 and a dash\u2026 and the euro: 5 \u20ac.\n"

    assert decode_article(text.encode("cp1252"), source="a.txt").text == text


def test_an_explicit_encoding_wins(tmp_path: Path) -> None:
    russian = "Переговоры в Анталье завершились.\n"
    path = _write(tmp_path, "ru.txt", russian.encode("cp1251"))

    article = load_article(path, max_bytes=LIMIT, encoding="cp1251")

    assert article.text == russian
    assert article.encoding == "cp1251"


def test_mixed_line_endings_become_newlines(tmp_path: Path) -> None:
    path = _write(tmp_path, "mixed.txt", b"one\r\ntwo\rthree\n\r\nfour\r\r\nfive")

    text = read_article(path, max_bytes=LIMIT)

    assert text == "one\ntwo\nthree\n\nfour\n\nfive"
    assert "\r" not in text


def test_mixed_line_endings_give_the_same_paragraphs_as_unix_ones() -> None:
    from summarizer.clean import clean_article

    unix = "First paragraph line.\n\nSecond paragraph.\n\nThird one."
    mixed = "First paragraph line.\r\n\r\nSecond paragraph.\r\rThird one."

    mixed_text = decode_article(mixed.encode(), source="m").text
    assert clean_article(mixed_text).paragraphs == clean_article(unix).paragraphs


def test_stdin_dash_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(FRENCH.encode())))

    article = load_article("-", max_bytes=LIMIT)

    assert article.text == FRENCH
    assert article.source == "standard input"


# -- written -------------------------------------------------------------------------------


def test_write_atomic_replaces_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "out.md"
    target.write_text("old", encoding="utf-8")

    write_atomic(target, "new ünïcode")

    assert target.read_text(encoding="utf-8") == "new ünïcode"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.md"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.md"
    target.write_text("previous result", encoding="utf-8")

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)

    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "x" * 100_000)

    assert target.read_text(encoding="utf-8") == "previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.md"]


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.md"
    target.write_text("previous result", encoding="utf-8")

    def interrupted(source: str, destination: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new")

    assert target.read_text(encoding="utf-8") == "previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.md"]


def test_writing_into_a_missing_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Check that the folder exists"):
        write_atomic(tmp_path / "no" / "such" / "out.md", "x")


def test_writing_onto_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="it is a directory"):
        write_atomic(tmp_path, "x")
