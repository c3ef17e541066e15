"""Render chat messages from the Jinja templates in ``prompts/``.

Each task is a folder holding ``system.j2`` and ``user.j2``; shared pieces live in
``prompts/_partials/``. Templates render in a sandbox with ``StrictUndefined``, so a missing
variable is an error rather than an empty string, and the article only ever arrives as a
variable value: Jinja never parses it, so ``{{ 7*7 }}`` in an article stays ``{{ 7*7 }}``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from summarizer.errors import TemplateError

Message = dict[str, str]
ROLES = ("system", "user")


def default_prompts_dir() -> Path:
    """Where the templates are: inside the installed package, or the checkout's ``prompts/``."""
    packaged = resources.files("summarizer") / "prompts"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "prompts"


def _fence_safe(text: Any, tag: str) -> str:
    """Keep article text from closing the delimiter it sits in (``</article>``).

    Any spelling a model would read as the closing tag is escaped: ``</ARTICLE>``,
    ``</ article >`` too, not only the exact lower-case one.
    """
    closing = re.compile(rf"<(\s*)/(\s*{re.escape(tag)}\s*)>", re.IGNORECASE)
    return closing.sub(r"<\1\\/\2>", str(text))


@dataclass(frozen=True)
class RenderedPrompt:
    """The messages of one model call and the templates they came from."""

    task: str
    messages: list[Message]
    templates: list[str]


@lru_cache(maxsize=8)
def _environment(prompts_dir: Path) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(prompts_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=False,
    )
    env.filters["fence_safe"] = _fence_safe
    return env


def render(
    task: str,
    prompts_dir: Path | None = None,
    *,
    roles: Sequence[str] = ROLES,
    **variables: Any,
) -> RenderedPrompt:
    """Render the messages of ``task`` (``<task>/<role>.j2`` for each role) with ``variables``.

    Raises:
        TemplateError: the task's templates are missing, broken, or need a variable not given.
    """
    directory = prompts_dir or default_prompts_dir()
    env = _environment(directory)
    messages: list[Message] = []
    templates: list[str] = []
    for role in roles:
        name = f"{task}/{role}.j2"
        try:
            content = env.get_template(name).render(**variables)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(
                f"Prompt template {name!r} was not found in {directory}.",
                hint="Reinstall summarizer, or point --prompts-dir at a folder with one "
                "sub-folder per task holding system.j2 and user.j2.",
            ) from exc
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"Prompt template {exc.name or name!r} is broken at line {exc.lineno}: "
                f"{exc.message}.",
                hint="Fix the template syntax.",
            ) from exc
        except jinja2.UndefinedError as exc:
            raise TemplateError(
                f"Prompt template {name!r} uses a variable that was not provided: {exc.message}.",
                hint="Use only the variables listed in the task's README.md.",
            ) from exc
        except SecurityError as exc:
            raise TemplateError(
                f"Prompt template {name!r} tried something the sandbox forbids: {exc}.",
                hint="Templates may only format the variables they are given.",
            ) from exc
        except (jinja2.TemplateError, OSError) as exc:
            raise TemplateError(
                f"Prompt template {name!r} failed to render: {type(exc).__name__}: {exc}.",
                hint="Fix the template, or point --prompts-dir at a working folder.",
            ) from exc
        messages.append({"role": role, "content": content.strip()})
        templates.append(name)
    return RenderedPrompt(task=task, messages=messages, templates=templates)


def messages_sha256(calls: Iterable[Sequence[Message]]) -> str:
    """A stable hash of every message of every call, in order: the record of what was sent."""
    digest = hashlib.sha256()
    for messages in calls:
        digest.update(json.dumps(list(messages), ensure_ascii=False, sort_keys=True).encode())
        digest.update(b"\x00")
    return digest.hexdigest()
