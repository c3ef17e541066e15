"""Render chat messages from the Jinja templates in ``prompts/``.

Each task is a folder holding ``system.j2`` and ``user.j2``; shared pieces live in
``prompts/_partials/``. Templates render in a sandbox with ``StrictUndefined``, so a missing
variable is an error rather than an empty string, and the article only ever arrives as a
variable value: Jinja never parses it, so ``{{ 7*7 }}`` in an article stays ``{{ 7*7 }}``.

A folder given with ``--prompts-dir`` overrides the built-in templates one file at a time:
a template it does not hold (a task not copied, ``_partials/macros.j2``) comes from the
built-in set. ``check_prompts_dir`` validates such a folder before any model is called.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from summarizer.errors import TemplateError

Message = dict[str, str]
ROLES = ("system", "user")

_LANGUAGES = {
    "source_language": "id",
    "source_language_name": "Indonesian",
    "target_language": "en",
    "target_language_name": "English",
}
# Every (task, roles, variables) the pipeline renders, with sample values: the variable
# sets are those of the task READMEs, both branches of each ``if`` are taken.
_SAMPLES: tuple[tuple[str, tuple[str, ...], dict[str, Any]], ...] = (
    ("summarize", ROLES, {"article": "Teks.", "chunk_index": 1, "chunk_count": 1, **_LANGUAGES}),
    ("summarize", ROLES, {"article": "Teks.", "chunk_index": 2, "chunk_count": 3, **_LANGUAGES}),
    ("combine", ROLES, {"partials": '[{"part": 1}]', **_LANGUAGES}),
    ("translate", ROLES, {"paragraphs": ["Satu.", "Dua."], **_LANGUAGES}),
    ("translate", ROLES, {"paragraphs": [], **_LANGUAGES}),
    ("repair", ("user",), {"problem": "it was not JSON", "errors": ["title: missing"]}),
    ("repair", ("user",), {"problem": "it was not JSON", "errors": []}),
    (
        "judge",
        ROLES,
        {
            "article": "Artikel.",
            "forbidden": ["Klaim."],
            "fact": "Fakta.",
            "output": "Teks.",
            "output_language_name": "English",
        },
    ),
)


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
    """The messages of one model call and the templates they came from.

    ``templates`` holds template names (``summarize/system.j2``) whichever folder served
    them; ``sources`` holds, in the same order, the file each one was read from, so a
    template of ``--prompts-dir`` can be told from a built-in one.
    """

    task: str
    messages: list[Message]
    templates: list[str]
    sources: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class _Folders:
    """Where templates are looked up, in order: the user's folder (if any), the built-ins."""

    user: Path | None
    builtin: Path

    @property
    def searched(self) -> str:
        if self.user is None:
            return str(self.builtin)
        return f"{self.user} or the built-in templates ({self.builtin})"


@lru_cache(maxsize=8)
def _environment(folders: _Folders) -> SandboxedEnvironment:
    paths = [folders.builtin] if folders.user is None else [folders.user, folders.builtin]
    env = SandboxedEnvironment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(path)) for path in paths]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=False,
    )
    env.filters["fence_safe"] = _fence_safe
    return env


def _folders(prompts_dir: Path | None, needed: str | None = None) -> _Folders:
    """The lookup order for ``prompts_dir``; a user folder that is not there is an error.

    ``needed`` names the template being rendered, for the error message.
    """
    if prompts_dir is not None and not prompts_dir.is_dir():
        problem = "does not exist" if not prompts_dir.exists() else "is not a folder"
        what = f"Prompt template {needed!r} was not found: the" if needed else "The"
        raise TemplateError(
            f"{what} prompts folder {prompts_dir} {problem}.",
            hint="Point --prompts-dir at a folder holding the templates to change (for "
            f"example a copy of {default_prompts_dir() / 'summarize'}); templates it does not "
            "hold come from the built-in set.",
        )
    return _Folders(prompts_dir, default_prompts_dir())


def _where(tb: TracebackType | None, folders: _Folders) -> tuple[str, int] | None:
    """The template file and line that raised, from Jinja's rewritten traceback."""
    roots = [folders.builtin] if folders.user is None else [folders.user, folders.builtin]
    prefixes = tuple(f"{root}{sep}" for root in roots for sep in ("/", "\\"))
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(prefixes):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _not_found(exc: jinja2.TemplateNotFound, name: str, folders: _Folders) -> TemplateError:
    missing = exc.name if isinstance(exc.name, str) else name
    where = _where(exc.__traceback__, folders)
    needed = f" (needed by {where[0]}, line {where[1]})" if where and missing != name else ""
    hint = "Fix the template's name, or copy it from the built-in templates."
    if folders.user is None:
        hint = "Reinstall summarizer: its templates are incomplete."
    return TemplateError(
        f"Prompt template {missing!r} was not found in {folders.searched}{needed}.", hint=hint
    )


def _sentence(text: str | None) -> str:
    return (text or "").rstrip(". ")


def _template_error(exc: Exception, name: str, folders: _Folders) -> TemplateError:
    """The ``TemplateError`` for a Jinja failure while rendering template ``name``."""
    if isinstance(exc, jinja2.TemplateNotFound):
        return _not_found(exc, name, folders)
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateError(
            f"Prompt template {exc.name or name!r} ({exc.filename or '?'}) is broken at line "
            f"{exc.lineno}: {_sentence(exc.message)}.",
            hint="Fix the template syntax.",
        )
    where = _where(exc.__traceback__, folders)
    at = f" (at {where[0]}, line {where[1]})" if where else ""
    if isinstance(exc, jinja2.UndefinedError):
        return TemplateError(
            f"Prompt template {name!r} uses a variable that was not provided: "
            f"{_sentence(exc.message)}{at}.",
            hint="Use only the variables listed in the task's README.md, and only macros "
            "that _partials/macros.j2 defines.",
        )
    if isinstance(exc, SecurityError):
        return TemplateError(
            f"Prompt template {name!r} tried something the sandbox forbids: {exc}{at}.",
            hint="Templates may only format the variables they are given.",
        )
    if isinstance(exc, UnicodeDecodeError):
        return TemplateError(
            f"Prompt template {name!r} (or a template it includes) is not UTF-8 text: {exc}.",
            hint="Save the template as UTF-8.",
        )
    return TemplateError(
        f"Prompt template {name!r} failed to render: {type(exc).__name__}: {exc}{at}.",
        hint="Fix the template, or point --prompts-dir at a working folder.",
    )


def render(
    task: str,
    prompts_dir: Path | None = None,
    *,
    roles: Sequence[str] = ROLES,
    **variables: Any,
) -> RenderedPrompt:
    """Render the messages of ``task`` (``<task>/<role>.j2`` for each role) with ``variables``.

    Templates are read from ``prompts_dir`` when it holds them, else from the built-in set.

    Raises:
        TemplateError: the task's templates are missing, broken, or need a variable not given.
    """
    folders = _folders(prompts_dir, f"{task}/{roles[0]}.j2" if roles else None)
    env = _environment(folders)
    messages: list[Message] = []
    templates: list[str] = []
    sources: list[Path] = []
    for role in roles:
        name = f"{task}/{role}.j2"
        try:
            template = env.get_template(name)
            content = template.render(**variables)
        except (jinja2.TemplateError, SecurityError, OSError, UnicodeDecodeError) as exc:
            raise _template_error(exc, name, folders) from exc
        messages.append({"role": role, "content": content.strip()})
        templates.append(name)
        sources.append(Path(template.filename or name))
    return RenderedPrompt(task=task, messages=messages, templates=templates, sources=sources)


def check_prompts_dir(path: Path) -> None:
    """Validate a ``--prompts-dir`` folder before any model is called.

    The folder must exist; every ``.j2`` file in it must parse; and every task must render
    with sample variables, the folder's templates overriding the built-in ones, so that an
    include or macro that is missing fails now (naming the missing template), not after a
    paid call. Takes milliseconds: templates compile once and stay cached for ``render``.

    Raises:
        TemplateError: what is wrong, naming the file (and line) at fault.
    """
    folders = _folders(path)
    env = _environment(folders)
    for name in sorted(jinja2.FileSystemLoader(str(path)).list_templates()):
        if not name.endswith(".j2"):
            continue
        try:
            env.get_template(name)
        except (jinja2.TemplateError, OSError, UnicodeDecodeError) as exc:
            raise _template_error(exc, name, folders) from exc
    for task, roles, variables in _SAMPLES:
        render(task, path, roles=roles, **variables)


def templates_sha256(prompts_dir: Path | None = None) -> str:
    """Hash of every prompt template in use: which prompts produced these results.

    A ``--prompts-dir`` overrides the built-in templates one file at a time, so the set in
    use is the built-in one with that folder's files in their place (and any it adds).
    Eval results and batch result lines record it.
    """
    builtin = default_prompts_dir()
    files = {path.relative_to(builtin).as_posix(): path for path in builtin.rglob("*.j2")}
    if prompts_dir is not None:
        files |= {p.relative_to(prompts_dir).as_posix(): p for p in prompts_dir.rglob("*.j2")}
    # The judge's prompt grades outputs, it does not make them: changing it does not call
    # for a new baseline of the model under test (nor make a batch's results stale).
    files = {name: path for name, path in files.items() if not name.startswith("judge/")}
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(b"\x00")
        digest.update(files[name].read_bytes())
        digest.update(b"\x00")
    return digest.hexdigest()


def messages_sha256(calls: Iterable[Sequence[Message]]) -> str:
    """A stable hash of every message of every call, in order: the record of what was sent."""
    digest = hashlib.sha256()
    for messages in calls:
        digest.update(json.dumps(list(messages), ensure_ascii=False, sort_keys=True).encode())
        digest.update(b"\x00")
    return digest.hexdigest()
