"""Which backend serves a model, and what it knows about it: the one place that tells an
embedded model from a provider's.

Two backends:

* ``local.LocalClient``: the embedded llama.cpp models (``local/<alias>``, a ``.gguf``
  path), in-process, without litellm;
* ``client.LiteLLMClient``: every other model through litellm (retries, fallbacks), and an
  embedded model too when it is part of a fallback chain.

Everything above this module (the application layer, and through it the pipeline, the
cache, batch, the service) gets an ``LLMClient`` and the model's ``ModelTraits`` from here
and never asks what kind of model it is. Heavy imports happen only in ``connect``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from summarizer.llm import LLMClient, ModelTraits
from summarizer.models import parse_model

if TYPE_CHECKING:
    from summarizer.llm import Generation


@dataclass(frozen=True)
class Connection:
    """How to reach a model: everything a backend needs to build its client."""

    model: str
    fallbacks: tuple[str, ...] = ()
    api_base: str | None = None
    timeout: float = 600.0
    retries: int = 2
    context_window: int | None = None  # remote models: overrides what litellm knows

    @property
    def embedded_only(self) -> bool:
        """The embedded model alone: served in-process, without litellm."""
        return parse_model(self.model).is_local and not self.fallbacks

    @property
    def client_key(self) -> Connection:
        """Connections that can share one client: a litellm client serves any model, an
        embedded one only its own."""
        return self if self.embedded_only else replace(self, model="")


def model_name(value: str | None) -> str:
    """The canonical model string for what a user wrote (``None``: the default model).

    Raises:
        ConfigError: ``value`` cannot name a model.
    """
    return parse_model(value).name


def names_model_file(value: str) -> bool:
    """``value`` names a model file on disk, not a bundled or provider model."""
    ref = parse_model(value)
    return ref.is_local and not ref.is_bundled


def is_bundled(value: str | None) -> bool:
    """``value`` (``None``: the default) is one of the small bundled demo models."""
    return parse_model(value).is_bundled


def traits(connection: Connection) -> ModelTraits:
    """What ``connection.model`` is like; no model is loaded and nothing heavy imported.

    Raises:
        ModelNotFoundError: an embedded model whose file does not exist.
    """
    ref = parse_model(connection.model)
    if ref.is_local:
        from summarizer import local

        found = local.model_traits(ref.local_name or "")
        if not connection.fallbacks:
            return found
        chained = {**found.identity, "fallbacks": list(connection.fallbacks)}
        return ModelTraits(found.parallel, found.schema_caps, chained)
    remote: dict[str, object] = {"api_base": connection.api_base}
    if connection.context_window is not None:  # changes chunking, and the window measured
        remote["context_window"] = connection.context_window
    if connection.fallbacks:
        remote["fallbacks"] = list(connection.fallbacks)
    return ModelTraits(parallel=True, identity=remote)


def connect(
    connection: Connection,
    *,
    notify: Callable[[str], None] | None = None,
    on_generation: Callable[[Generation], None] | None = None,
) -> LLMClient:
    """The client for ``connection``, its models checked (files, providers, API keys).

    Args:
        notify: hears a one-line notice on each retry and fallback.
        on_generation: hears an embedded model's answer token by token.

    Raises:
        ConfigError: a model that cannot be used as configured (missing file or key).
    """
    if connection.embedded_only:
        from summarizer.local import LocalClient

        local_client = LocalClient(on_generation=on_generation)
        local_client.check_models(connection.model)
        return local_client
    from summarizer.client import LiteLLMClient  # imports litellm: seconds

    remote = LiteLLMClient(
        api_base=connection.api_base,
        timeout=connection.timeout,
        retries=connection.retries,
        fallbacks=list(connection.fallbacks),
        notify=notify,
        context_window=connection.context_window,
    )
    remote.check_models(connection.model)
    return remote


def estimator(connection: Connection) -> LLMClient:
    """A client that counts tokens and knows context windows but is never asked to answer:
    what a dry run plans with. A provider model needs neither litellm nor an API key."""
    if parse_model(connection.model).is_local:
        from summarizer.local import LocalClient

        local_client = LocalClient()
        local_client.check_models(connection.model)
        return local_client
    from summarizer.estimate import EstimatingClient

    return EstimatingClient(context_window=connection.context_window)


def warm_up(model: str) -> None:
    """Load an embedded model now, so the first request does not wait for it."""
    ref = parse_model(model)
    if ref.is_local:
        from summarizer import local

        local.get_model(ref.local_name or "")
