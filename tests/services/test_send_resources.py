"""Send runs leave nothing behind them: no thread, Redis pool or connection, SMTP session.

Why: a pool process sends edition after edition for as long as it lives, so anything one
run (services/sending.py, ``EditionRun``) kept would add up (README, Growth). Counted, not
measured in RSS: RSS also moves with the allocator and the template cache, both bounded.
"""

from __future__ import annotations

import gc
import smtplib
import threading

import redis

from syndication.config import Settings
from syndication.store.editions import EditionStatus
from tests.support import wait_for
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all, smtp_digests
from tests.support.smtp import ScriptedSmtp

SESSIONS = 3


def _run_threads() -> list[str]:
    """Threads of a send run still alive: its SMTP sessions and its heartbeat."""
    return [t.name for t in threading.enumerate() if t.name.startswith(("smtp-", "beat-"))]


def _alive(kind: type) -> int:
    gc.collect()
    return sum(isinstance(o, kind) for o in gc.get_objects())


def test_send_runs_leave_no_threads_pools_connections_or_smtp_sessions(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> None:
    add_subscribers(redis_client, prefix, 40, now=clock())
    service = smtp_digests(settings, redis_client, smtp, clock, connections=SESSIONS, batch=5)
    pools: list[int] = []
    for day in range(4):
        when = clock.advance(days=1)
        url = f"https://insightcrime.org/news/brief/edition-{day}/"
        add_articles(redis_client, prefix, [{"topics": ["Coca"], "url": url}], now=when)
        created = service.create_edition("daily", when)
        assert created.edition_id, created.reason
        edition = send_all(service, created.edition_id)
        assert edition.status is EditionStatus.DONE and edition.counts["sent"] == 40
        wait_for(lambda: not _run_threads(), timeout=10)  # the heartbeat is stopped, not joined
        assert _alive(smtplib.SMTP) == 0  # no SMTP session kept past its run
        pools.append(_alive(redis.ConnectionPool))
        # the sessions, the heartbeat and this thread at most, however many runs went before
        assert redis_client.connection_pool._created_connections <= SESSIONS + 2
    assert pools == [pools[0]] * len(pools), pools
