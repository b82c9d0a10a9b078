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

from syndication.feed_catalog import feed_titles
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
    return [keys.feed_index(name) for name in feed_titles(article)]


def _mark_feeds(pipe: redis.client.Pipeline, keys: Keys, *articles: Article) -> None:
    """Queue, inside the caller's MULTI, every feed the change touches (old and new place)."""
    names: dict[str, str] = {}
    for article in articles:
        names.update(feed_titles(article))
    pipe.sadd(keys.feeds_dirty, *names)
    titled = {name: title for name, title in names.items() if title}
    if titled:
        pipe.hset(keys.feed_titles, mapping=titled)


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

    def count_all(self) -> int:
        """Every article ever stored, withdrawn ones included (``count`` is published only)."""
        return int(self.r.zcard(self.keys.all_ids))

    def page_by_change(self, start: int, size: int) -> list[str]:
        """Ids of every article, withdrawn included, most recently changed first: ranks
        ``start`` to ``start + size - 1`` (the operators' list; readers see ``latest``)."""
        if size <= 0:
            return []
        members = self.r.zrevrange(self.keys.all_ids, start, start + size - 1)
        return [m.decode() for m in members]

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
                    _mark_feeds(pipe, self.keys, article, *([old.article] if old else []))
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
                    _mark_feeds(pipe, self.keys, old.article)
                    pipe.hset(self.keys.pending_events, article_id, f"withdrawn:{now.isoformat()}")
                    pipe.execute()
                    return Outcome.WITHDRAWN
                except redis.WatchError:
                    continue

    def rebuild_lock(self) -> Any:
        """Serialises feed rebuilds across workers (a Redis lock that expires if one dies)."""
        return self.r.lock(
            f"{self.keys.prefix}feeds:rebuild-lock", timeout=300, blocking_timeout=300, sleep=0.005
        )

    def take_dirty_feeds(self, limit: int = 10_000) -> list[str]:
        """Claim the feeds to rebuild; a failed rebuild puts them back (``mark_dirty``)."""
        names = self.r.spop(self.keys.feeds_dirty, limit) or []
        return sorted(n.decode() for n in names)

    def mark_dirty(self, names: list[str]) -> None:
        if names:
            self.r.sadd(self.keys.feeds_dirty, *names)

    def feed_title(self, name: str) -> str | None:
        raw = self.r.hget(self.keys.feed_titles, name)
        return None if raw is None else raw.decode()

    def feed_catalog(self) -> list[tuple[str, str, int]]:
        """Every feed that has held an article: (name, title, live item count)."""
        titles = {k.decode(): v.decode() for k, v in self.r.hgetall(self.keys.feed_titles).items()}
        names = ["all", *sorted(titles)]
        with self.r.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.zcard(self.keys.feed_index(name))
            counts = pipe.execute()
        return [(n, titles.get(n, ""), int(c)) for n, c in zip(names, counts, strict=True)]

    def feed_ids(self, name: str, start: int, stop: int, *, newest_first: bool) -> list[str]:
        """Ids by rank in the feed's index (``stop`` inclusive), newest or oldest first."""
        key = self.keys.feed_index(name)
        read = self.r.zrevrange if newest_first else self.r.zrange
        return [m.decode() for m in read(key, start, stop)]

    def feed_count(self, name: str) -> int:
        return int(self.r.zcard(self.keys.feed_index(name)))

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
