"""``GET /admin/editions/{id}``: one edition, its editorial, its failed, uncertain and
repeated entries; ``…/counts.json`` is what the page polls while it sends."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from syndication.web.admin.editions.common import (
    BASE,
    LIVE_POLL_MS,
    REPORT_LIMIT,
    EditionsFace,
    allowed_actions,
    ordered_articles,
    progress,
    with_emails,
)


class EditionDetail:
    def __init__(self, face: EditionsFace) -> None:
        self.face = face

    async def edition_page(self, request: Request, edition_id: str) -> Response:
        face, service = self.face, self.face.service
        edition = await face.load(edition_id)
        report = await run_in_threadpool(service.report, edition_id, REPORT_LIMIT)
        editorial = await run_in_threadpool(service.editorial, edition_id)
        order = list(editorial.order) or list(edition.article_ids)
        articles = await run_in_threadpool(ordered_articles, service, order)
        ctx = face.kit.ctx
        clicks = await run_in_threadpool(ctx.clicks.counts, edition_id)
        failed, uncertain, repeated = await run_in_threadpool(
            with_emails,
            service,
            edition_id,
            report["failed"],
            report["uncertain"],
            report["repeated"],
        )
        rates = await run_in_threadpool(face.kit.ctx.deliverability.edition, edition_id)
        return face.page(
            request,
            "edition.html",
            rates=rates,
            title=f"Edition {edition_id}",
            edition=edition,
            progress=progress(edition),
            actions=allowed_actions(edition.status),
            editorial=editorial,
            articles=articles,
            failed=failed,
            uncertain=uncertain,
            repeated=repeated,
            report_limit=REPORT_LIMIT,
            poll_ms=LIVE_POLL_MS,
            clicks=clicks if clicks or ctx.settings.digest.click_counts else None,
        )

    async def counts(self, edition_id: str) -> Response:
        edition = await self.face.load(edition_id)
        return JSONResponse(progress(edition), headers={"Cache-Control": "no-store"})


def add_routes(router: APIRouter, face: EditionsFace) -> None:
    pages = EditionDetail(face)
    router.add_api_route(BASE + "/{edition_id}", pages.edition_page, methods=["GET"])
    router.add_api_route(BASE + "/{edition_id}/counts.json", pages.counts, methods=["GET"])
