"""The service's API documentation pages, served from installed files so they work offline.

FastAPI's own ``/docs`` and ``/redoc`` load Swagger UI, ReDoc, a favicon and Google fonts
from the internet, so on an offline machine they are blank. Here the same pages load the
copies the ``fastapi-offline`` package ships (``fastapi_offline/static/``), mounted at
``/docs-static``; nothing on them names a host, so they work behind a ``root_path`` too.
Swagger UI's validator badge, which sends the document to validator.swagger.io, is off,
and a Content-Security-Policy lets the pages load nothing from anywhere but the server
(ReDoc's bundle fetches its maker's logo from a CDN; refused, the logo hides itself).

Without ``fastapi-offline`` installed, ``/docs`` and ``/redoc`` answer 503 with a page
saying what to install, rather than a page that would fetch its scripts from a CDN.
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["DOCS_URL", "PUBLIC_PATHS", "REDOC_URL", "STATIC_URL", "install_docs", "is_public"]

DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
REDOC_URL = "/redoc"
STATIC_URL = "/docs-static"
OPENAPI_URL = "/openapi.json"

# Paths anyone may read without a key: the pages and the files they load. Each is a
# path or a folder: ``is_public`` matches it exactly or followed by "/".
PUBLIC_PATHS: tuple[str, ...] = (DOCS_URL, REDOC_URL, STATIC_URL, OPENAPI_URL)

# Off: the badge sends the whole OpenAPI document to https://validator.swagger.io.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}

# The pages may load from this server only. Swagger UI's page starts it with an inline
# script; both UIs set inline styles; ReDoc runs its search in a worker made from a blob.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

INSTALL_HINT = 'pip install "summarizer[server]"'


def is_public(path: str) -> bool:
    """Whether ``path`` (without the ``root_path``) is one of ``PUBLIC_PATHS`` or inside one:
    ``/docs`` and ``/docs/oauth2-redirect`` are, ``/docsx`` and ``/v1/summaries`` are not."""
    return any(path == public or path.startswith(public + "/") for public in PUBLIC_PATHS)


def static_dir() -> Path | None:
    """The folder of Swagger UI and ReDoc files ``fastapi-offline`` installed, if it did."""
    try:
        folder = files("fastapi_offline") / "static"
    except ImportError:
        return None
    # Installed from a wheel it is a real folder; StaticFiles cannot serve from a zip.
    path = Path(str(folder))
    return path if (path / "swagger-ui-bundle.js").is_file() else None


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` and ReDoc at ``/redoc`` from installed files.

    ``app`` is made with ``docs_url=None, redoc_url=None`` and its OpenAPI document at
    ``/openapi.json``. The pages are left out of that document.
    """
    if app.openapi_url != OPENAPI_URL:
        raise ValueError(f"the API documentation pages read {OPENAPI_URL}, not {app.openapi_url}")
    folder = static_dir()
    if folder is None:
        _install_missing(app)
        return
    app.mount(STATIC_URL, StaticFiles(directory=folder), name="docs-static")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root_path(request)
        return _offline(
            get_swagger_ui_html(
                openapi_url=root + OPENAPI_URL,
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
                swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
                swagger_ui_parameters={
                    **(app.swagger_ui_parameters or {}),
                    **SWAGGER_UI_PARAMETERS,
                },
            )
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _offline(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root_path(request)
        return _offline(
            get_redoc_html(
                openapi_url=root + OPENAPI_URL,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
                with_google_fonts=False,
            )
        )


def _install_missing(app: FastAPI) -> None:
    """``/docs`` and ``/redoc`` say what to install, with a 503."""

    async def missing() -> HTMLResponse:
        message = (
            "The API documentation pages need the fastapi-offline package, which this "
            f"installation lacks. Install it with: {INSTALL_HINT}"
        )
        page = (
            "<!DOCTYPE html><html><head><title>API documentation unavailable</title></head>"
            f"<body><h1>API documentation unavailable</h1><p>{html.escape(message)}</p>"
            f'<p>The OpenAPI document is at <a href=".{OPENAPI_URL}">{OPENAPI_URL}</a>.</p>'
            "</body></html>"
        )
        return _offline(HTMLResponse(page, status_code=503))

    for path in (DOCS_URL, REDOC_URL):
        app.add_api_route(path, missing, methods=["GET"], include_in_schema=False)


def _offline(page: HTMLResponse) -> HTMLResponse:
    """``page``, allowed to load nothing from anywhere but this server."""
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


def _root_path(request: Request) -> str:
    """Where a proxy mounts the app (``--root-path``), without a trailing slash."""
    return str(request.scope.get("root_path", "")).rstrip("/")
