"""``/admin``: the newsroom operators' dashboard (server-rendered, works without JavaScript).

``make_router(ctx)`` wires one ``AdminKit`` (``kit.py``) into every page module: sign-in
(``auth.py``), the overview, articles, feeds, partners, subscribers and editions pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute

from syndication.web.admin import (
    articles,
    auth,
    editions,
    feeds,
    overview,
    partners,
    subscribers,
)
from syndication.web.admin.auth import AdminAuth
from syndication.web.admin.kit import AdminKit, AdminRoute

if TYPE_CHECKING:
    from syndication.context import Context

__all__ = ["AdminKit", "make_kit", "make_router"]


def make_kit(ctx: Context) -> AdminKit:
    return AdminKit(ctx, AdminAuth(ctx.settings, ctx.client, ctx.rate_limiter))


def adopt(router: APIRouter, kit: AdminKit) -> APIRouter:
    """Give a page module's plain ``APIRouter`` routes the admin route class, so that its
    refusals render as admin pages too (they are refused either way: see kit.py)."""
    adopted = kit.router()
    for route in router.routes:
        if isinstance(route, APIRoute) and not isinstance(route, AdminRoute):
            adopted.add_api_route(
                route.path,
                route.endpoint,
                methods=sorted(route.methods or ()),
                response_class=route.response_class,
                # The admin's own check, whatever the module declared (cached per request).
                dependencies=[*route.dependencies, Depends(kit.require)],
                response_model=route.response_model,
                name=route.name,
                include_in_schema=route.include_in_schema,
                status_code=route.status_code,
            )
        else:
            adopted.routes.append(route)
    return adopted


def make_router(ctx: Context) -> APIRouter:
    kit = make_kit(ctx)
    router = kit.router(include_in_schema=False)
    auth.add_routes(router, kit)
    for module in (overview, articles, feeds, partners, subscribers):
        router.include_router(module.make_router(kit))
    router.include_router(adopt(editions.make_router(kit), kit))
    return router
