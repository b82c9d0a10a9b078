"""Rebuilding feeds after an article changed: read the store, build, keep what changed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from syndication.build.feeds import FeedSpec, build_atom, build_rss, feed_updated
from syndication.config import Publisher
from syndication.models import Article
from syndication.store.articles import ArticleStore
from syndication.store.feeds import FeedCache

Builder = Callable[[FeedSpec, Sequence[Article]], bytes]

FORMATS: dict[str, tuple[str, Builder]] = {
    "rss": ("application/rss+xml; charset=utf-8", build_rss),
    "atom": ("application/atom+xml; charset=utf-8", build_atom),
}


@dataclass
class FeedService:
    store: ArticleStore
    cache: FeedCache
    publisher: Publisher
    public_url: str
    items: int = 50

    def site_spec(self) -> FeedSpec:
        p = self.publisher
        return FeedSpec(
            name="all",
            title=p.name,
            description=p.description or f"Latest from {p.name}",
            site_url=p.site_url,
            rss_url=f"{self.public_url}/feeds/all.rss",
            atom_url=f"{self.public_url}/feeds/all.atom",
            language=p.language,
            publisher=p.attribution_name,
            licence=p.licence,
        )

    def rebuild_site(self) -> list[str]:
        """Rebuild the site-wide feeds; returns the formats whose bytes changed."""
        articles = self.store.latest(self.items)
        spec = self.site_spec()
        changed = []
        for fmt, (content_type, build) in FORMATS.items():
            body = build(spec, articles)
            if self.cache.put(spec.name, fmt, body, content_type, feed_updated(articles)):
                changed.append(fmt)
        return changed

    def rebuild_for_article(self, article_id: str) -> list[str]:
        """The feeds an article appears in; for now the site-wide one."""
        return [f"all.{fmt}" for fmt in self.rebuild_site()]
