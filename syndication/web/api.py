"""``/api/articles``: the CMS-facing ingest API.

The body is read and checked by hand (size, UTF-8, JSON) before validation, so each kind
of bad input gets its own status and message and nothing is written until all checks pass.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from syndication.context import Context
from syndication.ingest.normalise import article_from_data
from syndication.store.articles import Outcome
from syndication.web.auth import SIGNATURE_HEADER, bearer_ok, signature_ok

STATUS = {
    Outcome.CREATED: 201,
    Outcome.REPUBLISHED: 200,
    Outcome.UPDATED: 200,
    Outcome.UNCHANGED: 200,
    Outcome.STALE: 409,
    Outcome.WITHDRAWN: 200,
    Outcome.ALREADY_WITHDRAWN: 200,
    Outcome.NOT_FOUND: 404,
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_response(exc: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="api"'} if exc.status == 401 else None
    return JSONResponse({"error": exc.message, **exc.extra}, exc.status, headers=headers)


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        out.append({"field": loc, "message": err["msg"].removeprefix("Value error, ")})
    return out


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise ApiError(413, f"body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def make_router(ctx: Context) -> APIRouter:
    router = APIRouter(prefix="/api")
    token = ctx.settings.api_token or ""

    def authorise(request: Request, body: bytes = b"") -> None:
        if not token:
            raise ApiError(503, "the API is disabled: SYNDICATION_API_TOKEN is not set")
        if bearer_ok(request.headers.get("authorization"), token):
            return
        if signature_ok(request.headers.get(SIGNATURE_HEADER), body, token):
            return
        raise ApiError(
            401,
            "missing or wrong credentials: send 'Authorization: Bearer <token>'"
            f" or an {SIGNATURE_HEADER} HMAC-SHA256 of the body",
        )

    @router.post("/articles")
    async def post_article(request: Request) -> JSONResponse:
        body = await read_body(request, ctx.settings.max_body_bytes)
        authorise(request, body)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError(400, f"body is not valid UTF-8 (byte {exc.start})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ApiError(400, f"body is not valid JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(data, dict):
            raise ApiError(422, "body must be a JSON object with the article's fields")
        try:
            article = article_from_data(data, ctx.settings.publisher)
        except ValidationError as exc:
            fields = field_errors(exc)
            names = ", ".join(f["field"] for f in fields)
            raise ApiError(422, f"invalid article: {names}", fields=fields) from None
        outcome = await run_in_threadpool(ctx.articles.accept, article)
        payload: dict[str, Any] = {"id": article.id, "outcome": outcome.value}
        if outcome is Outcome.STALE:
            payload["error"] = "a newer version of this article is stored (updated_at is older)"
        return JSONResponse(
            payload, STATUS[outcome], headers={"Location": f"/api/articles/{article.id}"}
        )

    @router.get("/articles")
    async def list_articles(request: Request, limit: int = 20, offset: int = 0) -> JSONResponse:
        authorise(request)
        if not 1 <= limit <= 200 or offset < 0:
            raise ApiError(422, "limit must be 1-200 and offset 0 or more")
        store = ctx.article_store
        ids = await run_in_threadpool(store.latest_ids, limit, offset)
        stored = await run_in_threadpool(store.get_many, ids)
        total = await run_in_threadpool(store.count)
        return JSONResponse(
            {
                "total": total,
                "limit": limit,
                "offset": offset,
                "articles": [s.to_json() for s in stored],
            }
        )

    @router.get("/articles/{article_id}")
    async def get_article(request: Request, article_id: str) -> JSONResponse:
        authorise(request)
        stored = await run_in_threadpool(ctx.article_store.get, article_id)
        if stored is None:
            raise ApiError(404, f"no article with id {article_id!r}")
        return JSONResponse(stored.to_json())

    @router.delete("/articles/{article_id}")
    async def withdraw_article(request: Request, article_id: str) -> JSONResponse:
        authorise(request)
        outcome = await run_in_threadpool(ctx.articles.withdraw, article_id)
        if outcome is Outcome.NOT_FOUND:
            raise ApiError(404, f"no article with id {article_id!r}")
        return JSONResponse({"id": article_id, "outcome": outcome.value}, STATUS[outcome])

    return router
