"""A send run under faults, in-process, against a real Redis and a real SMTP server (#12):
a deploy's drain, a Redis outage longer than the senders' patience, a cancel mid-run."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from syndication import shutdown
from syndication.config import Settings
from syndication.embedded_redis import EmbeddedRedis
from syndication.events import RecordingEvents
from syndication.services.digests import (
    Digests,
    MailSettings,
    make_digest_service,
)
from syndication.services.sending import RedisUnavailable
from syndication.store.editions import EditionStatus, Policy
from tests.support import wait_for
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all
from tests.support.ledger import counts_consistent
from tests.support.smtp import Script, ScriptedSmtp

FAST = Policy(lease_s=20, tx_budget_s=5, retry_base_s=0.1, retry_max_s=0.5, max_attempts=5)


@pytest.fixture(autouse=True)
def no_drain() -> Iterator[None]:
    shutdown.reset()
    yield
    shutdown.reset()


def make_service(
    settings: Settings, client: redis.Redis, smtp: ScriptedSmtp, clock: ManualClock, **mail: Any
) -> tuple[Digests, RecordingEvents]:
    events = RecordingEvents()
    options: dict[str, Any] = {"connections": 2, "batch": 10, "policy": FAST} | mail
    service = make_digest_service(
        dataclasses.replace(settings, smtp_url=smtp.url),
        client,
        events,
        mail=MailSettings(**options),
        clock=clock,
    )
    return service, events


def edition_of(
    service: Digests, client: redis.Redis, prefix: str, clock: ManualClock, n: int
) -> str:
    add_subscribers(client, prefix, n, now=clock())
    add_articles(client, prefix, [{"topics": ["Coca"]}], now=clock())
    created = service.create_edition("daily", clock())
    assert created.edition_id is not None
    return created.edition_id


def test_a_drain_finishes_the_message_in_flight_and_hands_back_the_rest(
    settings: Settings, redis_client: redis.Redis, prefix: str, clock: ManualClock
) -> None:
    smtp = ScriptedSmtp(Script(on_accept=lambda rcpt, n: n == 7 and shutdown.request("SIGTERM")))
    smtp.start()
    try:
        service, events = make_service(settings, redis_client, smtp, clock)
        eid = edition_of(service, redis_client, prefix, clock, 60)
        report = service.send_batch(eid)
        assert report.drained
        counts = counts_consistent(service.editions, eid)
        # The message the server had taken is recorded sent; nothing is left claimed.
        assert counts["sending"] == 0
        assert counts["sent"] == smtp.count() >= 7
        assert counts["pending"] == 60 - counts["sent"]
        assert events.editions[-1] == (eid, 0.0, 1)  # a continuation for whoever runs next
        shutdown.reset()
        send_all(service, eid)
        assert smtp.count() == 60 and max(smtp.per_recipient().values()) == 1
    finally:
        smtp.stop()


def test_a_cancel_mid_run_ends_unsent_entries_cancelled(
    settings: Settings, redis_client: redis.Redis, prefix: str, clock: ManualClock
) -> None:
    holder: list[Digests] = []
    eid_holder: list[str] = []

    def cancel_at_five(rcpt: str, n: int) -> None:
        if n == 5:
            holder[0].cancel(eid_holder[0], clock())

    smtp = ScriptedSmtp(Script(on_accept=cancel_at_five)).start()
    try:
        service, _ = make_service(settings, redis_client, smtp, clock)
        holder.append(service)
        eid = edition_of(service, redis_client, prefix, clock, 50)
        eid_holder.append(eid)
        service.send_batch(eid)
        counts = counts_consistent(service.editions, eid)
        edition = service.status(eid)
        assert edition is not None and edition.status is EditionStatus.CANCELLED
        assert counts["sent"] == smtp.count()
        assert (counts["pending"], counts["sending"]) == (0, 0)
        assert counts["cancelled"] == 50 - counts["sent"] > 0
    finally:
        smtp.stop()


def test_a_delivered_message_ends_sent_across_an_outage_longer_than_the_patience(
    settings: Settings, prefix: str, clock: ManualClock
) -> None:
    """Redis goes away right after the server accepted message 5, and stays away until a
    second run (another worker, patience 0.5 s) has given up on it. The session that holds
    message 5's 250 waits for Redis however long and records it ``sent``, then goes on; every
    reader gets one message."""
    server = EmbeddedRedis().start()
    client = redis.Redis.from_url(server.url, socket_timeout=2, socket_connect_timeout=0.5)
    outage = threading.Event()
    delivered_before: list[str] = []

    def outage_at_five(rcpt: str, n: int) -> None:
        if n == 5 and not outage.is_set():
            delivered_before.append(rcpt)
            server.stop(cleanup=False)  # a clean stop: nothing is lost, Redis is just away
            outage.set()

    smtp = ScriptedSmtp(Script(on_accept=outage_at_five)).start()
    try:
        service, _ = make_service(
            dataclasses.replace(settings, redis_url=server.url), client, smtp, clock,
            connections=1, redis_patience=0.5,
        )  # fmt: skip
        eid = edition_of(service, client, prefix, clock, 40)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                service.send_batch(eid, requeue=False)
            except BaseException as exc:
                errors.append(exc)

        first = threading.Thread(target=run, daemon=True)
        first.start()
        wait_for(outage.is_set, timeout=30)
        with pytest.raises(RedisUnavailable):  # the outage outlasts a run's patience
            service.send_batch(eid, requeue=False)
        server.start()
        first.join(timeout=60)
        assert not first.is_alive() and not errors
        sid = next(
            r.subscriber_id
            for r in service.editions.iter_recipients(eid)
            if r.email == delivered_before[0]
        )
        assert service.editions.entry(eid, sid)["state"] == "sent"
        send_all(service, eid)
        assert smtp.count() == 40 and max(smtp.per_recipient().values()) == 1
        assert counts_consistent(service.editions, eid)["sent"] == 40
    finally:
        smtp.stop()
        client.close()
        server.stop()
