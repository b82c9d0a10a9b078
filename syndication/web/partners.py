"""``/partners/…`` keyed feeds, ``/republish/{id}`` and ``/pixel/{token}.gif`` (and, from
``web/republications.py``, ``POST /partners/republications``).

Two ways to send a key: ``Authorization: Bearer KEY`` on ``/partners/feeds/{name}.{fmt}``
(preferred), and ``/partners/{KEY}/feeds/{name}.{fmt}`` for CMS importers that accept only
a URL — in exactly that spelling (no percent-encoding; ``/Partners/``, ``//KEY`` are 404s).
A key in a path ends up in access logs, so importing this module installs a logging
filter on uvicorn's loggers that rewrites ``/partners/<key>/`` (any spelling) and
``?k=``/``?key=``/``?api_key=`` values to ``***`` before any handler sees the record; put
the same rule in any proxy in front of us (nginx: ``log_format`` with a ``map`` on
``$request_uri``). Responses to the key-in-path form carry
``Referrer-Policy: no-referrer`` and are ``private``; feed documents never contain a key
(their self links are the bearer form).

Missing, unknown or revoked keys get 401 with ``WWW-Authenticate: Bearer`` (RFC 6750 §3);
each partner has a sliding-window rate limit (429 with ``Retry-After``, RFC 6585 §4).
Documents are served with a strong ETag and Last-Modified like the public feeds, and a
matching ``If-None-Match`` gets a 304.

The pixel (ProPublica's approach) is a cookie-free 1×1 GIF whose URL carries a signed
(partner, article) token: counts cannot be forged for another pair, and nothing about the
reader is kept but the day's count.
"""

from __future__ import annotations

import base64
import logging
import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from syndication.context import Context
from syndication.logging_setup import redact_partner_keys
from syndication.services.partners import Partners
from syndication.store.feeds import compress, variant_etag
from syndication.store.partners import Partner
from syndication.templating import environment
from syndication.web import openapi, republications
from syndication.web.conditional import choose_coding, http_date, not_modified
from syndication.web.errors import ApiError

RATE_LIMIT = 120  # feed requests per partner per window: an importer polls every few minutes
RATE_WINDOW_S = 60
CACHE_CONTROL = "private, max-age=60"
_PATH = re.compile(
    r"^(?P<name>all|(?:topic|section|lang)/[^/.\s]{1,120})"  # slugs in any script
    r"\.(?P<fmt>rss|atom|json|ninjs)$"
)
# One transparent 1×1 GIF (43 bytes), the smallest image every mail and web client shows.
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
PIXEL_HEADERS = {
    "Cache-Control": "no-store, max-age=0",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",
}
PAGE_HEADERS = {
    "Cache-Control": "public, max-age=300",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'self' https: data:; base-uri 'none'; frame-ancestors 'self'",
}

# --- keys never reach the logs -----------------------------------------------------------

REDACTED = "***"
# The key in the one path form the router serves: URL-safe base64, as the store mints it.
_KEY = re.compile(r"[A-Za-z0-9_-]{1,200}")


def redact(text: str) -> str:
    """``/partners/KEY/feeds/all.rss`` → ``/partners/***/feeds/all.rss``, and every other
    spelling of it (``//KEY``, ``/Partners/``, percent-encoded), and ``?k=``/``?key=``/
    ``?api_key=`` values (``logging_setup.redact_partner_keys``)."""
    return redact_partner_keys(text, REDACTED)


class RedactPartnerKeys(logging.Filter):
    """Rewrites keys in partner paths in a record's message and arguments (uvicorn's
    access log passes the path as an argument: ``'%s - "%s %s HTTP/%s" %d'``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


_FILTER = RedactPartnerKeys()
LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn", "syndication")


def install_log_filter() -> None:
    """Idempotent: on every logger that could print a request path."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


install_log_filter()


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


class _FeedServer:
    """Serves one partner feed request: the key, the rate limit, the document, the count."""

    def __init__(self, ctx: Context, partners: Partners, rate_limit: int, rate_window_s: int):
        self.ctx = ctx
        self.partners = partners
        self.rate_limit = rate_limit
        self.rate_window_s = rate_window_s

    async def authorise(self, key: str | None, now: datetime) -> Partner:
        partner = await run_in_threadpool(self.partners.keys.authenticate, key)
        if partner is None:
            raise ApiError(
                401,
                "missing, unknown or revoked partner key: send 'Authorization: Bearer <key>'",
            )
        ok, retry_after = await run_in_threadpool(
            self.ctx.rate_limiter.allow,
            f"partner:{partner.id}",
            self.rate_limit,
            self.rate_window_s,
            now.timestamp(),
        )
        if not ok:
            raise ApiError(
                429,
                f"too many requests: {self.rate_limit} per {self.rate_window_s}s per partner",
                retry_after=retry_after,
            )
        return partner

    async def serve(self, request: Request, key: str | None, path: str, in_path: bool) -> Response:
        now = self.ctx.clock()  # one "now" for the request: the limiter's window, feed, counts
        partner = await self.authorise(key, now)
        match = _PATH.match(path)
        if match is None:
            raise ApiError(404, "no such partner feed (all, topic/…, section/…, lang/…)")
        name, fmt = match["name"], match["fmt"]
        feeds = self.partners.feeds
        doc = await run_in_threadpool(feeds.feed, partner, name, fmt, now)
        if doc is None:
            raise ApiError(404, f"no partner feed {name}.{fmt}")
        headers = {
            "ETag": doc.etag,
            "Last-Modified": http_date(doc.last_modified),
            "Cache-Control": CACHE_CONTROL,
            "Vary": "Authorization, Accept-Encoding",
        }
        if in_path:
            headers["Referrer-Policy"] = "no-referrer"
        inm = request.headers.get("if-none-match")
        ims = request.headers.get("if-modified-since")
        if not_modified(inm, ims, doc.etag, doc.last_modified):
            await run_in_threadpool(feeds.record_pull, partner, None, now)
            return Response(status_code=304, headers=headers)
        head = request.method == "HEAD"
        if not head:  # event webhooks: partner.republished, before the pull is recorded
            announce = self.ctx.event_hooks.announce.partner_pulled
            await run_in_threadpool(announce, partner.id, list(doc.versions), now)
        await run_in_threadpool(feeds.record_pull, partner, None if head else doc, now)
        body = doc.body
        coding = choose_coding(request.headers.get("accept-encoding"))
        if coding != "identity":
            body = await run_in_threadpool(compress, body, coding)
            headers["Content-Encoding"] = coding
            headers["ETag"] = variant_etag(doc.etag, coding)
        headers["Content-Length"] = str(len(body))
        return Response(b"" if head else body, 200, headers=headers, media_type=doc.content_type)


def make_router(
    ctx: Context, *, rate_limit: int = RATE_LIMIT, rate_window_s: int = RATE_WINDOW_S
) -> APIRouter:
    install_log_filter()  # again: a logging.config call after import may have replaced loggers
    router = APIRouter()
    partners: Partners = ctx.partners
    server = _FeedServer(ctx, partners, rate_limit, rate_window_s)
    _feed_routes(router, server)
    republications.add_routes(router, ctx, server.authorise, _bearer)
    _page_routes(router, ctx, partners)
    return router


def _feed_routes(router: APIRouter, server: _FeedServer) -> None:
    """``/partners/feeds/{name}.{fmt}`` (bearer) and ``/partners/{key}/feeds/…`` (key in path)."""
    feed_responses = {**openapi.PARTNER_FEED_OK, **openapi.errors(401, 404, 429)}
    by_bearer = {"security": openapi.PARTNER_SECURITY}

    @router.get(
        "/partners/feeds/{path:path}",
        response_class=Response,
        responses=feed_responses,
        openapi_extra=by_bearer,
    )
    @router.head(
        "/partners/feeds/{path:path}",
        response_class=Response,
        responses=feed_responses,
        openapi_extra=by_bearer,
    )
    async def bearer_feed(request: Request, path: str) -> Response:
        key = _bearer(request.headers.get("authorization"))
        return await server.serve(request, key, path, False)

    @router.get(
        "/partners/{key}/feeds/{path:path}", response_class=Response, responses=feed_responses
    )
    @router.head(
        "/partners/{key}/feeds/{path:path}", response_class=Response, responses=feed_responses
    )
    async def key_feed(request: Request, key: str, path: str) -> Response:
        # One form only: the key exactly as minted, not percent-encoded ("%41…" would be
        # decoded into the same key) — other spellings are not a partner feed.
        raw = bytes(request.scope.get("raw_path") or b"").split(b"?", 1)[0]
        canonical = f"/partners/{key}/feeds/".encode()
        if not _KEY.fullmatch(key) or (raw and not raw.startswith(canonical)):
            raise ApiError(404, "no such partner feed: use /partners/{key}/feeds/{name}.{fmt}")
        return await server.serve(request, key, path, True)


def _page_routes(router: APIRouter, ctx: Context, partners: Partners) -> None:
    """The pixel, the republish snippet script and the "Republish this story" page."""
    public_url = ctx.settings.public_url.rstrip("/")

    @router.get(
        "/pixel/{token}.gif",
        response_class=Response,
        responses={200: {"description": "A 1x1 GIF", "content": {"image/gif": {}}}},
    )
    async def pixel(request: Request, token: str) -> Response:
        """Always the same GIF: a forged or stale token is simply not counted. The Referer
        names the republishing page (normalised by the registry); the reader's address and
        user agent are not read."""
        referer = request.headers.get("referer")
        await run_in_threadpool(partners.pixel.count, token, ctx.clock(), referer)
        return Response(GIF, 200, headers=PIXEL_HEADERS, media_type="image/gif")

    @router.get(
        "/republish/snippet.js",
        response_class=Response,
        responses={200: {"description": "The script", "content": {"text/javascript": {}}}},
    )
    async def snippet() -> Response:
        js = environment().get_template("web/republish/snippet.js").render(public_url=public_url)
        return Response(
            js,
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
            media_type="text/javascript; charset=utf-8",
        )

    @router.get(
        "/republish/{article_id}", response_class=HTMLResponse, responses=openapi.pages(404)
    )
    async def republish(article_id: str) -> HTMLResponse:
        page = await run_in_threadpool(partners.republish.page, article_id)
        template = environment().get_template("web/republish/page.html")
        context: dict[str, Any] = {
            "publisher": ctx.settings.publisher,
            "public_url": public_url,
            "page": page,
        }
        html = template.render(**context)
        return HTMLResponse(html, 200 if page else 404, headers=PAGE_HEADERS)
