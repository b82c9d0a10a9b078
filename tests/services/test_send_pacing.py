"""Pacing per recipient domain (store/domain_pacing.py, services/pacing.py) on a real
Redis and a real SMTP server on loopback: a provider that answers 421 slows only its own
domain; the others are delivered in the same run, and the slowed domain recovers."""

from __future__ import annotations

import dataclasses

import redis

from syndication.config import Settings
from syndication.deliver.smtp import Outcome, SendResult
from syndication.events import RecordingEvents
from syndication.services.digests import Digests, MailSettings, make_digest_service
from syndication.store.domain_pacing import Backoff, DomainPacer
from syndication.store.editions import EditionStatus, Policy
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all
from tests.support.smtp import ScriptedSmtp

FAST = Policy(lease_s=20, tx_budget_s=5, retry_base_s=0.1, retry_max_s=0.5, max_attempts=5)
GMAIL_RATE = 40.0


def _service(
    settings: Settings, client: redis.Redis, smtp: ScriptedSmtp, clock: ManualClock
) -> Digests:
    mail = MailSettings(
        connections=2,
        batch=10,
        policy=FAST,
        domain_rates=(("gmail.com", GMAIL_RATE),),
        domain_backoff_s=2.0,
    )
    return make_digest_service(
        dataclasses.replace(settings, smtp_url=smtp.url),
        client,
        RecordingEvents(),
        mail=mail,
        clock=clock,
    )


def _pacer(client: redis.Redis, prefix: str, clock: ManualClock) -> DomainPacer:
    return DomainPacer(client, prefix, {"gmail.com": GMAIL_RATE}, clock=lambda: clock().timestamp())


def test_a_throttling_provider_slows_its_domain_only_and_recovers(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> None:
    others = add_subscribers(redis_client, prefix, 30, now=clock(), domain="example.org")
    gmail = add_subscribers(redis_client, prefix, 12, now=clock(), domain="gmail.com")
    add_subscribers(redis_client, prefix, 4, now=clock(), domain="googlemail.com")
    add_articles(redis_client, prefix, [{}], now=clock())
    service = _service(settings, redis_client, smtp, clock)
    created = service.create_edition("daily", clock())
    assert created.edition_id
    smtp.script.by_domain["gmail.com"] = "421 4.7.28 unusual rate of mail, slow down"

    # The clock stands still: had the run waited for Gmail's pause, it would never return.
    report = service.send_batch(created.edition_id, requeue=False)
    delivered = set(smtp.per_recipient())
    assert {s.email for s in others} <= delivered
    assert not {s.email for s in gmail} & delivered
    assert report.deferred > 0 and report.due_in is not None and report.due_in > 1
    # googlemail.com is Gmail too: paused with it (those that went before the 421 went)
    assert _pacer(redis_client, prefix, clock).group_of("A@GoogleMail.com") == "gmail.com"
    # only the first answer counts; those in flight at that moment add no strike
    pacer = _pacer(redis_client, prefix, clock)
    state = pacer.state("gmail.com")
    assert state.strikes == 1 and state.paused_for == 2.0
    assert state.effective_rate == GMAIL_RATE / 2
    assert smtp.replies()["gmail.com:421"] <= 2  # one per session at most, not one per reader

    del smtp.script.by_domain["gmail.com"]
    clock.advance(seconds=3)
    edition = send_all(service, created.edition_id)
    assert edition.status is EditionStatus.DONE
    assert edition.counts["sent"] == edition.counts["total"] == 46
    assert set(smtp.per_recipient().values()) == {1}
    state = pacer.state("gmail.com")
    assert (state.factor, state.strikes, state.paused_for) == (1.0, 0, 0.0)
    assert pacer.slowed() == set()


def test_back_off_doubles_while_refused_and_resets_on_success(
    redis_client: redis.Redis, prefix: str, clock: ManualClock
) -> None:
    pacer = DomainPacer(
        redis_client,
        prefix,
        {"gmail.com": 10},
        backoff=Backoff(base_s=1, cap_s=5, min_factor=0.1, recover_step=0.25),
        clock=lambda: clock().timestamp(),
    )
    assert pacer.try_take("gmail.com", 4) == (4, 0.0)
    assert pacer.throttled("gmail.com") == 1
    assert pacer.throttled("gmail.com") == 1  # still paused: an answer in flight
    taken, wait = pacer.try_take("gmail.com")
    assert (taken, wait) == (0, 1.0)
    pauses = []
    for _ in range(4):
        clock.advance(seconds=10)
        pauses.append(pacer.throttled("gmail.com"))
    assert pauses == [2, 4, 5, 5]  # doubling, capped
    assert pacer.state("gmail.com").factor == 0.1  # halved down to the floor
    clock.advance(seconds=10)
    assert pacer.try_take("gmail.com", 2) == (1, 0.0)  # a second's worth of 1/s: one
    assert [pacer.succeeded("gmail.com") for _ in range(4)] == [0.35, 0.6, 0.85, 1.0]
    assert pacer.state("gmail.com").strikes == 0 and pacer.slowed() == set()
    # an unlimited domain is paused too, and let go on its first success
    assert pacer.try_take("example.net", 50) == (50, 0.0)
    pacer.throttled("example.net")
    assert pacer.try_take("example.net")[0] == 0
    clock.advance(seconds=2)
    assert pacer.succeeded("example.net") == 1.0 and pacer.try_take("example.net", 50)[0] == 50


def test_which_answers_slow_a_domain() -> None:
    def throttled(code: int, text: str) -> bool:
        return SendResult(Outcome.TEMPORARY, code, text).throttled

    assert throttled(421, "4.7.0 Try again later, closing connection")
    assert throttled(451, "4.7.28 unusual rate of unsolicited mail")
    assert throttled(450, "4.7.1 rate limited")
    assert throttled(451, "try again later")  # says no more: the server, not the reader
    assert not throttled(451, "4.3.0 try again later")  # greylisting-like, per recipient
    assert not throttled(450, "4.2.1 user is receiving mail too quickly")
    assert not throttled(0, "connection lost")
    assert not SendResult(Outcome.PERMANENT, 550, "5.7.1 rejected").throttled
