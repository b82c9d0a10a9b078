"""Outgoing event webhooks in Redis: endpoints, the event outbox, retries due later and a
capped log of attempts per endpoint.

Keys (``{prefix}hooks:…``):

- ``endpoints``: zset of endpoint ids by creation time; ``endpoint:<id>``: its hash (URL,
  events, enabled, the reason it was switched off, consecutive failures, the secret's
  *nonce*: the secret itself is derived from ``SYNDICATION_SECRET_KEY`` and never stored).
- ``event:<id>``: one event's JSON body, kept ``EVENT_TTL_S`` (longer than any retry);
  written with ``SET NX``, so an event emitted twice (the same idempotency id) is queued once.
- ``pending``: zset of events written but not yet fanned out (the outbox), by time: a sweep
  queues any whose fan-out task was lost.
- ``due``: zset of ``endpoint event attempt`` by due time: retries too far off for a Celery
  countdown (a countdown past the broker's visibility timeout is delivered again and again).
- ``attempts:<id>``: the endpoint's last ``keep`` attempts, newest first (LPUSH + LTRIM).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import redis

EVENT_TTL_S = 3 * 24 * 3600


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    events: tuple[str, ...]  # empty: every event
    enabled: bool
    created_at: datetime
    nonce: str  # input of the secret's derivation, useless without SYNDICATION_SECRET_KEY
    disabled_reason: str = ""
    failures: int = 0  # consecutive failed attempts (a delivery resets it)
    description: str = ""

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events

    def to_json(self) -> dict[str, Any]:
        """Everything but the nonce: what the CLI and the admin show."""
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events) or ["*"],
            "enabled": self.enabled,
            "created_at": self.created_at.isoformat(),
            "disabled_reason": self.disabled_reason,
            "failures": self.failures,
            "description": self.description,
        }


@dataclass(frozen=True)
class Attempt:
    """One POST to an endpoint (or one refused before it was made)."""

    event_id: str
    event_type: str
    number: int  # 1 for the first attempt of this event at this endpoint
    at: datetime
    outcome: str  # delivered | retry | failed | refused
    status: int = 0  # the HTTP status; 0 when there was no answer
    latency_ms: int = 0
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"at": self.at.isoformat()}

    @classmethod
    def from_json(cls, raw: bytes | str) -> Attempt:
        data = json.loads(raw)
        return cls(**data | {"at": datetime.fromisoformat(data["at"])})


def _decode(endpoint_id: str, raw: dict[bytes, bytes]) -> Endpoint:
    h = {k.decode(): v.decode() for k, v in raw.items()}
    events = tuple(e for e in h.get("events", "").split(",") if e)
    return Endpoint(
        id=endpoint_id,
        url=h["url"],
        events=events,
        enabled=h.get("enabled") == "1",
        created_at=datetime.fromisoformat(h["created_at"]),
        nonce=h.get("nonce", ""),
        disabled_reason=h.get("disabled_reason", ""),
        failures=int(h.get("failures", "0")),
        description=h.get("description", ""),
    )


class EventHookStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.base = f"{prefix}{{hooks}}:"

    def _endpoint(self, endpoint_id: str) -> str:
        return f"{self.base}endpoint:{endpoint_id}"

    def _attempts(self, endpoint_id: str) -> str:
        return f"{self.base}attempts:{endpoint_id}"

    # -- endpoints -----------------------------------------------------------------------

    def add(self, endpoint: Endpoint) -> None:
        mapping = {
            "url": endpoint.url,
            "events": ",".join(endpoint.events),
            "enabled": "1" if endpoint.enabled else "0",
            "created_at": endpoint.created_at.isoformat(),
            "nonce": endpoint.nonce,
            "disabled_reason": endpoint.disabled_reason,
            "failures": str(endpoint.failures),
            "description": endpoint.description,
        }
        with self.r.pipeline() as pipe:
            pipe.hset(self._endpoint(endpoint.id), mapping=mapping)
            pipe.zadd(f"{self.base}endpoints", {endpoint.id: endpoint.created_at.timestamp()})
            pipe.execute()

    def get(self, endpoint_id: str) -> Endpoint | None:
        raw = self.r.hgetall(self._endpoint(endpoint_id))
        return _decode(endpoint_id, raw) if raw else None

    def all(self) -> list[Endpoint]:
        ids = [i.decode() for i in self.r.zrange(f"{self.base}endpoints", 0, -1)]
        with self.r.pipeline(transaction=False) as pipe:
            for endpoint_id in ids:
                pipe.hgetall(self._endpoint(endpoint_id))
            raws = pipe.execute()
        return [_decode(i, raw) for i, raw in zip(ids, raws, strict=True) if raw]

    def remove(self, endpoint_id: str) -> bool:
        with self.r.pipeline() as pipe:
            pipe.delete(self._endpoint(endpoint_id))
            pipe.delete(self._attempts(endpoint_id))
            pipe.zrem(f"{self.base}endpoints", endpoint_id)
            removed, _, _ = pipe.execute()
        return bool(removed)

    def update(self, endpoint_id: str, **fields: str) -> Endpoint | None:
        """Set some fields of an existing endpoint (``enabled`` is "1" or "0")."""
        key = self._endpoint(endpoint_id)

        def body(pipe: Any) -> bool:
            if not pipe.exists(key):
                return False  # removed: never bring back half an endpoint
            pipe.multi()
            pipe.hset(key, mapping=fields)
            return True

        if not self.r.transaction(body, key, value_from_callable=True):
            return None
        return self.get(endpoint_id)

    # -- attempts ------------------------------------------------------------------------

    def record_attempt(self, endpoint_id: str, attempt: Attempt, keep: int) -> int:
        """Log ``attempt`` (only the last ``keep`` stay); the endpoint's consecutive
        failures after it (0 after a delivery)."""
        key = self._endpoint(endpoint_id)
        with self.r.pipeline() as pipe:
            pipe.lpush(self._attempts(endpoint_id), json.dumps(attempt.to_json()))
            pipe.ltrim(self._attempts(endpoint_id), 0, keep - 1)
            if attempt.outcome == "delivered":
                pipe.hset(key, "failures", "0")
            else:
                pipe.hincrby(key, "failures", 1)
            *_, failures = pipe.execute()
        return int(failures) if attempt.outcome != "delivered" else 0

    def attempts(self, endpoint_id: str, limit: int = 50) -> list[Attempt]:
        raws = self.r.lrange(self._attempts(endpoint_id), 0, limit - 1)
        return [Attempt.from_json(raw) for raw in raws]

    # -- events: the outbox --------------------------------------------------------------

    def put_event(self, event_id: str, body: bytes, now: datetime) -> bool:
        """Keep the event and list it as pending; False if this id was emitted already."""
        if not self.r.set(f"{self.base}event:{event_id}", body, nx=True, ex=EVENT_TTL_S):
            return False
        self.r.zadd(f"{self.base}pending", {event_id: now.timestamp()})
        return True

    def event(self, event_id: str) -> bytes | None:
        raw = self.r.get(f"{self.base}event:{event_id}")
        return None if raw is None else bytes(raw)

    def fanned_out(self, event_id: str) -> None:
        self.r.zrem(f"{self.base}pending", event_id)

    def pending_before(self, before: datetime, limit: int = 500) -> list[str]:
        ids = self.r.zrangebyscore(
            f"{self.base}pending", "-inf", before.timestamp(), start=0, num=limit
        )
        return [i.decode() for i in ids]

    # -- retries due later ---------------------------------------------------------------

    def schedule(self, endpoint_id: str, event_id: str, attempt: int, due: datetime) -> None:
        self.r.zadd(f"{self.base}due", {f"{endpoint_id} {event_id} {attempt}": due.timestamp()})

    def take_due(self, now: datetime, limit: int = 500) -> list[tuple[str, str, int]]:
        """Retries due by ``now``, each taken by one caller only (``ZREM`` decides)."""
        key = f"{self.base}due"
        members = self.r.zrangebyscore(key, "-inf", now.timestamp(), start=0, num=limit)
        out = []
        for member in members:
            if self.r.zrem(key, member):
                endpoint_id, event_id, attempt = member.decode().split(" ")
                out.append((endpoint_id, event_id, int(attempt)))
        return out

    def due_count(self) -> int:
        return int(self.r.zcard(f"{self.base}due"))
