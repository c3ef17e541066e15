from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fakes import FakeLLM

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "antalya-talks.id.txt"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """No test reads the user's config or reaches a real provider by accident."""
    for name in list(os.environ):
        if (
            name.endswith("_API_KEY")
            or name.startswith("SUMMARIZER_")
            or name
            in (
                "OPENAI_API_BASE",
                "OPENAI_BASE_URL",
            )
        ):
            monkeypatch.delenv(name, raising=False)
    config_home = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    # The response cache too: no test reads or fills the user's (summarizer/cache.py).
    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # Most tests answer with canned summaries of some other article, which fail the
    # content checks; re-asking them would change every call count. The tests of the
    # checks (tests/test_checks.py) turn the re-ask on, as the default settings do.
    monkeypatch.setenv("SUMMARIZER_CHECK_REPAIRS", "0")


@pytest.fixture
def fake_llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
def seed_article() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture
def seed_path() -> Path:
    return SEED
