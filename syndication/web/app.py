"""The FastAPI app: thin routes over services, errors as JSON with a clear message."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from syndication import __version__
from syndication.context import Context
from syndication.licences import LICENCES
from syndication.store.connection import ConnectionFailed, redacted
from syndication.templating import environment
from syndication.web import api, archive, feeds, ops, partners, subscribers


def create_app(ctx: Context) -> FastAPI:
    app = FastAPI(
        title="syndication",
        version=__version__,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.ctx = ctx
    app.include_router(api.make_router(ctx))
    app.include_router(feeds.make_router(ctx))
    app.include_router(subscribers.make_router(ctx))
    app.include_router(archive.make_router(ctx))
    app.include_router(
        partners.make_router(
            ctx,
            rate_limit=ctx.settings.partner_rate_limit,
            rate_window_s=ctx.settings.partner_rate_window_s,
        )
    )
    app.include_router(ops.make_router(ctx))
    redis_where = redacted(ctx.settings.redis_url or "redis://localhost:6379")

    @app.exception_handler(api.ApiError)
    async def _api_error(request: Request, exc: api.ApiError) -> JSONResponse:
        response = api.error_response(exc)
        if "retry_after" in exc.extra:
            response.headers["Retry-After"] = str(exc.extra["retry_after"])
        return response

    for failure in ConnectionFailed:

        @app.exception_handler(failure)
        async def _redis_down(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse(
                {"error": f"cannot reach Redis at {redis_where}"}, 503, headers={"Retry-After": "5"}
            )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "fields": fields}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=exc.headers)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        articles = await run_in_threadpool(ctx.article_store.latest, 10)
        publisher = ctx.settings.publisher
        html = (
            environment()
            .get_template("web/index.html")
            .render(
                publisher=publisher,
                language=publisher.language,
                public_url=ctx.settings.public_url,
                articles=articles,
                licence=LICENCES[publisher.licence],
            )
        )
        return HTMLResponse(html)

    return app
