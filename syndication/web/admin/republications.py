"""``/admin/republications``: where each article was republished, and how often it was seen.

One page, three views: every article with a sighting (``/admin/republications``), one
article (``…/articles/{id}``: linked from the articles page) and one partner
(``…/partners/{id}``: linked from the partners page). The numbers come from the
republication registry (``services/partners/registry.py``): pages from the pixel's
Referer and from partners' reports, pulls from the partner feeds, daily pixel views.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from syndication.web.admin.kit import AdminError, AdminKit

BASE = "/admin/republications"
LIMIT = 200
DAYS = 30
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,199}")


def _checked(value: str, what: str) -> str:
    if not _ID.fullmatch(value):
        raise AdminError(404, f"There is no {what} with that id.")
    return value


def make_router(kit: AdminKit) -> APIRouter:
    router = kit.router(dependencies=[Depends(kit.require)])
    registry = kit.ctx.partners.registry
    partners = kit.ctx.partners.store

    def page(request: Request, title: str, **values: Any) -> Response:
        return kit.page(
            request,
            "republications.html",
            title=title,
            active="articles" if values.get("mode") == "article" else "partners",
            today=kit.now().date(),
            days=DAYS,
            **values,
        )

    @router.get(BASE)
    async def listing(request: Request) -> Response:
        entries = await run_in_threadpool(registry.listing, LIMIT)
        return page(request, "Republications", mode="all", entries=entries)

    @router.get(BASE + "/articles/{article_id}")
    async def article(request: Request, article_id: str) -> Response:
        entry = await run_in_threadpool(registry.article, _checked(article_id, "article"))
        if entry.title is None and not (entry.pages or entry.pulls or entry.unplaced):
            raise AdminError(404, "There is no article with that id.")
        return page(
            request,
            f"Republications of {entry.title or article_id}",
            mode="article",
            entries=[entry],
        )

    @router.get(BASE + "/partners/{partner_id}")
    async def partner(request: Request, partner_id: str) -> Response:
        found = await run_in_threadpool(partners.get, _checked(partner_id, "partner"))
        if found is None:
            raise AdminError(404, "There is no partner with that id.")
        entries = await run_in_threadpool(registry.partner, partner_id, LIMIT)
        days = await run_in_threadpool(registry.partner_days, partner_id)
        return page(
            request,
            f"Republications by {found.name}",
            mode="partner",
            entries=entries,
            partner=found,
            partner_days=days,
        )

    return router
