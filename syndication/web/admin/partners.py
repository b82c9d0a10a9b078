"""``/admin/partners``: partners, their pulls over the last two weeks, key rotation, revoking.

A partner's key exists in clear only in the answer to "rotate key" (the store keeps its
SHA-256 and an 8-character prefix to tell keys apart); that page is ``no-store`` like every
admin page, and the key is never put in a URL, a redirect, a flash cookie or a log line.

Each rotate button carries a one-time ``once`` value (fresh on every render of the partners
page): reloading the key page, or going back to it, makes the browser send the same form
again, and a second rotation there would silently kill the key the operator just copied.
So a ``once`` value is spent on first use (``OnceStore.claim``) and a repeat is refused:
no new key, and the old answer is not shown again.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from syndication.store.once import OnceStore
from syndication.store.partners import Partner, PartnerNotFound, PartnerRevoked
from syndication.web.admin.kit import AdminError, AdminKit

DAYS = 14
ONCE_FIELD = "once"
ONCE_PURPOSE = "admin:rotate-once"
ONCE_TTL_S = 7 * 24 * 3600  # longer than any browser keeps a page to go back to
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_ONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True)
class PartnerRow:
    partner: Partner
    pulls: list[int]  # oldest day first, one per day in ``days``

    @property
    def total(self) -> int:
        return sum(self.pulls)


def collect(kit: AdminKit, today: date) -> tuple[list[date], list[PartnerRow]]:
    store = kit.ctx.partners.store
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    per_day = [store.pulls_since(day, day) for day in days]
    rows = [PartnerRow(p, [counts.get(p.id, 0) for counts in per_day]) for p in store.all()]
    return days, rows


def checked_id(partner_id: str) -> str:
    if not _ID.fullmatch(partner_id):
        raise AdminError(404, "There is no partner with that id.")
    return partner_id


class PartnerPages:
    """The partners page, key rotation and revoking, over one ``AdminKit``."""

    def __init__(self, kit: AdminKit) -> None:
        self.kit = kit
        self.service = kit.ctx.partners.keys
        self.onces = OnceStore(kit.ctx.client, kit.ctx.settings.key_prefix)

    def spend_once(self, partner_id: str, once: str) -> bool:
        """Whether this rotate form is used for the first time (then it is spent)."""
        return self.onces.claim(ONCE_PURPOSE, f"{partner_id}\x00{once}", ONCE_TTL_S)

    async def partners(self, request: Request) -> Response:
        kit = self.kit
        days, rows = await run_in_threadpool(collect, kit, kit.now().date())
        return kit.page(
            request,
            "partners.html",
            title="Partners",
            active="partners",
            days=days,
            rows=rows,
            once=secrets.token_urlsafe(16),
        )

    async def rotate(self, request: Request, partner_id: str) -> Response:
        kit = self.kit
        checked_id(partner_id)
        form = await kit.form(request)
        await self.spend(partner_id, str(form.get(ONCE_FIELD, "")))
        try:
            partner, key = await run_in_threadpool(self.service.rotate, partner_id, kit.now())
        except PartnerNotFound:
            raise AdminError(404, "There is no partner with that id.") from None
        except PartnerRevoked:
            raise AdminError(
                409, "This partner is revoked: its key cannot be rotated.", title="Revoked"
            ) from None
        base = str(kit.ctx.settings.public_url).rstrip("/")
        return kit.page(
            request,
            "partner_key.html",
            title=f"New key for {partner.name}",
            active="partners",
            partner=partner,
            key=key,
            feed_url=f"{base}/partners/feeds/all.rss",
        )

    async def spend(self, partner_id: str, once: str) -> None:
        """Spend the rotate form's ``once`` value, else refuse: out of date (400) or
        already used (409: no new key, and the old one is not shown again)."""
        if not _ONCE.fullmatch(once):
            raise AdminError(
                400, "This form is out of date. Reload the partners page and rotate again."
            )
        if not await run_in_threadpool(self.spend_once, partner_id, once):
            raise AdminError(
                409,
                "This key rotation was already done (the page was reloaded or the form sent "
                "again), so no new key was made and the key is not shown a second time. If "
                "the key was lost, rotate again from the partners page.",
                title="Already rotated",
            )

    async def revoke(self, request: Request, partner_id: str) -> Response:
        checked_id(partner_id)
        await self.kit.form(request)
        try:
            partner = await run_in_threadpool(self.service.revoke, partner_id, self.kit.now())
        except PartnerNotFound:
            raise AdminError(404, "There is no partner with that id.") from None
        return self.kit.redirect(
            "/admin/partners", f"Revoked {partner.name}: its key no longer works."
        )


def make_router(kit: AdminKit) -> APIRouter:
    router = kit.router(dependencies=[Depends(kit.require)])
    pages = PartnerPages(kit)
    router.add_api_route("/admin/partners", pages.partners, methods=["GET"])
    router.add_api_route("/admin/partners/{partner_id}/rotate", pages.rotate, methods=["POST"])
    router.add_api_route("/admin/partners/{partner_id}/revoke", pages.revoke, methods=["POST"])
    return router
