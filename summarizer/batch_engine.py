"""How a batch's articles run at once: daemon threads, spread over forked processes.

Requests are blocking calls that release the GIL while they wait, so one process runs
many at once on threads. Beyond ``THREADS_PER_PROCESS`` of them the threads are spread
over forked worker processes: each article costs the client ~10 ms of CPU (litellm's
request handling, tokenising, validation), and one interpreter lock shared by dozens of
threads cannot keep up. Only the parent process writes the results file; workers send
their records back.

The engine knows nothing about articles: it runs ``process(path) -> record`` on every
path and yields the records in completion order.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from summarizer.batch_results import Record

# Measured with benchmarks/bench_batch.py: one process keeps ~90 % of the ideal rate with up
# to about 8 requests of 0.5 s in flight, and falls behind beyond that (66 % at 32).
THREADS_PER_PROCESS = 8

# Workers start spread over this many seconds rather than at once: requests sent together
# come back together, and their answers then queue for the client's CPU (and a provider's
# rate limiter) together, wave after wave. Measured with bench_batch.py at concurrency 32.
RAMP_S = 0.5

# A record group: those that finished since the last group was taken.
Groups = Generator[list[Record], None, None]


def can_fork() -> bool:
    """Worker processes can be forked here (Linux and the BSDs)."""
    # Forking is what makes workers cheap (no second import of litellm); macOS has fork but
    # its system libraries are not fork-safe, so only Linux and the BSDs use it.
    return "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"


@dataclass(frozen=True)
class Engine:
    """Runs ``process`` on paths, ``concurrency`` at once on daemon worker threads, spread
    over ``processes`` forked processes (which close the file descriptors ``keep_closed``:
    the results file, whose lock must go with the parent).

    Daemon threads, not a ThreadPoolExecutor: on Ctrl-C the process must exit at once, not
    wait for every request in flight to time out. ``process`` must not raise: one input's
    failure is a record of its own.
    """

    process: Callable[[str], Record]
    concurrency: int = 1
    processes: int = 1
    keep_closed: tuple[int, ...] = ()

    def run(self, paths: Sequence[str]) -> Groups:
        """Records in completion order, in groups of those that finished since the last
        group was taken. The first group is empty: it says every worker has started.
        Closing the generator stops the workers."""
        if not paths:
            yield []
        elif self.processes > 1:
            yield from self._forked(paths)
        else:
            yield from self._threaded(paths)

    def _threaded(self, paths: Sequence[str]) -> Groups:
        todo: queue.SimpleQueue[str] = queue.SimpleQueue()
        for path in paths:
            todo.put(path)
        done: queue.SimpleQueue[Record] = queue.SimpleQueue()
        stop = threading.Event()

        def take() -> str | None:
            if stop.is_set():
                return None
            try:
                return todo.get_nowait()
            except queue.Empty:
                return None

        count = min(self.concurrency, len(paths))
        _start_threads(take, done.put, self.process, count, _ramp(count))
        try:
            yield []
            yield from _in_groups(lambda remaining: done.get(), done.get_nowait, len(paths))
        finally:
            stop.set()

    def _forked(self, paths: Sequence[str]) -> Groups:
        """``_threaded`` over forked processes: each runs its share of the threads and
        sends records back.

        Forked, so each worker has the application (its client and settings) already
        built, without a second import of litellm; the response cache reopens its SQLite
        connection in a worker, and litellm's pooled connections are not shared
        (``client.py``).
        """
        context = multiprocessing.get_context("fork")
        threads = -(-self.concurrency // self.processes)
        todo: Any = context.Queue()
        done: Any = context.Queue()
        for path in paths:
            todo.put(str(path))
        total = self.processes * threads
        for _ in range(total):
            todo.put(None)  # one stop sign per thread
        workers = [
            context.Process(
                target=_worker_process,
                args=(self, todo, done, threads, _ramp(total, i, self.processes)),
                kwargs={"parent": os.getpid()},
                name=f"summarize-batch-{i}",
                daemon=True,
            )
            for i in range(self.processes)
        ]
        for worker in workers:
            worker.start()
        try:
            yield []
            yield from _in_groups(_waiter(done, workers), done.get_nowait, len(paths))
        finally:
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()
            for worker in workers:
                worker.join(5)
            for channel in (todo, done):
                channel.cancel_join_thread()  # never wait on a pipe nobody reads any more
                channel.close()


def _waiter(done: Any, workers: Sequence[Any]) -> Callable[[int], Record]:
    """Waits for the next record from the worker processes, told how many are still due.

    Raises:
        RuntimeError: every worker stopped with records still due.
    """

    def wait_for_one(remaining: int) -> Record:
        while True:
            try:
                record: Record = done.get(timeout=1.0)
                return record
            except queue.Empty:
                if any(worker.is_alive() for worker in workers):
                    continue
            codes = sorted({worker.exitcode for worker in workers}, key=str)
            raise RuntimeError(
                f"The batch's worker processes stopped with {remaining} articles "
                f"unfinished (exit codes {codes}); run the same command again to resume."
            )

    return wait_for_one


def _start_threads(
    take: Callable[[], str | None],
    put: Callable[[Record], None],
    process: Callable[[str], Record],
    count: int,
    ramp: Callable[[int], float],
) -> list[threading.Thread]:
    """``count`` started daemon threads that ``process`` what ``take()`` gives until it
    gives ``None``, and ``put`` each record; thread ``i`` waits ``ramp(i)`` seconds first."""

    def work(index: int) -> None:
        time.sleep(ramp(index))
        while (path := take()) is not None:
            put(process(path))

    threads = [
        threading.Thread(target=work, args=(i,), name=f"batch-{i}", daemon=True)
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    return threads


def _in_groups(
    wait_for_one: Callable[[int], Record],
    take_ready: Callable[[], Record],
    total: int,
) -> Iterator[list[Record]]:
    """``total`` records in groups: one waited for (told how many are still due), then every
    one already there (``take_ready`` raises ``queue.Empty`` when there is none)."""
    remaining = total
    while remaining:
        group = [wait_for_one(remaining)]
        with contextlib.suppress(queue.Empty):
            while len(group) < remaining:
                group.append(take_ready())
        remaining -= len(group)
        yield group


def _ramp(total: int, offset: int = 0, step: int = 1) -> Callable[[int], float]:
    """Start delays: the thread numbered ``offset + i * step`` of ``total`` waits its share
    of ``RAMP_S``."""
    return lambda index: RAMP_S * (offset + index * step) / max(1, total)


def _worker_process(
    engine: Engine,
    todo: Any,
    done: Any,
    threads: int,
    ramp: Callable[[int], float],
    *,
    parent: int,
) -> None:
    """A forked worker: ``threads`` threads run ``engine.process`` on the paths in ``todo``
    (until a ``None`` each) and put the records in ``done``."""
    # Ctrl-C reaches the whole process group: the parent handles it and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The results file: its lock must go with the parent, not wait for us.
    for descriptor in engine.keep_closed:
        with contextlib.suppress(OSError):
            os.close(descriptor)
    threading.Thread(
        target=_watch_parent, args=(parent,), name="batch-parent-watch", daemon=True
    ).start()

    def take() -> str | None:
        item = todo.get()
        return None if item is None else str(item)

    for thread in _start_threads(take, done.put, engine.process, threads, ramp):
        thread.join()
    done.close()
    done.join_thread()  # every record is in the pipe before this process exits


def _watch_parent(parent: int) -> None:
    """Exit once ``parent`` is gone: a parent killed with SIGKILL cannot stop us, so stop
    paying for requests nobody will write down (the next run redoes them)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
