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
from syndication.web import admin, api, archive, docs, feeds, openapi, ops, partners, subscribers
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
    app.add_middleware(
        SecurityHeaders, https=ctx.settings.public_url.lower().startswith("https://")
    )
    # Before docs takes app.openapi: the document adds the error schema and auth schemes.
    openapi.install(app)
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
    app.include_router(admin.make_router(ctx))
    redis_where = redacted(ctx.settings.redis_url or "redis://localhost:6379")

    @app.exception_handler(api.ApiError)
    async def _api_error(request: Request, exc: api.ApiError) -> JSONResponse:
        response = api.error_response(exc, api.request_locale(request))
        if "retry_after" in exc.extra:
            response.headers["Retry-After"] = str(exc.extra["retry_after"])
        return response

    for failure in ConnectionFailed:

        @app.exception_handler(failure)
        async def _redis_down(request: Request, exc: Exception) -> JSONResponse:
            locale = api.request_locale(request)
            body = api.error_body(
                locale,
                N_("cannot reach Redis at %(where)s"),
                "redis_unavailable",
                {"where": redis_where},
            )
            return JSONResponse(body, 503, headers={"Retry-After": "5", **pl.headers(locale)})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        locale = api.request_locale(request)
        body = api.error_body(locale, N_("invalid request"), "invalid_request", fields=fields)
        return JSONResponse(body, 422, headers=pl.headers(locale))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        locale = api.request_locale(request)
        body = api.error_body(locale, str(exc.detail), api.status_code_name(exc.status_code))
        headers = {**pl.headers(locale), **(exc.headers or {})}
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(openapi.allowed_methods(app, request.scope))
        return JSONResponse(body, exc.status_code, headers=headers)

    publisher = ctx.settings.publisher
    home_default = pl.default_locale(publisher.language)
    tz = ZoneInfo(publisher.timezone)

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        """The home page in the reader's language (``?lang=``, ``Accept-Language``)."""
        articles = await run_in_threadpool(ctx.article_store.latest, 10)
        locale = pl.page_locale(request, home_default)
        licence = LICENCES[publisher.licence]
        html = (
            environment()
            .get_template("web/index.html")
            .render(
                publisher=publisher,
                locale=locale,
                locales=pl.switch_links(locale),
                public_url=ctx.settings.public_url,
                articles=articles,
                published=[i18n.format_date(a.published_at, locale, tz) for a in articles],
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

    return app
