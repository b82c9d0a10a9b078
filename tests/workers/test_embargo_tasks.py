"""Embargoes and holds through real worker processes (issue #16).

- ``articles.release_embargoes`` (the beat's, every minute) on a real worker: two runs
  that overlap release a due article once, and the release goes the way a publish does
  (the worker's Celery events rebuild the feeds). The test's clock time is passed to the
  task (``now``); the beat passes none and the task reads the system clock.
- A hold and its release reach a partner's webhook (a loopback receiver) signed, as
  ``article.held`` and ``article.released``, each once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from syndication.context import Context
from syndication.models import Article
from tests.support import article_data, wait_for
from tests.support.clock import ManualClock
from tests.support.workers import WorkerProcess
from workers.celery_app import configure
from workers.schedule import beat_schedule

pytestmark = pytest.mark.slow

URL = "https://insightcrime.org/news/brief/embargoed-for-the-beat/"


class Receiver:
    """A loopback HTTP server that keeps every POST and answers 204."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.posts.append((dict(self.headers.items()), body))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[WorkerProcess]:
    """Two processes, so that the two release runs can overlap."""
    proc = WorkerProcess(env, tmp_path / "worker.log", concurrency=2)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def test_the_beat_releases_a_due_embargo_once_and_the_feeds_follow(
    context: Context, clock: ManualClock, worker: WorkerProcess
) -> None:
    schedule = beat_schedule(context.settings)["release embargoes"]
    assert schedule["task"] == "articles.release_embargoes"
    assert schedule["schedule"] == timedelta(minutes=1)
    release = clock() + timedelta(minutes=10)
    data = article_data(
        1, url=URL, published_at=clock().isoformat(), embargoed_until=release.isoformat()
    )
    article_id = context.articles.submit(Article.model_validate(data)).article.id
    app = configure(context.settings)

    early = app.send_task("articles.release_embargoes", kwargs={"now": clock().isoformat()})
    assert worker.task_result(early.id) == []
    assert context.article_store.latest_ids(10) == []

    due = (release + timedelta(seconds=1)).isoformat()
    runs = [app.send_task("articles.release_embargoes", kwargs={"now": due}) for _ in range(2)]
    results = [worker.task_result(run.id) for run in runs]
    assert sorted(results) == [[], [article_id]]  # released by one run only
    assert context.article_store.latest_ids(10) == [article_id]
    # The release went the way a publish goes: the worker's events rebuilt the feeds.
    wait_for(lambda: URL.encode() in _feed(context), timeout=60)


def _feed(context: Context) -> bytes:
    found = context.feed_cache.get("all", "rss")
    return b"" if found is None else found.body


def test_a_hold_and_its_release_reach_the_partners_webhook(
    context: Context, clock: ManualClock, worker: WorkerProcess, receiver: Receiver
) -> None:
    article_id = context.articles.submit(Article.model_validate(article_data(2))).article.id
    partners = context.partners
    partner, _ = partners.keys.add("Hooked", now=clock(), webhook_url=receiver.url)
    partners.feeds.record_pull(
        partner, partners.feeds.feed(partner, "all", "rss", clock()), clock()
    )
    app = configure(context.settings)
    secret = partners.keys.webhook_secret(partner)

    steps = {
        "held": lambda: context.articles.hold(article_id, "legal"),
        "released": lambda: context.articles.release_hold(article_id),
    }
    for event, step in steps.items():
        clock.advance(minutes=1)
        step()
        queued = app.send_task("partners.article_changed", args=[article_id])
        assert worker.task_result(queued.id) == 1
        again = app.send_task("partners.article_changed", args=[article_id])
        assert worker.task_result(again.id) == 0  # each change is told once
        wait_for(lambda e=event: _events(receiver)[-1:] == [f"article.{e}"], timeout=60)  # type: ignore[misc]
        headers, body = receiver.posts[-1]
        mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Syndication-Signature"], f"sha256={mac}")
        assert headers["X-Syndication-Event"] == f"article.{event}"
        assert "legal" not in body.decode()  # the reason is for editors only
    assert _events(receiver) == ["article.held", "article.released"]


def _events(receiver: Receiver) -> list[str]:
    return [json.loads(body)["event"] for _, body in receiver.posts]
