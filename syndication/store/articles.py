"""Articles in Redis: one JSON record per article plus sorted-set indexes.

A write compares the incoming article with what is stored and reports what happened, so the
caller fires exactly one event for a real change and none for a repeat. The record and its
indexes change in one MULTI/EXEC under WATCH: a reader never sees an article in an index
that its record does not list, and two writers of the same article cannot interleave.

Identity (syndication/identity.py): a write names who sent the article and what they call
it; the same transaction resolves that to the article id through the ``(owner, key) → id``
and ``canonical URL → id`` indexes, mints a new id that no article holds, and refuses a
change of another source's article (``NotOwner``). Articles stored before owners were
recorded are the publisher's, and are found lazily on their first write after the upgrade:
by the id the API used to take as it was, or by the slug the old code made of the URL when
the stored canonical URL matches; that write records owner, key and URL in the indexes (a
repeat too, without an event). The record also fixes ``feed_date`` (the feed item id's date)
at first store, from the stored publish date for an old record: the id it was served with.

The same transaction records the event the change owes (an outbox entry). The caller clears
it once the broker has the task; if the broker was down in between, the entry stays, and the
next repeat of the write or the periodic sweep hands the event over again, so a change is
never stored without its feeds eventually being rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import redis

from syndication.feed_catalog import feed_titles
from syndication.identity import (
    PUBLISHER,
    Identity,
    NotOwner,
    canonical_url,
    for_url,
    id_candidates,
)
from syndication.models import Article
from syndication.slugs import slug_from_url
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
    HELD = "held"
    ALREADY_HELD = "already_held"
    RELEASED = "released"
    NOT_HELD = "not_held"


class State(StrEnum):
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
    # Stored but in no public index until its ``embargoed_until`` (store/article_states.py).
    EMBARGOED = "embargoed"
    # An editor took it out of every public output until released (ninjs ``withheld``).
    HELD = "held"


@dataclass(frozen=True)
class Hold:
    """An editor's hold: why and since when; ``released_at`` once lifted (the partners'
    ``released`` notice is keyed on it)."""

    reason: str
    at: datetime
    released_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"reason": self.reason, "at": self.at.isoformat()}
        if self.released_at is not None:
            out["released_at"] = self.released_at.isoformat()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Hold:
        released = data.get("released_at")
        return cls(
            data["reason"],
            datetime.fromisoformat(data["at"]),
            datetime.fromisoformat(released) if released else None,
        )


@dataclass(frozen=True)
class StoredArticle:
    article: Article
    state: State
    content_hash: str
    changed_at: datetime
    owner: str | None = None  # None: stored before owners were recorded (the publisher's)
    keys: tuple[str, ...] = field(default=())  # what the owner calls it (identity keys)
    hold: Hold | None = None  # the latest hold, kept after its release

    @property
    def owned_by(self) -> str:
        return self.owner or PUBLISHER

    def to_json(self) -> dict[str, Any]:
        out = {**self.article.to_json(), "state": self.state.value}
        if self.hold is not None:
            out["hold"] = self.hold.to_json()
        return out


@dataclass(frozen=True)
class FeedHead:
    """What a feed rebuild reads of one feed's index (``ArticleStore.feed_heads``)."""

    name: str
    title: str | None
    ids: list[str]
    count: int


@dataclass(frozen=True)
class Written:
    """What a write did, and the article as stored (its resolved id and ``feed_date``)."""

    outcome: Outcome
    article: Article


def content_hash(article: Article) -> str:
    """A hash of the canonical JSON: equal content gives equal hashes across processes.

    ``feed_date`` is bookkeeping, not content, and is left out so that the hashes of records
    written before it existed still match the same content written now."""
    data = article.to_json()
    data.pop("feed_date", None)
    if data.get("embargoed_until") is None:  # absent before embargoes existed: same hash
        data.pop("embargoed_until", None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _index_keys(keys: Keys, article: Article) -> list[str]:
    return [keys.feed_index(name) for name in feed_titles(article)]


def index_score(article: Article) -> float:
    """Where the article sorts in feeds and digests: its publish time, or its release time
    when an embargo ends later (so a digest after the release still finds it)."""
    when = article.published_at
    if article.embargoed_until is not None and article.embargoed_until > when:
        when = article.embargoed_until
    return when.timestamp()


def state_for(old: StoredArticle | None, new: Article, now: datetime) -> State:
    """What a write leaves the article as: a hold stays until an editor lifts it; an embargo
    still ahead keeps a new or not yet public article out of public view (a published one
    stays published: taking it back is what a hold is for)."""
    if old is not None and old.state is State.HELD:
        return State.HELD
    until = new.embargoed_until
    public = old is not None and old.state is State.PUBLISHED
    if until is not None and until > now and not public:
        return State.EMBARGOED
    return State.PUBLISHED


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


@dataclass
class _UrlPlan:
    """What one write does to the URL indexes, decided under WATCH, written in its MULTI."""

    old_canon: str | None  # the stored article's canonical URL (None: a new article)
    claim_url: bool = False  # take the new URL's index entry
    drop_url: str | None = None  # remove this URL's index entry (nobody has it any more)
    sharers: dict[str, list[str]] = field(default_factory=dict)  # URL → its new sharers list
    heirs: dict[str, str] = field(default_factory=dict)  # URL → the article taking its entry


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

    def get_each(
        self, ids: list[str], decoded: DecodedRecords | None = None
    ) -> dict[str, StoredArticle]:
        """The stored articles ``ids`` by the id asked for (a missing one is absent). With
        ``decoded``, a record read before with the very same bytes is not decoded again:
        the same object comes back, which the caller must treat as read-only."""
        if not ids:
            return {}
        raws = self.r.mget([self.keys.article(i) for i in ids])
        decode = _decode if decoded is None else decoded.decode
        return {i: decode(raw) for i, raw in zip(ids, raws, strict=True) if raw is not None}

    def latest_ids(self, limit: int, offset: int = 0, index: str | None = None) -> list[str]:
        """Newest published first; ``index`` is a key from ``keys.index`` (default: all)."""
        members = self.r.zrevrange(index or self.keys.by_date, offset, offset + limit - 1)
        return [m.decode() for m in members]

    def ids_between(self, start: datetime, end: datetime) -> list[str]:
        """Ids of the articles published from ``start`` to ``end`` (both included), oldest
        first: the window a digest edition takes its candidates from."""
        members = self.r.zrangebyscore(self.keys.by_date, start.timestamp(), end.timestamp())
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

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

    def upsert(self, article: Article, now: datetime, identity: Identity | None = None) -> Outcome:
        """Store ``article`` unless it is a repeat or older than what is stored."""
        return self.put(article, now, identity).outcome

    def put(self, article: Article, now: datetime, identity: Identity | None = None) -> Written:
        """Store ``article`` as the one ``identity`` names (default: the publisher's, by its
        canonical URL, ``article.id`` the preferred id of a new one).

        Raises ``NotOwner`` when the identity, the URL or the id belongs to another source.
        """
        identity = identity or for_url(article.url, article.id or None)
        canon = canonical_url(article.url)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    return self._put(pipe, article, now, identity, canon)
                except redis.WatchError:
                    continue

    def _read(self, pipe: redis.client.Pipeline, article_id: str) -> StoredArticle | None:
        """Read a record under WATCH (the transaction retries if it changes meanwhile)."""
        key = self.keys.article(article_id)
        pipe.watch(key)
        raw = pipe.get(key)
        return None if raw is None else _decode(raw)

    def _holding(
        self, pipe: redis.client.Pipeline, article_id: str, canon: str
    ) -> StoredArticle | None:
        """The article a URL index entry names, if it still has that URL (an entry left
        behind by an article that moved on, or by the one-off backfill, is stale)."""
        stored = self._read(pipe, article_id)
        if stored is None or canonical_url(stored.article.url) != canon:
            return None
        return stored

    def index_legacy_urls(self, batch: int = 500) -> int:
        """The one-off upgrade step: put every record from before owners into the URL index
        (``HSETNX``: an entry a new write made wins). Idempotent, safe to run while writes
        go on, and a no-op after its first complete run; returns how many URLs it added.

        The lazy path in ``put`` already finds an old record by the id the API took as it
        was or by the slug of its URL; this finds the rest, so another source's item on
        the URL of an old article whose id was its CMS id is refused too."""
        done = self.keys.identities_migrated
        if self.r.exists(done):
            return 0
        added = 0
        pattern = _glob_escape(self.keys.article("")) + "*"
        names: list[bytes] = []
        for name in self.r.scan_iter(match=pattern, count=batch):
            names.append(name)
            if len(names) >= batch:
                added += self._index_batch(names)
                names = []
        added += self._index_batch(names)
        self.r.set(done, "1")
        return added

    def _index_batch(self, names: list[bytes]) -> int:
        if not names:
            return 0
        entries: dict[str, str] = {}
        for raw in self.r.mget(names):
            if raw is None:
                continue
            try:
                stored = _decode(raw)
            except (ValueError, KeyError, TypeError):
                continue  # a record nobody can read is not this step's to judge
            if stored.owner is None:
                entries.setdefault(canonical_url(stored.article.url), stored.article.id)
        with self.r.pipeline(transaction=False) as pipe:
            for url, article_id in entries.items():
                pipe.hsetnx(self.keys.article_urls, url, article_id)
            return sum(int(bool(r)) for r in pipe.execute())

    def _resolve(
        self, pipe: redis.client.Pipeline, article: Article, identity: Identity, canon: str
    ) -> tuple[str, StoredArticle | None]:
        """The article an identity not yet in the index names, or a new id for it."""
        holder = pipe.hget(self.keys.article_urls, canon)
        if holder is not None:
            stored = self._holding(pipe, holder.decode(), canon)
            if stored is not None:
                if stored.owned_by != identity.owner:
                    raise NotOwner(stored.article.id, stored.owned_by, identity.owner)
                # The same source and URL is the same article, unless the source calls
                # the stored one something else of the same kind (two guids, two CMS ids).
                same_kind = [k for k in stored.keys if k.partition(":")[0] == identity.kind]
                if not same_kind:
                    return stored.article.id, stored
        # Records from before the upgrade: the API took the CMS's id as the article id;
        # otherwise the id was the slug of the URL's last segment.
        for candidate, by_id in ((identity.legacy_id, True), (slug_from_url(article.url), False)):
            if not candidate:
                continue
            stored = self._read(pipe, candidate)
            if stored is None or stored.owner is not None:
                continue
            if by_id or canonical_url(stored.article.url) == canon:
                if identity.owner != PUBLISHER:
                    raise NotOwner(candidate, PUBLISHER, identity.owner)
                return candidate, stored
        for candidate in id_candidates(identity):
            key = self.keys.article(candidate)
            pipe.watch(key)
            if not pipe.exists(key):
                return candidate, None
        raise RuntimeError(f"no free id for {identity.field!r}")  # 2^256 to one

    def _put(
        self,
        pipe: redis.client.Pipeline,
        article: Article,
        now: datetime,
        identity: Identity,
        canon: str,
    ) -> Written:
        """One attempt at ``put``: every read under WATCH, then one MULTI (or none for a
        repeat that records nothing); a WatchError sends the caller round again."""
        k = self.keys
        pipe.watch(k.identities, k.article_urls, k.article_url_sharers)
        article_id, old, found = self._find(pipe, article, identity, canon)
        urls = self._plan_urls(pipe, article_id, identity, canon, old)
        feed_date: date = (
            old.article.feed_date or old.article.published_at.date()
            if old is not None
            else article.published_at.date()
        )
        new = article.model_copy(update={"id": article_id, "feed_date": feed_date})
        keys = old.keys if old is not None else ()
        if identity.key not in keys:
            keys = (*keys, identity.key)
        digest = content_hash(new)
        outcome = _classify(old, new, digest)
        if outcome in (Outcome.UNCHANGED, Outcome.STALE):
            assert old is not None
            kept = self._keep(pipe, article_id, old, identity, found, keys, feed_date)
            return Written(outcome, kept)

        state = state_for(old, new, now)
        pipe.multi()
        self._book(pipe, article_id, identity, canon, found, urls.claim_url, urls.drop_url)
        self._book_sharers(pipe, urls.sharers, urls.heirs)
        if old is not None:
            for index in _index_keys(k, old.article):
                pipe.zrem(index, article_id)
        hold = None if old is None else old.hold
        pipe.set(
            k.article(article_id), _encode(new, state, digest, now, identity.owner, keys, hold)
        )
        if state is State.PUBLISHED:
            score = index_score(new)
            for index in _index_keys(k, new):
                pipe.zadd(index, {article_id: score})
        _queue_embargo(pipe, k, new, state)
        pipe.zadd(k.all_ids, {article_id: now.timestamp()})
        # Only public places are marked: an embargoed article's topics must not become
        # feed names (and titles) before its release.
        marked = [new] if state is State.PUBLISHED else []
        if old is not None and old.state is State.PUBLISHED:
            marked.append(old.article)
        if marked:
            _mark_feeds(pipe, k, *marked)
        pipe.hset(k.pending_events, article_id, f"{_event_kind(old, state)}:{digest}")
        pipe.execute()
        return Written(outcome, new)

    def _find(
        self, pipe: redis.client.Pipeline, article: Article, identity: Identity, canon: str
    ) -> tuple[str, StoredArticle | None, bytes | None]:
        """(article id, its stored record, the identity index entry if there was one), read
        under WATCH; ``NotOwner`` when the record is another source's."""
        found = pipe.hget(self.keys.identities, identity.field)
        if found is not None:
            article_id = found.decode()
            old = self._read(pipe, article_id)
        else:
            article_id, old = self._resolve(pipe, article, identity, canon)
        if old is not None and old.owned_by != identity.owner:
            raise NotOwner(article_id, old.owned_by, identity.owner)
        return article_id, old, found

    def _plan_urls(
        self,
        pipe: redis.client.Pipeline,
        article_id: str,
        identity: Identity,
        canon: str,
        old: StoredArticle | None,
    ) -> _UrlPlan:
        """What a change does to the URL indexes, read under WATCH: the new URL is claimed
        or shared (never another source's), and the old one, if the article moved, is
        handed on to a sharer or dropped."""
        plan = _UrlPlan(old_canon=None if old is None else canonical_url(old.article.url))
        plan.claim_url = self._join_url(pipe, article_id, identity, canon, plan.sharers)
        if plan.old_canon is not None and plan.old_canon != canon:
            self._leave_url(pipe, article_id, plan.old_canon, plan)
        return plan

    def _join_url(
        self,
        pipe: redis.client.Pipeline,
        article_id: str,
        identity: Identity,
        canon: str,
        sharers: dict[str, list[str]],
    ) -> bool:
        """Whether the write claims ``canon``'s index entry; adds the article to the URL's
        sharers when the same source's other article holds it."""
        holder_raw = pipe.hget(self.keys.article_urls, canon)
        if holder_raw is None:
            return True
        holder = holder_raw.decode()
        if holder == article_id:
            return False
        other = self._holding(pipe, holder, canon)
        if other is None:
            return True  # a stale entry: claim the URL
        if other.owned_by != identity.owner:
            raise NotOwner(holder, other.owned_by, identity.owner)
        now_sharing = self._sharers(pipe, canon)  # the same source's other article: share it
        if article_id not in now_sharing:
            sharers[canon] = [*now_sharing, article_id]
        return False

    def _leave_url(
        self, pipe: redis.client.Pipeline, article_id: str, old_canon: str, plan: _UrlPlan
    ) -> None:
        """The article moved away from ``old_canon``: leave its sharers, and if it held the
        index entry, hand it to a sharer that still has the URL, else drop it."""
        left = [i for i in self._sharers(pipe, old_canon) if i != article_id]
        if pipe.hget(self.keys.article_urls, old_canon) == article_id.encode():
            # The URL stays with its owner through another article that still has it.
            heir = next((i for i in left if self._holding(pipe, i, old_canon)), None)
            if heir is None:
                plan.drop_url, left = old_canon, []
            else:
                plan.heirs[old_canon] = heir
                left = [i for i in left if i != heir]
        plan.sharers[old_canon] = left

    def _keep(
        self,
        pipe: redis.client.Pipeline,
        article_id: str,
        old: StoredArticle,
        identity: Identity,
        found: bytes | None,
        keys: tuple[str, ...],
        feed_date: date,
    ) -> Article:
        """A repeat or stale write: nothing changes and nothing is announced; the stored URL
        stays (a stale write's URL is not the article's). What the identity needs is
        recorded: the lazy upgrade of an old record, or its first write by another of its
        names. Returns the article as stored."""
        old_canon = canonical_url(old.article.url)
        claim_old = pipe.hget(self.keys.article_urls, old_canon) is None
        if not (
            found is None
            or claim_old
            or old.owner != identity.owner
            or old.keys != keys
            or old.article.feed_date is None
        ):
            pipe.unwatch()
            return old.article
        kept = old.article.model_copy(update={"feed_date": feed_date})
        pipe.multi()
        self._book(pipe, article_id, identity, old_canon, found, claim_old, None)
        record = _encode(
            kept, old.state, old.content_hash, old.changed_at, identity.owner, keys, old.hold
        )
        pipe.set(self.keys.article(article_id), record)
        pipe.execute()
        return kept

    def _book(
        self,
        pipe: redis.client.Pipeline,
        article_id: str,
        identity: Identity,
        canon: str,
        found: bytes | None,
        claim_url: bool,
        drop_url: str | None,
    ) -> None:
        """Queue the index entries of a write inside its MULTI."""
        if found is None:
            pipe.hset(self.keys.identities, identity.field, article_id)
        if claim_url:
            pipe.hset(self.keys.article_urls, canon, article_id)
        if drop_url is not None:
            pipe.hdel(self.keys.article_urls, drop_url)

    def _sharers(self, pipe: redis.client.Pipeline, canon: str) -> list[str]:
        raw = pipe.hget(self.keys.article_url_sharers, canon)
        return [] if raw is None else [str(i) for i in json.loads(raw)]

    def _book_sharers(
        self, pipe: redis.client.Pipeline, sharers: dict[str, list[str]], heirs: dict[str, str]
    ) -> None:
        """Queue the URL-sharing changes inside a write's MULTI: the new sharer lists, and
        the articles that take over a URL's index entry from one that moved away."""
        for url, heir in heirs.items():
            pipe.hset(self.keys.article_urls, url, heir)
        for url, ids in sharers.items():
            if ids:
                pipe.hset(self.keys.article_url_sharers, url, json.dumps(ids))
            else:
                pipe.hdel(self.keys.article_url_sharers, url)

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
                    old = _decode(raw)  # a legacy record can still be withdrawn
                    if old.state is State.WITHDRAWN:
                        pipe.unwatch()
                        return Outcome.ALREADY_WITHDRAWN
                    pipe.multi()
                    for index in _index_keys(self.keys, old.article):
                        pipe.zrem(index, article_id)
                    pipe.zrem(self.keys.embargoes, article_id)
                    record = _encode(
                        old.article,
                        State.WITHDRAWN,
                        old.content_hash,
                        now,
                        old.owner,
                        old.keys,
                        old.hold,
                    )
                    pipe.set(key, record)
                    pipe.zadd(self.keys.all_ids, {article_id: now.timestamp()})
                    if old.state is State.PUBLISHED:  # never name an embargoed one's feeds
                        _mark_feeds(pipe, self.keys, old.article)
                    pipe.hset(self.keys.pending_events, article_id, f"withdrawn:{now.isoformat()}")
                    pipe.execute()
                    return Outcome.WITHDRAWN
                except redis.WatchError:
                    continue

    def rebuild_lock(self) -> Any:
        """Serialises feed rebuilds across workers (a Redis lock that expires if one dies)."""
        return self.r.lock(self.keys.rebuild_lock, timeout=300, blocking_timeout=300, sleep=0.005)

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

    def feed_heads(self, names: list[str], count: int) -> list[FeedHead]:
        """Per feed, in one round trip: its stored title (None for ``all``, which has none,
        and for a feed that never held an article), the ids of its newest ``count`` items
        (newest first) and how many items it has."""
        with self.r.pipeline(transaction=False) as pipe:
            for name in names:
                key = self.keys.feed_index(name)
                pipe.hget(self.keys.feed_titles, name)
                pipe.zrevrange(key, 0, count - 1)
                pipe.zcard(key)
            replies = pipe.execute()
        heads = []
        for i, name in enumerate(names):
            label, ids, total = replies[3 * i : 3 * i + 3]
            title = None if label is None else label.decode()
            heads.append(FeedHead(name, title, [m.decode() for m in ids], int(total)))
        return heads

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


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a SCAN ``MATCH`` pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def _queue_embargo(pipe: redis.client.Pipeline, k: Keys, article: Article, state: State) -> None:
    """Inside a MULTI: an embargoed article is on the release list at its release time;
    any other state takes it off."""
    if state is State.EMBARGOED and article.embargoed_until is not None:
        pipe.zadd(k.embargoes, {article.id: article.embargoed_until.timestamp()})
    else:
        pipe.zrem(k.embargoes, article.id)


def _event_kind(old: StoredArticle | None, state: State) -> str:
    """The outbox event a write owes: ``published`` when it first becomes public (new,
    back from withdrawal, or its embargo lifted early), ``embargoed`` while under embargo,
    ``updated`` for a change of a public (or held) article."""
    if state is State.EMBARGOED:
        return "embargoed"
    if state is State.PUBLISHED and (old is None or old.state is not State.PUBLISHED):
        return "published"
    return "updated"


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


def _encode(
    article: Article,
    state: State,
    digest: str,
    now: datetime,
    owner: str | None = None,
    keys: tuple[str, ...] = (),
    hold: Hold | None = None,
) -> bytes:
    record: dict[str, Any] = {
        "article": article.to_json(),
        "state": state.value,
        "hash": digest,
        "changed_at": now.isoformat(),
    }
    if owner is not None:
        record["owner"] = owner
        record["keys"] = list(keys)
    if hold is not None:
        record["hold"] = hold.to_json()
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


class DecodedRecords:
    """Records decoded before, by a digest of their exact bytes (least recently used go
    past ``size``). Decoding validates the whole article (~0.2 ms for 8 KB of text) and a
    feed rebuild reads the same records for every feed and every rebuild; an unchanged
    record now costs a hash. Any change to a record (article, state, hold …) changes its
    bytes and so misses. The objects are shared: nobody may mutate them. Not thread-safe."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._records: OrderedDict[bytes, StoredArticle] = OrderedDict()

    def decode(self, raw: bytes) -> StoredArticle:
        digest = hashlib.blake2b(raw, digest_size=32).digest()
        stored = self._records.get(digest)
        if stored is not None:
            self._records.move_to_end(digest)
            return stored
        stored = self._records[digest] = _decode(raw)
        if len(self._records) > self.size:
            self._records.popitem(last=False)
        return stored


def _decode(raw: bytes, stored: bool = True) -> StoredArticle:
    """A stored record as it was saved: the limits on incoming input (models._stored) apply
    at the door, not on the way out, so a record saved before today's limits stays readable
    by every reader (feeds skip an item they cannot build; the API, digests and partner
    feeds still see it and it can be corrected or withdrawn). ``stored=False`` re-checks."""
    record = json.loads(raw)
    return StoredArticle(
        article=Article.model_validate(record["article"], context={"stored": stored}),
        state=State(record["state"]),
        content_hash=record["hash"],
        changed_at=datetime.fromisoformat(record["changed_at"]),
        owner=record.get("owner"),
        keys=tuple(record.get("keys", ())),
        hold=Hold.from_json(record["hold"]) if record.get("hold") else None,
    )
