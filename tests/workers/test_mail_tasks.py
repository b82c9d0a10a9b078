"""Editions sent by real Celery worker processes (Proof 2, 3 and 5).

The workers are real ``syndication worker`` processes on the ``mail`` queue (``MailWorker``),
against a real Redis and the scripted SMTP server on loopback in this process.

Time: each test reads the wall clock once (``system_clock``) and times its subscribers,
articles and edition on it, because the workers judge the edition on their own clock:
recovery (``mail.recover``, run by every worker at start-up) pauses an edition older than
``max_resume_age`` by the machine's now. A fixed date here would make that depend on the
day the suite runs; the wall clock is what a deployment has.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import redis

from syndication.clock import system_clock
from syndication.config import Settings, load_settings
from syndication.embedded_redis import EmbeddedRedis
from syndication.services.digests import Digests
from syndication.store.editions import EditionStatus, EntryState, Policy
from tests.support import EXAMPLE_CONFIG, wait_for
from tests.support.digests import (
    add_articles,
    add_subscribers,
    assert_exactly_once,
    edition_done,
    worker_service,
)
from tests.support.smtp import ScriptedSmtp
from tests.support.workers import MailWorker
from tests.support.workers import start_mail_worker as start

pytestmark = pytest.mark.slow

# Short leases so a dead worker's entries come back within seconds in a test.
POLICY = Policy(lease_s=6, tx_budget_s=2, retry_base_s=0.2, retry_max_s=1, max_attempts=5)
CONNECTIONS = 2  # MailSettings default: SMTP sessions per send task


def service(settings: Settings, client: redis.Redis) -> Digests:
    return worker_service(settings, client, POLICY)


def test_sigkill_mid_edition_then_a_new_worker_finishes(
    env: dict[str, str],
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    workers: list[MailWorker],
    tmp_path: Path,
) -> None:
    now = system_clock()  # the workers' clock (see the module's docstring)
    segments = (("en", ()), ("en", ("coca",)))
    add_subscribers(redis_client, prefix, 2000, now=now, segments=segments)
    add_articles(redis_client, prefix, [{"topics": ["Coca"]}, {"topics": ["Peru"]}], now=now)
    smtp.script.delay = 0.002
    first = start(workers, env, tmp_path, smtp)
    svc = service(settings, redis_client)
    created = svc.create_edition("daily", now)
    assert created.edition_id
    eid = created.edition_id
    wait_for(lambda: smtp.count() >= 600, timeout=60)
    first.kill()
    at_kill = smtp.count()
    assert at_kill < 2000
    mid = svc.status(eid)
    assert mid is not None and mid.status is EditionStatus.SENDING
    inflight = redis_client.scard(svc.editions.key(eid, "inflight"))
    assert inflight <= CONNECTIONS  # one transaction per SMTP session at most

    start(workers, env, tmp_path, smtp)  # its start-up recovery resumes the edition
    wait_for(lambda: edition_done(svc, eid), timeout=120, interval=0.2)
    uncertain = assert_exactly_once(svc, eid, smtp)
    assert uncertain == inflight <= CONNECTIONS
    report = svc.report(eid)
    assert set(report["uncertain"]) == set(svc.editions.members(eid, EntryState.UNCERTAIN))
    edition = svc.status(eid)
    assert edition is not None
    assert edition.counts["sent"] + uncertain == 2000


def test_two_workers_on_one_edition_no_duplicates(
    env: dict[str, str],
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    workers: list[MailWorker],
    tmp_path: Path,
) -> None:
    now = system_clock()  # the workers' clock (see the module's docstring)
    add_subscribers(redis_client, prefix, 1000, now=now)
    add_articles(redis_client, prefix, [{"topics": ["Coca"]}], now=now)
    smtp.script.delay = 0.002
    a = start(workers, env, tmp_path, smtp)
    b = start(workers, env, tmp_path, smtp)
    svc = service(settings, redis_client)
    eid = svc.create_edition("daily", now).edition_id
    assert eid
    wait_for(lambda: edition_done(svc, eid), timeout=120, interval=0.2)
    assert assert_exactly_once(svc, eid, smtp) == 0
    assert smtp.count() == 1000
    wait_for(lambda: a.sent() + b.sent() == 1000, timeout=10)
    assert a.sent() > 0 and b.sent() > 0, (a.sent(), b.sent())


def test_redis_restarted_with_aof_mid_edition(
    smtp: ScriptedSmtp, workers: list[MailWorker], tmp_path: Path
) -> None:
    server = EmbeddedRedis(tmp_path / "redis").start()
    try:
        env = {
            "SYNDICATION_REDIS_URL": server.url,
            "SYNDICATION_CONFIG": str(EXAMPLE_CONFIG),
            "SYNDICATION_KEY_PREFIX": "aof:",
            "SYNDICATION_SECRET_KEY": "s" * 40,
            "SYNDICATION_PUBLIC_URL": "http://testserver",
        }
        settings = load_settings(env)
        client = redis.Redis.from_url(server.url)
        now = system_clock()  # the workers' clock (see the module's docstring)
        add_subscribers(client, "aof:", 1500, now=now)
        add_articles(client, "aof:", [{"topics": ["Coca"]}], now=now)
        smtp.script.delay = 0.002
        start(workers, env, tmp_path, smtp)
        from syndication.store.connection import connect

        svc = service(dataclasses.replace(settings), connect(server.url))
        eid = svc.create_edition("daily", now).edition_id
        assert eid
        wait_for(lambda: smtp.count() >= 400, timeout=60)
        server.restart()
        assert smtp.count() < 1500
        wait_for(lambda: edition_done(svc, eid), timeout=120, interval=0.2)
        assert assert_exactly_once(svc, eid, smtp) == 0
        assert smtp.count() == 1500
    finally:
        for w in workers:
            w.stop()
        workers.clear()
        server.stop()
