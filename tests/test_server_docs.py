"""The API documentation pages work offline: Swagger UI and ReDoc from installed files.

The pages are checked in a real headless browser (Debian's chromium, driven by
playwright): they render the endpoints, and no request they make leaves 127.0.0.1.
Screenshots go to ``$SUMMARIZER_TEST_ARTIFACTS`` (or the test's ``tmp_path``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from summarizer.server import create_app
from summarizer.server_docs import PUBLIC_PATHS, STATIC_URL, is_public
from tests.fakes import FakeLLM
from tests.test_server import make_summarizer, running, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request

# Per wait in the browser, in milliseconds: generous, as the test machines are shared.
WAIT_MS = 15_000

ENDPOINTS = {("POST", "/v1/summaries"), ("POST", "/v1/translations"), ("GET", "/healthz")}
STATIC_TYPES = {
    "swagger-ui-bundle.js": "javascript",
    "redoc.standalone.js": "javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


def client(root_path: str = "") -> TestClient:
    return TestClient(create_app(make_summarizer(FakeLLM())), root_path=root_path)


def referenced_urls(page: str) -> list[str]:
    """Every ``src``/``href`` and every absolute URL written anywhere in an HTML page."""
    attributes = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", page)
    absolute = re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", page)
    return attributes + absolute


# -- the pages, without a browser ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_pages_reference_only_local_files(path: str) -> None:
    response = client().get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = referenced_urls(response.text)
    assert urls, "the page loads no script?"
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert f"{STATIC_URL}/" in response.text
    assert "fonts.googleapis" not in response.text
    assert "cdn" not in response.text.lower()


def test_swagger_ui_validator_badge_is_off() -> None:
    page = client().get("/docs").text
    assert '"validatorUrl": null' in page


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_pages_may_load_only_from_the_server(path: str) -> None:
    policy = client().get(path).headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    for directive, sources in directives.items():
        assert "http" not in sources and "*" not in sources, directive


def test_pages_honour_the_root_path() -> None:
    # As uvicorn --root-path passes them on: the path still starts with the root path.
    with client(root_path="/proxy") as proxied:
        swagger = proxied.get("/proxy/docs").text
        redoc = proxied.get("/proxy/redoc").text
        script = proxied.get(f"/proxy{STATIC_URL}/swagger-ui-bundle.js")
    assert f"/proxy{STATIC_URL}/swagger-ui-bundle.js" in swagger
    assert "/proxy/openapi.json" in swagger
    assert "/proxy/docs/oauth2-redirect" in swagger
    assert f"/proxy{STATIC_URL}/redoc.standalone.js" in redoc
    assert "/proxy/openapi.json" in redoc
    assert script.status_code == 200


def test_static_files_are_served_with_their_content_types() -> None:
    with client() as docs:
        for name, kind in STATIC_TYPES.items():
            response = docs.get(f"{STATIC_URL}/{name}")
            assert response.status_code == 200, name
            assert kind in response.headers["content-type"], (name, response.headers)
            assert len(response.content) > 1000, name
        assert docs.get(f"{STATIC_URL}/nothing.js").status_code == 404
        assert docs.get("/docs/oauth2-redirect").status_code == 200


def test_the_pages_are_not_in_the_openapi_document() -> None:
    paths = client().get("/openapi.json").json()["paths"]
    assert not {p for p in paths if p.startswith(("/docs", "/redoc", STATIC_URL))}


def test_public_paths_are_the_pages_their_files_and_the_document() -> None:
    assert set(PUBLIC_PATHS) == {"/docs", "/redoc", STATIC_URL, "/openapi.json"}
    for path in ("/docs", "/docs/oauth2-redirect", f"{STATIC_URL}/swagger-ui.css", "/redoc"):
        assert is_public(path), path
    for path in ("/docsx", "/v1/summaries", "/healthz", "/openapi.json.bak", "/", ""):
        assert not is_public(path), path


def test_without_fastapi_offline_the_pages_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "fastapi_offline", None)  # import fails
    with client() as docs:
        for path in ("/docs", "/redoc"):
            response = docs.get(path)
            assert response.status_code == 503
            assert "pip install &quot;summarizer[server]&quot;" in response.text
            assert all(url.startswith(".") for url in referenced_urls(response.text))
        assert docs.get(f"{STATIC_URL}/swagger-ui.css").status_code == 404
        assert docs.get("/healthz").status_code == 200


# -- the pages in a browser ------------------------------------------------------------------


class Visit:
    """A page opened in a fresh browser context, with every request it made."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.requests: list[Request] = []
        self.errors: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request))
        # Anything bound elsewhere is refused here, so a failure cannot wait on the network.
        self.context.route(
            "**/*",
            lambda route: route.continue_() if _local(route.request.url) else route.abort(),
        )
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, url: str) -> Page:
        response = self.page.goto(url, wait_until="load", timeout=WAIT_MS)
        assert response is not None and response.status == 200
        return self.page

    def finish(self, screenshot: Path) -> list[str]:
        """Wait for the page to go quiet, save a screenshot, check what it fetched; return
        what the page's Content-Security-Policy stopped before it reached the network."""
        self.page.wait_for_load_state("networkidle", timeout=WAIT_MS)
        self.page.screenshot(path=screenshot)
        print(f"screenshot: {screenshot}")
        refused = [r.url for r in self.requests if r.failure == "csp"]
        sent = [r.url for r in self.requests if r.failure != "csp"]
        self.context.close()
        assert sent
        assert [url for url in sent if not _local(url)] == []
        assert self.errors == []
        return refused


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or parts.hostname == "127.0.0.1"


def test_swagger_ui_renders_the_endpoints_offline(browser: Browser, artifacts: Path) -> None:
    with running(serve(FakeLLM())) as url:
        visit = Visit(browser)
        page = visit.open(f"{url}/docs")
        page.wait_for_selector(".opblock .opblock-summary-path", timeout=WAIT_MS)
        operations = page.eval_on_selector_all(
            ".opblock",
            """blocks => blocks.map(block => [
                block.querySelector('.opblock-summary-method').textContent.trim(),
                block.querySelector('.opblock-summary-path').getAttribute('data-path'),
            ])""",
        )
        title = page.inner_text(".info .title")
        refused = visit.finish(artifacts / "swagger-ui.png")
    assert {tuple(operation) for operation in operations} >= ENDPOINTS
    assert "summarizer" in title
    assert refused == []


def test_redoc_renders_the_endpoints_offline(browser: Browser, artifacts: Path) -> None:
    with running(serve(FakeLLM())) as url:
        visit = Visit(browser)
        page = visit.open(f"{url}/redoc")
        page.wait_for_selector("[data-section-id^='operation/']", timeout=WAIT_MS)
        operations = page.eval_on_selector_all(
            "[data-section-id^='operation/']",
            """sections => sections.map(section => [
                section.querySelector('.http-verb').textContent.trim().toUpperCase(),
                section.querySelector('.http-verb').nextElementSibling.textContent.trim(),
            ])""",
        )
        refused = visit.finish(artifacts / "redoc.png")
    assert {tuple(operation) for operation in operations} >= ENDPOINTS
    # Its bundle shows its maker's logo from cdn.redoc.ly; refused, the logo hides itself.
    assert all(urlsplit(url).hostname == "cdn.redoc.ly" for url in refused), refused
