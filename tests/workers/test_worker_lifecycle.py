"""A worker stops like a deploy asks and resumes by itself (issue #12, points 2 and 4).

Real ``syndication worker`` processes (prefork) on the ``mail`` queue, a real Redis and the
scripted SMTP server, slowed per message (``delay``) so that a send task is running when
the test signals the worker or stops Redis.

- Drain: SIGTERM to the main process (``docker stop``) or to the process group; the pool
  process running the send task must see the drain flag (it logs it) and the task must end
  by itself, not be killed. With the send loop's checks (between messages it stops, marks
  the message just sent and releases the rest) the worker also exits within ``docker
  stop``'s 10 s, leaving nothing claimed and nothing uncertain.
- Recovery: with no beat, a worker's recovery watchdog resumes an edition that no send task
  is queued for, after a Redis outage of any length.

Time: the workers judge editions by their own wall clock (``max_resume_age``), so each test
dates its data with ``system_clock()`` (see tests/workers/test_mail_tasks.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis

from syndication.clock import system_clock
from syndication.config import Settings, load_settings
from syndication.embedded_redis import EmbeddedRedis
from syndication.events import RecordingEvents
from syndication.store.connection import connect
from syndication.store.editions import EntryState, Policy
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

# Short leases so that claims left by a sender that gave up come back within seconds.
POLICY = Policy(lease_s=6, tx_budget_s=2, retry_base_s=0.2, retry_max_s=1, max_attempts=5)
CONNECTIONS = 2  # MailSettings default: SMTP sessions per send task
DOCKER_STOP_GRACE = 10  # seconds between docker stop's SIGTERM and its SIGKILL
# For the deploy test: a transaction budget a loaded machine cannot outrun (with 2 s, one
# slow answer from the in-process SMTP server under load timed out after DATA, and the
# ledger honestly called it uncertain; this test is about the drain, not slow servers).
PATIENT = Policy(lease_s=60, tx_budget_s=20, retry_base_s=0.2, retry_max_s=1, max_attempts=5)


def logged(w: MailWorker, start: str, **fields: Any) -> list[dict[str, Any]]:
    """The worker's log records whose message starts with ``start`` and has ``fields``."""
    return [
        r
        for r in w.records()
        if str(r.get("message", "")).startswith(start)
        and all(r.get(k) == v for k, v in fields.items())
    ]


def sending(svc: Any, edition_id: str) -> list[str]:
    return [s for s, state in svc.editions.states(edition_id).items() if state == "sending"]


def own_redis(tmp_path: Path, prefix: str) -> tuple[EmbeddedRedis, dict[str, str]]:
    """A Redis of the test's own (the session's is shared) and the environment for it."""
    server = EmbeddedRedis(tmp_path / "redis").start()
    env = {
        "SYNDICATION_REDIS_URL": server.url,
        "SYNDICATION_CONFIG": str(EXAMPLE_CONFIG),
        "SYNDICATION_KEY_PREFIX": prefix,
        "SYNDICATION_SECRET_KEY": "s" * 40,
        "SYNDICATION_PUBLIC_URL": "http://testserver",
    }
    return server, env


# -- drain ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["main process", "process group"])
def test_sigterm_reaches_the_pool_process_running_a_send(
    target: str,
    env: dict[str, str],
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    workers: list[MailWorker],
    tmp_path: Path,
) -> None:
    """The flag is set in the pool process that runs the task, and the task ends by itself
    (a hand-over after ``mail_max_task_seconds`` at the latest), never killed mid-message."""
    now = system_clock()  # the workers' clock (see the module's docstring)
    add_subscribers(redis_client, prefix, 1000, now=now)
    add_articles(redis_client, prefix, [{"topics": ["Coca"]}], now=now)
    smtp.script.delay = 0.05
    w = start(workers, env, tmp_path, smtp, mail_max_task_seconds="10", mail_batch="5")
    svc = worker_service(settings, redis_client, POLICY, fanout=1)
    eid = svc.create_edition("daily", now).edition_id
    assert eid
    wait_for(lambda: smtp.count() >= 10, timeout=60)

    if target == "main process":  # docker stop
        os.kill(w.proc.pid, signal.SIGTERM)
    else:  # kill of the whole group: the pool process gets its own SIGTERM too
        os.killpg(w.proc.pid, signal.SIGTERM)

    drains = wait_for(lambda: logged(w, "drain requested in the pool process"), timeout=30)
    assert isinstance(drains, list)
    child = drains[0]["pid"]
    assert child != w.proc.pid
    main = wait_for(lambda: logged(w, "drain requested in the main process"), timeout=30)
    assert isinstance(main, list) and str(child) in main[0]["reason"]

    assert w.proc.wait(timeout=60) == 0
    assert w.task_results("mail.send_batch"), w.text()  # the task ended and said so
    # ... after the pool process logged the drain: it saw the flag while the task ran.
    messages = [str(r.get("message", "")) for r in w.records()]
    drained = messages.index(drains[0]["message"])
    ended = next(
        i
        for i, m in enumerate(messages)
        if m.startswith("Task mail.send_batch[") and " succeeded " in m
    )
    assert drained < ended
    assert "WorkerLostError" not in w.text()
    assert sending(svc, eid) == []
    edition = svc.status(eid)
    assert edition is not None and edition.counts["uncertain"] == 0


def test_docker_stop_mid_edition_hands_over_cleanly(
    env: dict[str, str],
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    workers: list[MailWorker],
    tmp_path: Path,
) -> None:
    """SIGTERM to the main process while a send task has minutes of work left: the worker
    exits before docker's SIGKILL, nothing stays claimed or uncertain, and a second worker
    sends the rest exactly once."""
    now = system_clock()  # the workers' clock (see the module's docstring)
    add_subscribers(redis_client, prefix, 1000, now=now)
    add_articles(redis_client, prefix, [{"topics": ["Coca"]}], now=now)
    smtp.script.delay = 0.05  # 1000 messages on 2 sessions: ~25 s of sending
    first = start(workers, env, tmp_path, smtp)
    svc = worker_service(settings, redis_client, PATIENT, fanout=1)
    eid = svc.create_edition("daily", now).edition_id
    assert eid
    wait_for(lambda: smtp.count() >= 20, timeout=60)

    os.kill(first.proc.pid, signal.SIGTERM)
    try:
        code = first.proc.wait(timeout=DOCKER_STOP_GRACE)
    except subprocess.TimeoutExpired:
        first.kill()  # what docker does next
        pytest.fail(f"worker still running {DOCKER_STOP_GRACE}s after SIGTERM")
    assert code == 0
    assert smtp.count() < 1000
    assert sending(svc, eid) == []  # the message in flight was marked, the rest released
    assert svc.editions.members(eid, EntryState.UNCERTAIN) == []

    start(workers, env, tmp_path, smtp)
    wait_for(lambda: edition_done(svc, eid), timeout=120, interval=0.2)
    assert assert_exactly_once(svc, eid, smtp) == 0
    assert smtp.count() == 1000


# -- recovery -------------------------------------------------------------------------------


def test_watchdog_resumes_an_edition_after_a_redis_outage_without_beat(
    prefix: str, smtp: ScriptedSmtp, workers: list[MailWorker], tmp_path: Path
) -> None:
    """No beat, no send task queued, and Redis gone and back: only the worker's own
    watchdog can start the edition, and it does."""
    server, env = own_redis(tmp_path, prefix)
    try:
        client = connect(server.url)
        now = system_clock()  # the workers' clock (see the module's docstring)
        add_subscribers(client, prefix, 50, now=now)
        add_articles(client, prefix, [{"topics": ["Coca"]}], now=now)
        w = start(workers, env, tmp_path, smtp, mail_recover_interval_seconds="1")
        # The start-up recovery has run (and found nothing): it queues no further check.
        wait_for(lambda: w.task_results("mail.recover"), timeout=60)

        server.stop(cleanup=False)
        wait_for(lambda: logged(w, "recovery watchdog: Redis unavailable"), timeout=60)
        server.start()
        back = wait_for(lambda: logged(w, "recovery watchdog: Redis is back"), timeout=60)
        assert isinstance(back, list) and back[0]["outage_seconds"] > 0
        assert len(logged(w, "recovery watchdog: Redis unavailable")) == 1  # once an outage

        client = connect(server.url)
        # Events that queue nothing: the edition has no sender until the watchdog kicks it.
        svc = worker_service(load_settings(env), client, POLICY, events=RecordingEvents())
        eid = svc.create_edition("daily", now).edition_id
        assert eid
        wait_for(lambda: edition_done(svc, eid), timeout=120, interval=0.2)
        assert assert_exactly_once(svc, eid, smtp) == 0
        assert smtp.count() == 50
    finally:
        for w in workers:
            w.stop()
        workers.clear()
        server.stop()


def test_redis_outage_longer_than_the_senders_patience_then_back_without_beat(
    prefix: str, smtp: ScriptedSmtp, workers: list[MailWorker], tmp_path: Path
) -> None:
    """The senders give up while Redis is away (their task ends: no retry into a broker that
    is down); when Redis is back the worker resumes the edition by itself."""
    server, env = own_redis(tmp_path, prefix)
    try:
        client = connect(server.url)
        now = system_clock()  # the workers' clock (see the module's docstring)
        add_subscribers(client, prefix, 600, now=now)
        add_articles(client, prefix, [{"topics": ["Coca"]}], now=now)
        smtp.script.delay = 0.02
        w = start(
            workers,
            env,
            tmp_path,
            smtp,
            mail_redis_patience_seconds="2",
            mail_recover_interval_seconds="1",
        )
        settings = load_settings(env)
        svc = worker_service(settings, client, POLICY, fanout=1)
        eid = svc.create_edition("daily", now).edition_id
        assert eid
        wait_for(lambda: smtp.count() >= 50, timeout=60)

        server.stop(cleanup=False)
        # Senders either give up (a claim or begin waited past the patience) or, holding a
        # server's answer, keep waiting to record it: either way the outage outlasted it.
        wait_for(
            lambda: (
                logged(w, f"edition {eid}: Redis unavailable")
                or logged(w, "redis unavailable past the patience")
            ),
            timeout=30,
        )
        assert smtp.count() < 600
        server.start()

        client = connect(server.url)
        svc = worker_service(settings, client, POLICY, fanout=1)
        wait_for(lambda: edition_done(svc, eid), timeout=120, interval=0.2)
        # A message accepted while its mark could not be written is uncertain, never resent.
        assert assert_exactly_once(svc, eid, smtp) <= CONNECTIONS
        assert "WorkerLostError" not in w.text()
    finally:
        for w in workers:
            w.stop()
        workers.clear()
        server.stop()
