"""Retention as beat runs it: the setting, the daily schedule and which editions are due."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from syndication.config import ConfigError, Settings, load_settings, parse_days
from syndication.context import Context
from syndication.events import RecordingEvents
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all, smtp_digests
from tests.support.smtp import ScriptedSmtp
from workers.schedule import beat_schedule


@pytest.mark.parametrize(
    ("text", "days"),
    [("7d", 7.0), ("36h", 1.5), ("90m", 90 / 1440), ("30", 30.0), ("never", 0.0), ("0", 0.0)],
)
def test_retention_durations(text: str, days: float) -> None:
    assert parse_days(text) == pytest.approx(days)


def test_retention_setting_and_schedule(env: dict[str, str]) -> None:
    default = load_settings(env)
    assert default.digest.retention_days == 7.0
    tasks = {v["task"] for v in beat_schedule(default).values()}
    assert "mail.compact_editions" in tasks
    off = load_settings({**env, "SYNDICATION_EDITION_RETENTION": "never"})
    assert off.digest.retention_days == 0
    assert "mail.compact_editions" not in {v["task"] for v in beat_schedule(off).values()}
    with pytest.raises(ConfigError, match="SYNDICATION_EDITION_RETENTION"):
        load_settings({**env, "SYNDICATION_EDITION_RETENTION": "a week"})


def test_scheduled_compaction_takes_only_editions_past_the_retention(
    settings: Settings, redis_client: redis.Redis, smtp: ScriptedSmtp, clock: ManualClock
) -> None:
    add_subscribers(redis_client, settings.key_prefix, 3, now=clock())
    add_articles(redis_client, settings.key_prefix, [{"topics": ["Coca"]}], now=clock())
    service = smtp_digests(settings, redis_client, smtp, clock)
    created = service.create_edition("daily", clock())
    assert created.edition_id
    edition = send_all(service, created.edition_id)
    later = ManualClock(edition.finished_at)  # finished on Redis time (the ledger's clock)

    ctx = Context(settings, RecordingEvents(), redis_client, clock=later)
    digests = ctx.digests
    assert digests.compact_scheduled(later.advance(days=6)) == []
    (report,) = digests.compact_scheduled(later.advance(days=2))
    assert (report.edition_id, report.result, report.dropped) == (
        created.edition_id,
        "compacted",
        3,
    )
    assert digests.compact_scheduled(later.advance(days=1)) == []  # done once
    assert digests.retention.due(later(), timedelta(0)) == []


def test_retention_off_compacts_nothing_on_schedule(
    env: dict[str, str], redis_client: redis.Redis, clock: ManualClock
) -> None:
    settings = load_settings({**env, "SYNDICATION_EDITION_RETENTION": "never"})
    ctx = Context(settings, RecordingEvents(), redis_client, clock=clock)
    assert ctx.digests.retention.retention == timedelta(0)
    assert ctx.digests.compact_scheduled(clock.advance(days=3650)) == []
