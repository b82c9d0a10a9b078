"""Compaction of finished editions on a real Redis: what it keeps, what it refuses while a
send could still touch the edition, and how little memory a compacted edition keeps.

The edition's ``finished_at`` is Redis time (the ledger's clock); cutoffs are taken
relative to it, so these tests hold on any date.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from syndication.store.edition_compaction import EditionCompactor
from syndication.store.editions import EditionStatus, EditionStore, EntryState, Mark
from tests.support.ledger import NOW, counts_consistent, make_edition


@pytest.fixture
def store(redis_client: redis.Redis, prefix: str) -> EditionStore:
    return EditionStore(redis_client, prefix)


@pytest.fixture
def compactor(store: EditionStore) -> EditionCompactor:
    return EditionCompactor(store)


def finish(store: EditionStore, eid: str, outcomes: dict[int, Mark] | None = None) -> None:
    """Send every entry: ``outcomes`` by index (sent when not named), then done."""
    claim = store.claim(eid, 100_000, "tok")
    for i, rcpt in enumerate(claim.recipients):
        outcome = (outcomes or {}).get(i, Mark.SENT)
        store.advance(eid, "tok", begin=[rcpt.subscriber_id])
        store.advance(eid, "tok", (rcpt.subscriber_id, outcome, f"{outcome.value} because {i}"))
    edition = store.get(eid)
    assert edition is not None and edition.status is EditionStatus.DONE


def bytes_of(client: redis.Redis, store: EditionStore, eid: str) -> int:
    """MEMORY USAGE summed over every key of the edition (its hash tag)."""
    pattern = store.key(eid, "*").replace("{", "\\{").replace("}", "\\}")
    return sum(int(client.memory_usage(k, samples=0) or 0) for k in client.scan_iter(pattern))


def finished_at(store: EditionStore, eid: str):  # type: ignore[no-untyped-def]
    edition = store.get(eid)
    assert edition is not None and edition.finished_at is not None
    return edition.finished_at


def test_compaction_keeps_counts_failed_and_uncertain_and_drops_sent(
    store: EditionStore, compactor: EditionCompactor
) -> None:
    eid = make_edition(store, 50)
    finish(store, eid, {3: Mark.FAILED, 7: Mark.UNCERTAIN, 9: Mark.UNCERTAIN})
    before = counts_consistent(store, eid)
    end = finished_at(store, eid)

    assert compactor.compact(eid, end - timedelta(seconds=1), end).result == "recent"
    done = compactor.compact(eid, end, end + timedelta(days=8))
    assert done.done and done.dropped == 47

    edition = store.get(eid)
    assert edition is not None and edition.counts == before
    assert edition.compacted_at == end + timedelta(days=8)
    assert store.states(eid) == {"s0003": "failed", "s0007": "uncertain", "s0009": "uncertain"}
    assert store.members(eid, EntryState.FAILED) == ["s0003"]
    assert store.details(eid, ["s0003", "s0007"]) == {
        "s0003": "failed because 3",
        "s0007": "uncertain because 7",
    }
    assert [r.email for r in store.recipients(eid, ["s0003", "s0009", "s0001"])] == [
        "r3@example.org",
        "r9@example.org",
    ]
    # again: nothing left to drop, nothing else changes
    assert compactor.compact(eid, end, end + timedelta(days=9)).dropped == 0
    assert store.get(eid).counts == before  # type: ignore[union-attr]


def test_uncertain_entries_can_still_be_resent_after_compaction(
    store: EditionStore, compactor: EditionCompactor
) -> None:
    eid = make_edition(store, 10)
    finish(store, eid, {2: Mark.UNCERTAIN})
    end = finished_at(store, eid)
    assert compactor.compact(eid, end, end).done
    assert store.resend(eid, ["s0002", "s0001"], "resent by test") == ("sending", 1)
    claim = store.claim(eid, 10, "again")
    assert [(r.subscriber_id, r.email) for r in claim.recipients] == [("s0002", "r2@example.org")]
    store.advance(eid, "again", begin=["s0002"])
    assert store.advance(eid, "again", ("s0002", Mark.SENT, "")).status == "done"
    edition = store.get(eid)
    assert edition is not None and edition.counts["sent"] == 10 and edition.counts["total"] == 10


def test_an_edition_that_can_still_send_is_never_compacted(
    store: EditionStore, compactor: EditionCompactor
) -> None:
    eid = make_edition(store, 4)
    far = NOW + timedelta(days=3650)
    assert compactor.compact(eid, far, far).result == "status:sending"
    finish(store, eid, {0: Mark.UNCERTAIN})
    end = finished_at(store, eid)
    # a resend reopened it: refused until that send is over
    store.resend(eid, ["s0000"], "resent by test")
    assert compactor.compact(eid, far, far).result == "status:sending"
    claim = store.claim(eid, 10, "again")
    store.advance(eid, "again", begin=[claim.recipients[0].subscriber_id])
    store.advance(eid, "again", ("s0000", Mark.SENT, ""))
    # a sender still heartbeating on it (it may write a late answer): refused too
    store.heartbeat(eid, "late", 60)
    assert compactor.compact(eid, far, far).result == "busy"
    store.drop_heartbeat(eid, "late")
    # an archive written for other counts than the edition now has: refused
    assert compactor.compact(eid, far, far, archived=3).result == "changed"
    assert compactor.compact(eid, far, far, archived=4).done
    assert compactor.compact("daily-none", far, far).result == "missing"
    assert finished_at(store, eid) >= end


def test_a_cancelled_edition_keeps_its_counts(
    store: EditionStore, compactor: EditionCompactor
) -> None:
    eid = make_edition(store, 6)
    claim = store.claim(eid, 2, "tok")
    for rcpt in claim.recipients:
        store.advance(eid, "tok", begin=[rcpt.subscriber_id])
        store.advance(eid, "tok", (rcpt.subscriber_id, Mark.SENT, ""))
    store.cancel(eid, (EditionStatus.SENDING,))
    end = finished_at(store, eid)
    done = compactor.compact(eid, end, end)
    assert done.done and done.dropped == 6
    edition = store.get(eid)
    assert edition is not None and edition.status is EditionStatus.CANCELLED
    assert (edition.counts["sent"], edition.counts["cancelled"]) == (2, 4)
    assert store.states(eid) == {}


def test_entries_to_drop_are_what_compaction_drops(
    store: EditionStore, compactor: EditionCompactor
) -> None:
    eid = make_edition(store, 30)
    finish(store, eid, {1: Mark.FAILED})
    rows = list(compactor.entries_to_drop(eid, chunk=7))
    assert sorted(r.subscriber_id for r in rows) == [f"s{i:04d}" for i in range(30) if i != 1]
    assert {r.state for r in rows} == {"sent"} and rows[0].email.endswith("@example.org")
    end = finished_at(store, eid)
    assert compactor.compact(eid, end, end, archived=len(rows)).dropped == len(rows)


def test_a_compacted_edition_keeps_under_64_bytes_a_recipient(
    redis_client: redis.Redis, store: EditionStore, compactor: EditionCompactor
) -> None:
    """MEMORY USAGE over the edition's keys, before and after; the edition record, its
    segments and the few failed entries are all that stays."""
    n = 2000
    eid = make_edition(store, n)
    finish(store, eid, {5: Mark.FAILED})
    before = bytes_of(redis_client, store, eid)
    end = finished_at(store, eid)
    assert compactor.compact(eid, end, end).done
    after = bytes_of(redis_client, store, eid)
    assert before / n > 200  # the full ledger: a few hundred bytes a recipient
    assert after / n <= 64, f"{after / n:.1f} bytes a recipient after compaction"


def test_compacted_editions_of_one_list_grow_by_a_small_constant(
    redis_client: redis.Redis, store: EditionStore, compactor: EditionCompactor
) -> None:
    """The same 500 readers in three editions: each compacted one costs about the same few
    hundred bytes, whatever the list's size."""
    sizes = []
    for k in range(3):
        eid = make_edition(store, 500, edition_id=f"daily-{k}")
        finish(store, eid)
        end = finished_at(store, eid)
        assert compactor.compact(eid, end, end).done
        sizes.append(bytes_of(redis_client, store, eid))
    assert max(sizes) - min(sizes) <= 64
    assert max(sizes) <= 2048
