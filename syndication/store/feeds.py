"""Built feeds, kept as ready bytes (plain, gzip and brotli) with their validators.

Compressing once at build time means serving is a single read and no CPU per request; the
gzip stream carries no timestamp, so the same feed always compresses to the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import datetime

import brotli
import redis

from syndication.store.keys import Keys

ENCODINGS = ("br", "gzip", "identity")


@dataclass(frozen=True)
class CachedFeed:
    body: bytes
    etag: str
    last_modified: datetime
    content_type: str
    encoding: str = "identity"


def strong_etag(body: bytes) -> str:
    """A strong validator from the bytes themselves: equal bytes, equal ETag, on any host."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def variant_etag(etag: str, encoding: str) -> str:
    """Each encoding is its own representation and so needs its own strong ETag (RFC 9110)."""
    return etag if encoding == "identity" else f'{etag[:-1]}-{encoding}"'


def compress(body: bytes) -> dict[str, bytes]:
    return {
        "gzip": gzip.compress(body, compresslevel=9, mtime=0),
        "br": brotli.compress(body, quality=11),
    }


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
                "identity": body,
                **compress(body),
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

    def get(self, name: str, fmt: str, encoding: str = "identity") -> CachedFeed | None:
        """The feed in ``encoding`` (one of ENCODINGS), reading only that body."""
        fields = ["etag", "last_modified", "content_type", encoding]
        etag, modified, ctype, body = self.r.hmget(self.keys.feed(name, fmt), fields)
        if etag is None or body is None:
            return None
        return CachedFeed(
            body=body,
            etag=etag.decode(),
            last_modified=datetime.fromisoformat(modified.decode()),
            content_type=ctype.decode(),
            encoding=encoding,
        )

    def exists(self, name: str) -> bool:
        return bool(self.r.exists(self.keys.feed(name, "rss")))
