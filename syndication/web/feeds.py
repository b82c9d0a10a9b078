"""``/feeds/…``: pre-built bytes from the store, with validators and 304s."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from syndication.context import Context
from syndication.services.feeds import FORMATS
from syndication.web.api import ApiError
from syndication.web.conditional import http_date, not_modified

CACHE_CONTROL = "public, max-age=60"


def _headers(etag: str, last_modified: datetime) -> dict[str, str]:
    return {
        "ETag": etag,
        "Last-Modified": http_date(last_modified),
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Encoding",
    }


def make_router(ctx: Context) -> APIRouter:
    router = APIRouter(prefix="/feeds")

    @router.api_route("/{name}.{fmt}", methods=["GET", "HEAD"])
    async def feed(request: Request, name: str, fmt: str) -> Response:
        if fmt not in FORMATS or name != "all":
            raise ApiError(404, f"no feed {name}.{fmt}")
        validators = await run_in_threadpool(ctx.feed_cache.validators, name, fmt)
        if validators is None:
            raise ApiError(
                503, "this feed has not been built yet; try again in a moment", retry_after=5
            )
        etag, last_modified = validators
        if not_modified(
            request.headers.get("if-none-match"),
            request.headers.get("if-modified-since"),
            etag,
            last_modified,
        ):
            return Response(status_code=304, headers=_headers(etag, last_modified))
        cached = await run_in_threadpool(ctx.feed_cache.get, name, fmt)
        if cached is None:  # removed between the two reads
            raise ApiError(404, f"no feed {name}.{fmt}")
        headers = _headers(cached.etag, cached.last_modified)
        body = b"" if request.method == "HEAD" else cached.body
        headers["Content-Length"] = str(len(cached.body))
        return Response(body, 200, headers=headers, media_type=cached.content_type)

    return router
