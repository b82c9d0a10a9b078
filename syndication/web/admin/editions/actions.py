"""``POST /admin/editions/{id}/{pause,resume,approve,cancel,resend}``.

Each is one service call; the authority is the store's atomic status change, so a click
that lost a race ends in a 409 page. Cancel asks first; resend (uncertain entries) first
shows a page that states the risk and lists the entries its form will resend.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import FormData

from syndication.store.editions import Edition, EntryState
from syndication.store.editorial import EditionNotEditable
from syndication.web.admin.editions.common import (
    ALLOWED,
    BASE,
    FLASH,
    RESEND_MAX,
    RESEND_RISK,
    EditionsFace,
    conflict,
    progress,
    with_emails,
)


def resend_flash(resent: int, skipped: int, status: str) -> str:
    """The flash after a resend: how many were queued, how many skipped, the status."""
    return (
        f"Queued {resent:,} uncertain message{'s' if resent != 1 else ''} "
        f"to be sent again"
        + (f"; skipped {skipped:,} no longer uncertain" if skipped else "")
        + f". The edition is {status}."
    )


class EditionActions:
    def __init__(self, face: EditionsFace) -> None:
        self.face = face

    async def act(self, request: Request, edition_id: str, action: str) -> Response:
        """Pause, resume, approve or cancel (after its confirmation page)."""
        face, service = self.face, self.face.service
        form = await face.kit.form(request)
        edition = await face.load(edition_id)
        if edition.status not in ALLOWED[action]:
            raise conflict(f"Cannot {action} edition {edition_id}: it is {edition.status.value}.")
        if action == "cancel" and form.get("confirm") != "yes":
            return face.page(
                request,
                "edition_cancel.html",
                title=f"Cancel edition {edition_id}?",
                edition=edition,
                progress=progress(edition),
            )
        steps = {
            "pause": service.pause,
            "resume": service.resume,
            "cancel": service.cancel,
            "approve": service.approve,
        }
        try:
            _, new = await run_in_threadpool(steps[action], edition_id, face.kit.now())
        except EditionNotEditable:
            new = ""
        if not new:
            current = await run_in_threadpool(service.status, edition_id)
            state = current.status.value if current else "gone"
            raise conflict(f"Cannot {action} edition {edition_id}: it is {state}.")
        return face.kit.redirect(f"{BASE}/{edition_id}", flash=FLASH[action])

    async def pause(self, request: Request, edition_id: str) -> Response:
        return await self.act(request, edition_id, "pause")

    async def resume(self, request: Request, edition_id: str) -> Response:
        return await self.act(request, edition_id, "resume")

    async def approve(self, request: Request, edition_id: str) -> Response:
        return await self.act(request, edition_id, "approve")

    async def cancel(self, request: Request, edition_id: str) -> Response:
        return await self.act(request, edition_id, "cancel")

    async def resend(self, request: Request, edition_id: str) -> Response:
        """Resend chosen uncertain entries: first a page that states the risk and lists
        them (its form carries exactly those ids), then, confirmed, the service call."""
        face = self.face
        form = await face.kit.form(request)
        edition = await face.load(edition_id)
        if edition.status not in ALLOWED["resend"]:
            raise conflict(
                f"Cannot resend entries of edition {edition_id}: it is {edition.status.value}."
            )
        ids = (await self.chosen(edition_id, form))[:RESEND_MAX]
        if not ids:
            return face.kit.redirect(
                f"{BASE}/{edition_id}",
                flash="Nothing was resent: choose at least one uncertain entry.",
            )
        if form.get("confirm") != "yes":
            return await self.resend_page(request, edition_id, edition, ids)
        report = await run_in_threadpool(
            face.service.resend_uncertain, edition_id, ids, face.kit.now(), "admin"
        )
        if not report.resent and report.status not in ALLOWED["resend"]:
            raise conflict(
                f"Cannot resend entries of edition {edition_id}: it is {report.status or 'gone'}."
            )
        flash = resend_flash(report.resent, len(report.skipped), report.status)
        return face.kit.redirect(f"{BASE}/{edition_id}", flash=flash)

    async def chosen(self, edition_id: str, form: FormData) -> list[str]:
        """The form's subscriber ids, or (``scope=all``) every uncertain entry's."""
        if form.get("scope") == "all":
            members = self.face.service.editions.members
            return list(await run_in_threadpool(members, edition_id, EntryState.UNCERTAIN))
        return list(dict.fromkeys(str(v) for v in form.getlist("subscriber")))

    async def resend_page(
        self, request: Request, edition_id: str, edition: Edition, ids: list[str]
    ) -> Response:
        """The confirmation page: the risk, and the chosen entries still uncertain."""
        editions = self.face.service.editions
        current = set(await run_in_threadpool(editions.members, edition_id, EntryState.UNCERTAIN))
        chosen = [i for i in ids if i in current]
        details = await run_in_threadpool(editions.details, edition_id, chosen)
        (rows,) = await run_in_threadpool(with_emails, self.face.service, edition_id, details)
        return self.face.page(
            request,
            "edition_resend.html",
            title=f"Resend uncertain messages of edition {edition_id}?",
            edition=edition,
            progress=progress(edition),
            rows=rows,
            skipped=[i for i in ids if i not in current],
            total_uncertain=len(current),
            risk=RESEND_RISK,
            resend_max=RESEND_MAX,
        )


def add_routes(router: APIRouter, face: EditionsFace) -> None:
    pages = EditionActions(face)
    for route in (pages.pause, pages.resume, pages.approve, pages.cancel, pages.resend):
        router.add_api_route(f"{BASE}/{{edition_id}}/{route.__name__}", route, methods=["POST"])
