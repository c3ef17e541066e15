"""The web page at ``/``: paste an article or a link, read its summary or its translation.

Plain HTML, one stylesheet and one script (``summarizer/web/``), read from the installed
package with ``importlib.resources`` and served by the same process: no CDN, no build
step, no framework. The page is a client of the public API like any other: it calls
``POST /v1/summaries`` and ``POST /v1/translations?stream=true`` with the reader's key
(``GET /healthz`` says whether the server wants one). So the page and its files need no
key, and everything it does still does.

Its Content-Security-Policy lets it load and call nothing but this server and run no
inline script or style; Trusted Types make ``innerHTML = string`` throw, so the article
and the model's output, both untrusted, can only be put on the page as text.

The files are sent with ``Cache-Control: no-cache`` and an ``ETag``: a browser asks each
time and gets a ``304`` while they are unchanged, and after an upgrade never runs an old
script against a new page.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "PAGE_URL",
    "STATIC_URL",
    "install_web",
    "is_web_path",
]

PAGE_URL = "/"
STATIC_URL = "/static"

# The page's files in summarizer/web/ and their media types; nothing else is served.
PAGE = "index.html"
STATIC_TYPES = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class WebFile:
    """One of the page's files, read once when the app is made."""

    content: bytes
    media_type: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.content).hexdigest()[:32] + '"'

    def response(self, request: Request) -> Response:
        """The file, or a 304 when the browser's copy (``If-None-Match``) is this one."""
        headers = {**SECURITY_HEADERS, "ETag": self.etag}
        tags = _etags(request.headers.get("if-none-match", ""))
        if self.etag in tags or "*" in tags:
            return Response(status_code=304, headers=headers)
        return Response(self.content, media_type=self.media_type, headers=headers)


def is_web_path(path: str) -> bool:
    """Whether ``path`` (without the ``root_path``) is the page or one of its files:
    ``/`` and ``/static/app.js`` are, ``/static``, ``/statics/x`` and ``/v1/summaries``
    are not."""
    return path == PAGE_URL or path.startswith(STATIC_URL + "/")


def read_web_file(name: str, media_type: str) -> WebFile:
    """``summarizer/web/<name>`` from the installed package (a wheel, a checkout or a zip)."""
    content = (files("summarizer") / "web" / name).read_bytes()
    return WebFile(content, media_type)


def install_web(app: FastAPI) -> None:
    """Serve the page at ``/`` and its files at ``/static/<name>``, left out of the
    OpenAPI document.

    Raises:
        FileNotFoundError: the installation lacks the page's files (a broken build).
    """
    page = read_web_file(PAGE, "text/html; charset=utf-8")
    static = {name: read_web_file(name, kind) for name, kind in STATIC_TYPES.items()}

    @app.get(PAGE_URL, include_in_schema=False)
    async def web_page(request: Request) -> Response:
        return page.response(request)

    @app.get(STATIC_URL + "/{name}", include_in_schema=False)
    async def web_static(name: str, request: Request) -> Response:
        found = static.get(name)
        if found is None:
            raise HTTPException(404, f"No file {STATIC_URL}/{name} on this server.")
        return found.response(request)


def _etags(header: str) -> set[str]:
    """The entity tags an ``If-None-Match`` header lists (weak ones compare as strong)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
