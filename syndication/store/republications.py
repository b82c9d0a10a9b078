"""The republication registry in Redis: which pages republished an article, and their views.

Per article (one hash tag per article, so the upsert script's keys share a slot):

- ``repub:{id}:pages``     hash: page URL → ``partner|sources|first|last|views`` (at most
  ``MAX_PAGES`` URLs; sightings of further URLs only add to ``:other``)
- ``repub:{id}:unplaced``  hash: ``partner`` → the same record, for pixel views that came
  without a page URL (the browser sent no Referer)
- ``repub:{id}:other``     string: sightings of pages past the cap
- ``repub:{id}:days``      hash: ``YYYY-MM-DD`` → views that day (``DAYS_KEPT`` days)

and ``repub:articles`` / ``repub:partner:{p}:articles`` (sorted sets: article → last seen)
and ``repub:partner:{p}:days`` (views per day of one partner's copies). Nothing about a
reader is kept: the page URL is the partner's, stripped of its query by the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import redis

MAX_PAGES = 1_000  # distinct page URLs kept per article; the rest are counted as "other"
DAYS_KEPT = 400  # daily view buckets are kept this long
_DAY_TTL_S = DAYS_KEPT * 24 * 3600

# KEYS: record hash, other counter. ARGV: field, partner, source, epoch s, views to add,
# cap (0: none). Returns 1 for a new field, 0 for a known one, -1 when over the cap.
_UPSERT = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local now = tonumber(ARGV[4])
local add = tonumber(ARGV[5])
if cur then
  local p, s, f, l, v = string.match(cur, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  local sources = s
  if not string.find(',' .. s .. ',', ',' .. ARGV[3] .. ',', 1, true) then
    sources = s .. ',' .. ARGV[3]
  end
  local last = math.max(tonumber(l), now)
  local first = math.min(tonumber(f), now)
  local rec = p .. '|' .. sources .. '|' .. first .. '|' .. last .. '|' .. (tonumber(v) + add)
  redis.call('HSET', KEYS[1], ARGV[1], rec)
  return 0
end
local cap = tonumber(ARGV[6])
if cap > 0 and redis.call('HLEN', KEYS[1]) >= cap then
  redis.call('INCR', KEYS[2])
  return -1
end
local rec = ARGV[2] .. '|' .. ARGV[3] .. '|' .. now .. '|' .. now .. '|' .. add
redis.call('HSET', KEYS[1], ARGV[1], rec)
return 1
"""

# KEYS: a day-bucket hash. ARGV: day, views, oldest day kept, TTL s, most fields before a
# trim. Adds the views; past that many days, drops the days older than the oldest kept.
_DAY = """
redis.call('HINCRBY', KEYS[1], ARGV[1], tonumber(ARGV[2]))
if redis.call('HLEN', KEYS[1]) > tonumber(ARGV[5]) then
  for _, day in ipairs(redis.call('HKEYS', KEYS[1])) do
    if day < ARGV[3] then redis.call('HDEL', KEYS[1], day) end
  end
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""


@dataclass(frozen=True)
class PageRecord:
    """One republishing page (or, with ``url`` None, a partner's views without a page)."""

    url: str | None
    partner: str
    sources: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    views: int

    def to_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "partner": self.partner,
            "sources": list(self.sources),
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "views": self.views,
        }


@dataclass(frozen=True)
class ArticleRecords:
    pages: list[PageRecord]
    unplaced: list[PageRecord]
    other: int
    days: dict[date, int]


def _decode(field: str | None, raw: bytes) -> PageRecord:
    partner, sources, first, last, views = raw.decode().split("|")
    return PageRecord(
        url=field,
        partner=partner,
        sources=tuple(s for s in sources.split(",") if s),
        first_seen=datetime.fromtimestamp(int(first), UTC),
        last_seen=datetime.fromtimestamp(int(last), UTC),
        views=int(views),
    )


class RepublicationStore:
    def __init__(self, client: redis.Redis, prefix: str, max_pages: int = MAX_PAGES) -> None:
        self.r = client
        self.prefix = prefix
        self.max_pages = max_pages
        self._upsert = client.register_script(_UPSERT)
        self._day = client.register_script(_DAY)

    # -- key names ----------------------------------------------------------------------
    def _article(self, article_id: str, part: str) -> str:
        return f"{self.prefix}repub:{{{article_id}}}:{part}"

    @property
    def _articles(self) -> str:
        return f"{self.prefix}{{repub}}:articles"

    def _partner(self, partner_id: str, part: str) -> str:
        return f"{self.prefix}repub:partner:{{{partner_id}}}:{part}"

    # -- writing ------------------------------------------------------------------------
    def record(
        self,
        article_id: str,
        partner_id: str,
        source: str,
        url: str | None,
        views: int,
        now: datetime,
    ) -> int:
        """Upsert one sighting: 1 for a page seen for the first time, 0 for a known one,
        -1 when the article already has ``max_pages`` pages (counted as "other")."""
        ts = int(now.timestamp())
        if url is None:
            keys = [self._article(article_id, "unplaced"), self._article(article_id, "other")]
            args: list[object] = [partner_id, partner_id, source, ts, views, 0]
        else:
            keys = [self._article(article_id, "pages"), self._article(article_id, "other")]
            args = [url, partner_id, source, ts, views, self.max_pages]
        outcome = int(self._upsert(keys=keys, args=args))
        day = now.astimezone(UTC).date()
        oldest = (day - timedelta(days=DAYS_KEPT - 1)).isoformat()
        with self.r.pipeline(transaction=False) as pipe:
            if views:
                for key in (self._article(article_id, "days"), self._partner(partner_id, "days")):
                    day_args = [day.isoformat(), views, oldest, _DAY_TTL_S, DAYS_KEPT]
                    self._day(keys=[key], args=day_args, client=pipe)
            pipe.zadd(self._articles, {article_id: ts})
            pipe.zadd(self._partner(partner_id, "articles"), {article_id: ts})
            pipe.execute()
        return outcome

    # -- reading ------------------------------------------------------------------------
    def article(self, article_id: str) -> ArticleRecords:
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._article(article_id, "pages"))
            pipe.hgetall(self._article(article_id, "unplaced"))
            pipe.get(self._article(article_id, "other"))
            pipe.hgetall(self._article(article_id, "days"))
            pages, unplaced, other, days = pipe.execute()
        return ArticleRecords(
            pages=[_decode(k.decode(), v) for k, v in pages.items()],
            unplaced=[_decode(None, v) for v in unplaced.values()],
            other=int(other or 0),
            days={date.fromisoformat(k.decode()): int(v) for k, v in days.items()},
        )

    def articles(self, limit: int) -> list[str]:
        """Articles with any sighting, most recently seen first."""
        return [m.decode() for m in self.r.zrevrange(self._articles, 0, limit - 1)]

    def partner_articles(self, partner_id: str, limit: int) -> list[str]:
        key = self._partner(partner_id, "articles")
        return [m.decode() for m in self.r.zrevrange(key, 0, limit - 1)]

    def partner_days(self, partner_id: str) -> dict[date, int]:
        raw = self.r.hgetall(self._partner(partner_id, "days"))
        return {date.fromisoformat(k.decode()): int(v) for k, v in raw.items()}

    def many(self, article_ids: Sequence[str]) -> dict[str, ArticleRecords]:
        return {a: self.article(a) for a in article_ids}
