"""Records as the store wrote them before article identities (owners, keys, feed dates)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import redis

from syndication.models import Article
from syndication.store.keys import Keys
from syndication.store.subscribers import Subscriber


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
    keys = Keys(prefix)
    client.set(keys.article(article.id), json.dumps(record, separators=(",", ":")))
    client.zadd(keys.by_date, {article.id: score})
    client.zadd(keys.index("lang", article.language), {article.id: score})
    client.zadd(keys.all_ids, {article.id: changed.timestamp()})
    client.sadd(keys.feeds_dirty, "all", f"lang/{article.language}")


def legacy_subscriber_write(client: redis.Redis, prefix: str, sub: Subscriber) -> None:
    """Store ``sub`` as the code before the compact format (issue #14) did: long field
    names, ISO times, the id inside, and the ``all``, ``status:``, ``active:``,
    ``active-lang:`` and ``languages`` indexes."""

    def iso(value: datetime | None) -> str:
        return "" if value is None else value.isoformat()

    base = f"{prefix}{{subscribers}}:"
    record = {
        "id": sub.id,
        "email": sub.email,
        "status": sub.status,
        "frequency": sub.frequency,
        "topics": " ".join(sub.topics),
        "language": sub.language,
        "created_at": sub.created_at.isoformat(),
        "confirmed_at": iso(sub.confirmed_at),
        "unsubscribed_at": iso(sub.unsubscribed_at),
        "updated_at": iso(sub.updated_at),
        "token_version": str(sub.token_version),
        "consent_ip": sub.consent_ip,
        "consent_source": sub.consent_source,
    }
    client.hset(f"{base}sub:{sub.id}", mapping=record)
    client.hset(f"{base}by-email", sub.email.lower(), sub.id)
    client.zadd(f"{base}all", {sub.id: 0})
    client.zadd(f"{base}status:{sub.status}", {sub.id: 0})
    if sub.status == "confirmed":
        client.zadd(f"{base}active:{sub.frequency}", {sub.id: 0})
        client.zadd(f"{base}active-lang:{sub.language}", {sub.id: 0})
        client.sadd(f"{base}languages", sub.language)
