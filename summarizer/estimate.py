"""What a dry run needs to know about a provider's model, without importing litellm.

``summarize FILE --model openai/gpt-4o-mini --dry-run`` plans the calls a real run would
make: it counts tokens and reads the model's context window, and sends nothing. Importing
litellm for that takes seconds, and its client wants an API key; ``EstimatingClient``
answers from the same data litellm would use, read directly from its installed files:

* the context window from litellm's bundled price and context map
  (``model_prices_and_context_window_backup.json``, the map ``client.py`` makes litellm use),
  parsed once per process;
* token counts with tiktoken and the encodings litellm ships for offline use (it points
  ``TIKTOKEN_CACHE_DIR`` at ``litellm/litellm_core_utils/tokenizers``; so do we, while an
  encoding loads), or, where neither is installed, an estimate of one token per four
  characters.

How close that comes to litellm (measured on the articles in ``examples/`` and
``evals/articles/``, litellm 1.110): token counts within 0.3% of ``litellm.token_counter``
for OpenAI and the other tiktoken-counted models; 12% more for DeepSeek, whose own
tokenizer litellm ships (and Llama 3 or Cohere models, whose tokenizers litellm downloads,
are counted with cl100k_base). Context windows agree with ``litellm.get_model_info`` for 93%
of the map's 5,536 model spellings; most of the rest are Bedrock and Vertex spellings, and
aliases litellm resolves by guessing from similar models (``anthropic/claude-opus-4``),
which get the fallback window here: more chunks than needed, never an overflow.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarizer.errors import UsageError
from summarizer.models import parse_model

if TYPE_CHECKING:
    from summarizer.llm import ChatRequest, ChatResponse

# The window of a model litellm does not know, here and in client.py: small enough for any
# chat model we know of, so the worst case is more chunks than needed, never an overflow.
FALLBACK_CONTEXT_WINDOW = 8192
# The estimate where tiktoken or litellm's encodings are missing: English prose averages
# about four characters a token with OpenAI's encodings, other languages fewer.
CHARS_PER_TOKEN = 4
_MAP_FILE = "model_prices_and_context_window_backup.json"
_TOKENIZERS = ("litellm_core_utils", "tokenizers")
# Where tiktoken downloads each encoding from: its cache file is named by the URL's SHA-1.
_ENCODING_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
_ENV_LOCK = threading.Lock()


class EstimatingClient:
    """An ``LLMClient`` that counts tokens and knows context windows, and never answers.

    For provider models (a bundled ``local/`` model is measured by ``summarizer.local``,
    as ``LiteLLMClient`` does). Wrap it in ``llm.DryRunClient``, which never calls
    ``complete`` on the client it measures with.

    Args:
        context_window: tokens every provider model accepts, instead of what litellm's map
            says (the ``LiteLLMClient`` argument of the same name; a dry run plans what the
            real run would).
    """

    def __init__(self, *, context_window: int | None = None) -> None:
        if context_window is not None and context_window <= 0:
            raise UsageError(
                f"--context-window must be a positive number of tokens, not {context_window}.",
                hint="For example --context-window 32768.",
            )
        self.context_window_override = context_window

    def complete(self, request: ChatRequest) -> ChatResponse:
        raise NotImplementedError(
            f"EstimatingClient only measures: it cannot ask {request.model} (wrap it in "
            "llm.DryRunClient)."
        )

    def count_tokens(self, model: str, text: str) -> int:
        ref = parse_model(model)
        if ref.is_local:
            from summarizer import local

            return local.count_tokens(ref.local_name or "", text)
        encoding = _encoding(_encoding_name(model))
        if encoding is None:
            return math.ceil(len(text) / CHARS_PER_TOKEN)
        return len(encoding.encode(text, disallowed_special=()))

    def context_window(self, model: str) -> int:
        ref = parse_model(model)
        if ref.is_local:
            from summarizer import local

            return local.DEFAULT_N_CTX
        if self.context_window_override is not None:
            return self.context_window_override
        return known_context_window(model) or FALLBACK_CONTEXT_WINDOW


def known_context_window(model: str) -> int | None:
    """Input tokens litellm's map gives ``model`` (``max_input_tokens``, else
    ``max_tokens``), or ``None`` when it does not list the model.

    ``provider/name`` is looked up as written (``gemini/gemini-1.5-flash`` is listed so),
    then as ``name`` when that entry is the same provider's (``openai/gpt-4o-mini`` is
    listed as ``gpt-4o-mini``): the lookups litellm's ``get_model_info`` makes first.
    """
    entry = _entry(model)
    if entry is None:
        return None
    window = entry.get("max_input_tokens") or entry.get("max_tokens")
    return int(window) if isinstance(window, int | float) and window > 0 else None


def _entry(model: str) -> dict[str, Any] | None:
    table = _model_map()
    entry = table.get(model)
    if isinstance(entry, dict):
        return entry
    provider, _, name = model.partition("/")
    entry = table.get(name) if name else None
    if isinstance(entry, dict) and entry.get("litellm_provider") == provider:
        return entry
    return None


@lru_cache(maxsize=1)
def _model_map() -> dict[str, Any]:
    """litellm's bundled map, parsed once per process; empty when litellm is not installed."""
    folder = _litellm_folder()
    if folder is None:
        return {}
    try:
        loaded = json.loads((folder / _MAP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


@lru_cache(maxsize=1)
def _litellm_folder() -> Path | None:
    """The installed litellm package's folder, found without importing it."""
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def _encoding_name(model: str) -> str:
    """The tiktoken encoding litellm counts ``model`` with on its tiktoken path: o200k_base
    for the gpt-4o family, tiktoken's own choice for the OpenAI models it knows, else
    litellm's default, cl100k_base."""
    name = model.rsplit("/", 1)[-1]
    if "gpt-4o" in name:
        return "o200k_base"
    try:
        from tiktoken.model import encoding_name_for_model
    except ImportError:
        return "cl100k_base"
    try:
        return encoding_name_for_model(name)
    except KeyError:
        return "cl100k_base"


@lru_cache(maxsize=8)
def _encoding(name: str) -> Any:
    """tiktoken's ``name`` encoding from litellm's offline copy, or ``None`` if there is none
    (never a download: tiktoken is only asked when litellm's folder holds the file)."""
    folder = _litellm_folder()
    if folder is None:
        return None
    cache = folder.joinpath(*_TOKENIZERS)
    if not (cache / hashlib.sha1(_ENCODING_URL.format(name).encode()).hexdigest()).is_file():
        return None
    try:
        import tiktoken
    except ImportError:
        return None
    with _ENV_LOCK:  # tiktoken reads its cache folder from the environment, at load time
        before = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
        try:
            return tiktoken.get_encoding(name)
        except Exception:  # a broken copy: estimate rather than fail the dry run
            return None
        finally:
            if before is None:
                del os.environ["TIKTOKEN_CACHE_DIR"]
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = before
