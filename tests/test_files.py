"""files.py: every kind of bad input is refused with a reason; output is written atomically,
and a writer killed mid-write leaves no temporary file behind."""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from summarizer import files
from summarizer.errors import InputError
from summarizer.files import decode_article, load_article, read_article, write_atomic
from tests.conftest import ROOT, SEED

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


# -- killed mid-write ------------------------------------------------------------------------

# Writes argv[2] characters to argv[1] through write_atomic, and stalls in fsync (the data is
# written, not yet in place) after saying so on stdout, for the parent to kill it there.
# argv[3] "named" takes away O_TMPFILE, as a filesystem without it would.
STALLING_WRITER = """
import os, sys, time
from pathlib import Path
from summarizer import files

def stall(descriptor):
    print("writing", flush=True)
    time.sleep(60)

if sys.argv[3] == "named":
    files._O_TMPFILE = 0
os.fsync = stall
files.write_atomic(Path(sys.argv[1]), "x" * int(sys.argv[2]))
"""
# The same around the CLI: summarize ARGS..., stalled in its --output's fsync.
STALLING_CLI = """
import os, sys, time
from summarizer import files
from summarizer.cli import main

def stall(descriptor):
    print("writing", flush=True)
    time.sleep(60)

if sys.argv[1] == "named":
    files._O_TMPFILE = 0
os.fsync = stall
sys.argv = ["summarize", *sys.argv[2:]]
main()
"""


def _kill_mid_write(folder: Path, script: str, *args: str) -> list[str]:
    """Run ``script`` in ``folder`` and SIGKILL it once it stalls mid-write; the names in
    ``folder`` just before the kill."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        said = child.stdout.readline() if child.stdout else ""
        assert said == "writing\n", child.stderr.read() if child.stderr else ""
        return sorted(os.listdir(folder))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)  # reaped: a zombie would still count as alive
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def _unnamed_works(folder: Path) -> bool:
    """Whether this system writes through unnamed files in ``folder`` (Linux 3.11+, a
    filesystem with O_TMPFILE, and a way to link one in)."""
    write_atomic(folder / "probe", "x")
    (folder / "probe").unlink()
    return bool(files._O_TMPFILE) and files._unnamed_links


def test_a_writer_killed_mid_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    if not _unnamed_works(tmp_path):
        pytest.skip("no O_TMPFILE here: the named fallback is tested below")
    target = tmp_path / "out.md"
    target.write_text("previous result", encoding="utf-8")

    during = _kill_mid_write(tmp_path, STALLING_WRITER, "out.md", str(20_000_000), "unnamed")

    assert during == ["out.md"]  # 20 MB written, under no name at all
    assert sorted(os.listdir(tmp_path)) == ["out.md"]
    assert target.read_text(encoding="utf-8") == "previous result"


def test_a_named_temporary_left_by_a_kill_is_swept_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "out.md"
    target.write_text("previous result", encoding="utf-8")

    during = _kill_mid_write(tmp_path, STALLING_WRITER, "out.md", str(20_000_000), "named")

    left = [name for name in os.listdir(tmp_path) if name != "out.md"]
    assert len(left) == 1 and left[0].startswith(".out.md.summarizer-")
    assert sorted(during) == sorted(os.listdir(tmp_path))
    assert target.read_text(encoding="utf-8") == "previous result"
    write_atomic(tmp_path / "other.md", "new")
    assert sorted(os.listdir(tmp_path)) == ["other.md", "out.md"]


@pytest.mark.parametrize("mode", ["unnamed", "named"])
def test_summarize_output_killed_mid_write_leaves_no_temporary(tmp_path: Path, mode: str) -> None:
    if mode == "unnamed" and not _unnamed_works(tmp_path):
        pytest.skip("no O_TMPFILE here")
    (tmp_path / "summary.md").write_text("previous summary", encoding="utf-8")
    command = [str(SEED), "--dry-run", "--model", "openai/gpt-4o-mini", "-o", "summary.md"]

    _kill_mid_write(tmp_path, STALLING_CLI, mode, *command)

    left = sorted(os.listdir(tmp_path))
    assert (tmp_path / "summary.md").read_text(encoding="utf-8") == "previous summary"
    if mode == "unnamed":
        assert left == ["summary.md"]
    else:
        assert len(left) == 2  # the killed writer's temporary, until the next write here
        write_atomic(tmp_path / "summary.md", "new summary")
        assert sorted(os.listdir(tmp_path)) == ["summary.md"]


def test_the_sweep_removes_only_our_temporaries_of_gone_processes(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(30)
    host = files._host()
    names = {
        "gone": f".out.md.summarizer-{gone.pid}-{host}.abcd1234.tmp",
        "running": f".out.md.summarizer-{os.getpid()}-{host}.abcd1234.tmp",
        "another host": f".out.md.summarizer-{gone.pid}-elsewhere.abcd1234.tmp",
        "not ours": ".out.md.abcd1234.tmp",
    }
    for name in names.values():
        (tmp_path / name).write_text("partial")

    write_atomic(tmp_path / "out.md", "new")

    kept = {name for name in os.listdir(tmp_path) if name != "out.md"}
    assert kept == {names["running"], names["another host"], names["not ours"]}


def test_a_filesystem_without_o_tmpfile_falls_back_to_a_named_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open
    opened: list[int] = []

    def no_tmpfile(path: str, flags: int, mode: int = 0o777) -> int:
        opened.append(flags)
        if files._O_TMPFILE and flags & files._O_TMPFILE == files._O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", no_tmpfile)
    target = tmp_path / "out.md"

    write_atomic(target, "new")

    assert target.read_text(encoding="utf-8") == "new"
    assert sorted(os.listdir(tmp_path)) == ["out.md"]
    assert len(opened) == (2 if files._O_TMPFILE else 1)  # tried, then the named way


def test_an_unnamed_file_that_cannot_be_linked_is_written_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not files._O_TMPFILE:
        pytest.skip("no O_TMPFILE here")
    monkeypatch.setattr(files, "_unnamed_links", True)
    monkeypatch.setattr(files, "_link_unnamed", lambda descriptor, path: None)
    target = tmp_path / "out.md"

    write_atomic(target, "new")
    write_atomic(target, "newer")  # without trying the unnamed way again

    assert target.read_text(encoding="utf-8") == "newer"
    assert sorted(os.listdir(tmp_path)) == ["out.md"]
    assert files._unnamed_links is False
