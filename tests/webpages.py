"""A news site on 127.0.0.1 for the tests: the pages in tests/pages/ and some bad routes.

    with serve_pages() as site:
        fetch_page(site.url("/page/measles-campaign.en.html"), FetchLimits(allow_private=True))

Routes::

    /page/NAME                 tests/pages/NAME as text/html (no charset); ?type=T sends
                               Content-Type T instead, ?type= sends none
    /text                      a short text/plain article
    /redirect-to/PATH          302 to /PATH
    /redirect-loop             302 to itself
    /redirect-private          302 to http://127.0.0.1:PORT/page/measles-campaign.en.html
    /big, /big-chunked         BIG_BYTES of HTML, with a Content-Length / without one
    /slow?s=N                  waits N seconds (default 2) before answering
    /drip?n=N&every=S          N bytes of HTML, one every S seconds
    /doc.pdf                   application/pdf
    /status/CODE               that HTTP status

Every request's path and headers are recorded in ``site.requests``. Stdlib only.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PAGES = Path(__file__).resolve().parent / "pages"
BIG_BYTES = 300_000
TEXT_ARTICLE = (
    "Port Linden fishermen report best sardine season in a decade.\n\n"
    "Boats landed 4,200 tonnes of sardines between June and October, the harbour office said."
)


@dataclass
class PageSite:
    """The running server: its port, the requests it saw, and a way to stop slow routes."""

    port: int
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


class _Handler(BaseHTTPRequestHandler):
    site: PageSite  # set on a subclass per server

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.site.requests.append((self.path, dict(self.headers.items())))
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        route, _, rest = parts.path.lstrip("/").partition("/")
        handler = getattr(self, f"_{route.replace('-', '_').replace('.', '_')}", None)
        if handler is None:
            self._send(404, b"<html><body><p>Not found</p></body></html>")
        else:
            handler(rest, query)

    def _send(
        self, status: int, body: bytes, ctype: str | None = "text/html", **headers: str
    ) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _page(self, rest: str, query: dict[str, str]) -> None:
        path = PAGES / rest
        if "/" in rest or not path.is_file():
            self._send(404, b"<html><body><p>No such page</p></body></html>")
            return
        self._send(200, path.read_bytes(), query.get("type", "text/html") or None)

    def _text(self, rest: str, query: dict[str, str]) -> None:
        self._send(200, TEXT_ARTICLE.encode(), "text/plain; charset=utf-8")

    def _redirect_to(self, rest: str, query: dict[str, str]) -> None:
        self._send(302, b"", Location=f"/{rest}")

    def _redirect_loop(self, rest: str, query: dict[str, str]) -> None:
        self._send(302, b"", Location="/redirect-loop")

    def _redirect_private(self, rest: str, query: dict[str, str]) -> None:
        target = self.site.url("/page/measles-campaign.en.html")
        self._send(302, b"", Location=target)

    def _big(self, rest: str, query: dict[str, str]) -> None:
        self._send(200, _big_body())

    def _big_chunked(self, rest: str, query: dict[str, str]) -> None:
        # HTTP/1.0 without Content-Length: the body ends when the connection closes.
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        body = _big_body()
        for start in range(0, len(body), 16_384):
            self.wfile.write(body[start : start + 16_384])

    def _slow(self, rest: str, query: dict[str, str]) -> None:
        if self.site.stopping.wait(float(query.get("s", "2"))):
            return
        self._send(200, b"<html><body><p>Finally.</p></body></html>")

    def _drip(self, rest: str, query: dict[str, str]) -> None:
        count, every = int(query.get("n", "20")), float(query.get("every", "0.05"))
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(count))
        self.end_headers()
        for _ in range(count):
            if self.site.stopping.wait(every):
                return
            self.wfile.write(b"x")
            self.wfile.flush()

    def _doc_pdf(self, rest: str, query: dict[str, str]) -> None:
        self._send(200, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf")

    def _status(self, rest: str, query: dict[str, str]) -> None:
        self._send(int(rest), f"<html><body><p>Status {rest}</p></body></html>".encode())


def _big_body() -> bytes:
    paragraph = b"<p>" + b"All work and no play makes Jack a dull boy. " * 20 + b"</p>\n"
    return b"<!DOCTYPE html><html><body>" + paragraph * (BIG_BYTES // len(paragraph) + 1)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up is the point of several routes


@contextlib.contextmanager
def serve_pages() -> Iterator[PageSite]:
    """Serve tests/pages/ on 127.0.0.1 on a free port, in a thread, for the block."""
    site = PageSite(port=0)
    handler = type("Handler", (_Handler,), {"site": site})
    server = _Server(("127.0.0.1", 0), handler)
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield site
    finally:
        site.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
