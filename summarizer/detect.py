"""Offline source-language identification: the only module that imports py3langid.

py3langid ships its model inside the wheel, so this works with no network.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> tuple[str, float]:
    """Return the ISO 639-1 code of ``text`` and a probability in [0, 1]."""
    code, probability = _identifier().classify(text)
    return str(code), float(probability)
