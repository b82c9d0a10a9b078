"""``/admin/articles``: the newest changes first, with state, dates and the feeds that carry each.

Listed by last change (``ArticleStore.page_by_change``), so withdrawn articles show too;
the feeds an article appears in come from ``feed_catalog.feed_titles`` — the same function
the store uses to index it — so the page cannot disagree with the feeds themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from syndication.feed_catalog import ALL, feed_titles
from syndication.store.articles import State, StoredArticle
from syndication.web.admin.kit import AdminError, AdminKit

PAGE_SIZE = 50
MAX_START = 1_000_000


@dataclass(frozen=True)
class FeedLink:
    name: str
    label: str
    url: str


@dataclass(frozen=True)
class ArticleRow:
    stored: StoredArticle
    state: str
    feeds: list[FeedLink]


def state_of(stored: StoredArticle) -> str:
    """``withdrawn``, ``updated`` (changed after publication) or ``published``."""
    if stored.state is State.WITHDRAWN:
        return "withdrawn"
    article = stored.article
    if article.updated_at and article.updated_at > article.published_at:
        return "updated"
    return "published"


def feeds_of(stored: StoredArticle, publisher_name: str) -> list[FeedLink]:
    """The public feeds carrying the article (none once it is withdrawn)."""
    if stored.state is State.WITHDRAWN:
        return []
    out = []
    for name, label in feed_titles(stored.article).items():
        shown = publisher_name if name == ALL else f"{name.partition('/')[0]}: {label}"
        out.append(FeedLink(name, shown, f"/feeds/{name}.rss"))
    return out


def parse_start(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    if not raw.isdigit() or int(raw) > MAX_START:
        raise AdminError(400, f"start must be a whole number from 0 to {MAX_START}.")
    return int(raw)


def make_router(kit: AdminKit) -> APIRouter:
    router = kit.router(dependencies=[Depends(kit.require)])
    store = kit.ctx.article_store
    publisher = kit.ctx.settings.publisher

    def rows(start: int) -> tuple[list[ArticleRow], int]:
        total = store.count_all()
        found = store.get_many(store.page_by_change(start, PAGE_SIZE))
        return [ArticleRow(s, state_of(s), feeds_of(s, publisher.name)) for s in found], total

    @router.get("/admin/articles")
    async def articles(request: Request) -> Response:
        start = parse_start(request.query_params.get("start"))
        items, total = await run_in_threadpool(rows, start)
        return kit.page(
            request,
            "articles.html",
            title="Articles",
            active="articles",
            rows=items,
            total=total,
            start=start,
            page_size=PAGE_SIZE,
            prev_start=max(0, start - PAGE_SIZE) if start > 0 else None,
            next_start=start + PAGE_SIZE if start + PAGE_SIZE < total else None,
        )

    return router
