"""Ledger helpers shared by the store tests: a small sending edition, consistent counts."""

from __future__ import annotations

from datetime import UTC, datetime

from syndication.store.editions import (
    EditionStatus,
    EditionStore,
    EntryState,
    FrozenRecipient,
    Policy,
    Recovered,
)

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def make_edition(
    store: EditionStore, n: int, policy: Policy | None = None, edition_id: str = "daily-x"
) -> str:
    store.init(edition_id, "daily", "x", ["a1"], policy or Policy(), NOW)
    rcpts = [FrozenRecipient(f"s{i:04d}", f"r{i}@example.org", "seg", "tok") for i in range(n)]
    store.add_recipients(edition_id, rcpts, {"seg": "{}"})
    assert store.finish_creation(edition_id, True, NOW) is EditionStatus.SENDING
    return edition_id


def counts_consistent(store: EditionStore, edition_id: str) -> dict[str, int]:
    edition = store.get(edition_id)
    assert edition is not None
    states = store.states(edition_id)
    for state in EntryState:
        assert edition.counts[state.value] == sum(1 for s in states.values() if s == state), state
    assert sum(edition.counts[s.value] for s in EntryState) == edition.counts["total"]
    return edition.counts


def expired(store: EditionStore, edition_id: str) -> Recovered | None:
    """``recover``'s report once it took something back; None while every lease runs."""
    rec = store.recover(edition_id)
    return rec if rec.uncertain or rec.requeued else None
