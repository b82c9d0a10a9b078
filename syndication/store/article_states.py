"""The editorial states beside published and withdrawn: embargoes ending, holds put and lifted.

Each change is one WATCH/MULTI on the article's record, like a write in ``articles.py``: the
record, the public indexes, the release list (``keys.embargoes``, scored by release time)
and the outbox event change together. A release that finds the article no longer embargoed
(another beat released it, an editor held it, the CMS moved the embargo later) does
nothing, so two overlapping beats release an article once.
"""

from __future__ import annotations

from datetime import datetime

import redis

from syndication.store.articles import (
    ArticleStore,
    Hold,
    Outcome,
    State,
    StoredArticle,
    _decode,
    _encode,
    _index_keys,
    _mark_feeds,
    index_score,
)

RELEASE_BATCH = 500


class ArticleStates:
    def __init__(self, store: ArticleStore) -> None:
        self.store = store
        self.r = store.r
        self.keys = store.keys

    # -- embargoes ----------------------------------------------------------------------
    def due(self, now: datetime, limit: int = RELEASE_BATCH) -> list[str]:
        """Ids whose embargo ends at or before ``now``, soonest first."""
        found = self.r.zrangebyscore(self.keys.embargoes, "-inf", now.timestamp(), 0, limit)
        return [m.decode() for m in found]

    def embargoed(self, limit: int = 1_000) -> list[StoredArticle]:
        """Every article still under embargo, soonest release first (partner feeds)."""
        ids = [m.decode() for m in self.r.zrange(self.keys.embargoes, 0, limit - 1)]
        return [s for s in self.store.get_many(ids) if s.state is State.EMBARGOED]

    def release_due(self, now: datetime) -> list[str]:
        """Publish every article whose embargo has ended; returns the ids this call released."""
        return [i for i in self.due(now) if self._release(i, now)]

    def _release(self, article_id: str, now: datetime) -> bool:
        key = self.keys.article(article_id)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = _read(pipe, key)
                    if stored is None or stored.state is not State.EMBARGOED:
                        pipe.multi()
                        pipe.zrem(self.keys.embargoes, article_id)  # a leftover entry
                        pipe.execute()
                        return False
                    until = stored.article.embargoed_until
                    if until is not None and until > now:
                        pipe.unwatch()  # moved later meanwhile: its new score says when
                        return False
                    pipe.multi()
                    self._publish(pipe, stored, now, "published", stored.hold)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    # -- holds --------------------------------------------------------------------------
    def hold(self, article_id: str, reason: str, now: datetime) -> Outcome:
        """Take a published (or embargoed) article out of every public output."""
        key = self.keys.article(article_id)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = _read(pipe, key)
                    refused = _hold_refusal(stored)
                    if refused is not None:
                        pipe.unwatch()
                        return refused
                    assert stored is not None
                    pipe.multi()
                    for index in _index_keys(self.keys, stored.article):
                        pipe.zrem(index, article_id)
                    pipe.zrem(self.keys.embargoes, article_id)
                    if stored.state is State.PUBLISHED:
                        _mark_feeds(pipe, self.keys, stored.article)
                    self._record(pipe, stored, State.HELD, now, Hold(reason, now))
                    pipe.hset(self.keys.pending_events, article_id, f"held:{now.isoformat()}")
                    pipe.execute()
                    return Outcome.HELD
                except redis.WatchError:
                    continue

    def release_hold(self, article_id: str, now: datetime) -> Outcome:
        """Lift a hold: the article is public again (or embargoed, if that is still ahead)."""
        key = self.keys.article(article_id)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = _read(pipe, key)
                    if stored is None:
                        pipe.unwatch()
                        return Outcome.NOT_FOUND
                    if stored.state is not State.HELD or stored.hold is None:
                        pipe.unwatch()
                        return Outcome.NOT_HELD
                    lifted = Hold(stored.hold.reason, stored.hold.at, released_at=now)
                    pipe.multi()
                    until = stored.article.embargoed_until
                    if until is not None and until > now:
                        self._record(pipe, stored, State.EMBARGOED, now, lifted)
                        pipe.zadd(self.keys.embargoes, {article_id: until.timestamp()})
                        pipe.hset(
                            self.keys.pending_events, article_id, f"released:{now.isoformat()}"
                        )
                    else:
                        self._publish(pipe, stored, now, "released", lifted)
                    pipe.execute()
                    return Outcome.RELEASED
                except redis.WatchError:
                    continue

    # -- inside a MULTI -----------------------------------------------------------------
    def _record(
        self,
        pipe: redis.client.Pipeline,
        stored: StoredArticle,
        state: State,
        now: datetime,
        hold: Hold | None,
    ) -> None:
        article = stored.article
        record = _encode(article, state, stored.content_hash, now, stored.owner, stored.keys, hold)
        pipe.set(self.keys.article(article.id), record)
        pipe.zadd(self.keys.all_ids, {article.id: now.timestamp()})

    def _publish(
        self,
        pipe: redis.client.Pipeline,
        stored: StoredArticle,
        now: datetime,
        kind: str,
        hold: Hold | None,
    ) -> None:
        """Make it public the way a write does: indexes, feeds marked, the outbox event."""
        article = stored.article
        self._record(pipe, stored, State.PUBLISHED, now, hold)
        score = index_score(article)
        for index in _index_keys(self.keys, article):
            pipe.zadd(index, {article.id: score})
        pipe.zrem(self.keys.embargoes, article.id)
        _mark_feeds(pipe, self.keys, article)
        token = stored.content_hash if kind == "published" else now.isoformat()
        pipe.hset(self.keys.pending_events, article.id, f"{kind}:{token}")


def _read(pipe: redis.client.Pipeline, key: str) -> StoredArticle | None:
    raw = pipe.get(key)
    return None if raw is None else _decode(raw)


def _hold_refusal(stored: StoredArticle | None) -> Outcome | None:
    if stored is None:
        return Outcome.NOT_FOUND
    if stored.state is State.WITHDRAWN:
        return Outcome.ALREADY_WITHDRAWN
    if stored.state is State.HELD:
        return Outcome.ALREADY_HELD
    return None
