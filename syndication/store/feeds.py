"""Built feeds, kept as ready bytes with their validators, so serving is a single read."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import redis

from syndication.store.keys import Keys


@dataclass(frozen=True)
class CachedFeed:
    body: bytes
    etag: str
    last_modified: datetime
    content_type: str


def strong_etag(body: bytes) -> str:
    """A strong validator from the bytes themselves: equal bytes, equal ETag, on any host."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class FeedCache:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.keys = Keys(prefix)

    def put(
        self, name: str, fmt: str, body: bytes, content_type: str, last_modified: datetime
    ) -> bool:
        """Store the feed; returns False (and writes nothing) when the bytes are unchanged."""
        key = self.keys.feed(name, fmt)
        etag = strong_etag(body)
        current = self.r.hget(key, "etag")
        if current is not None and current.decode() == etag:
            return False
        self.r.hset(
            key,
            mapping={
                "body": body,
                "etag": etag,
                "last_modified": last_modified.isoformat(),
                "content_type": content_type,
            },
        )
        return True

    def validators(self, name: str, fmt: str) -> tuple[str, datetime] | None:
        """ETag and Last-Modified without the body: most polls end in a 304 and need no more."""
        etag, modified = self.r.hmget(self.keys.feed(name, fmt), ["etag", "last_modified"])
        if etag is None or modified is None:
            return None
        return etag.decode(), datetime.fromisoformat(modified.decode())

    def get(self, name: str, fmt: str) -> CachedFeed | None:
        raw = self.r.hgetall(self.keys.feed(name, fmt))
        if not raw or b"body" not in raw:
            return None
        return CachedFeed(
            body=raw[b"body"],
            etag=raw[b"etag"].decode(),
            last_modified=datetime.fromisoformat(raw[b"last_modified"].decode()),
            content_type=raw[b"content_type"].decode(),
        )
