"""Operator sessions of ``/admin`` in Redis: one small record per signed-in browser.

The cookie carries a random session id (signed, see ``web/admin/auth.py``); Redis keeps the
record under the id's SHA-256 (so a dump of Redis holds no usable cookie), with the
session's TTL, so a record ends by itself and signing out — deleting it — ends the session
on the server, not only in the browser. Key: ``{prefix}{admin}:session:<digest>``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis


@dataclass(frozen=True)
class SessionRecord:
    """What the server keeps of a session: when it began, the fingerprint of the password
    it was opened with (a changed password ends it) and the client address, for the log."""

    created: datetime
    credential: str
    ip: str = ""


class AdminSessionStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.base = f"{prefix}{{admin}}:session:"

    def _key(self, sid: str) -> str:
        return self.base + hashlib.sha256(sid.encode()).hexdigest()[:40]

    def save(self, sid: str, record: SessionRecord, ttl: timedelta) -> None:
        """Store (or replace) the record of ``sid``; it expires after ``ttl`` (whole seconds,
        rounded up)."""
        value = {"created": record.created.timestamp(), "cred": record.credential, "ip": record.ip}
        self.r.set(self._key(sid), json.dumps(value), ex=math.ceil(ttl.total_seconds()))

    def load(self, sid: str) -> SessionRecord | None:
        """The record of ``sid``; None when there is none (ended, expired) or it is unreadable."""
        raw = self.r.get(self._key(sid))
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return SessionRecord(
                datetime.fromtimestamp(float(data["created"]), UTC),
                str(data["cred"]),
                str(data.get("ip", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError, OSError):
            return None

    def delete(self, sid: str) -> None:
        """End the session of ``sid`` (nothing happens when it has already ended)."""
        self.r.delete(self._key(sid))
