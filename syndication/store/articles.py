"""Articles in Redis: one JSON record per article plus sorted-set indexes.

A write compares the incoming article with what is stored and reports what happened, so the
caller fires exactly one event for a real change and none for a repeat. The record and its
indexes change in one MULTI/EXEC under WATCH: a reader never sees an article in an index
that its record does not list, and two writers of the same article cannot interleave.

The same transaction records the event the change owes (an outbox entry). The caller clears
it once the broker has the task; if the broker was down in between, the entry stays, and the
next repeat of the write or the periodic sweep hands the event over again, so a change is
never stored without its feeds eventually being rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import redis

from syndication.models import Article
from syndication.store.keys import Keys


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE = "stale"
    REPUBLISHED = "republished"
    WITHDRAWN = "withdrawn"
    ALREADY_WITHDRAWN = "already_withdrawn"
    NOT_FOUND = "not_found"


class State(StrEnum):
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class StoredArticle:
    article: Article
    state: State
    content_hash: str
    changed_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {**self.article.to_json(), "state": self.state.value}


def content_hash(article: Article) -> str:
    """A hash of the canonical JSON: equal content gives equal hashes across processes."""
    canonical = json.dumps(article.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _index_keys(keys: Keys, article: Article) -> list[str]:
    wanted = [keys.by_date, keys.index("lang", article.language.lower())]
    wanted += [keys.index("topic", s) for s in article.topic_slugs]
    wanted += [keys.index("author", s) for s in article.author_slugs]
    if article.section_slug:
        wanted.append(keys.index("section", article.section_slug))
    return list(dict.fromkeys(wanted))


# Delete the outbox entry only if it is still the one this caller dispatched: a newer
# change of the same article may have replaced it meanwhile, and that one must stay.
_CLEAR_PENDING = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


@dataclass(frozen=True)
class PendingEvent:
    article_id: str
    kind: str
    token: str


class ArticleStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.keys = Keys(prefix)

    def get(self, article_id: str) -> StoredArticle | None:
        raw = self.r.get(self.keys.article(article_id))
        return None if raw is None else _decode(raw)

    def get_many(self, ids: list[str]) -> list[StoredArticle]:
        if not ids:
            return []
        raws = self.r.mget([self.keys.article(i) for i in ids])
        return [_decode(raw) for raw in raws if raw is not None]

    def latest_ids(self, limit: int, offset: int = 0, index: str | None = None) -> list[str]:
        """Newest published first; ``index`` is a key from ``keys.index`` (default: all)."""
        members = self.r.zrevrange(index or self.keys.by_date, offset, offset + limit - 1)
        return [m.decode() for m in members]

    def latest(self, limit: int, offset: int = 0, index: str | None = None) -> list[Article]:
        stored = self.get_many(self.latest_ids(limit, offset, index))
        return [s.article for s in stored if s.state is State.PUBLISHED]

    def count(self, index: str | None = None) -> int:
        return int(self.r.zcard(index or self.keys.by_date))

    def upsert(self, article: Article, now: datetime) -> Outcome:
        """Store ``article`` unless it is a repeat or older than what is stored."""
        digest = content_hash(article)
        key = self.keys.article(article.id)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    old = None if raw is None else _decode(raw)
                    outcome = _classify(old, article, digest)
                    if outcome in (Outcome.UNCHANGED, Outcome.STALE):
                        pipe.unwatch()
                        return outcome
                    pipe.multi()
                    if old is not None:
                        for index in _index_keys(self.keys, old.article):
                            pipe.zrem(index, article.id)
                    record = _encode(article, State.PUBLISHED, digest, now)
                    pipe.set(key, record)
                    score = article.published_at.timestamp()
                    for index in _index_keys(self.keys, article):
                        pipe.zadd(index, {article.id: score})
                    pipe.zadd(self.keys.all_ids, {article.id: now.timestamp()})
                    kind = "updated" if outcome is Outcome.UPDATED else "published"
                    pipe.hset(self.keys.pending_events, article.id, f"{kind}:{digest}")
                    pipe.execute()
                    return outcome
                except redis.WatchError:
                    continue

    def withdraw(self, article_id: str, now: datetime) -> Outcome:
        """Mark withdrawn and drop from every index; the record stays as a tombstone."""
        key = self.keys.article(article_id)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        pipe.unwatch()
                        return Outcome.NOT_FOUND
                    old = _decode(raw)
                    if old.state is State.WITHDRAWN:
                        pipe.unwatch()
                        return Outcome.ALREADY_WITHDRAWN
                    pipe.multi()
                    for index in _index_keys(self.keys, old.article):
                        pipe.zrem(index, article_id)
                    pipe.set(key, _encode(old.article, State.WITHDRAWN, old.content_hash, now))
                    pipe.zadd(self.keys.all_ids, {article_id: now.timestamp()})
                    pipe.hset(self.keys.pending_events, article_id, f"withdrawn:{now.isoformat()}")
                    pipe.execute()
                    return Outcome.WITHDRAWN
                except redis.WatchError:
                    continue

    def pending(self, article_id: str | None = None) -> list[PendingEvent]:
        """Events stored but not yet confirmed as queued (one article, or all)."""
        if article_id is not None:
            raw = self.r.hget(self.keys.pending_events, article_id)
            items = {} if raw is None else {article_id.encode(): raw}
        else:
            items = self.r.hgetall(self.keys.pending_events)
        out = []
        for key, value in items.items():
            token = value.decode()
            out.append(PendingEvent(key.decode(), token.split(":", 1)[0], token))
        return out

    def clear_pending(self, event: PendingEvent) -> None:
        self.r.eval(_CLEAR_PENDING, 1, self.keys.pending_events, event.article_id, event.token)


def _classify(old: StoredArticle | None, new: Article, digest: str) -> Outcome:
    if old is None:
        return Outcome.CREATED
    if new.modified < old.article.modified:
        return Outcome.STALE
    if old.state is State.WITHDRAWN:
        return Outcome.REPUBLISHED
    if digest == old.content_hash:
        return Outcome.UNCHANGED
    return Outcome.UPDATED


def _encode(article: Article, state: State, digest: str, now: datetime) -> bytes:
    record = {
        "article": article.to_json(),
        "state": state.value,
        "hash": digest,
        "changed_at": now.isoformat(),
    }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def _decode(raw: bytes) -> StoredArticle:
    record = json.loads(raw)
    return StoredArticle(
        article=Article.model_validate(record["article"]),
        state=State(record["state"]),
        content_hash=record["hash"],
        changed_at=datetime.fromisoformat(record["changed_at"]),
    )
