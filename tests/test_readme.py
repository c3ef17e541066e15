"""The README's ``summarize --help`` block is kept true.

The block sits between ``<!-- help:start -->`` and ``<!-- help:end -->``. Click wraps and
shortens help text to the terminal width (at most 80 columns), so the comparison runs at
80 columns and ignores whitespace. To refresh it: ``COLUMNS=80 summarize --help``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def readme_help_block() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(
        r"<!-- help:start -->\s*```[a-z]*\n(?P<body>.*?)```\s*<!-- help:end -->", text, re.DOTALL
    )
    assert match, "README.md needs a fenced block between <!-- help:start --> and <!-- help:end -->"
    return match.group("body")


def current_help() -> str:
    result = subprocess.run(
        [sys.executable, "-c", "from summarizer.cli import main; main()", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "80", "TERM": "dumb"},
        check=True,
        timeout=60,
    )
    return result.stdout.replace("Usage: -c ", "Usage: summarize ")


def normalise(text: str) -> str:
    return " ".join(text.split())


def test_the_readme_help_block_is_the_real_help_output() -> None:
    block, actual = readme_help_block(), current_help()

    assert actual.startswith("Usage: summarize ")
    assert normalise(block) == normalise(actual), (
        "README.md's --help block is stale; replace it with the output of "
        "`COLUMNS=80 summarize --help`:\n" + actual
    )
