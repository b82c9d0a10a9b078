"""The whole service on a real three-master Redis Cluster, Celery on a plain Redis.

Publish through the API → a real worker rebuilds the feeds → served by the app; a partner
pulls its attributed feed; a digest edition is sent by a real worker to a loopback SMTP
server. Any transaction, script or multi-key command whose keys span slots fails with
CROSSSLOT, so this runs every write path the service has on the way.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from fastapi.testclient import TestClient

from syndication.clock import system_clock
from syndication.config import load_settings
from syndication.context import Context
from syndication.services.partners import make_partners
from syndication.store.connection import connect, is_cluster
from syndication.store.editions import Policy
from syndication.web.app import create_app
from tests.support import article_data, wait_for
from tests.support.digests import add_subscribers, edition_done, worker_service
from tests.support.workers import WorkerProcess
from workers.celery_app import configure
from workers.events import CeleryEvents

AUTH = {"Authorization": "Bearer test-token-0123456789"}
POLICY = Policy(lease_s=20, tx_budget_s=5, retry_base_s=0.1, retry_max_s=0.5, max_attempts=5)

pytestmark = pytest.mark.slow


def titles(client: TestClient, path: str, headers: dict[str, str] | None = None) -> list[str]:
    resp = client.get(path, headers=headers or {})
    if resp.status_code != 200:
        return []
    parsed = feedparser.parse(resp.content)
    assert parsed.bozo == 0, parsed.bozo_exception
    return [e.title for e in parsed.entries]


def test_publish_feeds_partner_pull_and_edition_on_a_cluster(
    cluster_env: dict[str, str], smtp: object, tmp_path: Path
) -> None:
    env = {**cluster_env, "SYNDICATION_SMTP_URL": smtp.url}  # type: ignore[attr-defined]
    settings = load_settings(env)
    client = connect(settings.need_redis_url())
    assert is_cluster(client)
    worker = WorkerProcess(env, tmp_path / "worker.log").wait_ready()
    try:
        # The API and the worker both read the wall clock, as deployed.
        ctx = Context(
            settings, CeleryEvents(configure(settings), settings), client, clock=system_clock
        )
        app = TestClient(create_app(ctx))
        now = system_clock()
        for n in (1, 2):
            story = article_data(n, published_at=(now - timedelta(hours=n)).isoformat())
            assert app.post("/api/articles", json=story, headers=AUTH).status_code == 201
        wait_for(lambda: titles(app, "/feeds/all.rss") == ["Sample story 1", "Sample story 2"])
        assert "Sample story 1" in titles(app, "/feeds/topic/coca.atom")

        _, key = make_partners(settings, client, ctx.article_store).keys.add("Outlet", now=now)
        bearer = {"Authorization": f"Bearer {key}"}
        wait_for(lambda: len(titles(app, "/partners/feeds/all.rss", bearer)) == 2)

        subs = add_subscribers(client, settings.key_prefix, 3, now=now - timedelta(days=1))
        digests = worker_service(settings, client, POLICY, fanout=1)
        eid = digests.create_edition("daily", now).edition_id
        assert eid
        wait_for(lambda: edition_done(digests, eid), timeout=60, interval=0.1)
        assert set(smtp.per_recipient()) == {s.email for s in subs}  # type: ignore[attr-defined]
    finally:
        worker.stop()
