"""``/admin/articles``: the newest changes first, with state, dates and the feeds that carry each;
``POST /admin/articles/{id}/hold`` and ``…/release`` put a public article on hold and lift it.

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
from syndication.store.articles import Outcome, State, StoredArticle
from syndication.web.admin.kit import AdminError, AdminKit

PAGE_SIZE = 50
MAX_START = 1_000_000
MAX_REASON = 500


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
    """``withdrawn``, ``held``, ``embargoed``, ``updated`` (changed after publication) or
    ``published``."""
    if stored.state is not State.PUBLISHED:
        return stored.state.value
    article = stored.article
    if article.updated_at and article.updated_at > article.published_at:
        return "updated"
    return "published"


def feeds_of(stored: StoredArticle, publisher_name: str) -> list[FeedLink]:
    """The public feeds carrying the article (none unless it is public)."""
    if stored.state is not State.PUBLISHED:
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

    _add_hold_routes(router, kit)
    return router


def _add_hold_routes(router: APIRouter, kit: AdminKit) -> None:
    """The hold and release buttons: one service call each, behind the CSRF check."""
    service = kit.ctx.articles

    @router.post("/admin/articles/{article_id}/hold")
    async def hold(request: Request, article_id: str) -> Response:
        form = await kit.form(request)
        reason = " ".join(str(form.get("reason") or "").split())[:MAX_REASON]
        if not reason:
            raise AdminError(400, "Say why the article is held (the reason is kept with it).")
        outcome = await run_in_threadpool(service.hold, article_id, reason)
        return _done(kit, article_id, outcome, Outcome.HELD, "put on hold")

    @router.post("/admin/articles/{article_id}/release")
    async def release(request: Request, article_id: str) -> Response:
        await kit.form(request)
        outcome = await run_in_threadpool(service.release_hold, article_id)
        return _done(kit, article_id, outcome, Outcome.RELEASED, "released from its hold")


def _done(kit: AdminKit, article_id: str, outcome: Outcome, wanted: Outcome, what: str) -> Response:
    if outcome is Outcome.NOT_FOUND:
        raise AdminError(404, f"No article {article_id}.")
    if outcome is not wanted:
        raise AdminError(409, f"Article {article_id} was not {what}: {outcome.value}.")
    return kit.redirect("/admin/articles", flash=f"Article {article_id} {what}.")
