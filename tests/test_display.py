"""What a person sees on stderr: progress only on a terminal, the answer being written
token by token with its budget and rate."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from rich.console import Console

from summarizer import local
from summarizer.display import TerminalProgress
from summarizer.events import Progress
from summarizer.llm import ChatRequest, Generation
from tests.fakes import draft


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=100), out


def test_nothing_is_drawn_when_stderr_is_not_a_terminal() -> None:
    out = io.StringIO()
    progress = TerminalProgress(enabled=True, console=Console(file=out, force_terminal=False))
    assert not progress.enabled
    with progress:
        progress.on_event(Progress("translate", 2, 5))
        progress.on_event(Generation("local/gemma3", "translate", generated=9, budget=100))
    assert out.getvalue() == ""


def test_nothing_is_drawn_when_disabled() -> None:
    console, out = terminal()
    progress = TerminalProgress(enabled=False, console=console)
    with progress:
        progress.on_event(Progress("translate", 2, 5))
        progress.on_event(Generation("local/gemma3", "translate", generated=9, budget=100))
    assert out.getvalue() == ""


def test_the_answer_being_written_shows_tokens_against_the_budget_and_the_rate() -> None:
    console, out = terminal()
    with TerminalProgress(enabled=True, console=console) as progress:
        hook = progress.on_event
        hook(Generation("local/gemma3", "summarize", generated=0, budget=1024))
        reading = progress._bar.make_tasks_table(progress._bar.tasks)  # type: ignore[union-attr]
        console.print(reading)
        hook(Generation("local/gemma3", "summarize", generated=201, budget=1024, writing_s=8.0))
        console.print(progress._bar.make_tasks_table(progress._bar.tasks))  # type: ignore[union-attr]
        hook(Generation("local/gemma3", "summarize", 230, 1024, writing_s=9.0, done=True))
    shown = out.getvalue()
    assert "reading the prompt" in shown
    assert "writing (summarize)" in shown
    assert "201/1024" in shown and "25.0 tok/s" in shown


def test_phases_with_one_unit_of_work_get_no_bar() -> None:
    console, _ = terminal()
    with TerminalProgress(enabled=True, console=console) as progress:
        progress.on_event(Progress("summarize", 0, 1))
        progress.on_event(Progress("translate", 2, 5))
        descriptions = [task.description for task in progress._bar.tasks]  # type: ignore[union-attr]
    assert descriptions == ["translate"]


def test_the_rate_leaves_out_the_first_token() -> None:
    assert Generation("m", "t", generated=1, budget=10, writing_s=0.0).tokens_per_s is None
    assert Generation("m", "t", generated=11, budget=10, writing_s=2.0).tokens_per_s == 5.0


class TokenByTokenModel:
    """A loaded model that writes its answer in three tokens, calling ``on_token``."""

    def chat(self, messages: Any, *, on_token: Any = None, **options: Any) -> local.LocalCompletion:
        for count in (0, 1, 2, 3):
            if on_token is not None:
                on_token(count)
        return local.LocalCompletion(json.dumps(draft()), 50, 3, "stop")


def test_the_local_client_reports_each_token_then_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "get_model", lambda name, **_: TokenByTokenModel())
    events: list[Generation] = []
    request = ChatRequest(
        model="local/smollm2", messages=[{"role": "user", "content": "hi"}], task="summarize",
        max_tokens=64,
    )  # fmt: skip
    local.LocalClient(on_generation=events.append).complete(request)
    assert [(event.generated, event.done) for event in events] == [
        (0, False), (1, False), (2, False), (3, False), (3, True),
    ]  # fmt: skip
    assert {event.budget for event in events} == {64}
    assert {event.task for event in events} == {"summarize"}
