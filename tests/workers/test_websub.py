"""WebSub: after a build that changed a feed's bytes, the hub is told; retries on 5xx.

A real worker process, a real Redis, and a hub stand-in on loopback that records pings.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from fastapi.testclient import TestClient

from syndication.clock import system_clock
from syndication.config import load_settings
from syndication.context import Context
from syndication.store.connection import connect
from syndication.web.app import create_app
from tests.support import EXAMPLE_CONFIG, article_data, wait_for
from tests.support.workers import WorkerProcess
from workers.celery_app import configure
from workers.events import CeleryEvents

AUTH = {"Authorization": "Bearer test-token-0123456789"}


class Hub:
    def __init__(self) -> None:
        self.pings: list[dict[str, list[str]]] = []
        self.fail_next = 0
        self.lock = threading.Lock()


@pytest.fixture
def hub() -> Iterator[tuple[Hub, str]]:
    state = Hub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode())
            with state.lock:
                if state.fail_next > 0:
                    state.fail_next -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                state.pings.append(form)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/hub"
    server.shutdown()


@pytest.mark.slow
def test_publish_pings_the_hub_for_each_changed_feed(hub, env, tmp_path: Path):
    state, hub_url = hub
    config = tmp_path / "syndication.toml"
    config.write_text(
        EXAMPLE_CONFIG.read_text().replace("websub_hubs = []", f'websub_hubs = ["{hub_url}"]')
    )
    env = {**env, "SYNDICATION_CONFIG": str(config)}
    settings = load_settings(env)
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        # The API on the machine's clock, as deployed: the worker that rebuilds the feeds
        # and pings the hub reads the wall clock too.
        ctx = Context(
            settings,
            CeleryEvents(configure(settings), settings),
            connect(settings.need_redis_url()),
            clock=system_clock,
        )
        client = TestClient(create_app(ctx))
        # Dated by the same wall clock the API checks dates against.
        hour_ago = (system_clock() - timedelta(hours=1)).isoformat()
        one = article_data(1, topics=["Coca"], published_at=hour_ago)
        client.post("/api/articles", json=one, headers=AUTH)
        expected = {
            f"http://testserver/feeds/{name}.{fmt}"
            for name in ("all", "topic/coca", "author/sergio-saffon", "section/brief", "lang/en")
            for fmt in ("rss", "atom", "json")
        }

        def topics() -> set[str]:
            with state.lock:
                return {p["hub.url"][0] for p in state.pings}

        wait_for(lambda: expected <= topics(), timeout=60)
        first = state.pings[0]
        assert first["hub.mode"] == ["publish"] and first["hub.topic"] == first["hub.url"]

        # A second article in another topic: only its feeds (and the shared ones) are pinged,
        # and the hub's first answer is a 503, which is retried.
        with state.lock:
            state.pings.clear()
            state.fail_next = 1
        two = article_data(2, topics=["Mining"], published_at=hour_ago)
        client.post("/api/articles", json=two, headers=AUTH)
        wanted = {"http://testserver/feeds/topic/mining.rss", "http://testserver/feeds/all.rss"}
        wait_for(lambda: wanted <= topics(), timeout=60)
        assert not any("topic/coca" in url for url in topics())
        assert state.fail_next == 0  # the 503 was answered, and the ping came again
    finally:
        worker.stop()
