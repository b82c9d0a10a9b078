"""``/api/articles``: the CMS-facing ingest API.

The body is read and checked by hand (size, UTF-8, JSON) before validation, so each kind
of bad input gets its own status and message and nothing is written until all checks pass.

Every error is ``{"error": <message for people>, "code": <stable id for programs>, …}``:
``error`` is in the client's ``Accept-Language`` (English when it names nothing we have;
the messages are gettext msgids, ``syndication.i18n``), ``code`` and every other field
never change with the language, so clients branch on ``code``, never on the words
(``errors.py``: ``ApiError`` and the body).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from syndication.context import Context
from syndication.i18n import N_
from syndication.identity import NotOwner, for_api
from syndication.ingest.normalise import article_from_data
from syndication.models import Article
from syndication.store.articles import Outcome, Written
from syndication.store.once import OnceStore
from syndication.web import jsonbody, openapi
from syndication.web.auth import (
    REPLAYED,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureRefused,
    bearer_ok,
    verify_request,
)
from syndication.web.errors import (
    ApiError,
    error_body,
    error_response,
    request_locale,
    status_code_name,
)

# The error answers live in errors.py (jsonbody and forms raise them too); web/app.py's
# handlers still reach them as ``api.…``, hence their names here.
__all__ = [
    "MAX_OFFSET",
    "STATUS",
    "ApiError",
    "error_body",
    "error_response",
    "field_errors",
    "make_router",
    "read_body",
    "request_locale",
    "require_signed",
    "status_code_name",
]

#: Paging stays inside Redis's signed 64-bit ranges (an index past the end is an empty page).
MAX_OFFSET = 1_000_000_000

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


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        out.append({"field": loc, "message": err["msg"].removeprefix("Value error, ")})
    return out


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):  # "³".isdigit() is true too
            raise ApiError(400, N_("Content-Length is not a number"), code="bad_content_length")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        N_("body is larger than %(limit)s bytes"),
        code="body_too_large",
        params={"limit": limit},
    )


def _not_found(article_id: str) -> ApiError:
    return ApiError(
        404,
        N_("no article with id %(id)s"),
        code="article_not_found",
        params={"id": repr(article_id)},
    )


def _source_id(data: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Split off the CMS's own id (``source_id``, or ``id`` as clients sent it so far):
    with the token's source it identifies the article, so a CMS's two posts never share
    one, whatever their URLs look like. The article id in the answer is ours."""
    rest = dict(data)
    popped = [(name, rest.pop(name)) for name in ("source_id", "id") if name in rest]
    given = [(name, value) for name, value in popped if value is not None]
    values = {str(v).strip() if isinstance(v, int | str) else None for _, v in given}
    for name, value in given:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | str)
            or not 1 <= len(str(value).strip()) <= 200
            or not str(value).isprintable()
        ):
            message = "must be a string or integer of 1-200 printable characters"
            raise _invalid([{"field": name, "message": message}])
    if len(values) > 1:
        raise _invalid([{"field": "source_id", "message": "differs from id: send one of them"}])
    return rest, (values.pop() if values else None)


def _invalid(fields: list[dict[str, str]]) -> ApiError:
    return ApiError(
        422,
        N_("invalid article: %(fields)s"),
        code="invalid_article",
        params={"fields": ", ".join(f["field"] for f in fields)},
        fields=fields,
    )


async def require_signed(
    request: Request, body: bytes, keys: Sequence[str], ctx: Context, purpose: str
) -> None:
    """Refuse (401, a ``code`` per failure) a request whose v1 signature
    (``syndication.web.auth``) is missing, wrong, outside the time window on ``ctx.clock``,
    or was accepted before for ``purpose`` (Stripe's and Standard Webhooks' replay rule)."""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.url.path
    try:
        verified = verify_request(
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(TIMESTAMP_HEADER),
            method=request.method,
            path=path,
            query=request.scope.get("query_string", b"").decode("latin-1"),
            body=body,
            keys=keys,
            now=ctx.clock().timestamp(),
        )
    except SignatureRefused as exc:
        raise ApiError(401, exc.message, code=exc.code, params=exc.params, **exc.extra) from None
    once = OnceStore(ctx.client, ctx.settings.key_prefix)
    claim = f"signed:{purpose}"
    if not await run_in_threadpool(once.claim, claim, verified.digest, verified.remember_s):
        raise ApiError(401, REPLAYED, code="signature_replayed")


Authorise = Callable[[Request, bytes | None], Awaitable[None]]


def make_router(ctx: Context) -> APIRouter:
    router = APIRouter(prefix="/api")
    authorise = _authoriser(ctx)

    async def authorised(request: Request) -> None:
        """:func:`authorise` as a dependency: FastAPI runs it before it reports invalid query
        parameters, so a client without credentials gets 401, never a 422 that tells it
        which parameters the endpoint takes."""
        await authorise(request, None)

    _add_collection_routes(router, ctx, authorise, authorised)
    _add_item_routes(router, ctx, authorise)
    return router


def _authoriser(ctx: Context) -> Authorise:
    token = ctx.settings.api_token or ""

    async def authorise(request: Request, body: bytes | None = None) -> None:
        """A bearer token, or a request signed with it (GET and DELETE too: the signature
        covers method, path and query, so one request's signature authorises no other)."""
        if not token:
            raise ApiError(
                503,
                N_("the API is disabled: SYNDICATION_API_TOKEN is not set"),
                code="api_disabled",
            )
        if bearer_ok(request.headers.get("authorization"), token):
            return
        if SIGNATURE_HEADER not in request.headers:
            raise ApiError(
                401,
                N_(
                    "missing or wrong credentials: send 'Authorization: Bearer <token>'"
                    " or sign the request (%(header)s and %(timestamp)s, see the README)"
                ),
                code="unauthorized",
                params={"header": SIGNATURE_HEADER, "timestamp": TIMESTAMP_HEADER},
            )
        if body is None:
            body = await read_body(request, ctx.settings.max_body_bytes)
        await require_signed(request, body, (token,), ctx, "api")

    return authorise


def _article_from_body(ctx: Context, body: bytes) -> tuple[Article, str | None]:
    """The article a POST body holds and the CMS's own id for it; else a 400 or 422."""
    data = jsonbody.parse_json(body)  # UTF-8, JSON, bounded depth: a 400 naming what is wrong
    if not isinstance(data, dict):
        raise ApiError(
            422,
            N_("body must be a JSON object with the article's fields"),
            code="body_not_object",
        )
    data, source_id = _source_id(data)
    try:
        article = article_from_data(data, ctx.settings.publisher, now=ctx.clock())
    except ValidationError as exc:
        fields = field_errors(exc)
        names = ", ".join(f["field"] for f in fields)
        raise ApiError(
            422,
            N_("invalid article: %(fields)s"),
            code="invalid_article",
            params={"fields": names},
            fields=fields,
        ) from None
    return article, source_id


async def _submit(ctx: Context, article: Article, source_id: str | None) -> Written:
    """Store the article for this source; another source's article is a 409."""
    try:
        return await run_in_threadpool(
            ctx.articles.submit, article, for_api(article.url, source_id)
        )
    except NotOwner as exc:
        raise ApiError(
            409,
            N_("article %(id)s belongs to the source %(owner)s: this source may not change it"),
            code="not_owner",
            params={"id": repr(exc.article_id), "owner": repr(exc.owner)},
            id=exc.article_id,
            owner=exc.owner,
        ) from None


def _add_collection_routes(
    router: APIRouter, ctx: Context, authorise: Authorise, authorised: Callable[..., Any]
) -> None:
    """``POST /api/articles`` and ``GET /api/articles``."""

    @router.post(
        "/articles",
        responses={
            200: {"description": "Updated, unchanged or republished"},
            201: {"description": "Created"},
            **openapi.errors(400, 401, 409, 413, 422, 503),
        },
        openapi_extra={**openapi.body(openapi.article_schema()), "security": openapi.API_SECURITY},
    )
    async def post_article(request: Request) -> JSONResponse:
        body = await read_body(request, ctx.settings.max_body_bytes)
        await authorise(request, body)
        article, source_id = _article_from_body(ctx, body)
        written = await _submit(ctx, article, source_id)
        outcome, article = written.outcome, written.article
        payload: dict[str, Any] = {"id": article.id, "outcome": outcome.value}
        headers = {"Location": f"/api/articles/{article.id}"}
        if outcome is Outcome.STALE:
            locale = request_locale(request)
            stale = N_("a newer version of this article is stored (updated_at is older)")
            payload.update(error_body(locale, stale, "stale"))
            headers.update({"Content-Language": locale, "Vary": "Accept-Language"})
        return JSONResponse(payload, STATUS[outcome], headers=headers)

    @router.get(
        "/articles",
        responses=openapi.errors(401, 422, 503),
        openapi_extra={"security": openapi.API_SECURITY},
        dependencies=[Depends(authorised)],
    )
    async def list_articles(
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> JSONResponse:
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


def _add_item_routes(router: APIRouter, ctx: Context, authorise: Authorise) -> None:
    """``GET`` and ``DELETE /api/articles/{article_id}``."""

    @router.get(
        "/articles/{article_id}",
        responses=openapi.errors(401, 404, 503),
        openapi_extra={"security": openapi.API_SECURITY},
    )
    async def get_article(request: Request, article_id: str) -> JSONResponse:
        await authorise(request, None)
        stored = await run_in_threadpool(ctx.article_store.get, article_id)
        if stored is None:
            raise _not_found(article_id)
        return JSONResponse(stored.to_json())

    @router.delete(
        "/articles/{article_id}",
        responses=openapi.errors(401, 404, 503),
        openapi_extra={"security": openapi.API_SECURITY},
    )
    async def withdraw_article(request: Request, article_id: str) -> JSONResponse:
        await authorise(request, None)
        outcome = await run_in_threadpool(ctx.articles.withdraw, article_id)
        if outcome is Outcome.NOT_FOUND:
            raise _not_found(article_id)
        return JSONResponse({"id": article_id, "outcome": outcome.value}, STATUS[outcome])
