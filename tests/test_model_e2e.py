"""The real bundled default model on the seed article, through the CLI, end to end.

Shares its one real run with ``test_offline.py`` (see ``real_run``).
"""

from __future__ import annotations

import pytest

from summarizer.models import DEFAULT_LOCAL_MODEL, LOCAL_PREFIX
from summarizer.schema import Summary
from tests.test_offline import real_run

DEFAULT_MODEL = LOCAL_PREFIX + DEFAULT_LOCAL_MODEL


@pytest.mark.model
def test_the_default_model_summarises_the_seed_article_into_valid_json() -> None:
    run = real_run()

    assert run.returncode == 0, run.stderr[-3000:]
    summary = Summary.model_validate_json(run.stdout)
    assert summary.summary.strip()
    assert summary.title.strip()
    assert summary.source_language == "id"
    assert summary.target_language == "en"
    assert summary.meta.model == DEFAULT_MODEL
    assert summary.meta.calls >= 1 and summary.meta.chunks == 1
    assert summary.meta.usage.input_tokens > 0 and summary.meta.usage.output_tokens > 0
    assert summary.meta.cost_usd == 0.0
    assert len(summary.meta.prompt_sha256) == 64
    assert "TRIBUNNEWSSULTRA.COM -" in summary.meta.removed_noise
    # Told on stderr, once, that a small demo model is in use.
    assert run.stderr.count("small bundled demo model") == 1
