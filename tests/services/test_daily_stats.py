"""services/daily_stats.py on a real Redis: snapshots per day, growth between them, TTL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from syndication.store.daily import KEEP_DAYS


def test_snapshots_turn_counters_into_days(context: Any, clock: Any) -> None:
    stats, metrics = context.daily_stats, context.metrics
    metrics.add("feed_requests_by_feed_total", "all", n=100)
    metrics.add("feed_not_modified_by_feed_total", "all", n=40)
    metrics.add("emails_total", "sent", n=1000)
    metrics.flush()
    assert stats.snapshot(clock())
    assert not stats.snapshot(clock() + timedelta(minutes=1))  # throttled
    clock.advance(hours=24)
    metrics.add("feed_requests_by_feed_total", "all", n=50)
    metrics.add("feed_not_modified_by_feed_total", "all", n=30)
    metrics.add("emails_total", "sent", n=200)
    metrics.flush()
    context.subscriber_store.suppress("a@example.org", "complaint", clock())
    assert stats.snapshot(clock())
    first, second = stats.series(clock().date(), 2)
    assert first.values["feed_requests"] is None  # nothing before it to compare with
    assert second.values["feed_requests"] == 50
    assert second.values["feed_not_modified"] == 30
    assert second.values["emails_sent"] == 200
    assert second.values["complaints"] == 1 and second.values["bounces"] == 0
    key = stats.snapshots.key(clock().date())
    assert 0 < context.client.ttl(key) <= KEEP_DAYS * 86400
