"""Corrections reach partners' webhooks: a real Celery worker POSTs signed notices to a
receiver on loopback, retries when it fails, and sends each change once.

The worker is a real ``syndication worker`` on the ``ingest`` queue (where ``partners.*``
tasks go). Its sweep (``partners.sweep_changes``) reads the machine's clock, so this test
writes its changes through a Context on that same clock (``wall_context``), never the fixed
test clock: what the sweep finds is the subject of the test.
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
import redis

from syndication.clock import system_clock
from syndication.config import Settings
from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.models import Article
from syndication.services.partners import make_partners
from tests.support import wait_for
from tests.support.partners import ARTICLES, add_articles
from tests.support.workers import WorkerProcess
from workers.celery_app import configure

pytestmark = pytest.mark.slow


class Receiver:
    """A loopback HTTP server that answers the first ``failures`` POSTs with 503."""

    def __init__(self, failures: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = 503 if receiver.failures > 0 else 204
                receiver.failures -= 1
                receiver.requests.append((dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b, status in self.requests if status == 204]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=1)
    yield r
    r.close()


@pytest.fixture
def partner_worker(env: dict[str, str], tmp_path: Path) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(env, tmp_path / "worker.log", queues="ingest")
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def wall_context(settings: Settings, redis_client: redis.Redis) -> Context:
    """A Context on the machine's clock, not the fixed ``clock`` fixture: the worker's sweep
    looks for changes up to *its* now (``datetime.now`` in ``partners.sweep_changes``), so
    the changes this test makes, and the sweep cursor it sets, must be timed on the same
    clock for the sweep to see them in order. Events are recorded, not queued: the test
    queues each task itself."""
    return Context(settings, RecordingEvents(), redis_client, clock=system_clock)


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Syndication-Signature"], expected)


def test_update_and_withdrawal_reach_the_webhook_signed(
    wall_context: Context, receiver: Receiver, partner_worker: WorkerProcess
) -> None:
    context, worker = wall_context, partner_worker
    service = make_partners(context.settings, context.client, context.article_store)
    app = configure(context.settings)
    now = context.clock()
    # The sample articles, published in the days before this now (not on their fixed dates).
    articles = add_articles(
        context,
        {
            n: {**overrides, "published_at": (now - timedelta(days=3, hours=n)).isoformat()}
            for n, overrides in ARTICLES.items()
        },
    )
    partner, _ = service.keys.add("Hooked", now=now, webhook_url=receiver.url)
    quiet, _ = service.keys.add("No webhook", now=now)
    never, _ = service.keys.add("Never pulled", now=now, webhook_url=receiver.url + "?never")
    for p in (partner, quiet):
        service.feeds.record_pull(p, service.feeds.feed(p, "all", "rss", now), now)
    service.webhooks.sweep(context.clock())  # the sweep starts counting from here

    # An update: the first POST gets a 503, the retry is delivered.
    original = articles["sample-story-2"]
    changed = original.model_copy(
        update={
            "body_html": "<p>Corrected.</p>",
            "updated_at": original.published_at + timedelta(days=1),
        }
    )
    context.articles.accept(Article.model_validate(changed.to_json()))
    first = app.send_task("partners.article_changed", args=["sample-story-2"])
    assert worker.task_result(first.id) == 1  # one notice queued: "quiet" has no webhook
    wait_for(lambda: receiver.delivered(), timeout=60)
    assert [s for _, _, s in receiver.requests] == [503, 204]
    headers, body = receiver.delivered()[0]
    secret = service.keys.webhook_secret(partner)
    assert verify(secret, headers, body)
    assert not verify(secret + "x", headers, body)
    payload = json.loads(body)
    assert payload["event"] == "article.updated" and payload["partner"] == partner.id
    assert payload["article"]["url"] == original.url
    assert headers["X-Syndication-Event"] == "article.updated"

    # The same change again (a redelivered event): the task ran and queued nothing.
    again = app.send_task("partners.article_changed", args=["sample-story-2"])
    assert worker.task_result(again.id) == 0

    # A withdrawal found by the sweep alone. The sweep also passes the update of story 2
    # again (changed since the cursor too) and queues only the withdrawal's notice.
    context.articles.withdraw("sample-story-7")
    sweep = app.send_task("partners.sweep_changes")
    assert worker.task_result(sweep.id) == 1
    # The tasks above queued 1 + 0 + 1 notices, and nothing else queues any (no beat):
    # once two webhook tasks have ended, every notice there will ever be has been sent.
    wait_for(lambda: len(worker.task_results("partners.webhook")) >= 2, timeout=60)
    assert worker.task_results("partners.webhook") == [204, 204]
    delivered = receiver.delivered()
    assert [s for _, _, s in receiver.requests] == [503, 204, 204]
    assert len(delivered) == 2, [json.loads(b) for _, b in delivered]
    headers, body = delivered[1]
    assert verify(secret, headers, body)
    payload = json.loads(body)
    assert payload["event"] == "article.withdrawn"
    assert (
        payload["article"]["id"] == "sample-story-7" and payload["article"]["state"] == "withdrawn"
    )
    assert all("never" not in h.get("Host", "") for h, _ in delivered)
    assert never.id not in {json.loads(b)["partner"] for _, b in delivered}
