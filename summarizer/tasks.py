"""The two things this package does, named once.

``Task.SUMMARIZE`` and ``Task.TRANSLATE`` are the names everywhere: the prompt folders
(``prompts/summarize``, ``prompts/translate``), the ``task`` of every model request, the
``task`` field of batch results lines and of eval cases. The CLI keeps its verbs
(``summarize FILE`` / ``summarize summary FILE`` and ``summarize translate FILE``).
"""

from __future__ import annotations

from enum import Enum


class Task(str, Enum):
    """What to do with an article."""

    SUMMARIZE = "summarize"
    TRANSLATE = "translate"

    def __str__(self) -> str:
        return self.value
