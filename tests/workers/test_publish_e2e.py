"""Publish → update → withdraw through the API with a real Celery worker rebuilding feeds."""

from __future__ import annotations

from datetime import timedelta

import feedparser
import pytest
from fastapi.testclient import TestClient

from syndication.clock import system_clock
from syndication.config import Settings
from syndication.context import Context
from syndication.store.connection import connect
from syndication.web.app import create_app
from tests.support import article_data, wait_for
from workers.celery_app import configure
from workers.events import CeleryEvents

AUTH = {"Authorization": "Bearer test-token-0123456789"}


@pytest.fixture
def live(settings: Settings, worker: object) -> TestClient:
    # The API on the machine's clock, as deployed: the worker that rebuilds the feeds reads
    # the wall clock too, so both sides of the queue agree on what "now" is.
    ctx = Context(
        settings,
        CeleryEvents(configure(settings), settings),
        connect(settings.need_redis_url()),
        clock=system_clock,
    )
    return TestClient(create_app(ctx))


def entries(client: TestClient) -> dict[str, str]:
    resp = client.get("/feeds/all.rss")
    if resp.status_code != 200:
        return {}
    parsed = feedparser.parse(resp.content)
    assert parsed.bozo == 0, parsed.bozo_exception
    return {e.id: e.title for e in parsed.entries}


@pytest.mark.slow
def test_feed_follows_publish_update_withdraw(live: TestClient):
    # Dates from the same wall clock the API checks them against (no more than a day ahead).
    now = system_clock()
    day = timedelta(days=1)
    one = article_data(1, published_at=(now - 3 * day).isoformat())
    assert live.post("/api/articles", json=one, headers=AUTH).status_code == 201
    first = wait_for(lambda: entries(live))
    assert list(first.values()) == ["Sample story 1"]  # type: ignore[union-attr]
    etag = live.get("/feeds/all.rss").headers["etag"]
    assert live.get("/feeds/all.rss", headers={"If-None-Match": etag}).status_code == 304

    two = article_data(2, published_at=(now - 2 * day).isoformat())
    assert live.post("/api/articles", json=two, headers=AUTH).status_code == 201
    wait_for(lambda: len(entries(live)) == 2)

    fixed = {**one, "title": "Sample story 1, corrected", "updated_at": (now - day).isoformat()}
    assert live.post("/api/articles", json=fixed, headers=AUTH).json()["outcome"] == "updated"
    after = wait_for(
        lambda: "Sample story 1, corrected" in entries(live).values() and entries(live)
    )
    # The GUID of the updated item did not change: readers must not see it as new.
    assert len(after) == 2 and set(first) <= set(after)  # type: ignore[arg-type]
    assert live.get("/feeds/all.rss", headers={"If-None-Match": etag}).status_code == 200

    assert live.delete("/api/articles/sample-story-2", headers=AUTH).status_code == 200
    wait_for(lambda: list(entries(live).values()) == ["Sample story 1, corrected"])
    atom = feedparser.parse(live.get("/feeds/all.atom").content)
    assert atom.bozo == 0 and [e.title for e in atom.entries] == ["Sample story 1, corrected"]
