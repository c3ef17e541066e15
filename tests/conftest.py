from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fakes import FakeLLM

if TYPE_CHECKING:
    from playwright.sync_api import Browser

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


# -- the browser tests (the docs pages, the web page) ----------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet: without the background-networking flags chromium calls Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Read at import: the autouse isolated_env fixture clears SUMMARIZER_* before each test.
ARTIFACTS = os.environ.get("SUMMARIZER_TEST_ARTIFACTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, for this module's tests."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the browser tests need playwright: pip install -e '.[dev]'"
    )
    if not CHROMIUM.exists():
        pytest.skip(f"the browser tests need chromium at {CHROMIUM}: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(ARTIFACTS) if ARTIFACTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder
