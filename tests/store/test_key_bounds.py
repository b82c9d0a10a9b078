"""Every key the services leave in Redis has a bound: a TTL, or it is on the list of
permanent records (README: "What Redis keeps, and for how long").

The flows exercised here: subscribers and articles, a digest edition sent over real SMTP
and then compacted, rate limits, once-only claims, admin sessions. A new key family that
neither expires nor is listed fails this test with its name.
"""

from __future__ import annotations

import re
from datetime import timedelta

import redis

from syndication.config import Settings
from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.store.admin_sessions import AdminSessionStore, SessionRecord
from syndication.store.once import OnceStore
from syndication.store.ratelimit import RateLimiter
from tests.support.clock import ManualClock
from tests.support.digests import uncertain_edition
from tests.support.smtp import ScriptedSmtp

#: Permanent records, or structures bounded by something other than time (README table).
PERMANENT = (
    r"\{articles\}:.*",  # articles, their indexes, the event outbox, dirty feeds, titles
    r"\{subscribers\}:.*",
    r"\{editions\}:(all|period:.*)",
    r"\{editions\}:included:.*",  # trimmed to 90 days at each edition
    r"edition:\{[^}]+\}:(meta|segments|editorial|failed|uncertain|repeated)",
    # what compaction keeps of the ledger: the failed and uncertain entries only
    r"edition:\{[^}]+\}:(rcpt|state|attempts|detail|owner)",
    r"\{metrics\}:.*",  # one field per fixed label set
    r"\{feeds\}:feed:.*",  # one per feed and format
    r"\{confirmations\}:(due|open|recent)",  # open requests; recent: the last 50
    r"mail:\{rate\}",
    r"\{migrations\}:key-layout",  # one marker
)


def test_every_key_expires_or_is_a_permanent_record(
    settings: Settings, redis_client: redis.Redis, smtp: ScriptedSmtp, clock: ManualClock
) -> None:
    prefix = settings.key_prefix
    sender, edition, _ = uncertain_edition(
        settings, redis_client, smtp, clock, readers=5, uncertain=(1,)
    )
    finished = sender.status(edition)
    later = ManualClock(finished.finished_at)  # the ledger finished on Redis time
    ctx = Context(settings, RecordingEvents(), redis_client, clock=later)
    (report,) = ctx.digests.compact(later.advance(days=8))
    assert report.result == "compacted"
    RateLimiter(redis_client, prefix).allow("203.0.113.9", 5, 60)
    OnceStore(redis_client, prefix).claim("webhook", "request-1", 300)
    AdminSessionStore(redis_client, prefix).save(
        "sid", SessionRecord(later(), "cred"), timedelta(hours=12)
    )

    unbounded = []
    seen = 0
    for raw in redis_client.scan_iter(f"{prefix}*", count=1000):
        key = raw.decode()
        seen += 1
        name = key[len(prefix) :]
        if redis_client.ttl(key) > 0:
            continue
        if not any(re.fullmatch(p, name) for p in PERMANENT):
            unbounded.append(name)
    assert seen > 10
    assert unbounded == [], f"keys with neither a TTL nor a place in the README table: {unbounded}"
    # and the compacted ledger holds only the uncertain entry
    assert redis_client.hlen(ctx.digests.editions.key(edition, "rcpt")) == 1
