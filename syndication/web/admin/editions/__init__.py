"""/admin/editions: watch, steer, edit and preview digest editions.

A thin face over ``DigestService``: every change is one service call, so the CLI, the
workers and these pages share one set of rules. The pages show only the buttons the
edition's status allows, but the authority is the store's atomic ``set_status``: a click
that lost a race (a sender finished, another operator paused) ends in a 409 page and
changes nothing.

Uncertain entries (the server may have the message: the connection dropped after DATA, or
a sender died mid-transaction) are never sent again by the default policy. The edition page
lets the operator choose some (or all) and resend them, after a confirmation page that
states the risk of a duplicate; the entry's detail then says "resent by admin at …".

The email preview is never placed inside the admin page: it is served on its own URL
with ``Content-Security-Policy: sandbox`` and shown in a ``<iframe sandbox>``, so a
hostile article body can neither run script nor reach the operator's session.

One module per part, each a small class whose methods are the routes and an
``add_routes(router, face)``: ``listing`` (the list), ``detail`` (one edition, its live
counts), ``actions`` (pause, resume, approve, cancel, resend uncertain entries), ``edit``
(intro, featured story, order) and ``preview`` (the next edition or a stored one, and the
sandboxed message). What they share is ``common.EditionsFace`` (the kit and the digest
service, the page, loading an edition, the 409) and the pure helpers in ``common``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from syndication.web.admin.editions import actions, detail, edit, listing, preview
from syndication.web.admin.editions.common import (
    ALLOWED,
    BASE,
    FLASH,
    RESEND_MAX,
    EditionsFace,
    SegmentChoice,
    SizeMeter,
    allowed_actions,
    ordered_articles,
    progress,
    with_emails,
)
from syndication.web.admin.editions.edit import apply_positions, move
from syndication.web.admin.editions.preview import (
    next_segment_preview,
    sandboxed,
    segment_preview,
)
from syndication.web.admin.kit import AdminKit

__all__ = [
    "ALLOWED",
    "BASE",
    "FLASH",
    "RESEND_MAX",
    "EditionsFace",
    "SegmentChoice",
    "SizeMeter",
    "allowed_actions",
    "apply_positions",
    "make_router",
    "move",
    "next_segment_preview",
    "ordered_articles",
    "progress",
    "sandboxed",
    "segment_preview",
    "with_emails",
]


def make_router(kit: AdminKit) -> APIRouter:
    """The editions pages; every route needs a signed-in operator (``kit.require``).

    Order matters: ``/next/{frequency}`` comes before ``/{edition_id}/…``."""
    router = kit.router(dependencies=[Depends(kit.require)])
    face = EditionsFace(kit, kit.ctx.digests)
    listing.add_routes(router, face)
    preview.add_next_routes(router, face)
    detail.add_routes(router, face)
    actions.add_routes(router, face)
    edit.add_routes(router, face)
    preview.add_routes(router, face)
    return router
