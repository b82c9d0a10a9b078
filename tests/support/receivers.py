"""A webhook receiver on loopback: a small threaded ``http.server`` that records each POST
and answers as scripted, or holds the request open (``hang``) until the test releases it.

Every request is recorded when it arrives (``requests``), before it is answered, so a test
can wait for "the hanging endpoint has the request" and then check what happened meanwhile.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes


class HookReceiver:
    """``statuses``: the answers to the first POSTs in order, then ``then`` for the rest;
    ``hang``: hold every POST open, unanswered, until ``release()``."""

    def __init__(self, statuses: Iterable[int] = (), then: int = 204, hang: bool = False) -> None:
        self.statuses = list(statuses)
        self.then = then
        self.hang = hang
        self.released = threading.Event()
        self.requests: list[Received] = []
        self.answered: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver._arrived(Received(dict(self.headers.items()), body))
                if receiver.hang:
                    receiver.released.wait()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver._lock:
                    receiver.answered.append(status)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _arrived(self, received: Received) -> int:
        with self._lock:
            self.requests.append(received)
            return self.statuses.pop(0) if self.statuses else self.then

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (README, Event webhooks), written from the README, not our code."""
    timestamp = headers["X-Syndication-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers["X-Syndication-Signature"], "v1=" + expected.hexdigest())
