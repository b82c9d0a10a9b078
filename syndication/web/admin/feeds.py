"""``/admin/feeds``: every feed with its cached documents, request counts and share of 304s.

Sizes and dates come from the feed cache (``FeedCache.stats_read``: never the bytes).
Request counts are the per-feed counters that ``MeteredRequests`` keeps in the metrics
(``Metrics.feed_counts_read``: 200s and 304s, all formats together). Both reads share one
round trip (``store.batch.together``).
"Built" is when a document's bytes last changed (a rebuild that changes nothing keeps the
old time); ``Last-Modified`` is the newest item's date, which is what readers see.
"Rebuild all feeds" queues the ``feeds.rebuild_all`` task (``Events``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from syndication.services.feeds import FORMATS
from syndication.store.batch import together
from syndication.web.admin.kit import AdminKit


@dataclass(frozen=True)
class Document:
    fmt: str
    size: int | None  # None: not built
    last_modified: datetime | None
    built_at: datetime | None = None


@dataclass(frozen=True)
class FeedRow:
    name: str
    title: str
    items: int
    documents: list[Document]
    requests: int
    not_modified: int

    @property
    def built(self) -> bool:
        return any(d.size is not None for d in self.documents)

    @property
    def last_modified(self) -> datetime | None:
        dates = [d.last_modified for d in self.documents if d.last_modified is not None]
        return max(dates) if dates else None

    @property
    def built_at(self) -> datetime | None:
        dates = [d.built_at for d in self.documents if d.built_at is not None]
        return max(dates) if dates else None

    @property
    def share_304(self) -> float | None:
        return self.not_modified / self.requests if self.requests else None


def collect(kit: AdminKit) -> list[FeedRow]:
    ctx = kit.ctx
    catalog = ctx.article_store.feed_catalog()
    counts, stats = together(
        ctx.metrics.feed_counts_read(),
        ctx.feed_cache.stats_read([name for name, _, _ in catalog], FORMATS),
    )
    rows = []
    for name, title, items in catalog:
        docs = []
        for fmt in FORMATS:
            doc = stats[(name, fmt)]
            docs.append(Document(fmt, doc.size, doc.last_modified, doc.built_at))
        rows.append(
            FeedRow(
                name=name,
                title=title or ctx.settings.publisher.name,
                items=items,
                documents=docs,
                requests=counts.requests.get(name, 0),
                not_modified=counts.not_modified.get(name, 0),
            )
        )
    return rows


def make_router(kit: AdminKit) -> APIRouter:
    router = kit.router(dependencies=[Depends(kit.require)])

    @router.get("/admin/feeds")
    async def feeds(request: Request) -> Response:
        rows = await run_in_threadpool(collect, kit)
        return kit.page(
            request, "feeds.html", title="Feeds", active="feeds", rows=rows, formats=FORMATS
        )

    @router.post("/admin/feeds/rebuild")
    async def rebuild(request: Request) -> Response:
        await kit.form(request)
        await run_in_threadpool(kit.ctx.events.rebuild_feeds)
        return kit.redirect(
            "/admin/feeds",
            "A rebuild of every feed is queued; a worker builds them in the next moments.",
        )

    return router
