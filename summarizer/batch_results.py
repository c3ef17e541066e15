"""A batch's results file: JSON Lines, one record per article, appended as they finish.

``{"input": ..., "task": ..., "target_language": ..., "model": ..., "prompts_sha256": ...,
"ok": true, "result": {...}}`` or ``{..., "ok": false, "error": {...}}``. Each line is
written in one ``write`` by one writer that holds an exclusive lock on the file, and
fsynced before it is counted. Loading it for a resume cuts off a torn last line (a crash
mid-write) and refuses any other line that does not parse, rather than silently dropping
it. A resume also refuses a file whose lines were made for another task, language, model
or set of prompt templates (``check_settings``): its results would be mixed with this
run's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from summarizer.errors import InputError, SummarizerError, UsageError

# One line of the results file, as parsed.
Record = dict[str, Any]
# What every line records of the run that made it; a resume must match them all.
SETTINGS = ("task", "target_language", "model", "prompts_sha256")
_START_OVER = (
    "Write to another --out file, or pass --redo to discard the old results and start over."
)


def load_results(out: Path) -> tuple[list[Record], bool]:
    """The records already in ``out``, and whether a torn last line had to be cut off.

    Raises:
        InputError: a line other than the last is not a result record.
    """
    if not out.exists():
        return [], False
    data = out.read_bytes()
    records: list[Record] = []
    position = 0
    number = 0
    while position < len(data):
        end = data.find(b"\n", position)
        if end == -1:
            break  # no newline: the process died in the middle of this line
        number += 1
        raw = data[position:end]
        if raw.strip():
            record = _parse(raw)
            if record is None:
                if not data[end + 1 :].strip():
                    break  # the last line: torn, cut below
                raise InputError(
                    f"{out} line {number} is not a batch result.",
                    path=str(out),
                    hint="Fix or remove that line, or write to another --out file.",
                )
            records.append(record)
        position = end + 1
    if position < len(data):
        # Only ever removes the last line, never a record that parsed.
        with out.open("r+b") as handle:
            handle.truncate(position)
        return records, True
    return records, False


def _parse(raw: bytes) -> Record | None:
    """The record on one line, or ``None`` when it is not one."""
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    is_record = (
        isinstance(value, dict)
        and isinstance(value.get("input"), str)
        and isinstance(value.get("ok"), bool)
        and ("result" in value if value["ok"] else "error" in value)
    )
    return value if is_record else None


def check_settings(out: Path, records: Sequence[Record], settings: dict[str, str]) -> None:
    """Refuse to resume ``out`` when a line was made with other ``SETTINGS`` than this run's.

    Raises:
        UsageError: a line's task, target language, model or prompt templates differ from
            ``settings`` (or it does not say: a line written before they were recorded).
    """
    for record in records:
        for name in SETTINGS:
            if name not in record:
                raise UsageError(
                    f"{out} has results without {name!r} (written by an older version), "
                    "so it cannot be told whether they match this run.",
                    hint=_START_OVER,
                )
            if record[name] != settings[name]:
                theirs, ours = _shown(name, record[name]), _shown(name, settings[name])
                raise UsageError(
                    f"{out} holds results made with {name} {theirs}, but this run's {name} "
                    f"is {ours}: resuming would mix them.",
                    hint=_START_OVER,
                )


def _shown(name: str, value: Any) -> str:
    """A setting's value for a message: the hash by its first 12 digits, as git shows one."""
    if name == "prompts_sha256" and isinstance(value, str):
        return repr(value[:12])
    return repr(value)


def error_record(exc: BaseException) -> dict[str, Any]:
    """How a failed article is written: enough to act on without a traceback."""
    if isinstance(exc, SummarizerError):
        return {
            "type": type(exc).__name__,
            "message": exc.message,
            "hint": exc.hint,
            "exit_code": exc.exit_code,
        }
    return {
        "type": type(exc).__name__,
        "message": f"Internal error: {exc}",
        "hint": "Run this article alone with --debug for the traceback, and report it.",
        "exit_code": 1,
    }


class ResultsWriter:
    """Appends whole lines, one ``write`` each, and fsyncs once per group of lines.

    Raises:
        UsageError: another batch is writing to ``out`` (it holds the lock).
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[bytes] = out.open("ab")
        _lock_exclusively(self._handle, out)

    def write(self, records: Sequence[Record]) -> None:
        for record in records:
            self._handle.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
            self._handle.flush()
        # One fsync for every record that finished meanwhile: at tens of articles a second
        # a sync per line would be the writer's limit.
        os.fsync(self._handle.fileno())

    def fileno(self) -> int:
        return self._handle.fileno()

    def discard(self) -> None:
        """Empty the file (``--redo``): one ``ftruncate`` while holding the lock, so no
        other run sees a part of it, and the lock is never let go."""
        self._handle.truncate(0)
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


def _lock_exclusively(handle: IO[bytes], out: Path) -> None:
    """Two runs appending to one file would both redo the same inputs: refuse the second."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, no guard
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise UsageError(
            f"Another summarize batch is writing to {out}.",
            hint="Wait for it to finish, or write to another --out file.",
        ) from exc


def drop_failures(out: Path, records: list[Record]) -> list[Record]:
    """Rewrite ``out`` without its error lines, atomically, so retried inputs stay unique."""
    from summarizer.files import write_atomic

    kept = [r for r in records if r["ok"]]
    if len(kept) != len(records):
        write_atomic(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
    return kept
