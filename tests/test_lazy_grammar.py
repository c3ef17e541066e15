"""The lazy grammar check's fallback gives the token a full grammar mask gives.

On made-up logits with ties where they matter, against the real grammar and the bundled SmolLM2
tokenizer (loaded alone: milliseconds, no model run): whatever ``_best_allowed`` answers
must be the best allowed token (ties to the lower id, as llama.cpp's greedy sampler), and
when it cannot be sure it must say so (``None``: the whole vocabulary is masked then).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from summarizer import local
from summarizer.bundled import resolve_local_path

SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string", "maxLength": 40}},
    "required": ["title"],
}


@pytest.fixture(scope="module")
def sampler() -> Iterator[Any]:
    llama = local._llama_class()(
        model_path=str(resolve_local_path("smollm2")), vocab_only=True, verbose=False
    )
    lazy = llama._init_sampler(
        temp=0.0, repeat_penalty=1.1, grammar=local._grammar(json.dumps(SCHEMA))
    )
    assert isinstance(lazy, local._LazyGrammarSampler)
    yield lazy
    lazy.close()
    llama.close()


def allowed_mask(sampler: Any) -> np.ndarray:
    """The grammar applied to the whole vocabulary at once, as the stock path does."""
    import ctypes

    import llama_cpp

    data = (llama_cpp.llama_token_data * sampler._n_vocab)()
    view = np.ctypeslib.as_array(data)
    view["id"] = np.arange(sampler._n_vocab)
    view["logit"] = 0.0
    candidates = llama_cpp.llama_token_data_array(
        data=data, size=sampler._n_vocab, selected=-1, sorted=False
    )
    llama_cpp.llama_sampler_apply(sampler._grammar, ctypes.byref(candidates))
    allowed = np.zeros(sampler._n_vocab, dtype=bool)
    allowed[view["id"]] = view["logit"] != -np.inf
    return allowed


def full_mask_choice(allowed: np.ndarray, logits: np.ndarray) -> int | None:
    """What masking every token first, then taking the best, gives."""
    if not allowed.any():
        return None
    best = logits[allowed].max()
    return int(np.flatnonzero(allowed & (logits == best))[0])


@pytest.fixture(scope="module")
def allowed(sampler: Any) -> np.ndarray:
    """The tokens the grammar allows as the answer's first token."""
    mask = allowed_mask(sampler)
    assert 0 < mask.sum() < len(mask) / 2
    return mask


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("rank", [0, 10, 63, 64, 500, 4095, 4096, 20000])
def test_the_fallback_is_the_full_masks_token(
    sampler: Any, allowed: np.ndarray, seed: int, rank: int
) -> None:
    allowed_first = np.flatnonzero(allowed)
    rng = np.random.default_rng(seed)
    logits = rng.permutation(sampler._n_vocab).astype(np.float32)
    logits[allowed_first] = -5.0
    # The two best allowed tokens sit at about ``rank`` in the order, tied with each other
    # and with the disallowed tokens around them: only the lower id is right.
    order = np.lexsort((np.arange(len(logits)), -logits))
    logits[rng.choice(allowed_first, 2, replace=False)] = logits[order[rank]]
    sampler._view["logit"] = logits
    answer = sampler._best_allowed()
    expected = full_mask_choice(allowed, logits)
    assert expected is not None
    if rank < 4000:
        assert answer == expected
    else:
        assert answer in (expected, None)


def test_nothing_allowed_among_the_best_means_the_whole_vocabulary(
    sampler: Any, allowed: np.ndarray
) -> None:
    logits = np.zeros(sampler._n_vocab, dtype=np.float32)
    sampler._view["logit"] = logits
    # All tied: the best allowed token is the lowest allowed id, which the ranked sets
    # (ties at their edge) cannot vouch for.
    assert sampler._best_allowed() in (full_mask_choice(allowed, logits), None)
