"""Batch runs: inputs, one line per article, resume after a kill, torn lines, concurrency."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from benchmarks.stub_server import running_stub, served
from summarizer.app import Summarizer
from summarizer.batch import (
    BatchJob,
    Tally,
    can_fork,
    find_inputs,
    load_results,
    run_batch,
    worker_processes,
)
from summarizer.cache import ResponseCache
from summarizer.cli import app
from summarizer.config import Settings
from summarizer.errors import (
    ConfigError,
    InputError,
    ProviderError,
    SummarizerError,
    UsageError,
)
from summarizer.llm import ChatRequest, ChatResponse, LLMClient
from summarizer.prompts import default_prompts_dir, templates_sha256
from summarizer.tasks import Task
from tests.fakes import FakeLLM

REMOTE = BatchJob(task=Task.SUMMARIZE, target_language="en", concurrency=4)
ONE_AT_A_TIME = BatchJob(task=Task.SUMMARIZE, target_language="en", concurrency=1)


@pytest.fixture
def articles(tmp_path: Path, seed_article: str) -> Path:
    """A folder of six distinct articles."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        (folder / f"a{i}.txt").write_text(f"{seed_article}\n\nCatatan nomor {i}.\n")
    return folder


def lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def with_client(
    client: LLMClient, *, model: str = "openai/test", cache: ResponseCache | None = None
) -> Summarizer:
    """The application as the CLI builds it for a batch, answering from ``client``."""
    settings = Settings(model=model, cache=cache is not None)
    return Summarizer(settings, client=client, response_cache=cache, concurrency=1)


# -- inputs ------------------------------------------------------------------------------


def test_inputs_from_folders_globs_and_files_once_each(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / ".hidden").mkdir()
    for name in ("d/a.txt", "d/sub/b.md", "d/c.json", "d/.hidden/x.txt", "e.txt", "f.TXT"):
        (tmp_path / name).write_text("text")
    found = find_inputs(
        [str(tmp_path / "d"), str(tmp_path / "*.txt"), str(tmp_path / "d" / "a.txt")],
        exclude=[tmp_path / "e.txt"],
    )
    assert [Path(p).relative_to(tmp_path).as_posix() for p in found] == ["d/a.txt", "d/sub/b.md"]


@pytest.mark.parametrize("pattern", ["missing.txt", "*.nothing", "empty-dir"])
def test_a_pattern_matching_nothing_is_an_input_error(tmp_path: Path, pattern: str) -> None:
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(InputError):
        find_inputs([str(tmp_path / pattern)])


# -- running -----------------------------------------------------------------------------


def test_one_line_per_article_with_result_or_error(articles: Path, tmp_path: Path) -> None:
    (articles / "empty.txt").write_text("   \n")
    fake = FakeLLM()
    out = tmp_path / "results.jsonl"
    tally = run_batch([str(articles)], out, REMOTE, summarizer=with_client(fake))
    records = lines(out)
    assert len(records) == 7
    by_input = {Path(r["input"]).name: r for r in records}
    assert by_input["empty.txt"]["ok"] is False
    assert by_input["empty.txt"]["error"]["type"] == "InputError"
    assert by_input["empty.txt"]["error"]["exit_code"] == 3
    good = [r for r in records if r["ok"]]
    assert len(good) == 6
    assert all(r["result"]["target_language"] == "en" and r["task"] == "summarize" for r in good)
    assert (tally.done, tally.failed, tally.skipped) == (6, 1, 0)
    # FakeLLM charges 10 in + 5 out per call, one call per short article.
    assert (tally.input_tokens, tally.output_tokens) == (60, 30)
    assert "done 6, failed 1, skipped 0, tokens 90" in tally.line()


def test_a_provider_error_fails_that_article_only(articles: Path, tmp_path: Path) -> None:
    fake = FakeLLM().enqueue(ProviderError("boom", model="openai/test", hint="Retry."))
    out = tmp_path / "r.jsonl"
    tally = run_batch([str(articles)], out, ONE_AT_A_TIME, summarizer=with_client(fake))
    errors = [r["error"] for r in lines(out) if not r["ok"]]
    assert errors == [
        {"type": "ProviderError", "message": "boom", "hint": "Retry.", "exit_code": 5}
    ]
    assert (tally.done, tally.failed) == (5, 1)


def test_rerun_skips_what_is_done_and_adds_no_duplicate(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    first_three = [str(p) for p in sorted(articles.glob("*.txt"))[:3]]
    run_batch(first_three, out, REMOTE, summarizer=with_client(FakeLLM()))
    fake = FakeLLM()
    tally = run_batch([str(articles)], out, REMOTE, summarizer=with_client(fake))
    assert (tally.done, tally.skipped) == (3, 3)
    assert len(fake.requests) == 3
    inputs = [os.path.abspath(r["input"]) for r in lines(out)]
    assert len(inputs) == len(set(inputs)) == 6


def test_a_torn_last_line_is_cut_and_that_article_redone(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_batch([str(articles)], out, REMOTE, summarizer=with_client(FakeLLM()))
    whole = out.read_bytes().splitlines(keepends=True)
    torn = b"".join(whole[:-1]) + whole[-1][: len(whole[-1]) // 2]
    out.write_bytes(torn)
    records, repaired = load_results(out)
    assert repaired and len(records) == 5
    assert out.read_bytes() == b"".join(whole[:-1])

    out.write_bytes(torn)
    tally = run_batch([str(articles)], out, REMOTE, summarizer=with_client(FakeLLM()))
    assert tally.repaired and (tally.done, tally.skipped) == (1, 5)
    assert len({r["input"] for r in lines(out)}) == len(lines(out)) == 6


def test_a_corrupt_line_in_the_middle_stops_the_run(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_batch([str(articles)], out, REMOTE, summarizer=with_client(FakeLLM()))
    content = out.read_text().splitlines(keepends=True)
    out.write_text(content[0] + "not json\n" + "".join(content[1:]))
    with pytest.raises(InputError, match="line 2"):
        run_batch([str(articles)], out, REMOTE, summarizer=with_client(FakeLLM()))


def test_retry_failed_replaces_error_lines(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    failing = FakeLLM().enqueue(ProviderError("down", model="openai/test"))
    job = ONE_AT_A_TIME
    run_batch([str(articles)], out, job, summarizer=with_client(failing))
    assert sum(not r["ok"] for r in lines(out)) == 1
    plain = run_batch([str(articles)], out, job, summarizer=with_client(FakeLLM()))
    assert (plain.done, plain.skipped) == (0, 6)  # a failure counts as done unless retried
    retry = BatchJob(**{**job.__dict__, "retry_failed": True})
    tally = run_batch([str(articles)], out, retry, summarizer=with_client(FakeLLM()))
    assert (tally.done, tally.skipped) == (1, 5)
    records = lines(out)
    assert len(records) == 6 and all(r["ok"] for r in records)


def test_translate_task(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    job = BatchJob(task=Task.TRANSLATE, target_language="fr")
    run_batch([str(articles)], out, job, summarizer=with_client(FakeLLM()))
    records = lines(out)
    assert all(r["ok"] and r["result"]["paragraphs"] for r in records)
    assert {r["task"] for r in records} == {"translate"}
    assert {r["result"]["target_language"] for r in records} == {"fr"}


def test_the_summarizers_cache_answers_a_repeated_batch(articles: Path, tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite3")
    with with_client(FakeLLM(), cache=cache) as summarizer:
        first = run_batch([str(articles)], tmp_path / "a.jsonl", REMOTE, summarizer=summarizer)
    assert (first.done, first.cached) == (6, 0)
    fake = FakeLLM()
    cache = ResponseCache(tmp_path / "cache.sqlite3")
    with with_client(fake, cache=cache) as summarizer:
        again = run_batch([str(articles)], tmp_path / "b.jsonl", REMOTE, summarizer=summarizer)
    assert (again.done, again.cached, len(fake.requests)) == (6, 6, 0)
    assert all(r["result"]["meta"]["cached"] for r in lines(tmp_path / "b.jsonl"))
    assert "from cache 6" in again.line()


def test_the_language_defaults_to_the_summarizers(articles: Path, tmp_path: Path) -> None:
    summarizer = Summarizer(
        Settings(model="openai/test", lang="French", cache=False), client=FakeLLM()
    )
    out = tmp_path / "r.jsonl"
    run_batch([str(articles)], out, BatchJob(task=Task.SUMMARIZE), summarizer=summarizer)
    assert {(r["target_language"], r["result"]["target_language"]) for r in lines(out)} == {
        ("fr", "fr")
    }


# -- resuming only results made the same way --------------------------------------------

START_OVER = "Write to another --out file, or pass --redo to discard the old results"


def with_prompts(folder: Path, client: LLMClient) -> Summarizer:
    """``with_client``, with a --prompts-dir whose summary instructions differ."""
    (folder / "summarize").mkdir(parents=True)
    builtin = (default_prompts_dir() / "summarize" / "system.j2").read_text("utf-8")
    (folder / "summarize" / "system.j2").write_text(builtin + "\nBe brief.\n", "utf-8")
    settings = Settings(model="openai/test", cache=False, prompts_dir=folder)
    return Summarizer(settings, client=client, concurrency=1)


def differing_in(field: str, client: LLMClient, folder: Path) -> tuple[BatchJob, Summarizer, str]:
    """A run that differs from REMOTE with ``with_client`` in ``field`` only, and its value
    as an error message shows it."""
    if field == "task":
        return replace(REMOTE, task=Task.TRANSLATE), with_client(client), "'translate'"
    if field == "target_language":
        return replace(REMOTE, target_language="fr"), with_client(client), "'fr'"
    if field == "model":
        return REMOTE, with_client(client, model="openai/other"), "'openai/other'"
    return REMOTE, with_prompts(folder, client), repr(templates_sha256(folder)[:12])


@pytest.mark.parametrize("field", ["task", "target_language", "model", "prompts_sha256"])
def test_a_file_made_another_way_is_refused_before_any_article(
    articles: Path, tmp_path: Path, field: str
) -> None:
    out = tmp_path / "r.jsonl"
    run_batch([str(articles)], out, REMOTE, summarizer=with_client(FakeLLM()))
    before = out.read_bytes()
    theirs = {
        "task": "'summarize'",
        "target_language": "'en'",
        "model": "'openai/test'",
        "prompts_sha256": repr(templates_sha256()[:12]),
    }[field]
    fake = FakeLLM()
    job, summarizer, ours = differing_in(field, fake, tmp_path / "prompts")

    with pytest.raises(UsageError) as refused:
        run_batch([str(articles)], out, job, summarizer=summarizer)

    assert f"made with {field} {theirs}, but this run's {field} is {ours}:" in str(refused.value)
    assert refused.value.exit_code == 2
    assert refused.value.hint is not None and refused.value.hint.startswith(START_OVER)
    assert fake.requests == []  # no article ran
    assert out.read_bytes() == before


def test_a_file_from_before_settings_were_recorded_is_refused(
    articles: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    run_batch([str(articles)], out, REMOTE, summarizer=with_client(FakeLLM()))
    old = [{k: v for k, v in r.items() if k not in ("model", "prompts_sha256")} for r in lines(out)]
    out.write_text("".join(json.dumps(r) + "\n" for r in old))
    fake = FakeLLM()

    with pytest.raises(
        UsageError, match=r"without 'model' \(written by an older version\)"
    ) as refused:
        run_batch([str(articles)], out, REMOTE, summarizer=with_client(fake))

    assert refused.value.hint is not None and refused.value.hint.startswith(START_OVER)
    assert fake.requests == []
    redo = replace(REMOTE, redo=True)
    tally = run_batch([str(articles)], out, redo, summarizer=with_client(fake))
    assert (tally.done, tally.skipped) == (6, 0)
    assert all("prompts_sha256" in r for r in lines(out))


def test_redo_discards_the_old_results_and_runs_every_input(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    failing = FakeLLM().enqueue(ProviderError("down", model="openai/test"))
    run_batch([str(articles)], out, ONE_AT_A_TIME, summarizer=with_client(failing))
    french = replace(REMOTE, target_language="fr", redo=True)
    fake = FakeLLM()

    tally = run_batch([str(articles)], out, french, summarizer=with_client(fake))

    assert (tally.done, tally.failed, tally.skipped) == (6, 0, 0)
    assert len(fake.requests) == 6
    records = lines(out)
    assert len(records) == 6 and all(r["ok"] for r in records)
    assert {r["target_language"] for r in records} == {"fr"}
    again = run_batch(
        [str(articles)], out, replace(french, redo=False), summarizer=with_client(fake)
    )
    assert (again.done, again.skipped) == (0, 6)


def test_redo_and_retry_failed_together_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--redo and --retry-failed cannot be used together"):
        replace(REMOTE, redo=True, retry_failed=True)


def test_processes_with_ray_is_a_usage_error() -> None:
    """--processes is the local engine's; a run on Ray would silently ignore it."""
    with pytest.raises(UsageError, match="--processes and --ray cannot be used together"):
        replace(REMOTE, processes=2, ray_address="local")


@pytest.mark.parametrize(
    ("given", "address"),
    [
        (["--ray"], "local"),  # last: no address
        (["--ray", "--processes", "2"], "local"),  # before another option: no address
        (["--ray", "auto"], "auto"),
        (["--ray=10.0.0.5:6379"], "10.0.0.5:6379"),
    ],
)
def test_ray_alone_means_a_local_ray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: list[str], address: str
) -> None:
    seen: list[BatchJob] = []
    monkeypatch.setattr("summarizer.batch.run_batch", lambda *a, **k: seen.append(a[2]))
    command = ["batch", str(tmp_path), "--out", str(tmp_path / "r.jsonl"), *given]
    result = CliRunner().invoke(app, command)
    if "--processes" in given:  # parsed as local Ray, then refused beside --processes
        assert result.exit_code == 2 and "--processes and --ray" in result.stderr
    else:
        assert result.exit_code == 0, result.output
        assert [job.ray_address for job in seen] == [address]


class Fallback(FakeLLM):
    """Answers as the configured model's fallback would."""

    def complete(self, request: ChatRequest) -> ChatResponse:
        return replace(super().complete(request), model="openai/backup")


def test_lines_record_the_configured_model_and_templates_and_a_matching_rerun_skips(
    articles: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    run_batch([str(articles)], out, REMOTE, summarizer=with_prompts(tmp_path / "p", Fallback()))
    records = lines(out)
    assert {r["result"]["meta"]["model"] for r in records} == {"openai/backup"}
    assert {(r["model"], r["prompts_sha256"]) for r in records} == {
        ("openai/test", templates_sha256(tmp_path / "p"))
    }
    # The same settings again, the fallback answering or not: nothing to do.
    fake = FakeLLM()
    summarizer = Summarizer(
        Settings(model="openai/test", cache=False, prompts_dir=tmp_path / "p"), client=fake
    )
    tally = run_batch([str(articles)], out, REMOTE, summarizer=summarizer)
    assert (tally.done, tally.skipped, len(fake.requests)) == (0, 6, 0)


class Unusable(FakeLLM):
    """A client whose model check fails, as a missing API key does."""

    checked = 0

    def check_model(self, model: str) -> None:
        Unusable.checked += 1
        raise ConfigError("No API key found.", hint="Set it.")


def test_nothing_is_written_before_the_language_inputs_and_model_are_checked(
    articles: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    summarizer = with_client(Unusable())
    unknown = BatchJob(task=Task.SUMMARIZE, target_language="Klingonese")
    with pytest.raises(SummarizerError) as error:
        run_batch([str(articles)], out, unknown, summarizer=summarizer)
    assert error.value.exit_code == 2
    with pytest.raises(InputError):  # a typo fails before the model's (slow) check
        run_batch([str(articles / "nope.txt")], out, REMOTE, summarizer=summarizer)
    assert Unusable.checked == 0
    with pytest.raises(ConfigError):
        run_batch([str(articles)], out, REMOTE, summarizer=summarizer)
    assert Unusable.checked == 1
    assert not out.exists()


def test_a_second_writer_is_refused(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    release = threading.Event()
    entered = threading.Event()

    class Blocking(FakeLLM):
        def complete(self, request: ChatRequest) -> ChatResponse:
            entered.set()
            release.wait(30)
            return super().complete(request)

    job = ONE_AT_A_TIME
    worker = threading.Thread(
        target=run_batch,
        args=([str(articles)], out, job),
        kwargs={"summarizer": with_client(Blocking())},
    )
    worker.start()
    try:
        assert entered.wait(30)
        with pytest.raises(UsageError, match="Another summarize batch"):
            run_batch([str(articles)], out, job, summarizer=with_client(FakeLLM()))
    finally:
        release.set()
        worker.join(30)
    assert len(lines(out)) == 6


class Gate(FakeLLM):
    """Counts requests in flight; each waits (bounded) until ``width`` are in flight."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.full = threading.Event()

    def complete(self, request: ChatRequest) -> ChatResponse:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            if self.in_flight >= self.width:
                self.full.set()
        self.full.wait(2)  # a bound, not a measurement: the test never fails on time
        with self.lock:
            self.in_flight -= 1
        return super().complete(request)


def test_remote_models_run_articles_concurrently(articles: Path, tmp_path: Path) -> None:
    gate = Gate(width=4)
    run_batch([str(articles)], tmp_path / "r.jsonl", REMOTE, summarizer=with_client(gate))
    assert gate.most == 4


def test_a_local_model_runs_one_article_at_a_time(articles: Path, tmp_path: Path) -> None:
    gate = Gate(width=2)
    model = tmp_path / "tiny.gguf"  # an embedded model: its backend says it is not parallel
    model.write_bytes(b"GGUF")
    job = BatchJob(task=Task.SUMMARIZE, target_language="en", concurrency=8, processes=4)
    summarizer = with_client(gate, model=str(model))
    tally = run_batch([str(articles)], tmp_path / "r.jsonl", job, summarizer=summarizer)
    # Counted in this process: no worker process was forked either.
    assert gate.most == 1 and tally.done == 6


class Whoami(FakeLLM):
    """Writes the answering process's id into each summary's title; takes 0.1 s, so that
    the workers that start last still find work."""

    def complete(self, request: ChatRequest) -> ChatResponse:
        time.sleep(0.1)
        answer = super().complete(request)
        draft = json.loads(answer.text)
        if "title" in draft:
            draft["title"] = f"pid {os.getpid()}"
        return ChatResponse(text=json.dumps(draft), usage=answer.usage)


needs_fork = pytest.mark.skipif(not can_fork(), reason="worker processes need fork()")


@needs_fork
def test_worker_processes_share_the_work(tmp_path: Path, seed_article: str) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(24):
        (folder / f"a{i:02d}.txt").write_text(f"{seed_article}\n\nCatatan nomor {i}.\n")
    out = tmp_path / "r.jsonl"
    job = BatchJob(task=Task.SUMMARIZE, target_language="en", concurrency=4, processes=2)
    started: list[tuple[int, int]] = []
    tally = run_batch(
        [str(folder)],
        out,
        job,
        summarizer=with_client(Whoami()),
        on_start=lambda todo, skipped: started.append((todo, skipped)),
    )
    assert (tally.done, tally.failed, started) == (24, 0, [(24, 0)])
    records = lines(out)
    assert sorted(Path(r["input"]).name for r in records) == [f"a{i:02d}.txt" for i in range(24)]
    pids = {r["result"]["title"] for r in records}
    assert f"pid {os.getpid()}" not in pids  # the parent only writes
    assert len(pids) == 2


@needs_fork
def test_a_worker_process_that_dies_stops_the_run_with_a_message(
    articles: Path, tmp_path: Path
) -> None:
    parent = os.getpid()

    class Dying(FakeLLM):
        def complete(self, request: ChatRequest) -> ChatResponse:
            if os.getpid() != parent:
                os._exit(3)
            return super().complete(request)

    job = BatchJob(task=Task.SUMMARIZE, target_language="en", concurrency=2, processes=2)
    with pytest.raises(RuntimeError, match=r"6 articles unfinished.*exit codes \[3\].*resume"):
        run_batch([str(articles)], tmp_path / "r.jsonl", job, summarizer=with_client(Dying()))


@pytest.mark.parametrize(
    ("parallel", "concurrency", "processes", "expected"),
    [
        (True, 1, None, 1),
        (True, 8, None, 1),
        (True, 9, None, 2),
        (True, 32, None, min(4, os.cpu_count() or 1)),
        (True, 32, 3, 3),
        (True, 2, 5, 2),  # never more processes than requests in flight
        (False, 32, 4, 1),  # one llama.cpp context
    ],
)
def test_how_many_worker_processes(
    parallel: bool, concurrency: int, processes: int | None, expected: int
) -> None:
    job = BatchJob(task=Task.SUMMARIZE, concurrency=concurrency, processes=processes)
    assert worker_processes(job, parallel=parallel) == (expected if can_fork() else 1)


def test_tally_line_mentions_unknown_cost_and_cache() -> None:
    tally = Tally()
    meta = {"usage": {"input_tokens": 1000, "output_tokens": 200}, "cost_usd": None}
    tally.add({"ok": True, "result": {"meta": {**meta, "cached": False}}})
    tally.add({"ok": True, "result": {"meta": {**meta, "cost_usd": 0.5, "cached": True}}})
    tally.add({"ok": False, "error": {}})
    assert tally.line() == (
        "done 2, failed 1, skipped 0, tokens 2,400 (in 2,000, out 400), "
        "cost $0.5000 (+ unknown for 1), from cache 1"
    )


# litellm's OpenAI client cache races when threads make their first call at once, and drops
# the losing clients with their sockets open: a harmless ResourceWarning that is not ours.
litellm_socket_leak = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)


# -- the command, over real HTTP to the loopback stub -----------------------------------


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    with running_stub(latency=0.3) as url:
        yield url


def batch_command(articles: Path, out: Path, url: str, *extra: str) -> list[str]:
    return [
        "batch",
        str(articles),
        "--out",
        str(out),
        "--model",
        "openai/stub",
        "--api-base",
        url,
        *extra,
    ]


@litellm_socket_leak
def test_cli_batch_writes_results_and_a_tally(
    articles: Path, tmp_path: Path, stub_url: str
) -> None:
    (articles / "empty.txt").write_text("")
    out = tmp_path / "r.jsonl"
    result = CliRunner().invoke(app, batch_command(articles, out, stub_url, "-c", "8"))
    assert result.exit_code == 1, result.output  # one article failed
    assert "done 6, failed 1, skipped 0" in result.stderr
    assert "\x1b[" not in result.stderr  # no progress bar when stderr is not a terminal
    again = CliRunner().invoke(app, batch_command(articles, out, stub_url))
    assert "done 0, failed 0, skipped 7" in again.stderr
    assert again.exit_code == 0


@litellm_socket_leak
def test_cli_batch_refuses_another_language_and_redo_starts_over(
    articles: Path, tmp_path: Path, stub_url: str
) -> None:
    out = tmp_path / "r.jsonl"
    first = CliRunner().invoke(app, batch_command(articles, out, stub_url, "--lang", "en"))
    assert first.exit_code == 0, first.output
    before, calls = out.read_bytes(), served(stub_url)

    french = batch_command(articles, out, stub_url, "--lang", "fr")
    refused = CliRunner().invoke(app, french)
    assert refused.exit_code == 2, refused.output
    assert (
        f"Error: {out} holds results made with target_language 'en', but this run's "
        "target_language is 'fr': resuming would mix them."
    ) in " ".join(refused.stderr.split())
    assert f"  {START_OVER} and start over." in refused.stderr
    assert "skipped" not in refused.stderr  # no tally: nothing ran
    both = CliRunner().invoke(app, [*french, "--redo", "--retry-failed"])
    assert both.exit_code == 2
    assert "--redo and --retry-failed cannot be used together" in both.stderr
    assert out.read_bytes() == before and served(stub_url) == calls

    redone = CliRunner().invoke(app, [*french, "--redo"])
    assert redone.exit_code == 0, redone.output
    assert "done 6, failed 0, skipped 0" in redone.stderr
    assert [r["target_language"] for r in lines(out)] == ["fr"] * 6


@litellm_socket_leak
@pytest.mark.parametrize("processes", ["1", pytest.param("2", marks=needs_fork)])
def test_cli_batch_resumes_after_being_killed(
    articles: Path, tmp_path: Path, stub_url: str, seed_article: str, processes: str
) -> None:
    for i in range(6, 16):
        (articles / f"a{i}.txt").write_text(f"{seed_article}\n\nCatatan nomor {i}.\n")
    out = tmp_path / "r.jsonl"
    command = [sys.executable, "-c", "from summarizer.cli import main; main()"]
    process = subprocess.Popen(
        [
            *command,
            *batch_command(articles, out, stub_url, "-c", "2", "--no-cache"),
            *("--processes", processes),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if out.exists() and out.read_text().count("\n") >= 3:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the batch finished before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
        assert process.stderr is not None
        process.stderr.close()
    # Orphaned workers stop too, rather than paying for answers nobody writes down.
    time.sleep(1.5)
    after_kill = served(stub_url)
    time.sleep(1.5)
    assert served(stub_url) == after_kill
    partial = lines(out)  # every line parses: nothing torn or corrupt
    assert 3 <= len(partial) < 16
    with out.open("ab") as handle:  # as if the kill had landed in the middle of a write
        handle.write(b'{"input": "' + str(articles).encode() + b'/a9.txt", "ok": tr')

    resumed = CliRunner().invoke(app, batch_command(articles, out, stub_url, "-c", "8"))
    assert resumed.exit_code == 0, resumed.output
    assert f"skipped {len(partial)}" in resumed.stderr
    assert "torn last line" in resumed.stderr
    records = lines(out)
    inputs = [Path(r["input"]).name for r in records]
    assert len(inputs) == len(set(inputs)) == 16
    assert all(r["ok"] for r in records)


@litellm_socket_leak
@pytest.mark.parametrize("processes", ["1", pytest.param("2", marks=needs_fork)])
def test_cli_batch_ctrl_c_stops_at_once_with_whole_lines(
    articles: Path, tmp_path: Path, stub_url: str, seed_article: str, processes: str
) -> None:
    for i in range(6, 20):
        (articles / f"a{i}.txt").write_text(f"{seed_article}\n\nCatatan nomor {i}.\n")
    out = tmp_path / "r.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            # As on a terminal: a shell running this suite in the background (nohup, &) has
            # the children ignore SIGINT, and Python would keep ignoring it.
            "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from summarizer.cli import main; main()",
            *batch_command(articles, out, stub_url, "-c", "2", "--processes", processes),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Interrupted: done" in stderr
    time.sleep(1.0)  # requests already in flight reach the stub
    after_stop = served(stub_url)
    time.sleep(1.0)
    assert served(stub_url) == after_stop  # no worker left behind
    partial = lines(out)
    assert 2 <= len(partial) < 20
    resumed = CliRunner().invoke(app, batch_command(articles, out, stub_url, "-c", "16"))
    assert resumed.exit_code == 0, resumed.output
    inputs = [r["input"] for r in lines(out)]
    assert len(inputs) == len(set(inputs)) == 20


def test_ray_actors_are_sent_endpoints_but_never_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray shows a job's runtime_env to anyone who can see the cluster: no secrets in it."""
    from summarizer.batch_ray import forwarded_env

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-for-ray-0123456789")
    monkeypatch.setenv("OPENAI_API_BASE", "http://10.0.0.5:8000/v1")
    monkeypatch.setenv("LITELLM_LOG", "ERROR")
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-master-0123456789")
    sent = forwarded_env()
    assert sent["OPENAI_API_BASE"] == "http://10.0.0.5:8000/v1" and sent["LITELLM_LOG"] == "ERROR"
    assert "OPENAI_API_KEY" not in sent and "LITELLM_MASTER_KEY" not in sent
