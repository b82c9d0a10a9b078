"""``/feeds``: the catalog page, and every feed document served from pre-built bytes.

A poll that ends in a 304 reads only the validators; a 200 reads only the body in the
coding the client accepts (compressed at build time). Archive pages (RFC 5005) are built on
request: readers fetch them once, for backfill.
"""

from __future__ import annotations

import gzip
import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from syndication.context import Context
from syndication.store.feeds import CachedFeed, variant_etag
from syndication.templating import environment
from syndication.web import openapi
from syndication.web import page_locale as pl
from syndication.web.conditional import choose_coding, http_date, not_modified
from syndication.web.errors import ApiError

CACHE_CONTROL = "public, max-age=60"
ARCHIVE_CACHE_CONTROL = "public, max-age=3600"
_PATH = re.compile(
    # The slug in any script (the path arrives percent-decoded); feed_catalog.is_feed_name
    # checks it exactly before any lookup.
    r"^(?P<name>all|(?:topic|author|section|lang)/[^/.\s]{1,120})"
    r"(?:/archive/(?P<page>[1-9][0-9]{0,8}))?\.(?P<fmt>rss|atom|json)$"
)


def _headers(
    etag: str, last_modified: datetime, links: str, cache_control: str = CACHE_CONTROL
) -> dict[str, str]:
    return {
        "ETag": etag,
        "Last-Modified": http_date(last_modified),
        "Cache-Control": cache_control,
        "Vary": "Accept-Encoding",
        "Link": links,
    }


class FeedRoutes:
    """The catalog page and the feed documents, over ``ctx.feeds`` and ``ctx.feed_cache``."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.hubs = ctx.settings.publisher.websub_hubs
        self.default_locale = pl.default_locale(ctx.settings.publisher.language)

    async def catalog(self, request: Request) -> HTMLResponse:
        """The list of feeds, in the reader's language (``?lang=``, ``Accept-Language``)."""
        ctx = self.ctx
        feeds = await run_in_threadpool(ctx.feeds.catalog)
        locale = pl.page_locale(request, self.default_locale)
        html = (
            environment()
            .get_template("web/feeds.html")
            .render(
                publisher=ctx.settings.publisher,
                feeds=feeds,
                public_url=ctx.settings.public_url,
                locale=locale,
                locales=pl.switch_links(locale),
                home_url=pl.keep_lang(request, "/"),
            )
        )
        headers = {"Cache-Control": CACHE_CONTROL, **pl.headers(locale)}
        return HTMLResponse(html, headers=headers)

    # No docstring on the route: it would become the operation's description in /api/docs.
    async def feed(self, request: Request, path: str) -> Response:
        match = _PATH.match(path)
        if match is None:
            raise ApiError(404, f"no feed at /feeds/{path} (see /feeds for the list)")
        name, fmt, page = match["name"], match["fmt"], match["page"]
        if page is not None:
            return await self._archive_page(request, name, fmt, int(page))
        return await self._current(request, name, fmt)

    async def _archive_page(self, request: Request, name: str, fmt: str, page: int) -> Response:
        """An RFC 5005 archive page, built on request (readers fetch it once, for backfill):
        gzipped on the fly when the client takes any compression."""
        self_url = self.ctx.feeds.url(name, fmt, page)
        doc = await run_in_threadpool(self.ctx.feeds.archive, name, page, fmt)
        if doc is None:
            raise ApiError(404, f"no archive page {page} of feed {name}")
        headers = _headers(
            doc.etag, doc.last_modified, self._link_header(self_url), ARCHIVE_CACHE_CONTROL
        )
        if _not_modified(request, doc.etag, doc.last_modified):
            return Response(status_code=304, headers=headers)
        if choose_coding(request.headers.get("accept-encoding")) != "identity":
            doc = CachedFeed(
                gzip.compress(doc.body, mtime=0),
                doc.etag,
                doc.last_modified,
                doc.content_type,
                "gzip",
            )
        return _send(request, doc, headers)

    async def _current(self, request: Request, name: str, fmt: str) -> Response:
        """The current document from pre-built bytes: a 304 reads only the validators, a
        200 only the body in the coding the client takes."""
        ctx = self.ctx
        self_url = ctx.feeds.url(name, fmt, None)
        coding = choose_coding(request.headers.get("accept-encoding"))
        validators = await run_in_threadpool(ctx.feed_cache.validators, name, fmt)
        if validators is None:
            if await run_in_threadpool(ctx.feeds.title, name) is None:
                raise ApiError(404, f"no feed {name}.{fmt} (see /feeds for the list)")
            raise ApiError(503, "this feed is being built; try again in a moment", retry_after=5)
        etag, last_modified = validators
        if _not_modified(request, etag, last_modified):
            links = self._link_header(self_url)
            return Response(
                status_code=304, headers=_headers(variant_etag(etag, coding), last_modified, links)
            )
        doc = await run_in_threadpool(ctx.feed_cache.get, name, fmt, coding)
        if doc is None:  # removed between the two reads
            raise ApiError(503, "this feed is being rebuilt; try again in a moment", retry_after=5)
        links = self._link_header(self_url)
        return _send(request, doc, _headers(doc.etag, doc.last_modified, links))

    def _link_header(self, self_url: str) -> str:
        """WebSub discovery by header, for clients that never parse the body."""
        hubs = (f'<{hub}>; rel="hub"' for hub in self.hubs)
        return ", ".join([*hubs, f'<{self_url}>; rel="self"'])


def make_router(ctx: Context) -> APIRouter:
    router = APIRouter(prefix="/feeds")
    routes = FeedRoutes(ctx)
    router.add_api_route("", routes.catalog, methods=["GET"], response_class=HTMLResponse)
    feed_responses: dict[int | str, dict[str, Any]] = {
        **openapi.FEED_OK,
        **openapi.errors(404, 503),
    }
    # HEAD is its own route (its own operationId), registered first as it always was.
    for method in ("HEAD", "GET"):
        router.add_api_route(
            "/{path:path}",
            routes.feed,
            methods=[method],
            response_class=Response,
            responses=feed_responses,
        )
    return router


def _not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    """The request's If-None-Match / If-Modified-Since against a document's validators."""
    headers = request.headers
    return not_modified(
        headers.get("if-none-match"), headers.get("if-modified-since"), etag, last_modified
    )


def _send(request: Request, doc: CachedFeed, headers: dict[str, str]) -> Response:
    headers["ETag"] = variant_etag(doc.etag, doc.encoding)
    headers["Content-Length"] = str(len(doc.body))
    if doc.encoding != "identity":
        headers["Content-Encoding"] = doc.encoding
    body = b"" if request.method == "HEAD" else doc.body
    return Response(body, 200, headers=headers, media_type=doc.content_type)
