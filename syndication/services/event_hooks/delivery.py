"""One delivery attempt: a signed POST with a short, total time budget, logged.

The POST goes through ``ingest.guard`` (the poller's SSRF guard): it resolves the host
itself, refuses loopback, private and link-local addresses unless allowed, connects only
to the address it checked, and clamps connect, send and answer to ``timeout_seconds`` in
all, so a receiver that accepts and never answers holds one worker slot that long, no more.
Redirects are not followed and the answer's body is not read.

2xx is delivered. 408, 429, 5xx and no answer are retried with exponential back-off and
jitter (``retry_base_seconds`` × 4ⁿ, capped, ±25 %) up to ``max_attempts``; any other
answer, or a refused address, fails at once. Every attempt counts toward switching the
endpoint off after ``disable_after`` failures in a row; a delivery resets the count.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from syndication.config import WebhooksConfig
from syndication.ingest.guard import (
    Deadline,
    GuardedBackend,
    GuardedTransport,
    Refused,
    system_resolver,
)
from syndication.services.event_hooks.endpoints import TEST_EVENT, Endpoints
from syndication.services.event_hooks.outbox import HookEvents
from syndication.services.event_hooks.urls import delivery_policy
from syndication.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_event
from syndication.store.event_hooks import Attempt, Endpoint, EventHookStore

EVENT_HEADER = "X-Syndication-Event"
ID_HEADER = "X-Syndication-Event-Id"
USER_AGENT = "syndication-events/1"
# Longer waits are kept in Redis for the sweep, not given to Celery as a countdown: a
# countdown past the broker's visibility timeout (an hour) is delivered more than once.
COUNTDOWN_MAX = 600.0
LOG_KEEP = 50  # attempts kept per endpoint


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer
    latency_ms: int
    error: str = ""
    refused: bool = False


def backoff(config: WebhooksConfig, attempt: int, rand: float) -> float:
    """Seconds before attempt ``attempt + 1``: exponential, capped, with ±25 % jitter."""
    base = min(config.retry_base_seconds * 4.0 ** (attempt - 1), config.retry_max_seconds)
    return float(base * (0.75 + rand / 2))


class Delivery:
    def __init__(
        self,
        store: EventHookStore,
        endpoints: Endpoints,
        events: HookEvents,
        config: WebhooksConfig,
        on_outcome: Callable[[str], None] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.endpoints = endpoints
        self.events = events
        self.config = config
        self.on_outcome = on_outcome
        self.rand = rand

    def deliver(self, endpoint_id: str, eid: str, attempt: int, now: datetime) -> str:
        """Make attempt ``attempt``; the outcome: delivered, retry, failed, refused, or
        skipped (the endpoint, or the event, is gone or switched off)."""
        endpoint = self.store.get(endpoint_id)
        body = self.store.event(eid)
        if endpoint is None or body is None:
            return "skipped"
        event_type = str(json.loads(body)["type"])
        if not endpoint.enabled and event_type != TEST_EVENT:
            return "skipped"  # switched off since: its queued deliveries are dropped
        answer = self.post(endpoint, eid, event_type, body, now)
        outcome = self._outcome(answer, attempt)
        record = Attempt(
            eid, event_type, attempt, now, outcome, answer.status, answer.latency_ms, answer.error
        )
        failures = self.store.record_attempt(endpoint.id, record, LOG_KEEP)
        if outcome == "retry":
            self._retry(endpoint.id, eid, attempt, now)
        if failures >= self.config.disable_after and endpoint.enabled:
            self._switch_off(endpoint, failures, answer, now)
        if self.on_outcome:
            self.on_outcome(outcome)
        return outcome

    def _outcome(self, answer: Answer, attempt: int) -> str:
        if 200 <= answer.status < 300:
            return "delivered"
        if answer.refused:
            return "refused"
        temporary = answer.status in (0, 408, 429) or answer.status >= 500
        return "retry" if temporary and attempt < self.config.max_attempts else "failed"

    def _retry(self, endpoint_id: str, eid: str, attempt: int, now: datetime) -> None:
        wait = backoff(self.config, attempt, self.rand())
        if wait <= COUNTDOWN_MAX:
            self.events.deliver_webhook(endpoint_id, eid, attempt + 1, countdown=wait)
        else:
            self.store.schedule(endpoint_id, eid, attempt + 1, now + timedelta(seconds=wait))

    def _switch_off(self, endpoint: Endpoint, failures: int, answer: Answer, now: datetime) -> None:
        last = f"HTTP {answer.status}" if answer.status else (answer.error or "no answer")
        when = f"{now.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        reason = (
            f"switched off automatically at {when} after {failures} failed attempts in a row "
            f"(last: {last[:120]})"
        )
        self.store.update(endpoint.id, enabled="0", disabled_reason=reason)

    def post(
        self, endpoint: Endpoint, eid: str, event_type: str, body: bytes, now: datetime
    ) -> Answer:
        """One signed POST through the SSRF guard, within the time budget."""
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_HEADER: event_type,
            ID_HEADER: eid,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign_event(self.endpoints.secret(endpoint), body, timestamp),
        }
        timeout = self.config.timeout_seconds
        policy = delivery_policy(endpoint.url, self.config.allow_private, timeout)
        transport = GuardedTransport(GuardedBackend(policy, Deadline(timeout), system_resolver))
        started = time.monotonic()  # a duration, not a time of day

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            policy.check_url(httpx.URL(endpoint.url))
            client = httpx.Client(
                transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
            )
            with client, client.stream("POST", endpoint.url, content=body, headers=headers) as r:
                return Answer(r.status_code, took())
        except Refused as exc:
            return Answer(0, took(), f"refused: {exc}"[:300], refused=True)
        except (httpx.HTTPError, OSError) as exc:
            return Answer(0, took(), f"{type(exc).__name__}: {exc}"[:300])
