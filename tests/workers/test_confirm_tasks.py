"""Confirmation emails sent by a real ``syndication worker`` process (mail queue).

The web side is the real app over the test's Redis, queueing through Celery; the worker
reads the wall clock, so the web side does too (``system_clock``), and the retry schedule
is half a second (``SYNDICATION_CONFIRM_RETRY_SECONDS``) so greylisting plays out in
seconds. Waits are for ledger states and the SMTP server's counts, never fixed sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from syndication.clock import system_clock
from syndication.config import load_settings
from syndication.context import Context
from syndication.store.confirmations import ConfirmRecord, ConfirmState
from syndication.web.app import create_app
from tests.support import wait_for
from tests.support.smtp import ScriptedSmtp
from tests.support.workers import WorkerProcess
from workers.celery_app import configure
from workers.events import CeleryEvents

ADDRESS = "greylisted.reader@example.org"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
pytestmark = pytest.mark.slow


@pytest.fixture
def server() -> Iterator[ScriptedSmtp]:
    """A scripted SMTP server whose port is reserved; each test starts it when it wants."""
    smtp = ScriptedSmtp()
    yield smtp
    smtp.controller.stop(no_assert=True)  # whether or not the test started it


@pytest.fixture
def mail_env(env: dict[str, str], server: ScriptedSmtp) -> dict[str, str]:
    return {
        **env,
        "SYNDICATION_SMTP_URL": server.url,
        "SYNDICATION_CONFIRM_RETRY_SECONDS": "0.5",
    }


@pytest.fixture
def ctx(mail_env: dict[str, str], redis_client: redis.Redis) -> Context:
    settings = load_settings(mail_env)
    # The worker tells time by the wall clock; the web side must agree with it.
    return Context(
        settings, CeleryEvents(configure(settings), settings), redis_client, clock=system_clock
    )


@pytest.fixture
def worker(mail_env: dict[str, str], tmp_path: Path) -> Iterator[WorkerProcess]:
    proc = WorkerProcess(mail_env, tmp_path / "worker.log", queues="mail")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def sign_up(client: TestClient, address: str = ADDRESS) -> None:
    form = client.get("/subscribe").text
    token = CSRF_FIELD.search(form)
    assert token is not None
    resp = client.post(
        "/subscribe", data={"email": address, "frequency": "daily", "csrf_token": token[1]}
    )
    assert resp.status_code == 200 and "Check your inbox" in resp.text


def record(ctx: Context, address: str = ADDRESS) -> ConfirmRecord | None:
    sub = ctx.subscriber_store.get_by_email(address)
    return None if sub is None else ctx.confirmations.store.get(sub.id)


def reaches(ctx: Context, *states: ConfirmState) -> ConfirmRecord:
    def done() -> ConfirmRecord | None:
        rec = record(ctx)
        return rec if rec is not None and rec.state in states else None

    found = wait_for(done, timeout=60)
    assert isinstance(found, ConfirmRecord)
    return found


def outcome_counts(ctx: Context, *, having: str) -> dict[str, float]:
    """The confirmation outcome counters once ``having`` is among them: the worker counts an
    outcome just after marking it in the ledger, so reading at once could miss it."""

    def counted() -> dict[str, float] | None:
        counts: dict[str, float] = ctx.metrics.read().get("confirmation_emails_total", {})
        return counts if having in counts else None

    found = wait_for(counted, timeout=60)
    assert isinstance(found, dict)
    return found


def sweep(ctx: Context, worker: WorkerProcess) -> dict[str, object]:
    task = ctx.events.app.send_task("mail.sweep_confirmations")  # type: ignore[attr-defined]
    result = worker.task_result(task.id)
    assert isinstance(result, dict)
    return result


def test_a_greylisted_double_submitted_signup_gets_exactly_one_message(
    ctx: Context, server: ScriptedSmtp, worker: WorkerProcess
) -> None:
    server.script.temp_fail[ADDRESS] = 2
    server.start()
    with TestClient(create_app(ctx)) as client:
        sign_up(client)
        sign_up(client)  # the form posted twice
    rec = reaches(ctx, ConfirmState.SENT)
    assert rec.attempts == 3 and server.handler.replies["451"] == 2
    assert server.per_recipient() == {ADDRESS: 1}
    assert outcome_counts(ctx, having="sent") == {"retry": 2.0, "sent": 1.0}
    assert sweep(ctx, worker)["queued"] == []
    assert server.per_recipient() == {ADDRESS: 1}


def test_smtp_down_at_signup_then_up_is_delivered_once(
    ctx: Context, server: ScriptedSmtp, worker: WorkerProcess
) -> None:
    with TestClient(create_app(ctx)) as client:
        sign_up(client)

    def retried() -> bool:
        rec = record(ctx)
        return rec is not None and rec.attempts >= 2 and rec.state is ConfirmState.PENDING

    wait_for(retried, timeout=60)
    rec = record(ctx)
    assert rec is not None and "connect" in rec.last_error
    server.start()
    reaches(ctx, ConfirmState.SENT)
    assert server.per_recipient() == {ADDRESS: 1}


def test_a_drop_after_data_is_uncertain_and_not_resent(
    ctx: Context, server: ScriptedSmtp, worker: WorkerProcess
) -> None:
    server.script.drop_after_data.add(ADDRESS)
    server.start()
    with TestClient(create_app(ctx)) as client:
        sign_up(client)
    rec = reaches(ctx, ConfirmState.UNCERTAIN, ConfirmState.SENT, ConfirmState.FAILED)
    assert rec.state is ConfirmState.UNCERTAIN and rec.attempts == 1
    assert sweep(ctx, worker)["queued"] == []
    assert server.per_recipient() == {ADDRESS: 1}  # the server kept the one it took
    assert outcome_counts(ctx, having="uncertain") == {"uncertain": 1.0}
