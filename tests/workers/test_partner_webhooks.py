"""Corrections reach partners' webhooks: a real Celery worker POSTs signed notices to a
receiver on loopback, retries when it fails, and sends each change once.

The worker runs ``celery -A workers.celery_app worker --include workers.partner_tasks`` (the
lead adds the module to the app's ``include``; until then the flag loads it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from syndication.context import Context
from syndication.models import Article
from syndication.services.partners import make_partner_service
from tests.support import wait_for
from tests.support.partners import add_articles
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
def partner_worker(env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    worker = WorkerProcess(env, tmp_path / "worker.log", queues="ingest")
    try:
        worker.wait_ready()
        yield worker.log
    finally:
        worker.stop()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Syndication-Signature"], expected)


def test_update_and_withdrawal_reach_the_webhook_signed(
    context: Context, receiver: Receiver, partner_worker: Path
) -> None:
    service = make_partner_service(context.settings, context.client, context.article_store)
    app = configure(context.settings)
    now = datetime.now(UTC)
    articles = add_articles(context)
    partner, _ = service.add("Hooked", now=now, webhook_url=receiver.url)
    quiet, _ = service.add("No webhook", now=now)
    never, _ = service.add("Never pulled", now=now, webhook_url=receiver.url + "?never")
    for p in (partner, quiet):
        service.record_pull(p, service.feed(p, "all", "rss", now), now)
    service.sweep(now)  # the sweep starts counting from here

    # An update: the first POST gets a 503, the retry is delivered.
    original = articles["sample-story-2"]
    changed = original.model_copy(
        update={
            "body_html": "<p>Corrected.</p>",
            "updated_at": original.published_at + timedelta(days=1),
        }
    )
    context.articles.accept(Article.model_validate(changed.to_json()))
    app.send_task("partners.article_changed", args=["sample-story-2"])
    wait_for(lambda: receiver.delivered(), timeout=60)
    assert [s for _, _, s in receiver.requests] == [503, 204]
    headers, body = receiver.delivered()[0]
    secret = service.webhook_secret(partner)
    assert verify(secret, headers, body)
    assert not verify(secret + "x", headers, body)
    payload = json.loads(body)
    assert payload["event"] == "article.updated" and payload["partner"] == partner.id
    assert payload["article"]["url"] == original.url
    assert headers["X-Syndication-Event"] == "article.updated"

    # The same change again (a redelivered event, the sweep): nothing more is sent.
    app.send_task("partners.article_changed", args=["sample-story-2"])

    # A withdrawal found by the sweep alone.
    time.sleep(0.01)
    context.articles.withdraw("sample-story-7")
    app.send_task("partners.sweep_changes")
    wait_for(lambda: len(receiver.delivered()) >= 2, timeout=60)
    time.sleep(1.0)  # anything extra would have arrived by now
    delivered = receiver.delivered()
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
