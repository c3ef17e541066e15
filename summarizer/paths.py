"""The summarizer's cache folder, and the small JSON records kept in it.

A module of its own, below everything that keeps state there (the response cache, the
bundled-model verification, the CPU probe), so that none of them imports another.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

CACHE_DIR_ENV = "SUMMARIZER_CACHE_DIR"


def cache_dir() -> Path:
    """Where the cache lives: ``$SUMMARIZER_CACHE_DIR``, else the XDG user cache folder."""
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "summarizer"


def read_record(filename: str) -> dict[str, Any]:
    """The entries of a small JSON file kept in the cache folder beside the responses (what
    a machine has verified once and need not again); unreadable or malformed is empty."""
    try:
        records = json.loads((cache_dir() / filename).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def update_record(filename: str, key: str, value: Any) -> None:
    """Set one entry of that file, atomically: readers see the old file or the new one.

    Best effort: where the cache folder cannot be written, the next process only has to
    find out again what this one learnt.
    """
    import tempfile

    target = cache_dir() / filename
    records = {**read_record(filename), key: value}
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(json.dumps(records, indent=1, sort_keys=True))
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
