"""The republication registry: who republished which article, on which page, seen how often.

Three sources, one record per (article, page URL): the pixel's hits (the page is the
Referer, when the browser sends one), URLs partners report themselves (``report``), and
the partner pulls already kept by the partner store (who received which article, when).
Page URLs are normalised to scheme, host and path (no query or fragment: those can carry
a reader's session or tracking ids), and nothing about the reader is kept: not the IP,
not the user agent.

``on_new_page`` is the hook for whoever must hear of a page seen for the first time (an
outgoing ``partner.republished`` event, say): called after the record is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import quote, urlsplit

from syndication.store.articles import ArticleStore
from syndication.store.partners import PartnerStore
from syndication.store.republications import PageRecord, RepublicationStore

MAX_PAGE_URL = 500  # characters, after normalising
PIXEL = "pixel"
REPORT = "report"
_ARTICLE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,199}")
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


class InvalidReport(ValueError):
    """A reported republication we refuse; ``code`` is stable, the message says why."""

    def __init__(self, message: str, code: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def normalise_page_url(raw: str | None) -> str | None:
    """``scheme://host[:port]/path`` of an http(s) URL, lower-case scheme and host, the
    path percent-encoded once; None for anything else or longer than ``MAX_PAGE_URL``."""
    if not raw or len(raw) > 4 * MAX_PAGE_URL or _CONTROL.search(raw.strip()):
        return None
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        return None
    default = {"http": 80, "https": 443}[scheme]
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != default:
        netloc += f":{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    url = f"{scheme}://{netloc}{path}"
    return url if len(url) <= MAX_PAGE_URL else None


@dataclass(frozen=True)
class NewPage:
    """What ``on_new_page`` is told: a page seen for the first time."""

    article_id: str
    partner_id: str
    url: str
    source: str
    seen_at: datetime


@dataclass(frozen=True)
class ArticleRepublications:
    """An article's registry entry: pages, views without a page, pulls and daily views."""

    article_id: str
    title: str | None
    pages: list[PageRecord]
    unplaced: list[PageRecord]
    other: int
    pulls: dict[str, datetime]  # partner id → first pull
    days: dict[date, int]

    @property
    def views(self) -> int:
        return sum(p.views for p in self.pages) + sum(p.views for p in self.unplaced)

    def for_partner(self, partner_id: str) -> ArticleRepublications:
        return ArticleRepublications(
            self.article_id,
            self.title,
            [p for p in self.pages if p.partner == partner_id],
            [p for p in self.unplaced if p.partner == partner_id],
            0,
            {k: v for k, v in self.pulls.items() if k == partner_id},
            {},
        )

    def recent_days(self, today: date, n: int) -> list[tuple[date, int]]:
        return [(d, self.days.get(d, 0)) for d in (today - timedelta(days=i) for i in range(n))]

    def to_json(self) -> dict[str, object]:
        return {
            "article": self.article_id,
            "title": self.title,
            "views": self.views,
            "pages": [p.to_json() for p in self.pages],
            "unplaced": [p.to_json() for p in self.unplaced],
            "other": self.other,
            "pulls": [{"partner": k, "first_pulled": v.isoformat()} for k, v in self.pulls.items()],
            "views_by_day": {d.isoformat(): n for d, n in sorted(self.days.items())},
        }


@dataclass
class RepublicationRegistry:
    store: RepublicationStore
    partners: PartnerStore
    articles: ArticleStore
    own_host: str = ""  # Referers from our own pages (the republish page) are not pages
    on_new_page: Callable[[NewPage], None] | None = field(default=None)

    def pixel_view(
        self, partner_id: str, article_id: str, referer: str | None, now: datetime
    ) -> None:
        """One counted pixel hit; the Referer, when there is one, names the page."""
        url = normalise_page_url(referer)
        if url is not None and urlsplit(url).hostname == self.own_host:
            url = None
        self._record(article_id, partner_id, PIXEL, url, 1, now)

    def report(self, partner_id: str, article_id: object, url: object, now: datetime) -> bool:
        """A page a partner reports; True when it is new. Raises ``InvalidReport``."""
        if not isinstance(article_id, str) or not _ARTICLE_ID.fullmatch(article_id):
            raise InvalidReport("'article' must be an article id (a string)", "invalid_article")
        if not isinstance(url, str):
            raise InvalidReport("'url' must be the page's address (a string)", "invalid_url")
        page = normalise_page_url(url)
        if page is None:
            raise InvalidReport(
                f"'url' must be an http(s) URL of at most {MAX_PAGE_URL} characters",
                "invalid_url",
            )
        if self.articles.get(article_id) is None:
            raise InvalidReport(f"no article {article_id}", "unknown_article", 404)
        return self._record(article_id, partner_id, REPORT, page, 0, now)

    def _record(
        self,
        article_id: str,
        partner_id: str,
        source: str,
        url: str | None,
        views: int,
        now: datetime,
    ) -> bool:
        new = self.store.record(article_id, partner_id, source, url, views, now) == 1
        if new and url is not None and self.on_new_page is not None:
            self.on_new_page(NewPage(article_id, partner_id, url, source, now))
        return new

    # -- reading ------------------------------------------------------------------------
    def article(self, article_id: str) -> ArticleRepublications:
        records = self.store.article(article_id)
        stored = self.articles.get(article_id)
        return ArticleRepublications(
            article_id=article_id,
            title=stored.article.title if stored else None,
            pages=sorted(records.pages, key=lambda p: (-p.views, p.url or "")),
            unplaced=sorted(records.unplaced, key=lambda p: -p.views),
            other=records.other,
            pulls=self.partners.first_pulls(article_id),
            days=records.days,
        )

    def partner(self, partner_id: str, limit: int = 200) -> list[ArticleRepublications]:
        """The partner's share of each article it pulled or showed, most recent first."""
        ids = self.store.partner_articles(partner_id, limit)
        pulled = self.partners.pulls_of(partner_id)
        ids += [a for a, _ in sorted(pulled.items(), key=lambda kv: kv[1], reverse=True)]
        unique = list(dict.fromkeys(ids))[:limit]
        return [self.article(a).for_partner(partner_id) for a in unique]

    def partner_days(self, partner_id: str) -> dict[date, int]:
        return self.store.partner_days(partner_id)

    def listing(self, limit: int = 200) -> list[ArticleRepublications]:
        """Every article with a page, a view or a pull, most recently seen first."""
        ids = self.store.articles(limit)
        for partner in self.partners.all():
            ids += list(self.partners.pulls_of(partner.id))
        return [self.article(a) for a in list(dict.fromkeys(ids))[:limit]]
