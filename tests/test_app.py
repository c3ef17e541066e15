"""``summarizer.Summarizer``: the application layer every face and library user calls."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import summarizer
from summarizer import Summarizer, Task, UsageError, load_settings
from summarizer.app import Cancelled
from summarizer.cache import ResponseCache
from summarizer.events import CallDone, ChunkDone, Event, Progress
from summarizer.schema import Summary, Translation
from tests.fakes import FakeLLM, draft

ROOT = Path(__file__).resolve().parent.parent
MODEL = "openai/test-model"


def test_the_public_surface_is_what_all_names() -> None:
    for name in summarizer.__all__:
        assert getattr(summarizer, name) is not None
    assert summarizer.Summarizer is Summarizer
    with pytest.raises(AttributeError):
        summarizer.pipeline_internals  # noqa: B018


def test_importing_the_package_stays_light() -> None:
    code = (
        "import sys, summarizer\n"
        "print(sorted(m for m in ('pydantic', 'summarizer.app') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"


def test_summarize_and_translate(seed_article: str) -> None:
    fake = FakeLLM()
    with Summarizer(model=MODEL, cache=False, client=fake) as app:
        summary = app.summarize(seed_article, lang="fr")
        translation = app.translate(seed_article)
    assert isinstance(summary, Summary) and summary.target_language == "fr"
    assert isinstance(translation, Translation) and translation.target_language == "en"
    assert [r.task for r in fake.requests][:1] == ["summarize"]
    assert fake.requests[-1].task == "translate"


def test_a_library_call_goes_through_the_response_cache(seed_article: str, tmp_path: Path) -> None:
    fake = FakeLLM()
    cache = ResponseCache(tmp_path / "responses.sqlite3")
    with Summarizer(model=MODEL, client=fake, response_cache=cache) as app:
        first = app.summarize(seed_article)
        calls = len(fake.requests)
        again = app.summarize(seed_article)
    assert not first.meta.cached and again.meta.cached
    assert len(fake.requests) == calls  # nothing asked the second time


def test_keyword_settings_win_over_given_settings() -> None:
    settings = load_settings(model="openai/a", cache=False)
    app = Summarizer(settings, model="openai/b", retries=5)
    assert (app.model, app.settings.retries, app.settings.cache) == ("openai/b", 5, False)
    with pytest.raises(TypeError, match="unknown settings: colour"):
        Summarizer(settings, colour="blue")
    with pytest.raises(UsageError, match="--timeout must be a positive number"):
        Summarizer(settings, timeout=-1)


def test_the_connection_carries_the_settings() -> None:
    app = Summarizer(
        model="openai/a", api_base="http://h/v1", timeout=9, retries=4, context_window=999
    )
    connection = app.connection()
    assert (connection.api_base, connection.timeout, connection.retries) == ("http://h/v1", 9, 4)
    assert connection.context_window == 999


def test_fallbacks_belong_to_the_configured_model() -> None:
    app = Summarizer(model="openai/a", fallbacks=["openai/b"], cache=False)
    assert app.connection().fallbacks == ("openai/b",)
    assert app.connection("openai/judge").fallbacks == ()


def test_events_reach_both_listeners(seed_article: str) -> None:
    everything: list[Event] = []
    this_call: list[Event] = []
    app = Summarizer(model=MODEL, cache=False, client=FakeLLM(), on_event=everything.append)
    app.translate(seed_article, on_event=this_call.append)
    assert everything == this_call
    kinds = {type(event) for event in this_call}
    assert {Progress, CallDone, ChunkDone} <= kinds
    chunks = [e for e in this_call if isinstance(e, ChunkDone)]
    assert sum(len(c.paragraphs) for c in chunks) == len(
        app.prepare(Task.TRANSLATE, seed_article).article.paragraphs
    )


def test_a_cancelled_job_stops_before_its_next_call(seed_article: str) -> None:
    cancel = threading.Event()
    fake = FakeLLM()
    app = Summarizer(model=MODEL, cache=False, client=fake)
    cancel.set()
    with pytest.raises(Cancelled):
        app.execute(app.prepare(Task.SUMMARIZE, seed_article), cancel=cancel)
    assert fake.requests == []


def test_an_answer_with_extra_keys_is_accepted(seed_article: str) -> None:
    # A provider that ignores response_format and adds keys of its own.
    noisy = {**draft(), "confidence": 0.9, "entities": [{**draft()["entities"][0], "wiki": "x"}]}
    fake = FakeLLM(strict=True).enqueue(noisy)
    summary = Summarizer(model=MODEL, cache=False, client=fake).summarize(seed_article)
    assert summary.entities[0].name == draft()["entities"][0]["name"]
    assert len(fake.requests) == 1  # not re-asked


def test_a_dry_run_of_a_provider_model_needs_no_key_nor_litellm(tmp_path: Path) -> None:
    article = tmp_path / "long.txt"
    article.write_text("\n\n".join(f"Paragraph {i} says a thing or two." for i in range(50)))
    code = (
        "import sys\nfrom summarizer.cli import main\nsys.argv = ['summarize', sys.argv[1], "
        "'--model', 'openai/gpt-4o-mini', '--dry-run', '--format', 'json']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('LITELLM' if 'litellm' in sys.modules else 'NO-LITELLM', file=sys.stderr)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.endswith("_API_KEY")}
    done = subprocess.run(
        [sys.executable, "-c", code, str(article)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "NO-LITELLM" in done.stderr
    planned = json.loads(done.stdout)
    assert planned and all(call["model"] == "openai/gpt-4o-mini" for call in planned)


def test_debug_lists_the_keys_it_dropped(
    seed_article: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeLLM(strict=True).enqueue({**draft(), "sentiment": "grim"})
    with caplog.at_level("DEBUG", logger="summarizer"):
        Summarizer(model=MODEL, cache=False, client=fake).summarize(seed_article)
    assert "sentiment" in caplog.text
