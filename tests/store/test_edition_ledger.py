"""The send ledger's state machine against a real Redis: claims, begin, marks, leases."""

from __future__ import annotations

import threading

import pytest
import redis

from syndication.store.editions import (
    Claim,
    EditionStatus,
    EditionStore,
    EntryState,
    FrozenRecipient,
    Mark,
    Policy,
    Recovered,
)
from tests.support import wait_for
from tests.support.ledger import NOW, counts_consistent, expired, make_edition


@pytest.fixture
def store(redis_client: redis.Redis, prefix: str) -> EditionStore:
    return EditionStore(redis_client, prefix)


def test_keys_share_the_edition_hash_tag(store: EditionStore) -> None:
    assert store.key("daily-2026-11-26", "meta").endswith("edition:{daily-2026-11-26}:meta")


def test_add_is_idempotent_and_counts(store: EditionStore) -> None:
    eid = "daily-idem"
    store.init(eid, "daily", "x", [], Policy(), NOW)
    assert not store.init(eid, "daily", "x", ["other"], Policy(), NOW)  # first writer wins
    rcpts = [FrozenRecipient(f"s{i}", f"r{i}@example.org", "seg", "t") for i in range(10)]
    assert store.add_recipients(eid, rcpts, {}) == 10
    assert store.add_recipients(eid, rcpts[:5], {}) == 0
    store.finish_creation(eid, True, NOW)
    assert store.add_recipients(eid, rcpts, {}) == -1  # frozen
    assert counts_consistent(store, eid)["pending"] == 10


def test_claim_begin_mark_sent_and_done(store: EditionStore) -> None:
    eid = make_edition(store, 3)
    claim = store.claim(eid, 10, "tok-a")
    assert [r.subscriber_id for r in claim.recipients] == ["s0000", "s0001", "s0002"]
    prev = None
    for r in claim.recipients:
        mark_res, begin = store.step(eid, "tok-a", prev, r.subscriber_id)
        assert begin == "ok" and mark_res in ("", "ok")
        prev = (r.subscriber_id, Mark.SENT, "")
    assert store.step(eid, "tok-a", prev, None) == ("ok", "")
    edition = store.get(eid)
    assert edition is not None and edition.status is EditionStatus.DONE
    assert edition.counts["sent"] == 3 and edition.finished_at is not None
    # a repeated mark (lost reply) is harmless
    assert store.step(eid, "tok-a", prev, None)[0] == "ok"
    assert counts_consistent(store, eid)["sent"] == 3


def test_only_the_owner_may_begin_or_mark(store: EditionStore) -> None:
    eid = make_edition(store, 1)
    claim = store.claim(eid, 1, "tok-a")
    sid = claim.recipients[0].subscriber_id
    assert store.claim(eid, 1, "tok-b").recipients == []
    assert store.step(eid, "tok-b", None, sid)[1] == "not-owner"
    assert store.step(eid, "tok-b", (sid, Mark.SENT, ""), None)[0] == "not-owner"
    assert store.step(eid, "tok-a", None, sid)[1] == "ok"
    assert store.step(eid, "tok-a", None, sid)[1] == "ok"  # repeated begin
    assert store.entry(eid, sid)["attempts"] == "1"


def test_concurrent_claims_never_overlap(store: EditionStore) -> None:
    eid = make_edition(store, 2000)
    seen: list[list[str]] = [[] for _ in range(8)]

    def worker(i: int) -> None:
        while True:
            claim = store.claim(eid, 37, f"tok-{i}")
            if not claim.recipients:
                return
            seen[i].extend(r.subscriber_id for r in claim.recipients)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [s for part in seen for s in part]
    assert len(flat) == len(set(flat)) == 2000
    assert counts_consistent(store, eid)["sending"] == 2000


def test_retry_backs_off_then_fails_after_max_attempts(store: EditionStore) -> None:
    policy = Policy(lease_s=30, tx_budget_s=5, retry_base_s=0.2, retry_max_s=1, max_attempts=3)
    eid = make_edition(store, 1, policy)

    def due_claim() -> Claim | None:
        # The backoff runs in Redis time: wait until the entry is claimable again.
        claim = store.claim(eid, 1, "t")
        if claim.recipients:
            return claim
        assert claim.due_in is not None and claim.due_in <= 1.0  # retry_max_s
        return None

    for attempt in range(1, 4):
        claim = wait_for(due_claim, timeout=10)
        assert isinstance(claim, Claim)
        sid = claim.recipients[0].subscriber_id
        assert store.step(eid, "t", None, sid)[1] == "ok"
        store.step(eid, "t", (sid, Mark.RETRY, "451 later"), None)
        assert store.entry(eid, sid)["attempts"] == str(attempt)
    entry = store.entry(eid, "s0000")
    assert entry["state"] == "failed" and entry["detail"] == "451 later"
    edition = store.get(eid)
    assert edition is not None and edition.status is EditionStatus.DONE
    assert store.members(eid, EntryState.FAILED) == ["s0000"]


def test_expired_lease_claimed_not_begun_goes_back_begun_goes_uncertain(
    store: EditionStore,
) -> None:
    # begin needs tx_budget_s + 1 s of lease left: 0.4 s to begin after the claim.
    policy = Policy(lease_s=1.5, tx_budget_s=0.1)
    eid = make_edition(store, 3, policy)
    claim = store.claim(eid, 3, "dead")
    begun = claim.recipients[0].subscriber_id
    assert store.step(eid, "dead", None, begun)[1] == "ok"
    early = store.recover(eid)  # the lease still runs (begin just saw over 1.1 s of it left)
    assert (early.uncertain, early.requeued) == (0, 0) and early.next_deadline_in is not None
    # The lease runs out in Redis time: wait until recover reports the three entries.
    rec = wait_for(lambda: expired(store, eid), timeout=10)
    assert isinstance(rec, Recovered) and (rec.uncertain, rec.requeued) == (1, 2)
    assert rec.next_deadline_in is None  # nothing left under a lease
    assert store.entry(eid, begun)["state"] == "uncertain"
    # the two never begun are claimable again, by anyone
    again = store.claim(eid, 10, "alive")
    assert sorted(r.subscriber_id for r in again.recipients) == ["s0001", "s0002"]
    # the dead owner's late mark after recovery still tells the truth
    assert store.step(eid, "dead", (begun, Mark.SENT, ""), None)[0] == "ok"
    assert store.entry(eid, begun)["state"] == "sent"
    # but it can no longer touch what was re-claimed by another token
    assert store.step(eid, "dead", ("s0001", Mark.SENT, ""), None)[0] == "not-owner"
    counts_consistent(store, eid)


def test_resend_policy_requeues_uncertain(store: EditionStore) -> None:
    eid = make_edition(store, 1, Policy(lease_s=1.5, tx_budget_s=0.05, uncertain="resend"))
    sid = store.claim(eid, 1, "dead").recipients[0].subscriber_id
    assert store.step(eid, "dead", None, sid)[1] == "ok"  # begun: in flight when it expires
    rec = wait_for(lambda: expired(store, eid), timeout=10)
    assert isinstance(rec, Recovered) and (rec.uncertain, rec.requeued) == (0, 1)
    entry = store.entry(eid, sid)
    assert entry["state"] == "pending" and entry["detail"].endswith("resent by policy")


def test_begin_refused_when_lease_too_short_or_paused(store: EditionStore) -> None:
    eid = make_edition(store, 2, Policy(lease_s=3, tx_budget_s=2.5))
    claim = store.claim(eid, 2, "t")
    a, b = (r.subscriber_id for r in claim.recipients)
    assert store.step(eid, "t", None, a)[1] == "lease"  # 3 - 0 < 2.5 + 1 margin
    assert store.release(eid, "t", [a, b]) == 2
    eid2 = make_edition(store, 2, Policy(), edition_id="daily-y")
    claim = store.claim(eid2, 2, "t")
    store.set_status(eid2, EditionStatus.PAUSED, (EditionStatus.SENDING,), NOW)
    assert store.step(eid2, "t", None, claim.recipients[0].subscriber_id)[1] == "status:paused"
    assert store.claim(eid2, 2, "u").recipients == []
    assert store.release(eid2, "t", [r.subscriber_id for r in claim.recipients]) == 2
    counts_consistent(store, eid2)


def test_resume_of_finished_edition_is_done(store: EditionStore) -> None:
    eid = make_edition(store, 1)
    sid = store.claim(eid, 1, "t").recipients[0].subscriber_id
    store.set_status(eid, EditionStatus.PAUSED, (EditionStatus.SENDING,), NOW)
    store.step(eid, "t", None, sid)  # refused: paused
    store.step(eid, "t", (sid, Mark.FAILED, "x"), None)
    assert store.set_status(eid, EditionStatus.SENDING, (EditionStatus.PAUSED,), NOW) == (
        "paused",
        "done",
    )


def test_status_counts_of_the_newest_editions(store: EditionStore) -> None:
    from datetime import timedelta

    store.init("e-1", "daily", "1", [], Policy(), NOW)
    assert store.finish_creation("e-1", True, NOW) is EditionStatus.DONE  # empty: done at once
    store.init("e-2", "daily", "2", [], Policy(), NOW + timedelta(minutes=1))  # still creating
    later = NOW + timedelta(minutes=2)
    store.init("e-3", "daily", "3", ["a1"], Policy(), later)
    store.add_recipients("e-3", [FrozenRecipient("s1", "r@example.org", "seg", "t")], {})
    assert store.finish_creation("e-3", True, later) is EditionStatus.SENDING
    zero = {s.value: 0 for s in EditionStatus}
    assert store.status_counts(10) == {**zero, "done": 1, "creating": 1, "sending": 1}
    assert store.status_counts(2) == {**zero, "creating": 1, "sending": 1}  # newest two
    assert store.status_counts(0) == zero
