"""The web page at ``/`` (``summarizer/server_web.py``, ``summarizer/web/``).

Its headers and files are checked over HTTP; the page itself in a real headless browser
(Debian's chromium, driven by playwright, as in ``tests/test_server_docs.py``) against one
live server on loopback with API keys on and ``FakeLLM`` as the model. One browser and one
server serve the whole module; each test opens its own browser context. Screenshots go to
``$SUMMARIZER_TEST_ARTIFACTS`` (or the test's ``tmp_path``).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from summarizer.llm import ChatRequest, ChatResponse
from summarizer.pipeline import prepare
from summarizer.server import create_app
from summarizer.server_access import KeyRing, Limits
from summarizer.server_web import CONTENT_SECURITY_POLICY, STATIC_TYPES, is_web_path
from tests.conftest import SEED
from tests.fakes import FakeLLM, draft
from tests.test_server import make_summarizer, running

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

KEY = "web-page-test-key-0123456789"
WEB = Path(__file__).resolve().parent.parent / "summarizer" / "web"
# Read at import: the autouse isolated_env fixture clears SUMMARIZER_* before each test.
# Per wait in the browser, in milliseconds: generous, as the test machines are shared.
WAIT_MS = 15_000


def app(*, keys: bool = True) -> FastAPI:
    ring = KeyRing([f"web:{KEY}"], source="test") if keys else None
    limits = Limits(requests_per_minute=0, tokens_per_day=0)
    return create_app(make_summarizer(FakeLLM()), keys=ring, limits=limits if keys else None)


# -- over HTTP, without a browser ------------------------------------------------------------


def test_the_page_and_its_files_need_no_key_but_the_api_does() -> None:
    with TestClient(app()) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        for name, kind in STATIC_TYPES.items():
            response = client.get(f"/static/{name}")
            assert response.status_code == 200, name
            assert response.headers["content-type"] == kind
            assert response.content == (WEB / name).read_bytes()
        assert client.get("/static/nothing.js").json()["error"] == "not_found"
        assert client.get("/static/%2e%2e%2fserver.py").status_code == 404  # no way out
        assert client.get("/v1/models").status_code == 401
        assert client.get("/healthz").json()["auth"] is True
    with TestClient(app(keys=False)) as client:
        assert client.get("/healthz").json()["auth"] is False


def test_the_page_has_a_strict_policy_and_is_revalidated() -> None:
    with TestClient(app()) as client:
        for path in ("/", "/static/app.js", "/static/app.css"):
            response = client.get(path)
            headers = response.headers
            assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["cache-control"] == "no-cache"
            again = client.get(path, headers={"If-None-Match": headers["etag"]})
            assert (again.status_code, again.content) == (304, b"")
            assert client.get(path, headers={"If-None-Match": '"old"'}).status_code == 200
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'self'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY and "http" not in CONTENT_SECURITY_POLICY
    assert directives["require-trusted-types-for"] == "'script'"


def test_the_page_runs_no_inline_code_and_names_no_host() -> None:
    html = (WEB / "index.html").read_text()
    script = (WEB / "app.js").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert re.findall(r"\s(?:on\w+|style)\s*=", html) == []
    assert "<style" not in html
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html)
    # Relative, so that the page works behind a proxy's root path too.
    assert urls and all(not url.startswith(("/", "http")) for url in urls), urls
    assert re.findall(r"\.(?:inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", script) == []
    assert re.findall(r"https?://", script) == []  # it calls only its own server


@pytest.mark.parametrize(
    ("path", "public"),
    [
        ("/", True),
        ("/static/app.js", True),
        ("/static/", True),
        ("/static", False),
        ("/statics/app.js", False),
        ("", False),
        ("/v1/summaries", False),
        ("/index.html", False),
    ],
)
def test_web_paths(path: str, public: bool) -> None:
    assert is_web_path(path) is public


def test_the_page_works_behind_a_root_path() -> None:
    with TestClient(app(), root_path="/proxy") as client:
        assert client.get("/proxy/").status_code == 200
        assert client.get("/proxy/static/app.js").status_code == 200


# -- in a browser ----------------------------------------------------------------------------


class GatedLLM(FakeLLM):
    """``FakeLLM`` that, while ``holding``, translates the seed article in several chunks and
    lets only the first through until released: the page must show it before the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.passed = 0

    def complete(self, request: ChatRequest) -> ChatResponse:
        if request.task == "translate" and not self.gate.is_set():
            if self.passed >= 1:
                self.gate.wait(WAIT_MS / 1000)
            self.passed += 1
        return super().complete(request)

    @contextmanager
    def holding(self) -> Iterator[threading.Event]:
        """Yield the gate: set it to let the other chunks through."""
        window, self.window, self.passed = self.window, 700, 0
        self.gate.clear()
        try:
            yield self.gate
        finally:
            self.gate.set()
            self.window = window


@pytest.fixture(scope="module")
def fake() -> GatedLLM:
    return GatedLLM()


@pytest.fixture(scope="module")
def server(fake: GatedLLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server with keys on for the module, in the environment conftest's isolated_env
    gives each test (a module fixture is made before it)."""
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith("SUMMARIZER_") or name.endswith("_API_KEY"):
                env.delenv(name)
        env.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
        env.setenv("SUMMARIZER_CHECK_REPAIRS", "0")  # canned answers are shown as they are
        ring = KeyRing([f"web:{KEY}"], source="test")
        limits = Limits(requests_per_minute=0, tokens_per_day=0)
        served = create_app(make_summarizer(fake), keys=ring, limits=limits)
        with running(served) as url:
            yield url


class Visit:
    """The page in a fresh browser context, with its console errors and uncaught ones."""

    def __init__(self, browser: Browser, url: str, **context: Any) -> None:
        context.setdefault("viewport", {"width": 1100, "height": 900})
        self.context = browser.new_context(**context)
        # Anything bound elsewhere is refused, so a failure cannot wait on the network.
        self.context.route(
            "**/*",
            lambda route: route.continue_() if _local(route.request.url) else route.abort(),
        )
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on(
            "console",
            lambda message: (
                self.errors.append(f"console: {message.text}") if message.type == "error" else None
            ),
        )
        response = self.page.goto(f"{url}/", wait_until="load")
        assert response is not None and response.status == 200
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY

    def ask(
        self, article: str, *, task: str = "summary", language: str = "English", key: str = KEY
    ) -> None:
        """Enter the key, the article, the language and the task; submit with Ctrl+Enter."""
        self.page.locator("#api-key").wait_for(state="visible")  # /healthz: auth is on
        self.page.fill("#api-key", key)
        self.page.fill("#article", article)
        self.page.fill("#language", language)
        self.page.check(f"input[name=task][value={task}]")
        self.page.press("#article", "Control+Enter")

    def summarize(self, article: str) -> dict[str, Any]:
        """Ask for a summary; return the API's JSON once the page has rendered it."""
        with self.page.expect_response("**/v1/summaries") as answer:
            self.ask(article)
        self.page.locator("#result .raw").wait_for()
        summary: dict[str, Any] = answer.value.json()
        return summary

    def text(self, selector: str) -> list[str]:
        return [text.strip() for text in self.page.locator(selector).all_text_contents()]

    def screenshot(self, path: Path) -> None:
        self.page.screenshot(path=path, full_page=True)
        print(f"screenshot: {path}")


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or parts.hostname == "127.0.0.1"


@pytest.fixture
def visit(browser: Browser, server: str, fake: GatedLLM) -> Iterator[Callable[..., Visit]]:
    """Open the page (``visit(**context_options)``); every context is closed afterwards, and
    replies a failed test left queued are dropped."""
    opened: list[Visit] = []

    def open_page(**context: Any) -> Visit:
        opened.append(Visit(browser, server, **context))
        return opened[-1]

    yield open_page
    for each in opened:
        each.context.close()
    fake.replies.clear()


@pytest.fixture(scope="module")
def seed() -> str:
    return SEED.read_text(encoding="utf-8")


CANNED = draft(key_points=[*draft()["key_points"], "The talks lasted 97 minutes."])


def test_a_summary_is_rendered_whole(
    visit: Callable[..., Visit], fake: GatedLLM, seed: str, artifacts: Path
) -> None:
    fake.enqueue(CANNED)
    page = visit()
    summary = page.summarize(seed)
    assert page.text("#result h2") == [summary["title"]]
    assert page.text("#result .lead") == [summary["summary"]]
    sections = set(page.text("#result h3"))
    assert {"Key points", "Who and what", "Dates", "Quotes", "How it was made"} <= sections
    body = page.page.inner_text("#result")
    for point in summary["key_points"]:
        assert point in page.text("#result ul.items li")
    assert summary["entities"][0]["name"] in body
    assert summary["dates"][0]["event"] in body
    assert summary["dates"][0]["date"] in page.text("#result time")
    assert summary["quotes"][0]["text"] in page.text("#result blockquote")
    assert summary["meta"]["model"] in body
    # The made-up number fails the grounding check, shown first and with its finding.
    warning = page.page.inner_text("#result .warning")
    assert "grounding" in warning and "97" in warning
    assert page.page.get_attribute("#result > :first-child", "class") == "warning"
    page.screenshot(artifacts / "web-summary.png")
    assert page.errors == []


def test_a_translation_streams_in(
    visit: Callable[..., Visit], fake: GatedLLM, seed: str, artifacts: Path
) -> None:
    page = visit()
    source = prepare(seed)[0].paragraphs
    with fake.holding() as gate:
        page.ask(seed, task="translation")
        first = page.page.locator("#result .paragraphs p").first
        first.wait_for()
        # Only the first chunk is in: the rest is still being "translated".
        streamed = page.text("#result .paragraphs p")
        assert 0 < len(streamed) < len(source)
        assert page.page.is_disabled("#submit") and page.page.is_visible("#cancel")
        assert page.page.locator("#result .raw").count() == 0
        gate.set()
        page.page.locator("#result .raw").wait_for()
    done = json.loads(page.page.text_content("#result pre.json") or "")
    assert page.text("#result .paragraphs p") == done["paragraphs"]
    assert len(done["paragraphs"]) == len(source) and done["meta"]["chunks"] > 1
    assert done["paragraphs"][: len(streamed)] == streamed
    assert page.page.is_enabled("#submit") and page.page.is_hidden("#cancel")
    page.screenshot(artifacts / "web-translation.png")
    assert page.errors == []


def test_a_phone_in_dark_mode(
    visit: Callable[..., Visit], fake: GatedLLM, seed: str, artifacts: Path
) -> None:
    long_word = "https://example.com/" + "a-very-long-path-segment-" * 8
    fake.enqueue({**CANNED, "key_points": [*CANNED["key_points"], long_word]})
    page = visit(viewport={"width": 375, "height": 812}, color_scheme="dark", is_mobile=True)
    page.summarize(seed)
    page.page.click("#result details summary")  # the JSON too, open
    assert page.page.evaluate("document.documentElement.scrollWidth") <= 375
    background = page.page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(value) for value in re.findall(r"\d+", background)[:3])
    assert max(red, green, blue) < 64, background
    page.screenshot(artifacts / "web-phone-dark.png")
    assert page.errors == []


def test_model_output_is_rendered_as_text(
    visit: Callable[..., Visit], fake: GatedLLM, seed: str
) -> None:
    title = '<img src=x onerror="window.pwned=1">'
    point = "<script>window.pwned=2</script>"
    fake.enqueue(draft(title=title, key_points=[point, "<b>bold</b>"]))
    page = visit()
    page.summarize(seed)
    assert page.text("#result h2") == [title]
    assert point in page.text("#result ul.items li")
    assert page.page.locator("#result img, #result script, #result b").count() == 0
    assert page.page.evaluate("window.pwned") is None
    assert page.errors == []  # nor did Trusted Types have to refuse anything


@pytest.mark.parametrize(
    ("key", "language", "heading", "kind"),
    [
        ("not-the-key-0123456789", "English", "This server needs an API key", "invalid_api_key"),
        (KEY, "Klingonese", "The server cannot work with this input", "unknown_language"),
    ],
)
def test_errors_are_shown_readably(
    visit: Callable[..., Visit], seed: str, key: str, language: str, heading: str, kind: str
) -> None:
    page = visit()
    page.ask(seed, language=language, key=key)
    error = page.page.locator("#error h2")
    error.wait_for()
    assert error.inner_text() == heading
    text = page.page.inner_text("#error")
    assert kind in text and "HTTP" in text
    assert "null" not in text and "undefined" not in text
    assert page.text("#error .hint")[0]  # how to fix it
    if kind == "invalid_api_key":
        assert page.page.evaluate("document.activeElement.id") == "api-key"
    assert page.page.is_enabled("#submit")


def _fulfil(route: Route, status: int, body: dict[str, Any], **headers: str) -> None:
    route.fulfill(
        status=status, content_type="application/json", body=json.dumps(body), headers=headers
    )


@pytest.mark.parametrize("task", ["summary", "translation"])
def test_a_link_is_sent_as_url(visit: Callable[..., Visit], task: str) -> None:
    # This server does not fetch (no --allow-fetch): a 403 that says to paste the text.
    page = visit()
    with page.page.expect_request("**/v1/*") as request:
        page.ask("  https://example.com/news/antalya-talks  ", task=task)
    page.page.locator("#error").wait_for()
    link = "https://example.com/news/antalya-talks"
    assert request.value.post_data_json == {"url": link, "target_language": "English"}
    assert page.page.inner_text("#error h2") == "Not allowed on this server"
    assert "url_not_allowed" in page.page.inner_text("#error .kind")
    assert "text instead" in page.page.inner_text("#error .hint")


def test_a_server_without_links_and_a_spent_limit_say_what_to_do(
    visit: Callable[..., Visit],
) -> None:
    # Answered here: as a server from before links refuses the url field, and a 429.
    page = visit()
    refusal = {
        "error": "invalid_request",
        "message": "The request does not validate: url: Extra inputs are not permitted.",
        "hint": "Send a JSON object such as ...",
        "details": [{"field": "url", "message": "Extra inputs are not permitted"}],
    }
    page.page.route("**/v1/summaries", lambda route: _fulfil(route, 422, refusal))
    page.ask("https://example.com/news/antalya-talks")
    page.page.locator("#error").wait_for()
    assert "paste the article's text instead" in page.page.inner_text("#error .hint")
    assert "url" in page.text("#error .details code")

    page.page.unroute("**/v1/summaries")
    spent = {"error": "rate_limited", "message": "This key has used its 60 requests a minute."}
    page.page.route(
        "**/v1/summaries", lambda route: _fulfil(route, 429, spent, **{"Retry-After": "7"})
    )
    page.page.fill("#article", "Some article text.")
    page.page.click("#submit")
    page.page.get_by_text("Try again in 7 s.").wait_for()
    assert page.page.inner_text("#error h2") == "Too many requests"
    assert "null" not in page.page.inner_text("#error")  # it has no hint: nothing shown


def test_copy_json_puts_the_api_answer_on_the_clipboard(
    visit: Callable[..., Visit], fake: GatedLLM, seed: str
) -> None:
    fake.enqueue(CANNED)
    page = visit(permissions=["clipboard-read", "clipboard-write"])
    summary = page.summarize(seed)
    page.page.click("text=Copy JSON")
    page.page.get_by_text("JSON copied to the clipboard.").wait_for()
    assert json.loads(page.page.evaluate("navigator.clipboard.readText()")) == summary
    assert json.loads(page.page.text_content("#result pre.json") or "") == summary
    assert page.errors == []


def test_without_a_clipboard_copy_json_selects_the_json(
    visit: Callable[..., Visit], fake: GatedLLM, seed: str
) -> None:
    fake.enqueue(CANNED)
    page = visit()
    # As on a page served over plain http to another machine: no navigator.clipboard.
    page.page.evaluate("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    summary = page.summarize(seed)
    page.page.click("text=Copy JSON")
    page.page.get_by_text("press Ctrl+C").wait_for()
    assert page.page.is_visible("#result pre.json")  # its <details> opened
    assert json.loads(page.page.evaluate("getSelection().toString()")) == summary


def test_a_request_can_be_cancelled(visit: Callable[..., Visit], fake: GatedLLM, seed: str) -> None:
    page = visit()
    with fake.holding():
        page.ask(seed, task="translation")
        page.page.locator("#result .paragraphs p").first.wait_for()
        page.page.click("#cancel")
        page.page.get_by_text("Cancelled.").wait_for()
        assert page.page.is_enabled("#submit") and page.page.is_hidden("#progress")
    assert page.page.locator("#error").is_hidden()
    assert page.errors == []
