"""Editions sent in-process through a real SMTP server on loopback (Proof 1 and 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from syndication.config import Settings
from syndication.deliver.smtp import Outcome, SmtpSender, dot_stuff
from syndication.events import RecordingEvents
from syndication.services.digests import (
    Digests,
    period_of,
)
from syndication.store.editions import EditionStatus, EntryState
from syndication.store.ratelimit import SendRateLimiter as RateLimiter
from syndication.store.subscribers import SubscriberStore
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all, smtp_digests
from tests.support.smtp import ScriptedSmtp


def service_for(
    settings: Settings,
    client: redis.Redis,
    smtp: ScriptedSmtp,
    clock: ManualClock,
    **mail: object,
) -> Digests:
    """``smtp_digests`` with three SMTP sessions unless told otherwise."""
    result: Digests = smtp_digests(settings, client, smtp, clock, **{"connections": 3, **mail})
    return result


SEGMENTS = (
    ("en", ()),
    ("en", ("coca",)),
    ("en", ("peru", "coca")),
    ("es", ()),
    ("en", ("mexico",)),  # no article: not frozen, gets nothing
)
ARTICLES = [
    {"topics": ["Coca"]},
    {"topics": ["Peru"]},
    {"topics": ["Colombia"]},
    {"topics": ["Coca"], "language": "es"},
    {"topics": ["Peru"], "language": "es"},
]


def test_200_subscribers_one_message_each_with_their_articles(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> None:
    subs = add_subscribers(redis_client, prefix, 200, now=clock(), segments=SEGMENTS)
    articles = add_articles(redis_client, prefix, ARTICLES, now=clock())
    service = service_for(settings, redis_client, smtp, clock)
    created = service.create_edition("daily", clock())
    assert created.created and created.edition_id
    # a second beat, a retried task: the same edition, nothing new
    again = service.create_edition("daily", clock())
    assert (again.edition_id, again.created) == (created.edition_id, False)

    send_all(service, created.edition_id)
    edition = service.status(created.edition_id)
    assert edition is not None and edition.status is EditionStatus.DONE
    expected = [s for s in subs if s.topics != ("mexico",)]
    assert edition.counts["sent"] == edition.counts["total"] == len(expected) == 160

    per = smtp.per_recipient()
    assert set(per) == {s.email for s in expected} and set(per.values()) == {1}
    by_email = {s.email: s for s in subs}
    titles = {a.id: a.title for a in articles}
    want = {
        ("en", ()): {articles[0].id, articles[1].id, articles[2].id},
        ("en", ("coca",)): {articles[0].id},
        ("en", ("coca", "peru")): {articles[0].id, articles[1].id},
        ("es", ()): {articles[3].id, articles[4].id},
    }
    message_ids = set()
    for msg in smtp.messages():
        sub = by_email[str(msg["To"]).strip("<>").split("<")[-1].rstrip(">")]
        assert msg.get_content_type() == "multipart/alternative"
        html = msg.get_body(("html",))
        text = msg.get_body(("plain",))
        assert html is not None and text is not None
        html_s = html.get_content()
        wanted = want[(sub.language, tuple(sorted(sub.topics)))]
        for article_id, title in titles.items():
            assert (title in html_s) == (article_id in wanted), (sub, article_id)
        assert msg["Message-ID"] == f"<{created.edition_id}.{sub.id}@testserver>"
        message_ids.add(msg["Message-ID"])
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "http://testserver/unsubscribe/" in msg["List-Unsubscribe"]
        assert "mailto:" not in msg["List-Unsubscribe"]  # none configured: https only
        assert msg["Precedence"] == "bulk"
        assert msg["Date"] is not None
    assert len(message_ids) == 160

    # the next edition of the period does not repeat; no new articles → no edition
    later = clock() + timedelta(days=1)
    assert service.create_edition("daily", later).edition_id is None


def test_451_then_accept_550_suppressed_dropped_connections(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> None:
    subs = add_subscribers(redis_client, prefix, 60, now=clock())
    add_articles(redis_client, prefix, [{"topics": ["Coca"]}], now=clock())
    emails = [s.email for s in subs]
    smtp.script.temp_fail.update({emails[1]: 2, emails[2]: 1, emails[30]: 3})
    smtp.script.perm_fail.update({emails[3], emails[40]})
    smtp.script.drop_at_rcpt.update({emails[5], emails[25], emails[45]})
    smtp.script.drop_after_data.add(emails[50])
    service = service_for(settings, redis_client, smtp, clock)
    created = service.create_edition("daily", clock())
    assert created.edition_id
    bounced_at = clock.advance(minutes=5)  # the hard bounces are dated by the service's clock
    send_all(service, created.edition_id)

    edition = service.status(created.edition_id)
    assert edition is not None and edition.status is EditionStatus.DONE
    assert edition.counts["failed"] == 2 and edition.counts["uncertain"] == 1
    assert edition.counts["sent"] == 57
    per = smtp.per_recipient()
    # 451s and connections dropped before data: retried and delivered, once
    for i in (1, 2, 30, 5, 25, 45):
        assert per[emails[i]] == 1, i
    # 550: failed and suppressed, never delivered
    store = SubscriberStore(redis_client, prefix)
    for i in (3, 40):
        assert per[emails[i]] == 0
        suppression = store.suppression(emails[i])
        assert suppression is not None and suppression.at == bounced_at
        assert suppression.reason.startswith("hard bounce: ")
    failed = service.editions.members(created.edition_id, EntryState.FAILED)
    assert sorted(failed) == sorted([subs[3].id, subs[40].id])
    # dropped after the whole message: uncertain, reported, not resent (it did arrive once)
    assert per[emails[50]] == 1
    assert service.editions.members(created.edition_id, EntryState.UNCERTAIN) == [subs[50].id]
    assert sum(per.values()) == 58
    report = service.report(created.edition_id)
    assert "550" in report["failed"][subs[3].id]
    assert smtp.handler.replies["451"] == 6


def test_suppressed_after_freeze_is_not_mailed_next_edition(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> None:
    subs = add_subscribers(redis_client, prefix, 3, now=clock())
    add_articles(redis_client, prefix, [{"topics": ["Coca"]}], now=clock())
    SubscriberStore(redis_client, prefix).suppress(subs[0].email, "complaint", clock())
    service = service_for(settings, redis_client, smtp, clock)
    created = service.create_edition("daily", clock())
    assert created.edition is not None and created.edition.counts["total"] == 2


def test_pause_resume_cancel(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> None:
    add_subscribers(redis_client, prefix, 30, now=clock())
    add_articles(redis_client, prefix, [{"topics": ["Coca"]}], now=clock())
    service = service_for(settings, redis_client, smtp, clock)
    now = clock()
    created = service.create_edition("daily", now, start=False)
    assert created.edition is not None and created.edition.status is EditionStatus.DRAFT
    eid = created.edition.id
    assert service.send_batch(eid).sent == 0  # a draft is not sent
    assert service.resume(eid, now) == ("draft", "sending")
    assert service.pause(eid, now) == ("sending", "paused")
    assert service.send_batch(eid).sent == 0
    service.resume(eid, now)
    send_all(service, eid)
    assert smtp.count() == 30
    assert service.cancel(eid, now)[1] == ""  # done: nothing to cancel


def test_recover_kicks_editions_without_senders_but_not_stale_ones(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> None:
    add_subscribers(redis_client, prefix, 5, now=clock())
    add_articles(redis_client, prefix, [{"topics": ["Coca"]}], now=clock())
    service = service_for(settings, redis_client, smtp, clock)
    now = clock()
    eid = service.create_edition("daily", now).edition_id
    assert eid
    events = service.events
    assert isinstance(events, RecordingEvents)
    events.editions.clear()
    [report] = service.recover(now)
    assert report.kicked and events.editions == [(eid, 0.0, 2)]
    assert not service.recover(now)[0].kicked  # once per 30 s
    # much later: too old to resume on its own
    redis_client.delete(service.editions.kick_key(eid))
    [late] = service.recover(now + timedelta(days=3))
    assert late.stale and not late.kicked
    edition = service.status(eid)
    assert edition is not None and edition.status is EditionStatus.PAUSED


def test_period_keys_use_the_publisher_time_zone() -> None:
    from zoneinfo import ZoneInfo

    bogota = ZoneInfo("America/Bogota")
    late = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 22:00 on the 26th in Bogotá
    assert period_of("daily", late, bogota) == "2026-11-26"
    assert period_of("weekly", late, bogota) == "2026-W48"


def test_smtp_sender_reuses_one_connection(smtp: ScriptedSmtp) -> None:
    sender = SmtpSender(smtp.url, timeout=5)
    for i in range(20):
        result = sender.send("n@testserver", f"a{i}@example.org", b"Subject: x\r\n\r\n.hi\r\n", 5)
        assert result.outcome is Outcome.SENT
    sender.close()
    assert sender.connections_opened == 1
    assert smtp.count() == 20
    assert smtp.handler.accepted[0][1].endswith(b".hi\r\n")


@pytest.mark.parametrize("pipelining", [False, True])
def test_smtp_sender_classifies_and_never_raises(smtp: ScriptedSmtp, pipelining: bool) -> None:
    smtp.script.perm_fail.add("gone@example.org")
    smtp.script.temp_fail["later@example.org"] = 1
    smtp.script.drop_at_rcpt.add("drop@example.org")
    smtp.script.drop_after_data.add("maybe@example.org")
    sender = SmtpSender(smtp.url, timeout=5, pipelining=pipelining)
    gone = sender.send("n@t", "gone@example.org", b"x\r\n", 5)
    assert gone.outcome is Outcome.PERMANENT and gone.hard_bounce and gone.code == 550
    assert sender.send("n@t", "later@example.org", b"x\r\n", 5).outcome is Outcome.TEMPORARY
    assert sender.send("n@t", "ok@example.org", b"x\r\n", 5).outcome is Outcome.SENT
    # dropped before the data: safe to retry; after the whole message: uncertain
    assert sender.send("n@t", "drop@example.org", b"x\r\n", 5).outcome is Outcome.TEMPORARY
    assert sender.send("n@t", "ok2@example.org", b"x\r\n", 5).outcome is Outcome.SENT
    assert sender.send("n@t", "maybe@example.org", b"x\r\n", 5).outcome is Outcome.UNCERTAIN
    assert sender.send("n@t", "ok3@example.org", b"x\r\n", 5).outcome is Outcome.SENT
    assert sender.connections_opened == 3
    assert smtp.per_recipient()["maybe@example.org"] == 1
    sender.close()
    down = SmtpSender("smtp://127.0.0.1:1", timeout=1)
    assert down.send("n@t", "ok@example.org", b"x\r\n", 2).outcome is Outcome.TEMPORARY


def test_an_envelope_written_ahead_is_sent_only_by_its_own_send(smtp: ScriptedSmtp) -> None:
    """``prepare`` writes MAIL, RCPT and DATA before the ledger's begin; only ``send`` for
    the same envelope continues it. Anything else ends the session before any data, so the
    prepared recipient gets nothing (the server never saw a final dot). aiosmtpd does not
    announce PIPELINING (it handles it): forced, as it is used with servers that do."""
    sender = SmtpSender(smtp.url, timeout=5, pipelining=True)
    body = b"Subject: x\r\n\r\nhi\r\n"
    assert sender.send("n@t", "first@example.org", body, 5).outcome is Outcome.SENT
    sender.prepare("n@t", "ahead@example.org", 5)  # continued by its send: one session
    assert sender.send("n@t", "ahead@example.org", body, 5).outcome is Outcome.SENT
    assert sender.connections_opened == 1
    sender.prepare("n@t", "abandoned@example.org", 5)  # its begin was refused, say
    assert sender.send("n@t", "other@example.org", body, 5).outcome is Outcome.SENT
    assert sender.connections_opened == 2  # the prepared session was dropped, not used
    sender.prepare("n@t", "closed@example.org", 5)
    sender.close()  # no QUIT into a DATA phase: the connection is just closed
    smtp.script.perm_fail.add("gone@example.org")
    late = SmtpSender(smtp.url, timeout=5, pipelining=True)
    assert late.send("n@t", "first2@example.org", body, 5).outcome is Outcome.SENT
    late.prepare("n@t", "gone@example.org", 5)
    refused = late.send("n@t", "gone@example.org", body, 5)
    assert refused.outcome is Outcome.PERMANENT and refused.hard_bounce
    assert late.send("n@t", "after@example.org", body, 5).outcome is Outcome.SENT
    late.close()
    got = smtp.per_recipient()
    assert got["ahead@example.org"] == 1 and got["other@example.org"] == 1
    assert "abandoned@example.org" not in got and "closed@example.org" not in got
    assert "gone@example.org" not in got and got["after@example.org"] == 1
    # Continued only soon enough: the server may time a DATA phase out (minutes), and data
    # written after that would end uncertain. An older envelope starts a fresh session.
    stale = SmtpSender(smtp.url, timeout=5, pipelining=True, ahead_max_age=0.0)
    assert stale.send("n@t", "first3@example.org", body, 5).outcome is Outcome.SENT
    stale.prepare("n@t", "waited@example.org", 5)
    assert stale.send("n@t", "waited@example.org", body, 5).outcome is Outcome.SENT
    assert stale.connections_opened == 2 and smtp.per_recipient()["waited@example.org"] == 1
    stale.close()


def test_dot_stuffing() -> None:
    assert dot_stuff(b".a\r\nb\r\n.c") == b"..a\r\nb\r\n..c\r\n"
    assert dot_stuff(b"a\n.b\n") == b"a\r\n..b\r\n"


def test_rate_limit_is_shared(redis_client: redis.Redis, prefix: str) -> None:
    # The buckets refill from Redis TIME, so the test asserts what the limiter reports (the
    # tokens granted, the wait it asks for), never how long the test itself took.
    a = RateLimiter(redis_client, prefix, per_second=50)
    b = RateLimiter(redis_client, prefix, per_second=50)
    assert a.chunk(10) == b.chunk(10) == 5  # a tenth of a second's worth per take
    # The burst, one second's worth (50), is granted at once to the two limiters together.
    assert [limiter.try_take(5) for _ in range(5) for limiter in (a, b)] == [0.0] * 10
    # Then the shared bucket is empty: a take is refused and asks to wait for the refill
    # of what it wants, at most 5 tokens at 50/s (a take that finds refilled tokens is
    # granted; a refusal comes as soon as the takes outrun the refill).
    waits = (limiter.try_take(5) for _ in range(100) for limiter in (a, b))
    wait = next((w for w in waits if w > 0), None)
    assert wait is not None and 0 < wait <= 5 / 50, wait
    # ``take`` waits for the refill and is then granted.
    assert a.take(5) and b.take(5)

    # An hourly quota refills by one token per 20 minutes, so its counts are exact: three
    # for both limiters together, then each is refused with a wait of up to 20 minutes.
    hourly_a = RateLimiter(redis_client, prefix + "h", per_hour=3)
    hourly_b = RateLimiter(redis_client, prefix + "h", per_hour=3)
    granted = [hourly_a.try_take(1), hourly_b.try_take(1), hourly_a.try_take(1)]
    assert granted == [0.0, 0.0, 0.0]
    refused = [hourly_b.try_take(1), hourly_a.try_take(1)]
    assert all(0 < w <= 3600 / 3 for w in refused), refused  # a refusal takes nothing
    assert not hourly_b.take(1, max_wait=60)  # gives up at once rather than wait 20 minutes
    # Another prefix is another bucket, untouched; a rate of 0 is no limit.
    assert RateLimiter(redis_client, prefix + "other", per_hour=3).try_take(1) == 0.0
    assert RateLimiter(redis_client, prefix + "h").try_take(1000) == 0.0
