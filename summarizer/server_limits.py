"""The HTTP service's request-size limit: an ASGI middleware in front of the app."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from summarizer.server_wire import ErrorBody


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with a 413.

    The body is read here, up to the limit, before the app sees any of it, so a large
    upload cannot reach the JSON parser; ``Content-Length`` lets it refuse without reading.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
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
        payload = body.model_dump_json().encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
