"""Confirmation emails through the ledger: retries over hours, one message per request.

Real Redis, a real SMTP server on loopback (``ScriptedSmtp``) and the test's clock: each
``deliver`` call is what one ``mail.send_confirmation`` task does, run here in the test's
process so the clock can jump hours ahead (tests/workers/test_confirm_tasks.py runs the
same through real worker processes).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import pytest

from syndication.config import Settings
from syndication.context import Context
from syndication.embedded_redis import free_port
from syndication.events import RecordingEvents
from syndication.services.confirmations import ConfirmationService
from syndication.store.confirmations import ConfirmState, Requested
from syndication.store.subscribers import UNSUBSCRIBED
from tests.support.clock import ManualClock
from tests.support.smtp import ScriptedSmtp

ADDRESS = "greylisted.reader@example.org"


def make_ctx(settings: Settings, context: Context, smtp_url: str) -> Context:
    return Context(
        dataclasses.replace(settings, smtp_url=smtp_url),
        RecordingEvents(),
        context.client,
        clock=context.clock,
    )


@pytest.fixture
def ctx(settings: Settings, context: Context, smtp: ScriptedSmtp) -> Context:
    return make_ctx(settings, context, smtp.url)


def signup(ctx: Context, address: str = ADDRESS) -> Requested:
    """What the web face does: subscribe (records the request), then queue its task."""
    result = ctx.subscriptions.subscribe(address, "daily")
    assert result.confirmation is not None and result.confirmation.request is not None
    ctx.subscriptions.send(result)
    return result.confirmation.request


def queued(ctx: Context) -> list[str]:
    assert isinstance(ctx.events, RecordingEvents)
    return [rid for kind, rid in ctx.events.calls if kind == "send_confirmation"]


def counted(ctx: Context) -> dict[str, float]:
    return ctx.metrics.read()["confirmation_emails_total"]


def state(svc: ConfirmationService, rid: str) -> ConfirmState:
    rec = svc.store.request_record(rid)
    assert rec is not None
    return rec.state


def until_due(svc: ConfirmationService, rid: str, clock: ManualClock) -> None:
    rec = svc.store.request_record(rid)
    assert rec is not None
    clock.advance(seconds=max(0.0, rec.due_at - clock().timestamp()))


def test_greylisting_twice_then_accepted_delivers_exactly_one(
    ctx: Context, smtp: ScriptedSmtp, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    smtp.script.temp_fail[ADDRESS] = 2
    svc = ctx.confirmations
    caplog.set_level(logging.INFO)
    req = signup(ctx)
    assert req.created and queued(ctx) == [req.request_id]
    first = svc.deliver(req.request_id, req.kick)
    assert (first.outcome, first.requeued_in) == ("retry", 60.0)  # 1 min, then 2, 5 …
    assert queued(ctx) == [req.request_id] * 2  # its successor, on a capped countdown
    early = svc.deliver(req.request_id)  # a duplicate task, before the record is due
    assert early.outcome == "" and smtp.handler.replies["451"] == 1
    clock.advance(minutes=1)
    assert svc.deliver(req.request_id).requeued_in == 120.0
    clock.advance(minutes=2)
    assert svc.deliver(req.request_id).outcome == "sent"
    assert svc.deliver(req.request_id).outcome == ""  # a redelivered task: nothing more
    assert smtp.per_recipient() == {ADDRESS: 1} and smtp.handler.replies["451"] == 2
    rec = svc.store.request_record(req.request_id)
    assert rec is not None and rec.state is ConfirmState.SENT and rec.attempts == 3
    assert counted(ctx) == {"retry": 2.0, "sent": 1.0}
    [msg] = smtp.messages()
    assert f"{ctx.settings.public_url}/confirm/" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # Logs name the request and the codes, never the address (servers echo it back).
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("syndication"))
    assert "retry" in text and "451" in text and ADDRESS not in text


def test_smtp_down_at_signup_then_up_is_delivered_once(
    settings: Settings, context: Context, clock: ManualClock
) -> None:
    server = ScriptedSmtp()  # its port is reserved, nothing listens yet
    ctx = make_ctx(settings, context, server.url)
    svc = ctx.confirmations
    req = signup(ctx)
    down = svc.deliver(req.request_id, req.kick)
    assert down.outcome == "retry" and "connect" in down.detail
    server.start()
    try:
        until_due(svc, req.request_id, clock)
        assert svc.deliver(req.request_id).outcome == "sent"
        assert server.per_recipient() == {ADDRESS: 1}
    finally:
        server.stop()


def test_a_double_submit_makes_one_request_and_one_message(
    ctx: Context, smtp: ScriptedSmtp, clock: ManualClock
) -> None:
    svc = ctx.confirmations
    first = signup(ctx)
    again = signup(ctx)  # the same form, posted twice
    assert again.request_id == first.request_id and not again.created
    assert queued(ctx) == [first.request_id]  # one task queued
    assert svc.deliver(first.request_id).outcome == "sent"
    clock.advance(seconds=30)
    assert signup(ctx).request_id == first.request_id  # still the double submit
    assert smtp.per_recipient() == {ADDRESS: 1}
    # Later the reader asks again (past the rate limit of 3 an hour): a new request may send
    # a new confirmation.
    clock.advance(hours=1)
    later = signup(ctx)
    assert later.created and later.request_id != first.request_id
    assert svc.deliver(first.request_id).state == "superseded"  # an old task does nothing
    assert svc.deliver(later.request_id).outcome == "sent"
    assert smtp.per_recipient() == {ADDRESS: 2}


def test_a_550_fails_is_counted_and_suppresses_the_address(
    ctx: Context, smtp: ScriptedSmtp
) -> None:
    smtp.script.perm_fail.add(ADDRESS)
    svc = ctx.confirmations
    req = signup(ctx)
    done = svc.deliver(req.request_id)
    assert done.outcome == "failed" and done.requeued_in is None and "550" in done.detail
    assert state(svc, req.request_id) is ConfirmState.FAILED
    assert counted(ctx) == {"failed": 1.0}
    assert queued(ctx) == [req.request_id]  # no retry queued
    sub = ctx.subscriber_store.get_by_email(ADDRESS)
    assert sub is not None and sub.status == UNSUBSCRIBED  # a hard bounce (5.1.1)
    assert ctx.subscriber_store.is_suppressed(ADDRESS)


def test_a_drop_after_data_is_uncertain_and_never_resent(
    ctx: Context, smtp: ScriptedSmtp, clock: ManualClock
) -> None:
    smtp.script.drop_after_data.add(ADDRESS)
    svc = ctx.confirmations
    req = signup(ctx)
    assert svc.deliver(req.request_id).outcome == "uncertain"
    assert smtp.per_recipient() == {ADDRESS: 1}  # the server did take it
    clock.advance(hours=2)
    report = svc.sweep()
    assert report.queued == [] and svc.deliver(req.request_id).outcome == ""
    assert state(svc, req.request_id) is ConfirmState.UNCERTAIN
    assert smtp.per_recipient() == {ADDRESS: 1}
    assert counted(ctx) == {"uncertain": 1.0}


def test_a_worker_that_dies_mid_transaction_leaves_it_uncertain(
    ctx: Context, smtp: ScriptedSmtp, clock: ManualClock
) -> None:
    svc = ctx.confirmations
    req = signup(ctx)
    # What a worker does right before the SMTP transaction; then it is killed.
    assert svc.store.begin(req.request_id, clock().timestamp(), svc.policy.lease, "a1").status
    assert svc.sweep().uncertain == []  # the lease still runs: it may be sending now
    clock.advance(seconds=svc.policy.lease + 1)
    assert svc.sweep().uncertain == [req.request_id]
    assert state(svc, req.request_id) is ConfirmState.UNCERTAIN
    assert smtp.count() == 0 and counted(ctx) == {"uncertain": 1.0}


def test_the_sweep_requeues_a_lost_task_once(
    ctx: Context, smtp: ScriptedSmtp, clock: ManualClock
) -> None:
    svc = ctx.confirmations
    result = ctx.subscriptions.subscribe(ADDRESS, "daily")  # recorded, then the web died
    assert result.confirmation is not None and result.confirmation.request is not None
    rid = result.confirmation.request.request_id
    assert queued(ctx) == []
    assert svc.sweep().queued == []  # its task may just be on its way
    clock.advance(seconds=svc.policy.lost_after + 1)
    assert svc.sweep().queued == [rid]
    assert svc.sweep().queued == []  # one chain, not one per sweep
    assert svc.deliver(rid).outcome == "sent" and smtp.per_recipient() == {ADDRESS: 1}
    clock.advance(hours=1)
    assert svc.sweep().queued == [] and svc.store.stats(clock().timestamp(), 60)["open"] == 0


def test_retries_give_up_after_a_day(ctx: Context, smtp: ScriptedSmtp, clock: ManualClock) -> None:
    smtp.script.temp_fail[ADDRESS] = 1000
    svc = ctx.confirmations
    start = clock()
    req = signup(ctx)
    outcomes = []
    while state(svc, req.request_id) is ConfirmState.PENDING:
        until_due(svc, req.request_id, clock)
        outcomes.append(svc.deliver(req.request_id).outcome)
    assert outcomes[-1] == "failed" and set(outcomes[:-1]) == {"retry"}
    # At 0, 1, 3, 8, 18, 38 min, 1.3, 2.3, 4.3, 8.3 h, then every 4 h while inside 24 h.
    assert len(outcomes) == 13 and clock() - start <= timedelta(hours=24)
    rec = svc.store.request_record(req.request_id)
    assert rec is not None and rec.last_error.startswith("gave up after 13 attempts: 451")
    assert smtp.count() == 0


def test_nothing_is_sent_once_the_reader_confirmed(
    settings: Settings, context: Context, clock: ManualClock
) -> None:
    ctx = make_ctx(settings, context, f"smtp://127.0.0.1:{free_port()}")  # nothing listens
    svc = ctx.confirmations
    result = ctx.subscriptions.subscribe(ADDRESS, "daily")
    assert result.confirmation is not None and result.confirmation.request is not None
    rid = result.confirmation.request.request_id
    assert svc.deliver(rid).outcome == "retry"
    ctx.subscriptions.confirm(result.confirmation.url.rsplit("/", 1)[1])  # an earlier mail
    until_due(svc, rid, clock)
    assert svc.deliver(rid).outcome == "cancelled"
    assert state(svc, rid) is ConfirmState.CANCELLED


def test_health_is_degraded_while_attempts_fail_and_recovers(
    settings: Settings, context: Context, clock: ManualClock
) -> None:
    server = ScriptedSmtp()
    ctx = make_ctx(settings, context, server.url)
    svc = ctx.confirmations
    assert svc.health().ok
    requests = [signup(ctx, f"reader{i}@example.org") for i in range(3)]
    for req in requests:
        assert svc.deliver(req.request_id).outcome == "retry"
    failing = svc.health()
    assert not failing.ok and "last 3 confirmation attempts failed" in failing.reason
    assert failing.open == 3 and failing.recent_failed == 3
    server.start()
    try:
        clock.advance(minutes=1)
        assert svc.deliver(requests[0].request_id).outcome == "sent"
        assert svc.health().ok  # the newest attempt got through
        # Two readers still wait; after 30 min unsent that is degraded on its own.
        clock.advance(minutes=30)
        waiting = svc.health()
        assert not waiting.ok and "has waited 31 min unsent" in waiting.reason
        for req in requests[1:]:
            assert svc.deliver(req.request_id).outcome == "sent"
        assert svc.health().ok and svc.health().open == 0
    finally:
        server.stop()
