"""``POST /partners/republications``: a partner reports the page where it republished a story.

``{"article": "<id>", "url": "https://partner.example/2026/12/story"}`` with the partner's
key (``Authorization: Bearer KEY``, the same key and rate limit as its feeds). The answer
is 201 for a page new to the registry, 200 for one already known (reports are idempotent);
400/413 for a body that is not JSON or too large, 422 naming the bad field, 404 for an
unknown article. The URL is stored normalised (scheme, host, path: no query, no fragment).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from syndication.context import Context
from syndication.services.partners import InvalidReport, normalise_page_url
from syndication.services.partners.registry import MAX_PAGE_URL
from syndication.store.partners import Partner
from syndication.web import openapi
from syndication.web.api import read_body
from syndication.web.errors import ApiError
from syndication.web.jsonbody import parse_json

MAX_BODY = 4096
REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["article", "url"],
    "properties": {
        "article": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,199}$"},
        "url": {"type": "string", "format": "uri", "maxLength": MAX_PAGE_URL},
    },
}
REPORTED = {
    "type": "object",
    "properties": {
        "article": {"type": "string"},
        "url": {"type": "string"},
        "new": {"type": "boolean"},
    },
}

Authorise = Callable[[str | None, datetime], Awaitable[Partner]]


def add_routes(
    router: APIRouter,
    ctx: Context,
    authorise: Authorise,
    bearer: Callable[[str | None], str | None],
) -> None:
    """The report route; ``authorise`` is the partner feeds' key check and rate limit."""
    registry = ctx.partners.registry
    content = {"application/json": {"schema": REPORTED}}
    answers: dict[int | str, dict[str, Any]] = {
        200: {"description": "Already known", "content": content},
        201: {"description": "Recorded", "content": content},
        **openapi.errors(400, 401, 404, 413, 422, 429),
    }

    @router.post(
        "/partners/republications",
        response_class=JSONResponse,
        responses=answers,
        openapi_extra={"security": openapi.PARTNER_SECURITY, **openapi.body(REPORT_SCHEMA)},
    )
    async def report(request: Request) -> JSONResponse:
        now = ctx.clock()
        partner = await authorise(bearer(request.headers.get("authorization")), now)
        data = parse_json(await read_body(request, MAX_BODY))
        if not isinstance(data, dict):
            raise ApiError(
                422, 'the body must be {"article": id, "url": page_url}', code="invalid_report"
            )
        article, url = data.get("article"), data.get("url")
        try:
            new = await run_in_threadpool(registry.report, partner.id, article, url, now)
        except InvalidReport as exc:
            raise ApiError(exc.status, str(exc), code=exc.code) from None
        body = {"article": article, "url": normalise_page_url(str(url)), "new": new}
        return JSONResponse(body, 201 if new else 200)
