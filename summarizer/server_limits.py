"""What the HTTP service refuses before the app reads a request: ASGI middleware in front
of it. ``Guard`` (outermost) authenticates the caller and counts the request against its
limits; ``BodyLimit`` refuses oversize bodies. A refused request never reaches a route, so
no model is called for it, and a caller without a key never has its body read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from summarizer.errors import SummarizerError
from summarizer.server_access import InvalidKey, KeyRing, Quotas
from summarizer.server_errors import body_for, error_headers
from summarizer.server_wire import ErrorBody

# Seconds a client has to send a request's headers, and then its body: uvicorn has no
# deadline for either, so a client sending a byte every few seconds (slowloris) would hold
# its connection, and a worker's socket, forever.
HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 30.0
# h11 bounds headers that arrive in pieces (16 KiB), not a block that arrives whole.
MAX_HEADER_BYTES = 16_384
_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


async def send_error(
    send: Send, status: int, body: ErrorBody, headers: Mapping[str, str] | None = None
) -> None:
    """An error response straight from middleware, closing the connection (the rest of a
    refused request's body is never read)."""
    payload = body.model_dump_json().encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
                *(
                    (name.lower().encode(), value.encode())
                    for name, value in (headers or {}).items()
                ),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class Guard:
    """ASGI middleware: with keys, every request outside ``public`` needs a known Bearer key
    (401) and a request left in its key's limits (429). The key's name is put in the
    request's state as ``caller`` for the routes to charge tokens to."""

    def __init__(
        self, app: ASGIApp, *, keys: KeyRing, quotas: Quotas, public: Callable[[str], bool]
    ) -> None:
        self.app = app
        self.keys = keys
        self.quotas = quotas
        self.public = public

    def is_public(self, scope: Scope) -> bool:
        """The request is for a public path (behind a proxy's ``--root-path`` too)."""
        path, root = scope["path"], scope.get("root_path") or ""
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        return self.public(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_public(scope):
            await self.app(scope, receive, send)
            return
        values = [value for name, value in scope.get("headers") or [] if name == b"authorization"]
        try:
            if len(values) > 1:  # which one counts is for no proxy in between to guess
                raise InvalidKey(
                    "The request carries more than one Authorization header.",
                    hint="Send exactly one: Authorization: Bearer <your key>.",
                )
            caller = self.keys.caller(values[0].decode("latin-1") if values else None)
            self.quotas.admit(caller)
        except SummarizerError as exc:
            status, body = body_for(exc)
            await send_error(send, status, body, error_headers(exc))
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with a 413, bodies not
    whole within ``body_timeout`` seconds with a 408, and headers over ``MAX_HEADER_BYTES``
    with a 431.

    The body is read here, up to the limit, before the app sees any of it, so a large
    upload cannot reach the JSON parser; ``Content-Length`` lets it refuse without reading.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, body_timeout: float = BODY_TIMEOUT_S) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers = scope.get("headers") or []
        if sum(len(name) + len(value) + 4 for name, value in raw_headers) > MAX_HEADER_BYTES:
            body = ErrorBody(
                error="headers_too_large",
                message=f"The request's headers are larger than {MAX_HEADER_BYTES} bytes.",
                hint="Send only the headers the API needs (Authorization, Content-Type).",
            )
            await send_error(send, 431, body)
            return
        headers = dict(raw_headers)
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        deadline = asyncio.get_running_loop().time() + self.body_timeout
        while more:
            try:
                message = await asyncio.wait_for(
                    receive(), deadline - asyncio.get_running_loop().time()
                )
            except asyncio.TimeoutError:
                await send_error(send, 408, _body_timed_out(self.body_timeout))
                return
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body"))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # after the body: disconnect notices, for streaming

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = ErrorBody(
            error="body_too_large",
            message=f"The request body is larger than {self.max_bytes} bytes.",
            hint="Send a shorter article, or start the server with a larger --max-body-bytes.",
        )
        await send_error(send, 413, body)


def _timed_out(what: str, seconds: float) -> ErrorBody:
    return ErrorBody(
        error="request_timeout",
        message=f"The request's {what} did not arrive within {seconds:g} seconds.",
        hint="Send the whole request at once; a slow network may need a proxy that buffers.",
    )


def _body_timed_out(seconds: float) -> ErrorBody:
    return _timed_out("body", seconds)


def _timed_out_response(what: str, seconds: float) -> bytes:
    payload = _timed_out(what, seconds).model_dump_json().encode()
    return _REQUEST_TIMEOUT % (len(payload), payload)


def guarded_protocol(header_timeout: float = HEADER_TIMEOUT_S) -> type[Any]:
    """uvicorn's HTTP/1.1 protocol (h11) with a deadline for each request's headers, from
    the connection's start or the end of the previous response: past it, a 408 and the
    connection is closed. Give it to ``uvicorn.Config(http=...)``."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _waiting_after: object = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request on this kept-alive connection

        def handle_events(self) -> None:
            super().handle_events()
            if self._deadline is not None and self.cycle is not self._waiting_after:
                self._disarm()  # a new request's headers arrived

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self._waiting_after = self.cycle
                self._deadline = self.loop.call_later(header_timeout, self._timed_out)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _timed_out(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.write(_timed_out_response("headers", header_timeout))
                self.transport.close()

    return GuardedH11Protocol
