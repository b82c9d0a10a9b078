"""What we last saw of each polled source: the validators for a conditional GET.

Kept per source URL in one Redis hash (``Keys.poll_state(sha256(url)[:16])``) with the
``ETag`` and ``Last-Modified`` the server sent (RFC 9110 §13.1.1, §13.1.3), so the next
poll can send ``If-None-Match``/``If-Modified-Since`` and a 304 costs the server nothing.
The validators are saved only after the items were accepted: a crash in between means the
next poll fetches again instead of skipping what was never stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import redis

from syndication.store.keys import Keys


def source_hash(url: str) -> str:
    """A short, key-safe name for a source URL."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PollState:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    checked_at: datetime | None = None


class PollStateStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.keys = Keys(prefix)

    def key(self, url: str) -> str:
        return self.keys.poll_state(source_hash(url))

    def get(self, url: str) -> PollState | None:
        raw = self.r.hgetall(self.key(url))
        if not raw:
            return None
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        checked = fields.get("checked_at")
        return PollState(
            url=fields.get("url", url),
            etag=fields.get("etag") or None,
            last_modified=fields.get("last_modified") or None,
            checked_at=datetime.fromisoformat(checked) if checked else None,
        )

    def save(self, state: PollState) -> None:
        """Replace the stored state (a validator the server stopped sending is dropped)."""
        mapping = {"url": state.url}
        if state.etag:
            mapping["etag"] = state.etag
        if state.last_modified:
            mapping["last_modified"] = state.last_modified
        if state.checked_at:
            mapping["checked_at"] = state.checked_at.isoformat()
        key = self.key(state.url)
        with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=mapping)
            pipe.execute()

    def touch(self, url: str, checked_at: datetime) -> None:
        """Record a poll that changed nothing (a 304), keeping the validators."""
        key = self.key(url)
        self.r.hset(key, mapping={"url": url, "checked_at": checked_at.isoformat()})

    def forget(self, url: str) -> None:
        self.r.delete(self.key(url))
