"""Records as the store wrote them before article identities (owners, keys, feed dates)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import redis

from syndication.models import Article


def legacy_write(client: redis.Redis, prefix: str, article: Article, changed: datetime) -> None:
    """Store ``article`` as the code before identities did: id = the URL's slug (or the
    API's ``id``), no owner, no keys, no ``feed_date``, hash over the JSON of that time,
    and the indexes every feed reads (all, and the article's language)."""
    data: dict[str, Any] = article.model_dump(mode="json")
    data.pop("feed_date")
    data.pop("embargoed_until")  # no such field then
    digest = hashlib.sha256(
        json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    record = {
        "article": data,
        "state": "published",
        "hash": digest,
        "changed_at": changed.isoformat(),
    }
    score = article.published_at.timestamp()
    client.set(f"{prefix}article:{article.id}", json.dumps(record, separators=(",", ":")))
    client.zadd(f"{prefix}articles:by_date", {article.id: score})
    client.zadd(f"{prefix}lang:{article.language}", {article.id: score})
    client.zadd(f"{prefix}articles:all", {article.id: changed.timestamp()})
    client.sadd(f"{prefix}feeds:dirty", "all", f"lang/{article.language}")
