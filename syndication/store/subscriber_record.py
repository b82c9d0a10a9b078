"""A subscriber record (``Subscriber``) and its Redis hash, in both formats we have written.

Format 2 (``encode``) keeps a record small enough to be worth its memory at a million
readers: one-letter field names, status and frequency as one letter, times as integer
epoch seconds (a listpack stores a 10-digit integer in 6 bytes, an ISO string in 27), no
``id`` field (the key names it), and empty or default fields left out. Every value but an
unusually long address or consent source stays under ``hash-max-listpack-value`` (64
bytes), so the hash keeps the compact listpack encoding.

Format 1 (the long field names and ISO times written before) still decodes: a record is
upgraded when it is next written, or by ``syndication subscribers migrate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

STATUSES = ("pending", "confirmed", "unsubscribed")
PENDING, CONFIRMED, UNSUBSCRIBED = STATUSES
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STATUS_CODES = {"pending": "p", "confirmed": "c", "unsubscribed": "u"}
FREQUENCY_CODES = {"daily": "d", "weekly": "w", "instant": "i"}
_STATUS_NAMES = {v: k for k, v in STATUS_CODES.items()}
_FREQUENCY_NAMES = {v: k for k, v in FREQUENCY_CODES.items()}


@dataclass(frozen=True)
class Subscriber:
    id: str
    email: str
    status: str
    frequency: str
    topics: tuple[str, ...]
    language: str
    created_at: datetime
    confirmed_at: datetime | None
    token_version: int
    consent_ip: str = ""
    consent_source: str = ""
    unsubscribed_at: datetime | None = None
    updated_at: datetime | None = None
    # 1 for a record read in the old format: its next write also moves it off the old
    # indexes (``SubscriberStore._unindex``). Not part of what a subscriber is.
    stored_format: int = field(default=2, compare=False, repr=False)

    @property
    def active(self) -> bool:
        return self.status == CONFIRMED

    def wants(self, topics: set[str] | frozenset[str]) -> bool:
        """Whether an article with ``topics`` belongs in this subscriber's mail (empty = all)."""
        return not self.topics or bool(topics.intersection(self.topics))

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "id": self.id,
            "email": self.email,
            "status": self.status,
            "frequency": self.frequency,
            "topics": list(self.topics),
            "language": self.language,
            "created_at": iso(self.created_at),
            "confirmed_at": iso(self.confirmed_at),
            "unsubscribed_at": iso(self.unsubscribed_at),
            "token_version": self.token_version,
            "consent_ip": self.consent_ip,
            "consent_source": self.consent_source,
        }


def stamp(value: datetime) -> str:
    """Epoch seconds, with ``.ffffff`` only when there are microseconds: exact both ways."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    return str(seconds) if not delta.microseconds else f"{seconds}.{delta.microseconds:06d}"


def unstamp(text: str) -> datetime:
    seconds, _, micro = text.partition(".")
    return EPOCH + timedelta(seconds=int(seconds), microseconds=int(micro or 0))


def encode(sub: Subscriber) -> dict[str, str]:
    """The format-2 hash of ``sub`` (its id is in the key, not in the hash)."""
    record = {
        "e": sub.email,
        "s": STATUS_CODES[sub.status],
        "f": FREQUENCY_CODES[sub.frequency],
        "l": sub.language,
        "c": stamp(sub.created_at),
    }
    optional = {
        "t": " ".join(sub.topics),
        "k": "" if sub.confirmed_at is None else stamp(sub.confirmed_at),
        "x": "" if sub.unsubscribed_at is None else stamp(sub.unsubscribed_at),
        "u": "" if sub.updated_at is None else stamp(sub.updated_at),
        "v": "" if sub.token_version == 1 else str(sub.token_version),
        "ip": sub.consent_ip,
        "src": sub.consent_source,
    }
    record.update((k, v) for k, v in optional.items() if v)
    return record


def decode(subscriber_id: str, raw: dict[bytes, bytes]) -> Subscriber | None:
    """The record in either format; None for an empty hash (no such subscriber)."""
    if not raw:
        return None
    d = {k.decode(): v.decode() for k, v in raw.items()}
    if "email" in d:
        return _decode_v1(subscriber_id, d)

    def when(name: str) -> datetime | None:
        return unstamp(d[name]) if d.get(name) else None

    return Subscriber(
        id=subscriber_id,
        email=d["e"],
        status=_STATUS_NAMES[d["s"]],
        frequency=_FREQUENCY_NAMES[d["f"]],
        topics=tuple(d.get("t", "").split()),
        language=d["l"],
        created_at=unstamp(d["c"]),
        confirmed_at=when("k"),
        token_version=int(d.get("v", "1")),
        consent_ip=d.get("ip", ""),
        consent_source=d.get("src", ""),
        unsubscribed_at=when("x"),
        updated_at=when("u"),
    )


def _decode_v1(subscriber_id: str, d: dict[str, str]) -> Subscriber:
    """A record written before format 2: long names, ISO times, its id inside."""

    def when(name: str) -> datetime | None:
        text = d.get(name, "")
        return datetime.fromisoformat(text) if text else None

    created = when("created_at")
    assert created is not None
    return Subscriber(
        id=d.get("id", subscriber_id),
        email=d["email"],
        status=d["status"],
        frequency=d["frequency"],
        topics=tuple(d["topics"].split()),
        language=d["language"],
        created_at=created,
        confirmed_at=when("confirmed_at"),
        token_version=int(d.get("token_version", "1")),
        consent_ip=d.get("consent_ip", ""),
        consent_source=d.get("consent_source", ""),
        unsubscribed_at=when("unsubscribed_at"),
        updated_at=when("updated_at"),
        stored_format=1,
    )
