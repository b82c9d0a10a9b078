"""Event webhooks in-process: real Redis, a real receiver on loopback, the test's clock,
events recorded instead of queued (the worker tests run the same through Celery)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis

from syndication.config import Settings, WebhooksConfig
from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.services.event_hooks import InvalidEndpoint, check_endpoint_url
from syndication.services.event_hooks.delivery import LOG_KEEP
from syndication.store.event_hooks import Endpoint, EventHookStore
from tests.support import article_data
from tests.support.clock import ManualClock
from tests.support.receivers import HookReceiver, verify


def hooks_context(
    settings: Settings, client: redis.Redis, clock: ManualClock, **config: object
) -> Context:
    webhooks = dataclasses.replace(WebhooksConfig(allow_private=True), **config)
    changed = dataclasses.replace(settings, webhooks=webhooks)
    return Context(changed, RecordingEvents(), client, clock=clock)


@pytest.fixture
def ctx(settings: Settings, redis_client: redis.Redis, clock: ManualClock) -> Context:
    return hooks_context(settings, redis_client, clock)


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    r = HookReceiver()
    yield r
    r.close()


def calls(ctx: Context, kind: str) -> list[str]:
    assert isinstance(ctx.events, RecordingEvents)
    return [value for k, value in ctx.events.calls if k == kind]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
def test_private_addresses_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(InvalidEndpoint, match="public addresses only"):
        check_endpoint_url(url, allow_private=False)
    assert check_endpoint_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["http://0.0.0.0/hook", "http://224.0.0.1/", "http://[ff02::1]/"])
def test_unspecified_and_multicast_are_never_allowed(url: str) -> None:
    with pytest.raises(InvalidEndpoint, match="not a public address"):
        check_endpoint_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/hook",
        "https://user:pw@example.org/hook",
        "https://example.org/hook\r\nX-Evil: 1",
        "https://example.org/a b",
        "/relative",
        "",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidEndpoint):
        check_endpoint_url(url, allow_private=True)


def test_a_name_resolving_to_loopback_is_refused_at_delivery(
    settings: Settings, redis_client: redis.Redis, clock: ManualClock, receiver: HookReceiver
) -> None:
    """Registration cannot know where a name resolves later: the delivery checks the
    addresses it connects to (DNS rebinding). ``localhost`` stands in for such a name,
    written to the store directly as if it had passed registration."""
    ctx = hooks_context(settings, redis_client, clock, allow_private=False)
    port = receiver.server.server_port
    store = EventHookStore(redis_client, settings.key_prefix)
    endpoint = Endpoint("wh_000000000001", f"http://localhost:{port}/hook", (), True, clock(), "n")
    store.add(endpoint)
    eid = ctx.event_hooks.outbox.emit("edition.sent", {"edition": {"id": "x"}}, "x")
    assert eid is not None
    assert ctx.event_hooks.delivery.deliver(endpoint.id, eid, 1, clock()) == "refused"
    assert receiver.requests == []
    (attempt,) = store.attempts(endpoint.id)
    assert attempt.outcome == "refused" and "loopback" in attempt.error


def test_nothing_is_written_when_no_endpoint_wants_the_event(ctx: Context) -> None:
    hooks = ctx.event_hooks
    assert hooks.outbox.emit("edition.sent", {}, "e1") is None
    hooks.endpoints.add("https://example.org/hook", ["article.published"], ctx.clock())
    assert hooks.outbox.emit("edition.sent", {}, "e1") is None
    assert hooks.outbox.emit("article.published", {}, "a1") is not None
    assert calls(ctx, "webhook_event") and len(calls(ctx, "webhook_event")) == 1


def test_one_fact_is_one_event(ctx: Context) -> None:
    """The same key gives the same id, written and queued once (a redelivered event)."""
    hooks = ctx.event_hooks
    hooks.endpoints.add("https://example.org/hook", [], ctx.clock())
    first = hooks.outbox.emit("article.published", {"n": 1}, "story-1")
    again = hooks.outbox.emit("article.published", {"n": 1}, "story-1")
    other = hooks.outbox.emit("article.published", {"n": 2}, "story-2")
    assert first and again is None and other and other != first
    assert calls(ctx, "webhook_event") == [first, other]


def test_delivery_is_signed_and_fanned_out_to_who_wants_it(
    ctx: Context, receiver: HookReceiver
) -> None:
    hooks = ctx.event_hooks
    wants, secret = hooks.endpoints.add(receiver.url, ["edition.sent"], ctx.clock())
    other, _ = hooks.endpoints.add(receiver.url + "?other", ["article.published"], ctx.clock())
    eid = hooks.outbox.emit("edition.sent", {"edition": {"id": "ed1"}}, "ed1")
    assert eid is not None
    assert hooks.outbox.fan_out(eid) == 1
    assert calls(ctx, "deliver_webhook") == [f"{wants.id} {eid} 1"]
    assert hooks.delivery.deliver(wants.id, eid, 1, ctx.clock()) == "delivered"
    (got,) = receiver.requests
    assert verify(secret, got.headers, got.body)
    assert not verify(secret.replace("a", "b", 1) + "x", got.headers, got.body)
    tampered = got.body.replace(b"ed1", b"ed2")
    assert not verify(secret, got.headers, tampered)
    payload = json.loads(got.body)
    assert payload == {
        "id": eid,
        "type": "edition.sent",
        "created_at": ctx.clock().isoformat(timespec="seconds"),
        "data": {"edition": {"id": "ed1"}},
    }
    assert got.headers["X-Syndication-Event"] == "edition.sent"
    assert got.headers["X-Syndication-Event-Id"] == eid
    assert got.headers["X-Syndication-Timestamp"] == str(int(ctx.clock().timestamp()))
    # A rotated secret: the old one no longer verifies the next delivery.
    _, new_secret = hooks.endpoints.rotate(wants.id)
    hooks.delivery.deliver(wants.id, eid, 1, ctx.clock())
    assert verify(new_secret, receiver.requests[1].headers, receiver.requests[1].body)
    assert not verify(secret, receiver.requests[1].headers, receiver.requests[1].body)
    assert other.id not in str(calls(ctx, "deliver_webhook"))


def test_back_off_grows_and_long_waits_wait_in_redis(ctx: Context) -> None:
    """Short waits are Celery countdowns; hours-long ones are parked for the sweep, which
    releases them when the test's clock reaches them."""
    receiver = HookReceiver(then=503)
    try:
        hooks = ctx.event_hooks
        endpoint, _ = hooks.endpoints.add(receiver.url, [], ctx.clock())
        eid = hooks.outbox.emit("edition.sent", {}, "ed1")
        assert eid is not None
        assert hooks.delivery.deliver(endpoint.id, eid, 1, ctx.clock()) == "retry"
        assert calls(ctx, "deliver_webhook") == [f"{endpoint.id} {eid} 2"]
        assert hooks.delivery.deliver(endpoint.id, eid, 4, ctx.clock()) == "retry"
        store = EventHookStore(ctx.client, ctx.settings.key_prefix)
        assert store.due_count() == 1 and len(calls(ctx, "deliver_webhook")) == 1
        assert hooks.outbox.sweep(ctx.clock())["retries"] == 0
        ctx.clock.advance(hours=2)  # type: ignore[attr-defined]
        assert hooks.outbox.sweep(ctx.clock())["retries"] == 1
        assert calls(ctx, "deliver_webhook")[-1] == f"{endpoint.id} {eid} 5"
        last = ctx.settings.webhooks.max_attempts
        assert hooks.delivery.deliver(endpoint.id, eid, last, ctx.clock()) == "failed"
    finally:
        receiver.close()


def test_a_failing_endpoint_is_switched_off_with_the_reason(
    settings: Settings, redis_client: redis.Redis, clock: ManualClock
) -> None:
    ctx = hooks_context(settings, redis_client, clock, disable_after=3)
    receiver = HookReceiver(then=500)
    try:
        hooks = ctx.event_hooks
        endpoint, _ = hooks.endpoints.add(receiver.url, [], clock())
        eid = hooks.outbox.emit("edition.sent", {}, "ed1")
        assert eid is not None
        outcomes = [hooks.delivery.deliver(endpoint.id, eid, n, clock()) for n in (1, 2, 3, 4)]
        assert outcomes == ["retry", "retry", "retry", "skipped"]
        assert len(receiver.requests) == 3
        off = hooks.endpoints.get(endpoint.id)
        assert not off.enabled
        assert "3 failed attempts in a row (last: HTTP 500)" in off.disabled_reason
        assert hooks.outbox.emit("edition.sent", {}, "ed2") is None  # nobody wants it now
        # A test event still goes to a disabled endpoint; enabling forgets the failures.
        test_id = hooks.outbox.send_test(endpoint.id)
        assert hooks.delivery.deliver(endpoint.id, test_id, 1, clock()) == "retry"
        assert hooks.endpoints.enable(endpoint.id).failures == 0
    finally:
        receiver.close()


def test_the_attempt_log_is_capped(ctx: Context, receiver: HookReceiver) -> None:
    hooks = ctx.event_hooks
    endpoint, _ = hooks.endpoints.add(receiver.url, [], ctx.clock())
    eid = hooks.outbox.emit("edition.sent", {}, "ed1")
    assert eid is not None
    for _ in range(LOG_KEEP + 5):
        hooks.delivery.deliver(endpoint.id, eid, 1, ctx.clock())
    store = EventHookStore(ctx.client, ctx.settings.key_prefix)
    assert len(store.attempts(endpoint.id, limit=1000)) == LOG_KEEP


def test_a_lost_fan_out_is_queued_again_by_the_sweep(ctx: Context) -> None:
    hooks = ctx.event_hooks
    hooks.endpoints.add("https://example.org/hook", [], ctx.clock())
    eid = hooks.outbox.emit("edition.sent", {}, "ed1")
    assert hooks.outbox.sweep(ctx.clock())["fan_outs"] == 0
    ctx.clock.advance(minutes=2)  # type: ignore[attr-defined]
    assert hooks.outbox.sweep(ctx.clock())["fan_outs"] == 1
    assert calls(ctx, "webhook_event") == [eid, eid]
    assert eid is not None
    hooks.outbox.fan_out(eid)
    assert hooks.outbox.sweep(ctx.clock())["fan_outs"] == 0


def test_subscriber_facts_become_events(ctx: Context) -> None:
    hooks = ctx.event_hooks
    hooks.endpoints.add("https://example.org/hook", [], ctx.clock())
    subscribers = ctx.subscriptions.store
    _, sub = subscribers.signup("reader@example.org", "daily", (), "en", ctx.clock())
    assert sub is not None
    subscribers.confirm(sub.id, ctx.clock())
    subscribers.confirm(sub.id, ctx.clock())  # already confirmed: no second event
    ctx.suppressions.record_events([{"type": "bounce", "email": "Reader@example.org"}])
    ids = calls(ctx, "webhook_event")
    store = EventHookStore(ctx.client, ctx.settings.key_prefix)
    events = [json.loads(store.event(i) or b"") for i in ids]
    assert [e["type"] for e in events] == ["subscriber.confirmed", "subscriber.bounced"]
    assert events[0]["data"]["subscriber"]["email"] == "reader@example.org"
    assert events[1]["data"]["subscriber"]["reason"].startswith("hard bounce")


def test_article_and_partner_facts_become_events(ctx: Context) -> None:
    from syndication.models import Article

    hooks = ctx.event_hooks
    hooks.endpoints.add("https://example.org/hook", [], ctx.clock())
    article = Article.model_validate(article_data(1))
    written = ctx.articles.submit(article)
    article_id = written.article.id
    assert hooks.announce.article("article.published", article_id)
    assert hooks.announce.article("article.published", article_id) is None  # once
    now = ctx.clock() + timedelta(minutes=1)
    first = hooks.announce.partner_pulled("p1", [article_id], now)
    assert len(first) == 1
    ctx.partners.store.record_pulled("p1", {article_id: "hash"}, now)
    assert hooks.announce.partner_pulled("p1", [article_id], now) == []
    body = EventHookStore(ctx.client, ctx.settings.key_prefix).event(first[0])
    data = json.loads(body or b"")["data"]
    assert data["partner"]["id"] == "p1" and data["article"]["id"] == article_id
