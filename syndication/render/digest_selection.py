"""Which articles a digest edition holds, per segment, and in what order: pure functions.

No Redis, no clock (``now`` comes in), no network: services/digests/ reads the articles,
the subscribers and the editorial record, and passes plain values here.

- ``period_of``: the period an edition belongs to (one edition per frequency and period).
- ``segment_articles``: a segment's articles, the subscriber's language and topics.
- ``arrange``: a segment's articles with the editors' order and featured story applied
  (the email and the web archive both use it, so they show the same).
- ``check_order``: an editor's order lists each of the edition's articles exactly once.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from syndication.models import Article

FREQUENCIES = ("daily", "weekly", "instant")
PERIOD_LENGTH = {
    "daily": timedelta(days=1),
    "weekly": timedelta(days=7),
    "instant": timedelta(minutes=5),
}


class EditorialChoices(Protocol):
    """What ``arrange`` reads of an edition's editorial record (store/editorial.py)."""

    @property
    def featured(self) -> str | None: ...

    @property
    def order(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class SegmentSpec:
    """One segment of an edition as frozen with it: language, topics, article ids."""

    language: str
    topics: tuple[str, ...]
    article_ids: tuple[str, ...]

    @property
    def id(self) -> str:
        raw = f"{self.language}|{','.join(self.topics)}".encode()
        return hashlib.sha256(raw).hexdigest()[:12]

    def to_json(self) -> str:
        return json.dumps(
            {
                "language": self.language,
                "topics": list(self.topics),
                "articles": list(self.article_ids),
            }
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SegmentSpec:
        return cls(data["language"], tuple(data["topics"]), tuple(data["articles"]))


def period_of(frequency: str, now: datetime, tz: ZoneInfo) -> str:
    """The period an edition created at ``now`` belongs to, in the publisher's time zone."""
    local = now.astimezone(tz)
    if frequency == "daily":
        return local.date().isoformat()
    if frequency == "weekly":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if frequency == "instant":
        minute = local.minute - local.minute % 5
        return local.strftime("%Y-%m-%dT%H:") + f"{minute:02d}"
    raise ValueError(f"unknown frequency {frequency!r}")


def newest_first(articles: Sequence[Article]) -> list[Article]:
    """The order an edition lists its articles in: newest first, ties by id."""
    return sorted(articles, key=lambda a: (a.published_at, a.id), reverse=True)


def segment_articles(
    articles: Sequence[Article], language: str, topics: tuple[str, ...], limit: int
) -> tuple[str, ...]:
    """Newest first: the subscriber's language (primary subtag), any of their topics (or all)."""
    primary = language.split("-")[0]
    wanted = set(topics)
    chosen = [
        a.id
        for a in articles
        if a.language.split("-")[0] == primary
        and (not wanted or wanted.intersection(a.topic_slugs))
    ]
    return tuple(chosen[:limit])


def arrange(
    articles: Sequence[Article],
    editorial: EditorialChoices,
    language: str,
    featured: Article | None,
    limit: int,
) -> tuple[list[Article], str | None]:
    """A segment's articles in the editors' order, the featured story first.

    ``articles`` are the segment's own (its language and topics); ``featured`` is the
    edition's featured article when it is published. The featured story goes to every
    segment of its language whatever the topics (it is the newsroom's lead, meant for every
    reader of that language), so it may join a segment that did not have it; the segment
    then keeps at most ``limit`` articles (the size budget). Returns (articles, the
    featured id when it is in them).
    """
    position = {article_id: i for i, article_id in enumerate(editorial.order)}
    ordered = sorted(articles, key=lambda a: position.get(a.id, len(position)))  # stable
    if featured is None or editorial.featured != featured.id:
        return ordered[:limit], None
    if featured.language.split("-")[0].lower() != language.split("-")[0].lower():
        return ordered[:limit], None
    rest = [a for a in ordered if a.id != featured.id]
    return [featured, *rest][:limit], featured.id


def check_order(order: Sequence[str], article_ids: Sequence[str]) -> None:
    """ValueError unless ``order`` lists each of ``article_ids`` exactly once."""
    counts = Counter(order)
    repeated = sorted(i for i, n in counts.items() if n > 1)
    missing = [i for i in article_ids if i not in counts]
    unknown = sorted(set(counts) - set(article_ids))
    if not (repeated or missing or unknown):
        return
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unknown:
        problems.append(f"not in the edition: {', '.join(unknown)}")
    if repeated:
        problems.append(f"repeated: {', '.join(repeated)}")
    raise ValueError(
        f"order must list each of the edition's {len(article_ids)} article ids exactly once "
        f"({'; '.join(problems)})"
    )
