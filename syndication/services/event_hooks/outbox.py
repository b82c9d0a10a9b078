"""Emitting an event: write it once to the outbox and queue its fan-out, nothing more.

``emit`` is what the pipeline calls (a confirmation, a publish, a sent edition): a read of
the endpoint list, one ``SET NX`` and one queued task, whatever the endpoints do. No
network call to an endpoint ever happens here; ``fan_out`` (a task on the ``hooks`` queue)
queues one delivery task per endpoint that wants the event, and ``sweep`` (beat, every
minute) queues what a lost task left behind: fan-outs still pending, retries now due.

The event's id is its idempotency key: an emitter that names the fact (``key``: an article
id, a subscriber's confirmation time) gets the same id each time, so a fact announced twice
is delivered once, and a receiver that sees an id twice (a retry whose answer was lost)
knows it is the same event.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from syndication.services.event_hooks.endpoints import TEST_EVENT, Endpoints
from syndication.store.event_hooks import EventHookStore

# A fan-out task queued this long ago and still pending was lost: the sweep queues another.
STALE_PENDING = timedelta(minutes=1)


class HookEvents(Protocol):
    """The part of ``syndication.events.Events`` that starts webhook work."""

    def webhook_events(self, event_ids: list[str]) -> None: ...

    def deliver_webhook(
        self, endpoint_id: str, event_id: str, attempt: int = 1, countdown: float = 0.0
    ) -> None: ...


@dataclass(frozen=True)
class Emit:
    """One event to emit: its type, its ``data`` object and the fact's key (or None)."""

    type: str
    data: dict[str, Any]
    key: str | None = None


def event_id(event_type: str, key: str | None) -> str:
    if key is None:
        return "evt_" + secrets.token_hex(16)
    return "evt_" + hashlib.sha256(f"{event_type}\n{key}".encode()).hexdigest()[:32]


def event_body(eid: str, event_type: str, data: dict[str, Any], now: datetime) -> bytes:
    """The JSON every attempt sends, byte for byte: ``{id, type, created_at, data}``."""
    payload = {
        "id": eid,
        "type": event_type,
        "created_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "data": data,
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()


class Outbox:
    def __init__(
        self,
        store: EventHookStore,
        endpoints: Endpoints,
        events: HookEvents,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.endpoints = endpoints
        self.events = events
        self.clock = clock

    def wanted(self, event_type: str) -> bool:
        """Whether an enabled endpoint wants ``event_type`` (an emitter may skip its reads)."""
        return any(e.enabled and e.wants(event_type) for e in self.store.all())

    def emit(self, event_type: str, data: dict[str, Any], key: str | None = None) -> str | None:
        """Announce one event; its id, or None when no enabled endpoint wants it."""
        ids = self.emit_many([Emit(event_type, data, key)])
        return ids[0] if ids else None

    def emit_many(self, items: Iterable[Emit]) -> list[str]:
        """Announce several events with one queued fan-out; the ids written now (an id
        emitted before is not written or queued again)."""
        wanted = [e for e in self.store.all() if e.enabled]
        now = self.clock()
        written = []
        for item in items:
            if not any(e.wants(item.type) for e in wanted):
                continue
            eid = event_id(item.type, item.key)
            if self.store.put_event(eid, event_body(eid, item.type, item.data, now), now):
                written.append(eid)
        if written:
            self.events.webhook_events(written)
        return written

    def send_test(self, endpoint_id: str) -> str:
        """A ``webhook.test`` event to this endpoint only (enabled or not); its id."""
        endpoint = self.endpoints.get(endpoint_id)
        now = self.clock()
        eid = event_id(TEST_EVENT, None)
        data = {"endpoint": endpoint.id, "message": "A test event sent by an operator."}
        self.store.put_event(eid, event_body(eid, TEST_EVENT, data, now), now)
        self.store.fanned_out(eid)
        self.events.deliver_webhook(endpoint.id, eid)
        return eid

    def fan_out(self, eid: str) -> int:
        """Queue one delivery per enabled endpoint that wants the event; how many."""
        body = self.store.event(eid)
        if body is None:
            self.store.fanned_out(eid)
            return 0
        event_type = json.loads(body)["type"]
        targets = [e for e in self.store.all() if e.enabled and e.wants(event_type)]
        for endpoint in targets:
            self.events.deliver_webhook(endpoint.id, eid)
        self.store.fanned_out(eid)
        return len(targets)

    def sweep(self, now: datetime) -> dict[str, int]:
        """Queue lost fan-outs again and the retries that are due (beat, every minute)."""
        stale = self.store.pending_before(now - STALE_PENDING)
        if stale:
            self.events.webhook_events(stale)
        due = self.store.take_due(now)
        for endpoint_id, eid, attempt in due:
            self.events.deliver_webhook(endpoint_id, eid, attempt)
        return {"fan_outs": len(stale), "retries": len(due)}
