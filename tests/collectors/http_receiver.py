"""A real HTTP receiver on 127.0.0.1 for the client SDK tests.

It records every request and can be scripted to answer the next requests to an endpoint
with an error status, or to close the connection without answering.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Answer:
    """A scripted answer: a status with a JSON body and headers, or a silent hang-up."""

    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang_up: bool = False  # close the socket without answering
    close_after: bool = False  # answer, then close without saying "Connection: close"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int  # 0: hung up without answering
    raw: bytes = b""  # the body's bytes as received (to verify signatures)


class Receiver:
    """A real HTTP server that records requests; script() queues answers per endpoint."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Request] = []
        self._script: dict[str, deque[Answer]] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        serve = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        serve.start()

    def script(self, endpoint: str, *answers: Answer) -> None:
        """Answer the next requests whose path ends with endpoint with these answers."""
        with self._lock:
            self._script.setdefault(endpoint, deque()).extend(answers)

    def seen(self, endpoint: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(endpoint)]

    def accepted(self, endpoint: str) -> list[dict[str, Any]]:
        """Records of the requests to endpoint that were answered 2xx."""
        return [
            rec for r in self.seen(endpoint) if 200 <= r.status < 300 for rec in r.body["records"]
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _next_answer(self, path: str) -> Answer:
        with self._lock:
            for endpoint, answers in self._script.items():
                if path.endswith(endpoint) and answers:
                    return answers.popleft()
        return Answer()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one write per response, as a real server does

            def do_PUT(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                body = json.loads(raw)
                answer = receiver._next_answer(self.path)
                status = 0 if answer.hang_up else answer.status
                request = Request(self.command, self.path, dict(self.headers), body, status, raw)
                with receiver._lock:
                    receiver.requests.append(request)
                if answer.hang_up:
                    self.close_connection = True
                    return
                n = len(body.get("records", [])) if isinstance(body, dict) else 0
                payload = json.dumps(answer.body or {"accepted": n, "duplicates": 0}).encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.close_connection = answer.close_after

        return Handler


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll until condition holds; fail naming what did not happen."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)
