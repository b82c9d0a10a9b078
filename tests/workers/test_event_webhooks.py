"""Event webhooks through real Celery workers: emitted in this process, fanned out and
delivered by a real ``syndication worker`` to receivers on loopback.

The worker reads the machine's clock (it signs with it, and times its retries by it), so
the Context that emits here runs on that clock too (``system_clock``), never the fixed
test clock. Waits are for events (a request arrived, a task ended), never for a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from syndication.clock import system_clock
from syndication.config import Settings, load_settings
from syndication.context import Context
from syndication.models import Article
from tests.support import article_data, wait_for
from tests.support.receivers import HookReceiver, verify
from tests.support.workers import WorkerProcess
from workers.celery_app import configure
from workers.events import CeleryEvents

pytestmark = pytest.mark.slow

FAST_RETRIES = {
    "SYNDICATION_WEBHOOKS_ALLOW_PRIVATE": "true",  # the receivers are on loopback
    "SYNDICATION_WEBHOOKS_RETRY_BASE_SECONDS": "0.2",
}


class Rig:
    """A worker on every queue and a Context on the same settings whose events go to it."""

    def __init__(self, env: dict[str, str], tmp_path: Path, client: redis.Redis, **extra: str):
        self.env = {**env, **FAST_RETRIES, **extra}
        self.settings: Settings = load_settings(self.env)
        events = CeleryEvents(configure(self.settings), self.settings)
        self.ctx = Context(self.settings, events, client, clock=system_clock)
        self.worker = WorkerProcess(self.env, tmp_path / "worker.log", concurrency=2)
        self.receivers: list[HookReceiver] = []

    def receiver(
        self, statuses: tuple[int, ...] = (), then: int = 204, hang: bool = False
    ) -> HookReceiver:
        r = HookReceiver(statuses, then, hang)
        self.receivers.append(r)
        return r

    def close(self) -> None:
        for r in self.receivers:
            r.release()  # answer anything held open, so the worker can stop
        self.worker.stop()
        for r in self.receivers:
            r.close()


@pytest.fixture
def rig_factory(
    env: dict[str, str], tmp_path: Path, redis_client: redis.Redis
) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(**extra: str) -> Rig:
        rig = Rig(env, tmp_path, redis_client, **extra)
        made.append(rig)
        rig.worker.wait_ready()
        return rig

    yield make
    for rig in made:
        rig.close()


def test_a_500_is_retried_and_the_delivery_verifies(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory()
    receiver = rig.receiver(statuses=(500,))
    hooks = rig.ctx.event_hooks
    endpoint, secret = hooks.endpoints.add(receiver.url, ["edition.sent"], rig.ctx.clock())
    eid = hooks.outbox.emit("edition.sent", {"edition": {"id": "ed-1"}}, "ed-1")
    wait_for(lambda: len(receiver.answered) == 2, timeout=60)
    assert receiver.answered == [500, 204]
    first, second = receiver.requests
    assert first.body == second.body  # the same event, byte for byte: receivers dedupe by id
    for got in (first, second):
        assert verify(secret, got.headers, got.body)
        assert got.headers["X-Syndication-Event-Id"] == eid
    assert json.loads(second.body)["data"] == {"edition": {"id": "ed-1"}}
    wait_for(lambda: len(rig.worker.task_results("hooks.deliver")) == 2, timeout=60)
    assert rig.worker.task_results("hooks.deliver") == ["retry", "delivered"]
    attempts = hooks.delivery.store.attempts(endpoint.id)
    assert [(a.number, a.outcome, a.status) for a in attempts] == [
        (2, "delivered", 204),
        (1, "retry", 500),
    ]


def test_a_hanging_endpoint_holds_up_neither_others_nor_publishing(
    rig_factory: Callable[..., Rig],
) -> None:
    """One endpoint accepts the connection and never answers (until the test releases it).
    While it hangs, the other endpoint gets the same event and a later one, and the worker
    rebuilds the feeds for both the publication and the withdrawal."""
    rig = rig_factory(SYNDICATION_WEBHOOKS_TIMEOUT_SECONDS="120")
    hanging = rig.receiver(hang=True)
    fine = rig.receiver()
    hooks, now = rig.ctx.event_hooks, rig.ctx.clock()
    hooks.endpoints.add(hanging.url, ["article.published"], now)
    _, secret = hooks.endpoints.add(fine.url, [], now)

    written = rig.ctx.articles.submit(Article.model_validate(article_data(1)))
    wait_for(lambda: hanging.requests, timeout=60)
    wait_for(lambda: fine.answered, timeout=60)
    wait_for(lambda: rig.worker.task_results("feeds.rebuild_dirty"), timeout=60)
    rig.ctx.articles.withdraw(written.article.id)
    wait_for(lambda: len(fine.answered) == 2, timeout=60)
    wait_for(lambda: len(rig.worker.task_results("feeds.rebuild_dirty")) == 2, timeout=60)

    assert hanging.answered == []  # all of the above happened while it still hung
    types = [json.loads(r.body)["type"] for r in fine.requests]
    assert types == ["article.published", "article.withdrawn"]
    assert all(verify(secret, r.headers, r.body) for r in fine.requests)
    assert json.loads(hanging.requests[0].body)["id"] == json.loads(fine.requests[0].body)["id"]
    hanging.release()
    wait_for(lambda: hanging.answered == [204], timeout=60)


def test_an_endpoint_that_keeps_failing_is_switched_off(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory(SYNDICATION_WEBHOOKS_DISABLE_AFTER="2")
    receiver = rig.receiver(then=500)
    hooks = rig.ctx.event_hooks
    endpoint, _ = hooks.endpoints.add(receiver.url, [], rig.ctx.clock())
    hooks.outbox.emit("edition.sent", {}, "ed-1")
    # Attempt 2 switches it off; attempt 3, queued before, finds it off and sends nothing.
    wait_for(lambda: len(rig.worker.task_results("hooks.deliver")) == 3, timeout=60)
    assert rig.worker.task_results("hooks.deliver") == ["retry", "retry", "skipped"]
    assert len(receiver.requests) == 2
    off = hooks.endpoints.get(endpoint.id)
    assert not off.enabled
    assert "2 failed attempts in a row (last: HTTP 500)" in off.disabled_reason
    assert hooks.outbox.emit("edition.sent", {}, "ed-2") is None  # nothing more is queued
