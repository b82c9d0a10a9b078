"""The FastAPI app: thin routes over services, errors as JSON with a clear message.

Error answers are ``{"error": …, "code": …}``: ``error`` in the client's
``Accept-Language`` (``api.request_locale``), ``code`` stable whatever the language.
The home page is in English or Spanish like the other public pages (``page_locale``).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from syndication import __version__, i18n
from syndication.context import Context
from syndication.i18n import N_
from syndication.licences import LICENCES, deed_url, display_name, legal_code_url
from syndication.store.connection import ConnectionFailed, redacted
from syndication.templating import environment
from syndication.web import (
    admin,
    api,
    archive,
    clicks,
    docs,
    feeds,
    openapi,
    ops,
    partners,
    subscribers,
)
from syndication.web import page_locale as pl
from syndication.web.security import SecurityHeaders


def create_app(ctx: Context) -> FastAPI:
    app = FastAPI(
        title="syndication",
        version=__version__,
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN: docs.py serves our own page
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.ctx = ctx
    # Outermost: headers on every answer, and a generic 500 for anything a route raises.
    app.add_middleware(SecurityHeaders, https=ctx.settings.https)
    # Before docs takes app.openapi: the document adds the error schema and auth schemes.
    openapi.install(app)
    _include_routers(app, ctx)
    ErrorAnswers(app, redacted(ctx.settings.redis_url or "redis://localhost:6379")).install()
    app.add_api_route("/", HomePage(ctx).index, methods=["GET"], response_class=HTMLResponse)
    return app


def _include_routers(app: FastAPI, ctx: Context) -> None:
    """Every face's routes, each from its own module."""
    app.include_router(docs.make_router(app.openapi, "/api/openapi.json"))
    app.include_router(api.make_router(ctx))
    app.include_router(feeds.make_router(ctx))
    app.include_router(subscribers.make_router(ctx))
    app.include_router(archive.make_router(ctx))
    app.include_router(
        partners.make_router(
            ctx,
            rate_limit=ctx.settings.partners.rate_limit,
            rate_window_s=ctx.settings.partners.rate_window_s,
        )
    )
    app.include_router(ops.make_router(ctx))
    app.include_router(clicks.make_router(ctx))
    app.include_router(admin.make_router(ctx))


class ErrorAnswers:
    """The app's error answers: ``{"error": …, "code": …}``, ``error`` in the client's
    language, whichever layer failed (a route, Redis, request validation, routing)."""

    def __init__(self, app: FastAPI, redis_where: str) -> None:
        self.app = app
        self.redis_where = redis_where

    def install(self) -> None:
        self.app.exception_handler(api.ApiError)(self.api_error)
        for failure in ConnectionFailed:
            self.app.exception_handler(failure)(self.redis_down)
        self.app.exception_handler(RequestValidationError)(self.invalid)
        self.app.exception_handler(StarletteHTTPException)(self.http_error)

    async def api_error(self, request: Request, exc: api.ApiError) -> JSONResponse:
        response = api.error_response(exc, api.request_locale(request))
        if "retry_after" in exc.extra:
            response.headers["Retry-After"] = str(exc.extra["retry_after"])
        return response

    async def redis_down(self, request: Request, exc: Exception) -> JSONResponse:
        locale = api.request_locale(request)
        body = api.error_body(
            locale,
            N_("cannot reach Redis at %(where)s"),
            "redis_unavailable",
            {"where": self.redis_where},
        )
        return JSONResponse(body, 503, headers={"Retry-After": "5", **pl.headers(locale)})

    async def invalid(self, request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        locale = api.request_locale(request)
        body = api.error_body(locale, N_("invalid request"), "invalid_request", fields=fields)
        return JSONResponse(body, 422, headers=pl.headers(locale))

    async def http_error(self, request: Request, exc: StarletteHTTPException) -> JSONResponse:
        locale = api.request_locale(request)
        body = api.error_body(locale, str(exc.detail), api.status_code_name(exc.status_code))
        headers = {**pl.headers(locale), **(exc.headers or {})}
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(openapi.allowed_methods(self.app, request.scope))
        return JSONResponse(body, exc.status_code, headers=headers)


class HomePage:
    """``/``: the latest articles and where to follow them."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.publisher = ctx.settings.publisher
        self.default_locale = pl.default_locale(self.publisher.language)
        self.tz = ZoneInfo(self.publisher.timezone)

    async def index(self, request: Request) -> HTMLResponse:
        """The home page in the reader's language (``?lang=``, ``Accept-Language``)."""
        publisher = self.publisher
        articles = await run_in_threadpool(self.ctx.article_store.latest, 10)
        locale = pl.page_locale(request, self.default_locale)
        licence = LICENCES[publisher.licence]
        html = (
            environment()
            .get_template("web/index.html")
            .render(
                publisher=publisher,
                locale=locale,
                locales=pl.switch_links(locale),
                public_url=self.ctx.settings.public_url,
                articles=articles,
                published=[i18n.format_date(a.published_at, locale, self.tz) for a in articles],
                licence=licence,
                licence_name=display_name(licence, locale),
                licence_deed=deed_url(licence, locale),
                licence_legal_code=legal_code_url(licence, locale),
                feeds_url=pl.keep_lang(request, "/feeds"),
                subscribe_url=pl.keep_lang(request, "/subscribe"),
                archive_url=pl.keep_lang(request, "/archive"),
            )
        )
        return HTMLResponse(html, headers=pl.headers(locale))
