"""``GET /admin/editions``: the editions, newest first, a page at a time."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from syndication.services.digests import FREQUENCIES
from syndication.web.admin.editions.common import BASE, PAGE_SIZE, EditionsFace, progress


class EditionList:
    def __init__(self, face: EditionsFace) -> None:
        self.face = face

    async def editions(
        self, request: Request, page_no: int = Query(1, alias="page", ge=1)
    ) -> Response:
        service = self.face.service
        total = await run_in_threadpool(service.editions.count)
        offset = (page_no - 1) * PAGE_SIZE
        ids = await run_in_threadpool(service.editions.ids, PAGE_SIZE, True, offset)
        rows = []
        for edition_id in ids:
            edition = await run_in_threadpool(service.status, edition_id)
            if edition is not None:
                rows.append({"edition": edition, "progress": progress(edition)})
        return self.face.page(
            request,
            "editions.html",
            title="Editions",
            rows=rows,
            page_no=page_no,
            pages=max(1, -(-total // PAGE_SIZE)),
            total=total,
            frequencies=FREQUENCIES,
        )


def add_routes(router: APIRouter, face: EditionsFace) -> None:
    router.add_api_route(BASE, EditionList(face).editions, methods=["GET"])
