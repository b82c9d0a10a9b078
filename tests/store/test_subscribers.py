"""SubscriberStore and RateLimiter on a real Redis: states, indexes, suppression, limits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis

from syndication.store.ratelimit import RateLimiter
from syndication.store.subscribers import (
    ConfirmOutcome,
    ImportOutcome,
    InvalidEmail,
    SignupOutcome,
    Subscriber,
    SubscriberStore,
    normalise_email,
)

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(redis_client: redis.Redis, prefix: str) -> SubscriberStore:
    return SubscriberStore(redis_client, prefix)


def confirmed(
    store: SubscriberStore, email: str, frequency: str = "daily", **kw: object
) -> Subscriber:
    outcome, sub = store.signup(email, frequency, (), "en", NOW, **kw)  # type: ignore[arg-type]
    assert outcome is SignupOutcome.CREATED and sub is not None
    out, sub = store.confirm(sub.id, NOW)
    assert out is ConfirmOutcome.CONFIRMED and sub is not None
    return sub


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Reader@Example.ORG ", "Reader@example.org"),
        ("a.b+tag@sub.example.co", "a.b+tag@sub.example.co"),
        ("x@bücher.example", "x@xn--bcher-kva.example"),
    ],
)
def test_normalise_email(raw: str, expected: str):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "no-at",
        "a@b",
        "two@@example.org",
        "a@example.org\r\nBcc: victim@example.org",
        "a b@example.org",
        '"quoted"@example.org',
        "a..b@example.org",
        "a@-bad.example",
        "x" * 65 + "@example.org",
        "<a@example.org>",
    ],
)
def test_rejects_addresses_that_could_break_a_header(raw: str):
    with pytest.raises(InvalidEmail):
        normalise_email(raw)


def test_signup_is_pending_until_confirmed_and_only_confirmed_are_active(store):
    outcome, sub = store.signup("a@example.org", "daily", ("coca",), "en", NOW)
    assert outcome is SignupOutcome.CREATED and sub is not None and sub.status == "pending"
    assert list(store.iter_active("daily")) == []
    out, conf = store.confirm(sub.id, NOW + timedelta(minutes=5))
    assert out is ConfirmOutcome.CONFIRMED and conf is not None
    assert conf.confirmed_at == NOW + timedelta(minutes=5)
    assert [s.email for s in store.iter_active("daily")] == ["a@example.org"]
    assert store.confirm(sub.id, NOW)[0] is ConfirmOutcome.ALREADY_CONFIRMED
    assert store.counts()["active"] == {"daily": 1, "weekly": 0, "instant": 0}
    assert store.counts()["active_by_language"] == {"en": 1}


def test_signup_never_changes_a_confirmed_subscriber(store):
    sub = confirmed(store, "a@example.org", "daily")
    outcome, same = store.signup("A@EXAMPLE.org", "weekly", ("coca",), "es", NOW)
    assert outcome is SignupOutcome.ALREADY_CONFIRMED and same == sub
    assert store.get(sub.id) == sub


def test_update_moves_the_subscriber_between_active_sets(store):
    sub = confirmed(store, "a@example.org", "daily")
    store.update(sub.id, NOW, frequency="weekly", topics=("coca", "peru"), language="es")
    assert list(store.iter_active("daily")) == []
    [moved] = store.iter_active("weekly")
    assert moved.topics == ("coca", "peru") and moved.language == "es"
    assert store.counts()["active_by_language"] == {"en": 0, "es": 1}


def test_suppression_is_always_honoured(store):
    sub = confirmed(store, "a@example.org")
    store.suppress("A@example.org", "hard bounce", NOW)
    assert store.get(sub.id).status == "unsubscribed"  # type: ignore[union-attr]
    assert list(store.iter_active("daily")) == []
    assert store.is_suppressed("a@EXAMPLE.org")
    # Neither a new signup, nor a confirm link still in the inbox, nor an import revives it.
    assert store.signup("a@example.org", "daily", (), "en", NOW)[0] is SignupOutcome.SUPPRESSED
    assert store.confirm(sub.id, NOW)[0] is ConfirmOutcome.SUPPRESSED
    record = Subscriber("", "a@example.org", "confirmed", "daily", (), "en", NOW, NOW, 1)
    assert store.import_record(record) is ImportOutcome.SUPPRESSED
    assert store.suppression("a@example.org").reason == "hard bounce"  # type: ignore[union-attr]
    # A later event keeps the first reason.
    store.suppress("a@example.org", "complaint", NOW)
    assert store.suppression("a@example.org").reason == "hard bounce"  # type: ignore[union-attr]


def test_pending_subscriber_suppressed_before_confirming_cannot_confirm(store):
    _, sub = store.signup("a@example.org", "daily", (), "en", NOW)
    store.suppress("a@example.org", "complaint", NOW)
    assert store.confirm(sub.id, NOW)[0] is ConfirmOutcome.SUPPRESSED  # type: ignore[union-attr]
    assert list(store.iter_active("daily")) == []


def test_unsubscribe_suppresses_and_is_idempotent(store):
    sub = confirmed(store, "a@example.org")
    left = store.unsubscribe(sub.id, NOW)
    assert left is not None and left.status == "unsubscribed"
    assert store.unsubscribe(sub.id, NOW + timedelta(days=1)) == left
    assert store.suppression("a@example.org").reason == "unsubscribed"  # type: ignore[union-attr]
    assert store.counts()["by_status"]["unsubscribed"] == 1


def test_iter_active_pages_without_repeats_while_the_list_changes(store):
    # Ids are random and iteration is in id order: the one to remove is the last in order.
    subs = sorted((confirmed(store, f"r{i}@example.org") for i in range(25)), key=lambda s: s.id)
    seen = []
    for n, sub in enumerate(store.iter_active("daily", batch=4)):
        seen.append(sub.id)
        if n == 5:  # someone leaves and someone joins mid-iteration
            store.unsubscribe(subs[-1].id, NOW)
            confirmed(store, "late@example.org")
    assert len(seen) == len(set(seen))
    assert subs[-1].id not in seen
    assert {s.id for s in subs[:-1]} <= set(seen)


def test_confirm_racing_suppress_never_ends_active_and_suppressed(store):
    for i in range(30):
        _, sub = store.signup(f"race{i}@example.org", "daily", (), "en", NOW)
        assert sub is not None
        threads = [
            threading.Thread(target=store.confirm, args=(sub.id, NOW)),
            threading.Thread(target=store.suppress, args=(sub.email, "complaint", NOW)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.get(sub.id).status == "unsubscribed"  # type: ignore[union-attr]
    assert store.counts()["active"]["daily"] == 0


def test_revoke_bumps_the_token_version(store):
    sub = confirmed(store, "a@example.org")
    assert store.revoke_tokens(sub.id, NOW).token_version == sub.token_version + 1  # type: ignore[union-attr]


def test_rate_limiter_refuses_over_the_limit_with_retry_after(redis_client, prefix):
    limiter = RateLimiter(redis_client, prefix)
    t0 = 1_000_000 * 60.0  # the start of a window
    results = [limiter.allow("ip:1.2.3.4", 3, 60, now=t0 + i) for i in range(4)]
    assert [ok for ok, _ in results] == [True, True, True, False]
    retry = results[-1][1]
    assert 1 <= retry <= 60
    # Another key is independent; a refused call does not count.
    assert limiter.allow("ip:5.6.7.8", 3, 60, now=t0 + 4)[0]
    # Once the retry-after has passed, it is allowed again (the window turned at 60) ...
    assert retry == 58
    assert limiter.allow("ip:1.2.3.4", 3, 60, now=t0 + 3 + retry)[0]
    # ... but the previous window still weighs: no fresh burst of 3 at the window edge.
    ok, retry = limiter.allow("ip:1.2.3.4", 3, 60, now=t0 + 62)
    assert not ok and retry == 19
    assert not limiter.allow("ip:1.2.3.4", 3, 60, now=t0 + 62 + retry - 1)[0]
    assert limiter.allow("ip:1.2.3.4", 3, 60, now=t0 + 62 + retry)[0]


def test_rate_limiter_is_atomic_under_concurrency(redis_client, prefix):
    limiter = RateLimiter(redis_client, prefix)
    allowed: list[bool] = []
    lock = threading.Lock()

    def hit() -> None:
        ok, _ = limiter.allow("addr:x@example.org", 10, 3600, now=7200.0)
        with lock:
            allowed.append(ok)

    threads = [threading.Thread(target=hit) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 10


def test_search_suppressed_is_literal_case_insensitive_sorted_and_bounded(store):
    for email in (
        "ann@example.org",
        "Joanna@Example.org",
        "bob@example.org",
        "st*r@example.org",
        "star@example.org",
    ):
        store.suppress(email, "complaint", NOW)
    hits, more = store.search_suppressed("ANN", 10)
    assert [h.email for h in hits] == ["ann@example.org", "Joanna@Example.org"] and not more
    assert hits[0].reason == "complaint" and hits[0].at == NOW
    hits, more = store.search_suppressed("t*r", 10)  # "*" is a character, not a wildcard
    assert [h.email for h in hits] == ["st*r@example.org"] and not more
    assert store.search_suppressed("s[t]a", 10) == ([], False)
    hits, more = store.search_suppressed("example.org", 2)
    assert len(hits) == 2 and more
    hits, more = store.search_suppressed("example.org", 5)
    assert len(hits) == 5 and not more
    assert store.search_suppressed("nobody", 5) == ([], False)
