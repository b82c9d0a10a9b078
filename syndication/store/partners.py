"""Partners in Redis: records, key hashes, pull and view counters, what each partner pulled.

Layout (every key under one hash tag, ``{prefix}{partners}:…``, so the transactions that
touch a record and the key index together are legal on Redis Cluster too):

- ``partner:{id}``        hash: the record (see ``Partner``), with ``key_hash``
- ``by-key``              hash: sha256 hex of a key → partner id (revoked keys removed)
- ``all``                 sorted set of ids by creation time
- ``pulls:{YYYY-MM-DD}``  hash: partner id → feed requests that day (HINCRBY)
- ``views:{YYYY-MM-DD}``  hash: ``{partner id}:{article id}`` → pixel views that day
- ``pulled:{id}``         hash: article id → ``{content hash}|{first pull time}`` (the
  version this partner first received, so later changes are reported as corrections)
- ``notified:{id}``       hash: article id → the change last sent to the partner's webhook

Partner copies live outside that hash tag, one hash per article with the article id as
its own tag (``partner-copies:{<id>}``, ``PartnerCopyStore``), so they spread over a
cluster's slots; each write touches that one key only.

Keys are stored only as SHA-256 digests: a key is 32 random bytes, so a plain hash is
enough (no password stretching needed: nothing to brute-force), and a copy of Redis gives
no way in. The first 8 characters are kept to tell keys apart in listings.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import redis

from syndication.slugs import ascii_slug
from syndication.store.articles import ArticleStore

KEY_BYTES = 32
PREFIX_CHARS = 8
COUNTER_DAYS = 400  # per-day counters are kept this long (a year of reports, and some)


def new_key() -> str:
    """A fresh partner key: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(KEY_BYTES)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class PartnerNotFound(LookupError):
    pass


class PartnerRevoked(ValueError):
    pass


@dataclass(frozen=True)
class Partner:
    """A partner outlet and its terms; ``key_hash`` is the only trace of its key."""

    id: str
    name: str
    commercial: bool
    topics: tuple[str, ...]
    sections: tuple[str, ...]
    languages: tuple[str, ...]
    webhook_url: str | None
    created_at: datetime
    revoked_at: datetime | None
    key_prefix: str
    key_hash: str
    secret_version: int = 1
    pixel: bool = True
    embargoed: bool = False  # sees embargoed articles before their release, marked as such

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_json(self) -> dict[str, object]:
        """Everything but the key hash (listings, ``--json``)."""
        return {
            "id": self.id,
            "name": self.name,
            "commercial": self.commercial,
            "topics": list(self.topics),
            "sections": list(self.sections),
            "languages": list(self.languages),
            "webhook_url": self.webhook_url,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "key_prefix": self.key_prefix,
            "pixel": self.pixel,
            "embargoed": self.embargoed,
        }


def _encode(p: Partner) -> dict[str, str]:
    return {
        "id": p.id,
        "name": p.name,
        "commercial": "1" if p.commercial else "0",
        "topics": json.dumps(list(p.topics)),
        "sections": json.dumps(list(p.sections)),
        "languages": json.dumps(list(p.languages)),
        "webhook_url": p.webhook_url or "",
        "created_at": p.created_at.isoformat(),
        "revoked_at": p.revoked_at.isoformat() if p.revoked_at else "",
        "key_prefix": p.key_prefix,
        "key_hash": p.key_hash,
        "secret_version": str(p.secret_version),
        "pixel": "1" if p.pixel else "0",
        "embargoed": "1" if p.embargoed else "0",
    }


def _decode(raw: dict[bytes, bytes]) -> Partner:
    f = {k.decode(): v.decode() for k, v in raw.items()}
    return Partner(
        id=f["id"],
        name=f["name"],
        commercial=f["commercial"] == "1",
        topics=tuple(json.loads(f["topics"])),
        sections=tuple(json.loads(f["sections"])),
        languages=tuple(json.loads(f["languages"])),
        webhook_url=f["webhook_url"] or None,
        created_at=datetime.fromisoformat(f["created_at"]),
        revoked_at=datetime.fromisoformat(f["revoked_at"]) if f["revoked_at"] else None,
        key_prefix=f["key_prefix"],
        key_hash=f["key_hash"],
        secret_version=int(f.get("secret_version", "1")),
        pixel=f.get("pixel", "1") == "1",
        embargoed=f.get("embargoed", "0") == "1",
    )


class PartnerStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.prefix = prefix
        self.base = f"{prefix}{{partners}}:"

    # -- key names ----------------------------------------------------------------------
    def _record(self, partner_id: str) -> str:
        return f"{self.base}partner:{partner_id}"

    @property
    def _by_key(self) -> str:
        return f"{self.base}by-key"

    @property
    def _all(self) -> str:
        return f"{self.base}all"

    def _pulls(self, day: date) -> str:
        return f"{self.base}pulls:{day.isoformat()}"

    def _views(self, day: date) -> str:
        return f"{self.base}views:{day.isoformat()}"

    def _pulled(self, partner_id: str) -> str:
        return f"{self.base}pulled:{partner_id}"

    def _notified(self, partner_id: str) -> str:
        return f"{self.base}notified:{partner_id}"

    # -- records ------------------------------------------------------------------------
    def add(
        self,
        name: str,
        *,
        commercial: bool,
        topics: Iterable[str] = (),
        sections: Iterable[str] = (),
        languages: Iterable[str] = (),
        webhook_url: str | None = None,
        pixel: bool = True,
        embargoed: bool = False,
        now: datetime,
    ) -> tuple[Partner, str]:
        """Create a partner; returns it and its key (the only time the key exists in clear)."""
        key = new_key()
        base_id = ascii_slug(name)[:40].strip("-") or "partner"  # ids stay ASCII
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(self._all)
                    partner_id, n = base_id, 1
                    while pipe.exists(self._record(partner_id)):
                        n += 1
                        partner_id = f"{base_id}-{n}"
                    partner = Partner(
                        id=partner_id,
                        name=name,
                        commercial=commercial,
                        topics=tuple(topics),
                        sections=tuple(sections),
                        languages=tuple(languages),
                        webhook_url=webhook_url,
                        created_at=now,
                        revoked_at=None,
                        key_prefix=key[:PREFIX_CHARS],
                        key_hash=hash_key(key),
                        pixel=pixel,
                        embargoed=embargoed,
                    )
                    pipe.multi()
                    pipe.hset(self._record(partner_id), mapping=_encode(partner))
                    pipe.hset(self._by_key, partner.key_hash, partner_id)
                    pipe.zadd(self._all, {partner_id: now.timestamp()})
                    pipe.execute()
                    return partner, key
                except redis.WatchError:
                    continue

    def get(self, partner_id: str) -> Partner | None:
        raw = self.r.hgetall(self._record(partner_id))
        return _decode(raw) if raw else None

    def all(self) -> list[Partner]:
        ids = [i.decode() for i in self.r.zrange(self._all, 0, -1)]
        with self.r.pipeline(transaction=False) as pipe:
            for partner_id in ids:
                pipe.hgetall(self._record(partner_id))
            raws = pipe.execute()
        return [_decode(raw) for raw in raws if raw]

    def id_for_key_hash(self, key_hash: str) -> str | None:
        raw = self.r.hget(self._by_key, key_hash)
        return None if raw is None else raw.decode()

    def revoke(self, partner_id: str, now: datetime) -> Partner:
        """Stop the partner's key working; the record stays (with its counts) for reports."""
        return self._change(partner_id, now, rotate=False)[0]

    def rotate(self, partner_id: str, now: datetime) -> tuple[Partner, str]:
        """A new key (and webhook secret version); the old key stops working at once."""
        partner, key = self._change(partner_id, now, rotate=True)
        assert key is not None
        return partner, key

    def _change(
        self, partner_id: str, now: datetime, *, rotate: bool
    ) -> tuple[Partner, str | None]:
        record = self._record(partner_id)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(record)
                    raw = pipe.hgetall(record)
                    if not raw:
                        raise PartnerNotFound(partner_id)
                    old = _decode(raw)
                    if old.revoked_at is not None:
                        pipe.unwatch()
                        if rotate:
                            raise PartnerRevoked(f"partner {partner_id} is revoked")
                        return old, None
                    key = new_key() if rotate else None
                    pipe.multi()
                    pipe.hdel(self._by_key, old.key_hash)
                    if key is None:
                        new = Partner(**{**old.__dict__, "revoked_at": now})
                    else:
                        new = Partner(
                            **{
                                **old.__dict__,
                                "key_hash": hash_key(key),
                                "key_prefix": key[:PREFIX_CHARS],
                                "secret_version": old.secret_version + 1,
                            }
                        )
                        pipe.hset(self._by_key, new.key_hash, partner_id)
                    pipe.hset(record, mapping=_encode(new))
                    pipe.execute()
                    return new, key
                except redis.WatchError:
                    continue

    # -- counters -----------------------------------------------------------------------
    def count_pull(self, partner_id: str, day: date) -> None:
        key = self._pulls(day)
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, partner_id, 1)
            pipe.expire(key, int(timedelta(days=COUNTER_DAYS).total_seconds()))
            pipe.execute()

    def pulls(self, day: date) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.r.hgetall(self._pulls(day)).items()}

    def pulls_since(self, first: date, last: date) -> dict[str, int]:
        """Pulls per partner, summed over ``first``..``last`` inclusive."""
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        with self.r.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(self._pulls(day))
            per_day = pipe.execute()
        total: dict[str, int] = {}
        for counts in per_day:
            for k, v in counts.items():
                total[k.decode()] = total.get(k.decode(), 0) + int(v)
        return total

    def count_view(self, partner_id: str, article_id: str, day: date) -> None:
        key = self._views(day)
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, f"{partner_id}:{article_id}", 1)
            pipe.expire(key, int(timedelta(days=COUNTER_DAYS).total_seconds()))
            pipe.execute()

    def views(self, day: date) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for k, v in self.r.hgetall(self._views(day)).items():
            partner_id, _, article_id = k.decode().partition(":")
            out[(partner_id, article_id)] = int(v)
        return out

    # -- what each partner received -----------------------------------------------------
    def record_pulled(self, partner_id: str, versions: dict[str, str], now: datetime) -> None:
        """Remember the first version of each article the partner received (HSETNX)."""
        if not versions:
            return
        key = self._pulled(partner_id)
        with self.r.pipeline(transaction=False) as pipe:
            for article_id, digest in versions.items():
                pipe.hsetnx(key, article_id, f"{digest}|{now.isoformat()}")
            pipe.execute()

    def pulled(self, partner_id: str, article_ids: list[str] | None = None) -> dict[str, str]:
        """Article id → content hash of the first version the partner received."""
        key = self._pulled(partner_id)
        if article_ids is None:
            items = {k.decode(): v.decode() for k, v in self.r.hgetall(key).items()}
        else:
            if not article_ids:
                return {}
            values = self.r.hmget(key, article_ids)
            items = {a: v.decode() for a, v in zip(article_ids, values, strict=True) if v}
        return {a: v.partition("|")[0] for a, v in items.items()}

    def first_pulls(self, article_id: str) -> dict[str, datetime]:
        """Partner id → when it first received the article (the republication registry)."""
        ids = [i.decode() for i in self.r.zrange(self._all, 0, -1)]
        with self.r.pipeline(transaction=False) as pipe:
            for partner_id in ids:
                pipe.hget(self._pulled(partner_id), article_id)
            values = pipe.execute()
        return {
            p: datetime.fromisoformat(v.decode().partition("|")[2])
            for p, v in zip(ids, values, strict=True)
            if v
        }

    def pulls_of(self, partner_id: str) -> dict[str, datetime]:
        """Article id → when this partner first received it (the republication registry)."""
        raw = self.r.hgetall(self._pulled(partner_id))
        return {
            k.decode(): datetime.fromisoformat(v.decode().partition("|")[2]) for k, v in raw.items()
        }

    def partners_who_pulled(self, article_id: str) -> list[str]:
        ids = [i.decode() for i in self.r.zrange(self._all, 0, -1)]
        with self.r.pipeline(transaction=False) as pipe:
            for partner_id in ids:
                pipe.hexists(self._pulled(partner_id), article_id)
            flags = pipe.execute()
        return [p for p, pulled in zip(ids, flags, strict=True) if pulled]

    def mark_notified(self, partner_id: str, article_id: str, change: str) -> bool:
        """Record that ``change`` was queued for the partner; False if it already was."""
        key = self._notified(partner_id)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    if pipe.hget(key, article_id) == change.encode():
                        pipe.unwatch()
                        return False
                    pipe.multi()
                    pipe.hset(key, article_id, change)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    # -- the change sweep ---------------------------------------------------------------
    def sweep_cursor(self) -> float | None:
        """Epoch seconds of the last article change the webhook sweep has looked at."""
        raw = self.r.get(f"{self.base}sweep-cursor")
        return None if raw is None else float(raw)

    def set_sweep_cursor(self, value: float) -> None:
        self.r.set(f"{self.base}sweep-cursor", repr(value))


class ArticleChanges:
    """The articles' change index (``ArticleStore.keys.all_ids``, each article scored by the
    time of its last change) as the partner use cases read it: which articles changed in a
    window, for withdrawn notices and the webhook sweep. The key layout stays in ``store/``."""

    def __init__(self, articles: ArticleStore) -> None:
        self.r = articles.r
        self.index = articles.keys.all_ids

    def between(self, since: float, until: float) -> list[str]:
        """Ids of articles last changed in [``since``, ``until``] (epoch seconds), newest first."""
        return [m.decode() for m in self.r.zrevrangebyscore(self.index, until, since)]

    def after(self, since: float, until: float) -> list[str]:
        """Ids of articles last changed in (``since``, ``until``], oldest first."""
        return [m.decode() for m in self.r.zrangebyscore(self.index, f"({since}", until)]


# --- partner copies ---------------------------------------------------------------------

COPY_TTL = timedelta(days=30)  # a copy nobody asked for again in a month is made anew
TOMBSTONE_TTL = timedelta(days=1)  # long enough to outlast any read that raced a withdrawal
_VERSION = "_v"
_GONE = "_gone"

# Write copies of one article version. ARGV: version (µs of the article's last change),
# mode, TTL in ms, then field/value pairs. "replace" (the publish/update task) drops every
# older field first; "add" (a reader that had to make a copy) adds beside copies of the
# same version; "gone" (withdrawn) leaves only a tombstone. A writer holding an older
# version than the stored one changes nothing, so a slow reader cannot put a stale copy
# back after an update, nor any copy back after a withdrawal.
_PUT = """
local cur = redis.call('HGET', KEYS[1], ARGV[4])
local v = tonumber(ARGV[1])
local mode = ARGV[2]
if cur then
  cur = tonumber(cur)
  if cur > v then return 0 end
  if mode == 'add' and cur == v and redis.call('HEXISTS', KEYS[1], ARGV[5]) == 1 then
    return 0
  end
end
if not (mode == 'add' and cur == v) then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], ARGV[4], ARGV[1])
  if mode == 'gone' then redis.call('HSET', KEYS[1], ARGV[5], '1') end
end
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


@dataclass(frozen=True)
class StoredCopy:
    """A partner copy as stored: everything a feed item needs, nothing rendered again.

    ``excluded`` (reason, code) when the article goes to no partner of this kind (an ND
    article that would need changes, say); else the three HTML parts (the item's content
    is header, body and footer joined by newlines), the licence id, the note of changes
    and whether the lead image travels with the copy.
    """

    header_html: str = ""
    body_html: str = ""
    footer_html: str = ""
    licence: str = ""
    changes: tuple[str, ...] = ()
    keep_image: bool = True
    excluded: tuple[str, str] | None = None

    def encode(self) -> bytes:
        """A line of JSON with the small fields and the parts' lengths, then the three HTML
        parts as they are: no JSON escaping of every quote in the HTML, so reading 50
        copies back costs a UTF-8 decode and three slices each."""
        if self.excluded is not None:
            meta: dict[str, Any] = {"x": list(self.excluded)}
            parts = ""
        else:
            lengths = [len(self.header_html), len(self.body_html), len(self.footer_html)]
            meta = {"l": self.licence, "c": list(self.changes), "i": self.keep_image, "n": lengths}
            parts = self.header_html + self.body_html + self.footer_html
        head = json.dumps(meta, ensure_ascii=False, separators=(",", ":"))
        return f"{head}\n{parts}".encode()

    @classmethod
    def decode(cls, raw: bytes) -> StoredCopy | None:
        """None for anything unreadable (an older layout, say): the caller makes it anew."""
        try:
            text = raw.decode()
            end = text.index("\n")
            meta = json.loads(text[:end])
            if "x" in meta:
                reason, code = meta["x"]
                return cls(excluded=(str(reason), str(code)))
            h, b, f = (int(n) for n in meta["n"])
            start = end + 1
            if len(text) - start != h + b + f:
                return None
            return cls(
                header_html=text[start : start + h],
                body_html=text[start + h : start + h + b],
                footer_html=text[start + h + b :],
                licence=str(meta["l"]),
                changes=tuple(meta["c"]),
                keep_image=bool(meta["i"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


def copy_version(changed_at: datetime) -> int:
    """The article's last change in µs: orders writes of one article's copies."""
    return round(changed_at.timestamp() * 1_000_000)


class PartnerCopyStore:
    """Partner copies in Redis: ``partner-copies:{<article id>}`` is a hash whose fields are
    ``{content hash}:{0|1 commercial}:{terms}`` (``terms``: a fingerprint of whatever else
    shapes a copy, the publisher's terms and the templates, so changing either makes new
    copies instead of serving old ones). Made at publish time by a task; read in one
    pipelined round trip per feed build.
    """

    def __init__(self, client: redis.Redis, prefix: str, ttl: timedelta = COPY_TTL) -> None:
        self.r = client
        self.prefix = prefix
        self.ttl_ms = int(ttl.total_seconds() * 1000)
        self._put = client.register_script(_PUT)

    def key(self, article_id: str) -> str:
        return f"{self.prefix}partner-copies:{{{article_id}}}"

    @staticmethod
    def field(content_hash: str, commercial: bool, terms: str) -> str:
        return f"{content_hash}:{int(commercial)}:{terms}"

    def get_many(
        self, wanted: Sequence[tuple[str, str, bool]], terms: str
    ) -> list[StoredCopy | None]:
        """(article id, content hash, commercial) → the stored copy or None, in order."""
        if not wanted:
            return []
        with self.r.pipeline(transaction=False) as pipe:
            for article_id, digest, commercial in wanted:
                pipe.hget(self.key(article_id), self.field(digest, commercial, terms))
            raws = pipe.execute()
        return [None if raw is None else StoredCopy.decode(raw) for raw in raws]

    def replace(
        self,
        article_id: str,
        content_hash: str,
        version: int,
        copies: dict[bool, StoredCopy],
        terms: str,
    ) -> bool:
        """The copies of the article's current version, dropping every other (the task)."""
        return self._write(article_id, version, "replace", content_hash, copies, terms)

    def add_many(self, items: Sequence[tuple[str, str, int, bool, StoredCopy]], terms: str) -> None:
        """(article id, content hash, version, commercial, copy): copies a reader made."""
        if not items:
            return
        with self.r.pipeline(transaction=False) as pipe:
            for article_id, digest, version, commercial, copy in items:
                args = self._args(version, "add", digest, {commercial: copy}, terms)
                self._put(keys=[self.key(article_id)], args=args, client=pipe)
            pipe.execute()

    def withdraw(self, article_id: str, version: int) -> bool:
        """Drop the article's copies; a tombstone stops late readers writing one back."""
        args = [version, "gone", int(TOMBSTONE_TTL.total_seconds() * 1000), _VERSION, _GONE]
        return bool(self._put(keys=[self.key(article_id)], args=args))

    def drop(self, article_id: str) -> None:
        self.r.delete(self.key(article_id))

    def fields(self, article_id: str) -> dict[str, bytes]:
        """The stored copies of an article by field (tombstone and version left out)."""
        raw = self.r.hgetall(self.key(article_id))
        return {k.decode(): v for k, v in raw.items() if k.decode() not in (_VERSION, _GONE)}

    def _write(
        self,
        article_id: str,
        version: int,
        mode: str,
        content_hash: str,
        copies: dict[bool, StoredCopy],
        terms: str,
    ) -> bool:
        args = self._args(version, mode, content_hash, copies, terms)
        return bool(self._put(keys=[self.key(article_id)], args=args))

    def _args(
        self,
        version: int,
        mode: str,
        content_hash: str,
        copies: dict[bool, StoredCopy],
        terms: str,
    ) -> list[Any]:
        args: list[Any] = [version, mode, self.ttl_ms, _VERSION, _GONE]
        for commercial, copy in copies.items():
            args += [self.field(content_hash, commercial, terms), copy.encode()]
        return args
