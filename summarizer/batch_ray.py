"""``summarize batch --ray``: the batch's articles run on a Ray cluster (Ray Data), the
results file stays the driver's.

* The inputs are a Ray dataset (``ray.data.from_items``, in order), processed by
  ``map_batches`` on a pool of actors. Each actor builds one ``Summarizer`` from the
  driver's settings (its own client, its own connection to the response cache) and runs
  a batch's inputs on ``per_actor`` threads with the local engine's own per-input function
  (``batch._Worker.process``), so a line is the same whichever engine wrote it.
* Records come back to the driver, which alone writes them (``ResultsWriter``: one whole,
  fsynced line each) as batches complete: a killed driver or Ctrl-C loses no written line
  and tears none, and the rerun skips finished inputs as it does locally.
* A killed actor is restarted and its batch retried (``max_restarts``/``max_task_retries``
  -1): nothing of that batch was written yet, so no input is lost or doubled.
* One budget of requests in flight for the whole cluster, not one per actor: a named async
  actor holds ``concurrency`` slots, and every article holds one while it runs. A batch
  article makes its model calls one after the other (chunk concurrency 1), so articles
  holding a slot are exactly the requests in flight. Slots held by an actor that died are
  given back when Ray restarts it (same actor id, new incarnation).
* A model that takes parallel requests runs ``THREADS_PER_PROCESS`` threads per actor; one
  that does not (an embedded llama.cpp model) runs one thread per actor, one model each,
  an actor per core (``num_cpus=1``), at most ``concurrency`` of them.

Ray is an optional extra (``pip install 'summarizer[ray]'``); only this module imports it,
and only when a batch asks for it. Ray's partial type hints stay out: it is ``Any`` here.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from summarizer.batch_engine import THREADS_PER_PROCESS, Groups
from summarizer.batch_results import Record
from summarizer.errors import ConfigError, is_secret_name

if TYPE_CHECKING:
    from summarizer.app import Summarizer
    from summarizer.config import Settings

# ``--ray local`` starts a Ray instance in this process; anything else is an address.
LOCAL = "local"
NAMESPACE = "summarizer-batch"
# Environment a worker on another machine needs and would not have: provider endpoints
# and litellm's own switches. Never a secret (``errors.is_secret_name``): Ray shows a job's
# runtime_env to anyone who can see the cluster, so provider keys belong in the nodes' own
# environment. (Workers of a Ray started here inherit this process's environment.)
_FORWARDED_PREFIXES = ("LITELLM_",)
_FORWARDED_SUFFIXES = ("_API_BASE", "_BASE_URL")
# Tests only: each actor writes its process id to a file in this folder.
PID_DIR_ENV = "SUMMARIZER_RAY_PID_DIR"


class _Process(Protocol):
    def process(self, spec: str) -> Record: ...


# Builds the per-input worker around an actor's own Summarizer; picklable (a partial of
# batch._Worker), so actors import batch only when they unpickle it.
MakeWorker = Callable[["Summarizer"], _Process]


def ray_module() -> Any:
    """The ``ray`` module.

    Raises:
        ConfigError: Ray is not installed.
    """
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise ConfigError(
            "--ray needs Ray, which is not installed.",
            hint="pip install 'summarizer[ray]'",
        ) from exc


def forwarded_env() -> dict[str, str]:
    """The driver's environment variables that actors on other machines need: endpoints
    and switches, never keys."""
    return {
        name: value
        for name, value in os.environ.items()
        if (name.startswith(_FORWARDED_PREFIXES) or name.endswith(_FORWARDED_SUFFIXES))
        and not is_secret_name(name)
    }


def connect(address: str, **init_args: Any) -> bool:
    """Start (``address`` ``local``) or join (``auto``, ``ray://host:port``, a GCS
    address) a Ray instance, quietly; reuse the one this process already has. Returns
    whether this call did connect (and so should ``ray.shutdown()`` after).

    Raises:
        ConfigError: Ray is not installed, or the cluster cannot be reached.
    """
    ray = ray_module()
    _quiet_ray_data(ray)
    if ray.is_initialized():
        return False
    try:
        ray.init(
            address=None if address == LOCAL else address,
            namespace=NAMESPACE,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            runtime_env={"env_vars": forwarded_env()},
            **init_args,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"Could not reach the Ray cluster at {address}: {exc}",
            hint="Check the address (ray://host:10001, or 'auto' on a cluster node), or "
            "pass --ray local to start Ray on this machine.",
        ) from exc
    return True


def _quiet_ray_data(ray: Any) -> None:
    """No progress bars or execution banners on stderr: the batch draws its own."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.verbose_stats_logs = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


@dataclass(frozen=True)
class _Plan:
    """What every actor needs to build its Summarizer and worker: picklable."""

    settings: Settings
    cache_path: str | None  # the driver's response cache file; None: no cache
    make_worker: MakeWorker
    per_actor: int  # threads per actor
    slots: str  # the name of the run's slots actor


class _Slots:
    """The run's budget of articles (= requests) in flight, shared by every actor: an
    async Ray actor, so a thousand waiting ``acquire`` calls cost no thread each."""

    def __init__(self, slots: int) -> None:
        self._free = asyncio.Semaphore(slots)
        self._held: Counter[str] = Counter()
        self._gone: set[str] = set()

    async def acquire(self, holder: str) -> bool:
        """Wait for a slot; ``False`` (and no slot) for a holder that has died meanwhile."""
        await self._free.acquire()
        if holder in self._gone:
            self._free.release()
            return False
        self._held[holder] += 1
        return True

    async def release(self, holder: str) -> None:
        if self._held[holder] > 0:
            self._held[holder] -= 1
            self._free.release()

    async def restarted(self, actor: str, holder: str) -> None:
        """Actor ``actor`` came back as ``holder``: free what its dead incarnations held."""
        for old in [h for h in self._held if h.startswith(actor + ":") and h != holder]:
            self._gone.add(old)
            for _ in range(self._held.pop(old)):
                self._free.release()


class ArticleActor:
    """One Ray Data actor: one Summarizer, ``per_actor`` threads, records as JSON text
    (a column of strings: Arrow would otherwise infer, and reshape, nested results)."""

    def __init__(self, plan: _Plan) -> None:
        from summarizer.app import Summarizer
        from summarizer.cache import ResponseCache

        ray = ray_module()
        cache = None if plan.cache_path is None else ResponseCache(Path(plan.cache_path))
        summarizer = Summarizer(plan.settings, response_cache=cache, concurrency=1)
        summarizer.check()  # the client is built now, not by the first batch's threads
        self._worker = plan.make_worker(summarizer)
        self._pool = ThreadPoolExecutor(plan.per_actor, thread_name_prefix="ray-batch")
        self._slots = ray.get_actor(plan.slots, namespace=NAMESPACE)
        actor = ray.get_runtime_context().get_actor_id()
        self._holder = f"{actor}:{uuid.uuid4().hex}"
        ray.get(self._slots.restarted.remote(actor, self._holder))
        if pid_dir := os.environ.get(PID_DIR_ENV):
            Path(pid_dir, f"{os.getpid()}.pid").write_text(str(os.getpid()))

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        specs = [str(spec) for spec in batch["input"]]
        return {"record": list(self._pool.map(self._one, specs))}

    def _one(self, spec: str) -> str:
        ray = ray_module()
        if not ray.get(self._slots.acquire.remote(self._holder)):
            raise RuntimeError("this actor was replaced while waiting for a slot")
        try:
            return json.dumps(self._worker.process(spec), ensure_ascii=False)
        finally:
            self._slots.release.remote(self._holder)


@dataclass(frozen=True)
class RayEngine:
    """``batch_engine.Engine``'s contract on Ray: ``run(paths)`` yields records in groups
    as batches complete, the first group empty once the run has started."""

    make_worker: MakeWorker
    settings: Settings
    address: str = LOCAL
    concurrency: int = 8
    parallel: bool = True  # the model takes parallel requests

    def run(self, paths: Sequence[str]) -> Groups:
        if not paths:
            yield []
            return
        ray = ray_module()
        started = connect(self.address)
        slots: Any = None
        try:
            name = f"slots-{uuid.uuid4().hex}"
            slots = (
                ray.remote(_Slots)
                .options(name=name, namespace=NAMESPACE, max_concurrency=10_000, num_cpus=0)
                .remote(self.concurrency)
            )
            rows = self._dataset(ray, paths, name).iter_batches(
                batch_size=None, batch_format="numpy", prefetch_batches=0
            )
            yield []
            for batch in rows:
                yield [json.loads(text) for text in batch["record"]]
        finally:
            if slots is not None:
                ray.kill(slots)
            if started:
                ray.shutdown()

    def _dataset(self, ray: Any, paths: Sequence[str], slots: str) -> Any:
        """The inputs, mapped by a pool of ``ArticleActor``s sized for the model."""
        from summarizer.cache import cache_path

        per_actor = min(THREADS_PER_PROCESS, self.concurrency) if self.parallel else 1
        batches = -(-len(paths) // per_actor)
        if self.parallel:
            actors, cpus = -(-self.concurrency // per_actor), 0.01  # waiting costs no core
        else:
            cores = int(ray.cluster_resources().get("CPU", 1))
            actors, cpus = max(1, min(self.concurrency, cores)), 1.0  # one model per core
        plan = _Plan(
            settings=self.settings,
            cache_path=str(cache_path()) if self.settings.cache else None,
            make_worker=self.make_worker,
            per_actor=per_actor,
            slots=slots,
        )
        items = ray.data.from_items(
            [{"input": path} for path in paths], override_num_blocks=batches
        )
        return items.map_batches(
            ArticleActor,
            fn_constructor_args=(plan,),
            batch_size=per_actor,
            compute=ray.data.ActorPoolStrategy(size=min(actors, batches)),
            # A killed actor comes back and its batch runs again: Ray Data's own defaults
            # for an actor pool (max_restarts and max_task_retries -1); passing them
            # explicitly is deprecated since Ray 2.60.
            num_cpus=cpus,
        )
