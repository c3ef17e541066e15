"""A fault-injecting OpenAI-compatible chat server on 127.0.0.1, for the tests.

The model name in each request is a script of what the server does, one step per request
to that model name; the last step repeats. Steps are joined with ``+``::

    ok          a valid answer (a summary draft, or the translation the schema asks for)
    500 502 503 that HTTP status with an OpenAI-style error body
    429ra2      429 with ``Retry-After: 2`` (any status can carry ``raN``)
    slow3       sleep 3 s, then a valid answer (past a short client timeout)
    drip        200 and a Content-Length, then one byte every 0.2 s: never a whole answer
    drop        close the connection without answering
    badjson     200 with a body that is not JSON
    schema      a well-formed reply whose content breaks the summary schema
    length      a reply cut off with ``finish_reason: length``
    echo        401 whose error message echoes the request's headers (a leaky provider)
    hang        never answer (until the server stops)
    oldformat   like llama-cpp-python's server: 500 for ``response_format`` type
                ``json_schema`` (only ``json_object`` with a ``schema`` is known), else ok

So ``openai/503+503+ok`` fails twice and then answers, and ``openai/429ra1`` is rate
limited forever. A label before a step's last ``-`` is ignored (``openai/primary-503``),
so tests can give each scenario a fresh name; an unknown step answers 400. Every request
is recorded (``requests``) so tests can count attempts and check headers. Stdlib only;
``python -m tests.faultserver`` runs a standalone server that prints its URL.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes import draft

_STEP = re.compile(
    r"^(?:(?P<status>\d{3})(?:ra(?P<ra>[\d.]+))?|slow(?P<slow>[\d.]+)|(?P<word>\w+))$"
)


@dataclass
class Seen:
    """One request as the server received it."""

    model: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


@dataclass
class _State:
    requests: list[Seen] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _answer_content(body: dict[str, Any]) -> str:
    """What a well-behaved model would answer to ``body``."""
    schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema") or {}
    paragraphs = (schema.get("properties") or {}).get("paragraphs")
    if paragraphs is not None:
        count = int(paragraphs.get("minItems", 1))
        return json.dumps({"paragraphs": [f"Translated paragraph {i}." for i in range(count)]})
    return json.dumps(draft())


def _completion(body: dict[str, Any], content: str, finish_reason: str = "stop") -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-fault",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fault"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, json.dumps({"object": "list", "data": []}).encode())
        else:
            self._send(404, b'{"error": {"message": "not found"}}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            body = {}
        model = str(body.get("model", "ok"))
        state = self.server.state
        with state.lock:
            index = state.counts.get(model, 0)
            state.counts[model] = index + 1
            state.requests.append(Seen(model, dict(self.headers.items()), body, time.time()))
        steps = model.split("/")[-1].split("+")
        self._step(steps[min(index, len(steps) - 1)].rsplit("-", 1)[-1], body)

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _step(self, step: str, body: dict[str, Any]) -> None:
        match = _STEP.match(step)
        word = match.group("word") if match else "unknown"
        if match and match.group("status"):
            status = int(match.group("status"))
            headers = {"Retry-After": match.group("ra")} if match.group("ra") else {}
            error = {"message": f"fault server: HTTP {status}", "type": "server_error"}
            self._send(status, json.dumps({"error": error}).encode(), headers)
        elif match and match.group("slow"):
            self.server.state.stop.wait(float(match.group("slow")))
            self._try_send(200, _completion(body, _answer_content(body)))
        elif word == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(300):  # at most a minute, whoever is listening
                if self.server.state.stop.wait(0.2):
                    break
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    break
        elif word == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif word == "badjson":
            self._send(200, b"<html>upstream proxy error: this is not JSON{")
        elif word == "schema":
            content = json.dumps({"title": 42, "summary": None, "key_points": "none"})
            self._send(200, _completion(body, content))
        elif word == "length":
            self._send(200, _completion(body, _answer_content(body)[:40], "length"))
        elif word == "echo":
            echoed = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
            error = {"message": f"Invalid request, headers were: {echoed}", "type": "auth"}
            self._send(401, json.dumps({"error": error}).encode())
        elif word == "oldformat":
            kind = (body.get("response_format") or {}).get("type", "text")
            if kind not in ("text", "json_object"):
                message = f"1 validation error: ('body', 'response_format', 'type'): {kind}"
                error = {"message": message, "type": "internal_server_error"}
                self._send(500, json.dumps({"error": error}).encode())
            else:
                self._send(200, _completion(body, _answer_content(body)))
        elif word == "hang":
            self.server.state.stop.wait(600)
        elif word == "ok":
            self._send(200, _completion(body, _answer_content(body)))
        else:
            error = {"message": f"fault server: unknown step {step!r}", "type": "invalid"}
            self._send(400, json.dumps({"error": error}).encode())

    def _try_send(self, status: int, payload: bytes) -> None:
        # The client may have given up first: that is the point of the test.
        with contextlib.suppress(OSError):
            self._send(status, payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State


class FaultServer:
    """The server in a background thread: ``with FaultServer() as server: server.url``."""

    def __init__(self, port: int = 0) -> None:
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.state = _State()
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL, for ``--api-base``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def requests(self) -> list[Seen]:
        return list(self._httpd.state.requests)

    def count(self, model: str) -> int:
        """How many requests named ``model`` (without the provider prefix) arrived."""
        return sum(1 for seen in self.requests if seen.model == model)

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.state.stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = FaultServer(args.port).start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
