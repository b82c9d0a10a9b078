"""``/admin``: the newsroom operators' dashboard (server-rendered, works without JavaScript).

``make_router(ctx)`` wires one ``AdminKit`` (``kit.py``) into every page module: sign-in
(``auth.py``; its pages in ``login.py``), the overview, articles, feeds, partners,
republications, subscribers, editions and webhooks pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends
from starlette.responses import Response

from syndication.store.admin_sessions import AdminSessionStore
from syndication.web.admin import (
    articles,
    editions,
    feeds,
    login,
    overview,
    partners,
    republications,
    subscribers,
    webhooks,
)
from syndication.web.admin.auth import AdminAuth
from syndication.web.admin.kit import AdminError, AdminKit

if TYPE_CHECKING:
    from syndication.context import Context

__all__ = ["AdminKit", "make_kit", "make_router"]


def make_kit(ctx: Context) -> AdminKit:
    sessions = AdminSessionStore(ctx.client, ctx.settings.key_prefix)
    return AdminKit(ctx, AdminAuth(ctx.settings, sessions, ctx.rate_limiter))


def make_router(ctx: Context) -> APIRouter:
    kit = make_kit(ctx)
    router = kit.router(include_in_schema=False)
    login.add_routes(router, kit)
    for module in (
        overview,
        articles,
        feeds,
        partners,
        republications,
        subscribers,
        editions,
        webhooks,
    ):
        router.include_router(module.make_router(kit))

    # Last: any other /admin address is an admin 404 page (after sign-in, so the paths
    # that exist are not told to strangers), not the API's JSON.
    @router.get("/admin/{rest:path}", dependencies=[Depends(kit.require)])
    async def unknown(rest: str) -> Response:
        if not rest:
            return kit.redirect("/admin")
        raise AdminError(404, "There is no admin page at this address.")

    return router
