"""``/admin``: headline counts for every area, and the latest edition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from syndication.services.deliverability import Rates
from syndication.store.editions import Edition
from syndication.web.admin.kit import AdminKit

EDITIONS_SCANNED = 500  # editions whose status is counted (newest first)


@dataclass(frozen=True)
class Overview:
    articles: dict[str, int]
    subscribers: dict[str, Any]
    editions: dict[str, int]
    editions_total: int
    feeds: int
    partners: dict[str, int]
    latest_edition: Edition | None
    deliverability: Rates | None = None  # the last 30 days' bounce and complaint rates


def article_counts(kit: AdminKit) -> dict[str, int]:
    store = kit.ctx.article_store
    published = store.count()
    total = store.count_all()
    return {"published": published, "withdrawn": max(0, total - published), "total": total}


def collect(kit: AdminKit) -> Overview:
    ctx = kit.ctx
    editions = ctx.edition_store
    partners = ctx.partners.store.all()
    latest_ids = editions.ids(1)
    return Overview(
        articles=article_counts(kit),
        subscribers=ctx.subscriber_store.counts(),
        editions=editions.status_counts(EDITIONS_SCANNED),
        editions_total=editions.count(),
        feeds=len(ctx.article_store.feed_catalog()),
        partners={
            "active": sum(1 for p in partners if p.active),
            "revoked": sum(1 for p in partners if not p.active),
            "total": len(partners),
        },
        latest_edition=editions.get(latest_ids[0]) if latest_ids else None,
        deliverability=ctx.deliverability.last_days(),
    )


def make_router(kit: AdminKit) -> APIRouter:
    router = kit.router(dependencies=[Depends(kit.require)])

    @router.get("/admin")
    async def overview(request: Request) -> Response:
        data = await run_in_threadpool(collect, kit)
        return kit.page(request, "overview.html", title="Overview", active="overview", o=data)

    return router
