"""MailingList (the freeze's fast read) against SubscriberStore.iter_active on a real Redis:
the same readers, field for field, whatever the list holds — every status, frequency,
language and topic mix, token versions, suppressions in any letter case, old-format
records, and records no signup could write (addresses with spaces, tabs, line breaks or
non-ASCII, ids that are not hex, an active entry with no record), paged in any batch size."""

from __future__ import annotations

from datetime import UTC, datetime

import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from syndication.store.subscriber_mailing import Mailable, MailingList
from syndication.store.subscriber_record import STATUSES, Subscriber, encode
from syndication.store.subscribers import FREQUENCIES, SubscriberStore, email_key
from tests.support.legacy import legacy_subscriber_write

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)

ids = st.text("0123456789abcdef", min_size=1, max_size=16)
odd_ids = st.text("0123456789abcdefXYZ-_:\t\n ", min_size=1, max_size=12)
local_parts = st.text("abcXYZ019.+_'{|}~", min_size=1, max_size=12).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s
)
hostile = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1)
emails = st.one_of(
    st.builds(lambda lp, d: f"{lp}@{d}", local_parts, st.sampled_from(["example.org", "x.co"])),
    st.builds(lambda h: f"{h}@example.org", hostile),
)
readers = st.fixed_dictionaries(
    {
        "id": st.one_of(ids, odd_ids),
        "email": emails,
        "status": st.sampled_from(STATUSES),
        "frequency": st.sampled_from(FREQUENCIES),
        "topics": st.lists(st.sampled_from(["coca", "peru", "mexico"]), unique=True, max_size=2),
        "language": st.sampled_from(["en", "es", "pt-BR"]),
        "version": st.integers(1, 5),
        "old_format": st.booleans(),
        "suppressed_as": st.sampled_from([None, "same", "upper"]),
        "record_missing": st.booleans(),
    }
)


def _write(client: redis.Redis, store: SubscriberStore, prefix: str, r: dict) -> None:
    """The record, its index entries and its suppression, written as they are (no checks)."""
    sub = Subscriber(
        r["id"], r["email"], r["status"], r["frequency"], tuple(r["topics"]), r["language"],
        NOW, NOW if r["status"] == "confirmed" else None, r["version"],
    )  # fmt: skip
    if r["old_format"]:
        legacy_subscriber_write(client, prefix, sub)
    elif not r["record_missing"]:
        client.hset(store.keys.record(sub.id), mapping=encode(sub))
    client.hset(store.keys.by_email, email_key(sub.email), sub.id)
    if sub.status == "confirmed":
        client.zadd(store.keys.active(sub.frequency), {sub.id: 0})
    if r["suppressed_as"] is not None:
        address = sub.email.upper() if r["suppressed_as"] == "upper" else sub.email
        client.hset(store.keys.suppressed, email_key(address), b'{"reason": "bounce"}')


def _expected(store: SubscriberStore, frequency: str) -> set[Mailable]:
    return {
        Mailable(s.id, s.email, s.language, " ".join(s.topics), s.token_version)
        for s in store.iter_active(frequency)
    }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    population=st.lists(readers, max_size=25, unique_by=lambda r: r["id"]), batch=st.integers(1, 7)
)
@example(
    population=[
        {"id": "0a", "email": "Ana@example.org", "status": "confirmed", "frequency": "daily",
         "topics": ["coca"], "language": "es", "version": 2, "old_format": False,
         "suppressed_as": "upper", "record_missing": False},
        {"id": "0b", "email": "tab\there@example.org", "status": "confirmed",
         "frequency": "daily", "topics": [], "language": "en", "version": 1,
         "old_format": False, "suppressed_as": None, "record_missing": False},
        {"id": "0c", "email": "ümlaut@example.org", "status": "confirmed",
         "frequency": "daily", "topics": [], "language": "en", "version": 1,
         "old_format": False, "suppressed_as": "same", "record_missing": False},
        {"id": "0d", "email": "old@example.org", "status": "confirmed", "frequency": "daily",
         "topics": ["peru", "coca"], "language": "en", "version": 3, "old_format": True,
         "suppressed_as": None, "record_missing": False},
        {"id": "x\ny", "email": "odd@example.org", "status": "confirmed", "frequency": "daily",
         "topics": [], "language": "en", "version": 1, "old_format": False,
         "suppressed_as": None, "record_missing": False},
    ],
    batch=2,
)  # fmt: skip
def test_mailing_list_reads_exactly_what_iter_active_reads(
    redis_client: redis.Redis, prefix: str, population: list[dict], batch: int
) -> None:
    redis_client.flushdb()
    store = SubscriberStore(redis_client, prefix)
    for reader in population:
        _write(redis_client, store, prefix, reader)
    mailing = MailingList(store)
    for frequency in FREQUENCIES:
        got = list(mailing.iter_mailable(frequency, batch=batch))
        assert len(got) == len(set(got)), "a reader came twice"
        assert set(got) == _expected(store, frequency)


def test_mailing_list_pages_without_repeats_while_the_list_changes(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = SubscriberStore(redis_client, prefix)
    subs = []
    for i in range(40):
        _, sub = store.signup(f"r{i}@example.org", "daily", (), "en", NOW)
        assert sub is not None
        subs.append(store.confirm(sub.id, NOW)[1])
    subs.sort(key=lambda s: s.id)
    seen = []
    for n, reader in enumerate(MailingList(store).iter_mailable("daily", batch=6)):
        seen.append(reader.id)
        if n == 7:  # the last in id order leaves, the 20th is suppressed, a newcomer joins
            store.unsubscribe(subs[-1].id, NOW)
            store.suppress(subs[20].email.upper(), "bounce", NOW)
            _, late = store.signup("late@example.org", "daily", (), "en", NOW)
            assert late is not None
            store.confirm(late.id, NOW)
    assert len(seen) == len(set(seen))
    assert subs[-1].id not in seen and subs[20].id not in seen
    assert {s.id for s in subs[:-1] if s is not subs[20]} <= set(seen)
