"""Bulk import (one Lua call a chunk) against the per-row ``import_record`` it replaces, a
signup racing it, and records written in the old format (format 1) on a real Redis."""

from __future__ import annotations

import itertools
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndication.store.subscriber_bulk import SubscriberBulk
from syndication.store.subscriber_record import decode, encode, stamp, unstamp
from syndication.store.subscribers import (
    ImportOutcome,
    SignupOutcome,
    Subscriber,
    SubscriberStore,
)
from tests.support.legacy import legacy_subscriber_write
from tests.support.subscriber_indexes import check_indexes

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
_runs = itertools.count()


def fresh(client: redis.Redis) -> SubscriberStore:
    """A store on its own prefix (hypothesis runs many examples in one test)."""
    return SubscriberStore(client, f"bulk{os.getpid()}-{next(_runs)}:")


def record(email: str, status: str, frequency: str = "daily", language: str = "en") -> Subscriber:
    confirmed = NOW if status == "confirmed" else None
    left = NOW if status == "unsubscribed" else None
    return Subscriber(
        "", email, status, frequency, ("coca",), language, NOW - timedelta(days=9),
        confirmed, 1, "192.0.2.1", "import", left, NOW,
    )  # fmt: skip


ADDRESSES = [f"r{i}@example.org" for i in range(6)]
rows = st.lists(
    st.tuples(
        st.sampled_from([*ADDRESSES, "R0@EXAMPLE.org"]),
        st.sampled_from(["pending", "confirmed", "unsubscribed"]),
        st.sampled_from(["daily", "weekly", "instant"]),
        st.sampled_from(["en", "es"]),
    ),
    max_size=25,
)
# What the list holds before the import: per address, nothing, a subscriber in some state,
# or a suppression by the reader or by a bounce.
before = st.lists(
    st.sampled_from(["none", "pending", "confirmed", "left", "bounce", "left-by-reader"]),
    min_size=len(ADDRESSES),
    max_size=len(ADDRESSES),
)


def arrange(store: SubscriberStore, states: list[str]) -> None:
    for email, state in zip(ADDRESSES, states, strict=True):
        if state in ("pending", "confirmed", "left"):
            _, sub = store.signup(email, "weekly", (), "es", NOW)
            assert sub is not None
            if state == "confirmed":
                store.confirm(sub.id, NOW)
            if state == "left":
                store.unsubscribe(sub.id, NOW)
        elif state == "bounce":
            store.suppress(email, "hard bounce", NOW)
        elif state == "left-by-reader":
            store.suppress(email, "unsubscribed", NOW)


def state(store: SubscriberStore) -> dict[str, object]:
    """What a reader of the store can see, ids left out (they are random)."""
    out: dict[str, object] = {"counts": store.counts()}
    for email in ADDRESSES:
        sub = store.get_by_email(email)
        sup = store.suppression(email)
        out[email] = (
            None if sub is None else (sub.email, sub.status, sub.frequency, sub.language),
            None if sup is None else (sup.email, sup.reason),
        )
    return out


# Each example runs on fresh prefixes (`fresh`), so sharing the client between examples is fine.
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(states=before, batch=rows, chunk=st.integers(1, 7))
def test_bulk_import_decides_every_row_as_import_record_does(
    redis_client: redis.Redis, states: list[str], batch: list[tuple[str, str, str, str]], chunk: int
) -> None:
    one_by_one, bulk = fresh(redis_client), fresh(redis_client)
    arrange(one_by_one, states)
    arrange(bulk, states)
    records = [(record(e, s, f, lang), "unsubscribed (import)") for e, s, f, lang in batch]
    expected = [one_by_one.import_record(r, reason) for r, reason in records]
    assert SubscriberBulk(bulk).import_records(records, chunk=chunk) == expected
    assert state(bulk) == state(one_by_one)
    check_indexes(redis_client, bulk.keys.prefix)


def test_bulk_import_refuses_invalid_choices_before_writing(store: SubscriberStore) -> None:
    good = record("a@example.org", "confirmed")
    bad = record("b@example.org", "confirmed", frequency="hourly")
    with pytest.raises(ValueError, match="frequency"):
        SubscriberBulk(store).import_records([(good, "x"), (bad, "x")])
    assert store.get_by_email("a@example.org") is None


def test_signups_racing_an_import_never_make_two_records(redis_client: redis.Redis) -> None:
    """Signup threads and an import on the same addresses at once: whoever comes first,
    one record per address and indexes that agree with the records."""
    store = fresh(redis_client)
    emails = [f"race{i}@example.org" for i in range(300)]
    records = [(record(e, "confirmed"), "x") for e in emails]
    start = threading.Barrier(3)
    outcomes: dict[str, list[object]] = {"import": [], "signup": []}

    def sign_up(part: list[str]) -> None:
        start.wait()
        for email in part:
            outcomes["signup"].append(store.signup(email, "weekly", (), "es", NOW)[0])

    threads = [
        threading.Thread(target=sign_up, args=(emails[::-1],)),
        threading.Thread(target=sign_up, args=(emails[::2],)),
    ]
    for thread in threads:
        thread.start()
    start.wait()
    outcomes["import"] = list(SubscriberBulk(store).import_records(records, chunk=25))
    for thread in threads:
        thread.join()
    assert set(outcomes["import"]) <= {ImportOutcome.CREATED, ImportOutcome.EXISTS}
    assert set(outcomes["signup"]) <= {
        SignupOutcome.CREATED,
        SignupOutcome.REFRESHED,
        SignupOutcome.ALREADY_CONFIRMED,
    }
    check_indexes(redis_client, store.keys.prefix)
    assert store.counts()["total"] == len(emails)


@pytest.fixture
def store(redis_client: redis.Redis, prefix: str) -> SubscriberStore:
    return SubscriberStore(redis_client, prefix)


def legacy(sid: str, email: str, status: str, frequency: str = "daily") -> Subscriber:
    return Subscriber(
        sid, email, status, frequency, ("coca", "peru"), "es",
        datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=UTC),
        NOW if status == "confirmed" else None, 3, "192.0.2.7", "old form",
        NOW if status == "unsubscribed" else None, NOW,
    )  # fmt: skip


def test_old_format_records_read_write_and_migrate(
    store: SubscriberStore, redis_client: redis.Redis, prefix: str
) -> None:
    old = [
        legacy("00aa", "ana@example.org", "confirmed"),
        legacy("00bb", "ben@example.org", "pending", "weekly"),
        legacy("00cc", "cy@example.org", "unsubscribed"),
        legacy("00dd", "dee@example.org", "confirmed", "instant"),
    ]
    for sub in old:
        legacy_subscriber_write(redis_client, prefix, sub)
    assert store.get("00aa") == old[0] and store.get_by_email("CY@example.org") == old[2]
    assert [s.id for s in store.iter_active("daily")] == ["00aa"]
    counts = store.counts()
    assert counts["by_status"] == {"pending": 1, "confirmed": 2, "unsubscribed": 1}
    assert counts["active_by_language"] == {"es": 2}
    check_indexes(redis_client, prefix)
    # A write upgrades the one record it touches, and the counts move with it.
    store.update("00aa", NOW, frequency="weekly")
    assert b"e" in redis_client.hgetall(store.keys.record("00aa"))
    assert [s.id for s in store.iter_active("weekly")] == ["00aa"]
    check_indexes(redis_client, prefix)
    # The migration upgrades the rest, once, and drops the old list of every id.
    bulk = SubscriberBulk(store)
    assert bulk.migrate(batch=2) == 3 and bulk.migrate() == 0
    assert not redis_client.exists(store.keys.all, store.keys.status("pending"))
    assert store.get("00dd") == old[3]
    after = store.counts()
    assert after["by_status"] == counts["by_status"]
    assert after["active_by_language"] == counts["active_by_language"]
    check_indexes(redis_client, prefix)


def test_format_2_round_trips_and_stays_small() -> None:
    sub = legacy("0123456789abcdef", "ana@example.org", "confirmed")
    assert decode(sub.id, {k.encode(): v.encode() for k, v in encode(sub).items()}) == sub
    assert max(len(v) for v in encode(sub).values()) <= 64  # listpack's value limit
    when = datetime(2031, 5, 6, 7, 8, 9, 10, tzinfo=UTC)
    assert stamp(when).endswith(".000010") and unstamp(stamp(when)) == when
    assert "." not in stamp(when.replace(microsecond=0))
