"""``summarize batch --ray``: the batch's articles run on a Ray cluster (Ray Data), the
results file stays the driver's.

* The inputs are a Ray dataset (``ray.data.from_items``), one block per article, mapped by
  ``map_batches`` on a pool of actors. Each actor builds one ``Summarizer`` from the
  driver's settings (its own client, its own connection to its node's response cache) and
  runs ``per_actor`` articles at once, on Ray's threads (``max_concurrent_calls_per_actor``),
  with the local engine's own per-input function (``batch._Worker.process``), so a line
  is the same whichever engine wrote it.
* Each record comes back to the driver as soon as its article is done, and the driver
  alone writes it (``ResultsWriter``: one whole, fsynced line each): a killed driver or
  Ctrl-C loses no written line and tears none, and the rerun skips finished inputs as it
  does locally. Progress and ETA are fed one record at a time, as locally.
* A killed actor is restarted and the articles it was running are retried
  (``max_restarts``/``max_task_retries`` -1); those it had finished were already
  delivered, so no input is lost, doubled or paid for twice.
* One budget of requests in flight for the whole cluster, not one per actor: a named async
  actor holds ``concurrency`` slots, and every article holds one while it runs. A batch
  article makes its model calls one after the other (chunk concurrency 1), so articles
  holding a slot are exactly the requests in flight. Slots held by an actor that died are
  given back when Ray restarts it (same actor id, new incarnation).
* A model that takes parallel requests runs ``THREADS_PER_PROCESS`` articles per actor;
  an embedded llama.cpp model runs one article per actor: one model each, an actor per
  ``EMBEDDED_CORES`` cores of the cluster with that many llama.cpp threads, at most
  ``concurrency`` of them.

Ray is an optional extra (``pip install 'summarizer[ray]'``); only this module imports it,
and only when a batch asks for it. Ray's partial type hints stay out: it is ``Any`` here.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from summarizer.batch_engine import THREADS_PER_PROCESS, Groups
from summarizer.batch_results import Record
from summarizer.errors import ConfigError, UsageError, is_secret_name

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
# Cores (and llama.cpp threads) per actor for an embedded model: one model per core, as
# many as the cluster has cores (at most --concurrency). Measured on 2 cores,
# bench_batch_ray.py: two one-thread models beside one two-thread model.
EMBEDDED_CORES = 1
# How long a cluster's address may take to accept a connection.
CONNECT_TIMEOUT_S = 10.0
_ADDRESS_HINT = (
    "Check the address (HOST:6379, the head node's GCS, or 'auto' on a cluster node), or "
    "pass --ray alone to start Ray on this machine."
)
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
    """Start (``address`` ``local``) or join (``auto``, a GCS ``host:port``) a Ray
    instance, quietly (Ray's notes on stderr only with ``--debug``); reuse
    the one this process already has. Returns whether this call did connect (and so should
    ``ray.shutdown()`` after).

    Raises:
        UsageError: ``address`` is not one.
        ConfigError: Ray is not installed, or the cluster cannot be reached.
    """
    debug = logging.getLogger("summarizer").isEnabledFor(logging.DEBUG)  # --debug
    if not debug:
        # Ray's C++ core logs notes at error level straight to stderr (that Ray Data
        # keeps actors' constructor arguments in the object store, so "the actor restart
        # will fail" if they are lost: they live as long as the run); a failure to connect
        # or to run still raises. Ray then says once, at info level, that it read this
        # variable: one harmless line instead of an alarming one.
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    ray = ray_module()
    _quiet_ray_data(ray)
    if ray.is_initialized():
        return False
    _reachable(address)
    try:
        ray.init(
            address=None if address == LOCAL else address,
            namespace=NAMESPACE,
            include_dashboard=False,
            log_to_driver=False,
            # Notes such as "token authentication is enabled" are not the user's business.
            logging_level=logging.DEBUG if debug else logging.ERROR,
            runtime_env={"env_vars": forwarded_env()},
            **init_args,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"Could not reach the Ray cluster at {address}: {exc}",
            hint=_ADDRESS_HINT,
        ) from exc
    return True


def check_address(address: str) -> None:
    """Refuse, before anything runs, a ``--ray`` value that cannot be a cluster to join:
    ``local``, ``auto`` or a GCS ``HOST:PORT``.

    Raises:
        UsageError: anything else; a Ray Client ``ray://`` address with its reason.
    """
    if address in (LOCAL, "auto"):
        return
    if address.startswith("ray://"):
        # Measured with Ray 2.60 against `ray start --head`: Ray Data's executor needs the
        # driver's own core worker, which a Ray Client connection does not have.
        raise UsageError(
            f"--ray {address}: Ray Data does not run over Ray Client (ray://), so the "
            "batch's driver must run on a node of the cluster.",
            hint="Run summarize batch ... --ray auto on the head node, or submit it there: "
            "ray job submit --address http://HEAD:8265 -- summarize batch ... --ray auto "
            "(the results file is written on the node that runs it).",
        )
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(
            f"--ray {address!r} is not a Ray address.",
            hint=_ADDRESS_HINT + " (--ray takes the next word as its address: put it last.)",
        )


def _reachable(address: str) -> None:
    """Fail fast for a cluster address nothing answers at: ``ray.init`` itself retries a
    dead GCS address for minutes (measured: still waiting after 120 s).

    Raises:
        UsageError: see ``check_address``.
        ConfigError: ``address`` names a host and port that refuse or ignore a connection
            for ``CONNECT_TIMEOUT_S``. (``local`` and ``auto`` are Ray's to resolve.)
    """
    check_address(address)
    if address in (LOCAL, "auto"):
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConfigError(
            f"Could not reach the Ray cluster at {address}: {exc.strerror or exc}.",
            hint=_ADDRESS_HINT,
        ) from exc


def _where(spec: str) -> str:
    """Where an actor reads input ``spec``: a URL as it is, a file by its absolute path.
    An actor's working directory is its node's, not the driver's, so ``corpus/a.txt``
    would not be found (measured: every input failed on a ``ray start`` cluster joined
    with ``--ray auto`` from another directory). Files must be at that path on every
    node: a shared file system, or one machine."""
    from summarizer.sources import looks_like_url

    return spec if looks_like_url(spec) else os.path.abspath(spec)


def _quiet_ray_data(ray: Any) -> None:
    """No progress bars, execution banners or issue detectors' notes (that an actor uses
    more memory than it asked Ray for) on stderr: the batch draws its own progress."""
    context = ray.data.DataContext.get_current()  # imports Ray Data: its logging config
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.verbose_stats_logs = False


@dataclass(frozen=True)
class _Plan:
    """What every actor needs to build its Summarizer and worker: picklable."""

    settings: Settings
    make_worker: MakeWorker
    per_actor: int  # threads per actor
    model_threads: int | None  # an embedded model's llama.cpp threads; None: a remote model
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

        ray = ray_module()
        if plan.model_threads is not None:
            # The cores Ray gave this actor, not every core of the node: llama.cpp's threads
            # wait for each other, and other actors' models hold the other cores.
            os.environ.setdefault("SUMMARIZER_THREADS", str(plan.model_threads))
        # The response cache, when the settings keep one, is this node's own file (its
        # ``cache_path()``): SQLite is not for sharing over a network file system.
        summarizer = Summarizer(plan.settings, concurrency=1)
        summarizer.check()  # the client is built now, not by the first articles' threads
        self._worker = plan.make_worker(summarizer)
        self._slots = ray.get_actor(plan.slots, namespace=NAMESPACE)
        actor = ray.get_runtime_context().get_actor_id()
        self._holder = f"{actor}:{uuid.uuid4().hex}"
        ray.get(self._slots.restarted.remote(actor, self._holder))
        if pid_dir := os.environ.get(PID_DIR_ENV):
            Path(pid_dir, f"{os.getpid()}.pid").write_text(str(os.getpid()))

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        """One article (a one-row batch), on one of Ray's ``per_actor`` threads."""
        rows = zip(batch["input"], batch["where"], strict=True)
        return {"record": [self._one(str(spec), str(where)) for spec, where in rows]}

    def _one(self, spec: str, where: str) -> str:
        """The record of input ``spec`` (as the user wrote it: the results file's key),
        read from ``where`` (its absolute path, or the URL)."""
        ray = ray_module()
        if not ray.get(self._slots.acquire.remote(self._holder)):
            raise RuntimeError("this actor was replaced while waiting for a slot")
        try:
            record = self._worker.process(where)
        finally:
            self._slots.release.remote(self._holder)
        record["input"] = spec
        return json.dumps(record, ensure_ascii=False)


@dataclass(frozen=True)
class RayEngine:
    """``batch_engine.Engine``'s contract on Ray: ``run(paths)`` yields records as their
    articles complete (a group each), the first group empty once the run has started."""

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
        """The inputs, one block and one Ray task per article (so a result reaches the
        driver, and the file, as soon as it is finished: a killed actor loses only the
        articles it was running), mapped by a pool of ``ArticleActor``s sized for the
        model, each running ``per_actor`` of them at once on Ray's threads."""
        per_actor = min(THREADS_PER_PROCESS, self.concurrency) if self.parallel else 1
        if self.parallel:
            actors, cpus = -(-self.concurrency // per_actor), 0.01  # waiting costs no core
        else:
            cores = int(ray.cluster_resources().get("CPU", 1))
            actors = max(1, min(self.concurrency, cores // EMBEDDED_CORES))
            cpus = float(EMBEDDED_CORES)  # one model per core
        plan = _Plan(
            settings=self.settings,
            make_worker=self.make_worker,
            per_actor=per_actor,
            model_threads=None if self.parallel else EMBEDDED_CORES,
            slots=slots,
        )
        items = ray.data.from_items(
            [{"input": path, "where": _where(path)} for path in paths],
            override_num_blocks=len(paths),
        )
        return items.map_batches(
            ArticleActor,
            fn_constructor_args=(plan,),
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(
                size=min(actors, len(paths)),
                max_concurrent_calls_per_actor=per_actor,
                max_tasks_in_flight_per_actor=per_actor,
                enable_true_multi_threading=True,
            ),
            # A killed actor comes back and its articles run again: Ray Data's own
            # defaults for an actor pool (max_restarts and max_task_retries -1); passing
            # them explicitly is deprecated since Ray 2.60.
            num_cpus=cpus,
        )
