"""A loopback OpenAI-compatible chat server with a fixed latency, for benchmarks and tests.

It answers ``POST /v1/chat/completions`` after sleeping ``latency`` seconds with a valid
answer for the request's JSON schema (a summary draft, or one string per paragraph for a
translation), so ``summarize`` runs its real path (litellm, HTTP, validation) against it.
``GET /stats`` returns how many completions it served. It binds 127.0.0.1 only.

Run it alone::

    python3 benchmarks/stub_server.py --latency 0.5 --port 8001
    summarize examples/antalya-talks.id.txt --model openai/stub \
        --api-base http://127.0.0.1:8001/v1

or from Python with ``with running_stub(latency=0.5) as base_url: ...`` (a subprocess, so
the server's work never competes with the client for the GIL).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DRAFT: dict[str, Any] = {
    "title": "Ukraine and Russia talk in Antalya without a ceasefire",
    "summary": "The foreign ministers of Ukraine and Russia met in Antalya, Turkey, on "
    "10 March 2022. The talks ended without agreement on a ceasefire.",
    "key_points": ["No ceasefire was agreed.", "Both sides said they would keep talking."],
    "entities": [
        {"name": "Dmytro Kuleba", "type": "person", "description": "Ukraine's foreign minister"},
        {"name": "Sergei Lavrov", "type": "person", "description": "Russia's foreign minister"},
        {"name": "Antalya", "type": "location", "description": "City in Turkey"},
    ],
    "dates": [{"date": "2022-03-10", "event": "Talks in Antalya"}],
    "quotes": [{"speaker": "Dmytro Kuleba", "text": "Ukraine has not surrendered."}],
}


def answer_for(body: dict[str, Any]) -> str:
    """The assistant's text for a chat request: valid JSON for its response schema."""
    response_format = body.get("response_format") or {}
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    paragraphs = (schema.get("properties") or {}).get("paragraphs")
    if paragraphs is not None:
        count = int(paragraphs.get("minItems", 1))
        return json.dumps({"paragraphs": [f"Translated paragraph {i}." for i in range(count)]})
    return json.dumps(DRAFT)


class StubServer(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open dozens of connections at once; the default backlog of 5 drops some.
    request_queue_size = 256

    def __init__(self, port: int, latency: float) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.latency = latency
        self.served = 0
        self._count_lock = threading.Lock()

    def count(self) -> None:
        with self._count_lock:
            self.served += 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real providers do
    # Headers and body in one segment, sent at once: otherwise Nagle's algorithm and the
    # client's delayed ACK add about 40 ms to every answer.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: StubServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/stats"):
            self._send(200, {"requests": self.server.served})
        elif self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "stub", "object": "model"}]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "body is not JSON", "type": "invalid"}})
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        time.sleep(self.server.latency)
        text = answer_for(body)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        completion_tokens = len(text.split())
        self.server.count()
        self._send(
            200,
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "stub"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )


@contextmanager
def running_stub(latency: float = 0.5) -> Iterator[str]:
    """Start the stub in a subprocess on a free loopback port; yield its ``/v1`` base URL."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--port", "0", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"the stub server did not start: {line!r}")
        yield line
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def served(base_url: str) -> int:
    """How many completions the stub at ``base_url`` (``running_stub``'s URL) has served."""
    import urllib.request

    with urllib.request.urlopen(base_url + "/stats", timeout=10) as answer:
        return int(json.load(answer)["requests"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per answer")
    args = parser.parse_args()
    server = StubServer(args.port, args.latency)
    # The first line on stdout is the base URL: running_stub() reads it.
    print(f"http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
