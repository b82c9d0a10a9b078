"""What the OpenAPI document declares that FastAPI cannot infer from the routes.

Our routes read raw bodies (``api.read_body``) and answer errors from exception handlers,
so FastAPI sees neither the request bodies nor the error answers. The route decorators
declare them from here, and ``install`` adds the shared parts (the error schema, the auth
schemes), so that a client, or schemathesis, sees every status and content type we send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from syndication.models import Article
from syndication.web.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "description": "Every error answer: `error` for people (in the Accept-Language), "
    "`code` for programs (never translated); some add fields such as `fields`.",
    "required": ["error", "code"],
    "properties": {
        "error": {"type": "string"},
        "code": {"type": "string"},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

#: One line per status, the same wherever it is declared.
WHY = {
    304: "Not modified (If-None-Match / If-Modified-Since)",
    400: "Bad request: body not UTF-8, not JSON, nested too deep, bad Content-Length,"
    " or a form without a valid CSRF field / a link that is not valid",
    401: "Missing or wrong credentials",
    404: "No such resource",
    409: "Conflict: the article belongs to another source, or a newer version is stored",
    410: "The link has expired",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid input: `fields` names each field",
    429: "Too many requests: see Retry-After",
    503: "Not available now (disabled, being built, or not healthy): see Retry-After",
}

API_BEARER = "apiBearer"
API_SIGNATURE = "apiSignature"
API_TIMESTAMP = "apiTimestamp"
PARTNER_BEARER = "partnerBearer"

SECURITY_SCHEMES: dict[str, Any] = {
    API_BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "SYNDICATION_API_TOKEN, for the CMS",
    },
    API_SIGNATURE: {
        "type": "apiKey",
        "in": "header",
        "name": SIGNATURE_HEADER,
        "description": "A signed request (CMS and mail-provider webhooks): `v1=<hex>`, the"
        " HMAC-SHA256 with the shared key of the timestamp, method, path, query and body's"
        " SHA-256 (syndication.web.auth)",
    },
    API_TIMESTAMP: {
        "type": "apiKey",
        "in": "header",
        "name": TIMESTAMP_HEADER,
        "description": "The signed request's time, Unix seconds, sent with its signature",
    },
    PARTNER_BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "A partner outlet's key (or put it in the path: /partners/{key}/feeds/…)",
    },
}

Security = list[dict[str, list[str]]]
#: Either the token or a signed request.
API_SECURITY: Security = [
    {API_BEARER: []},
    {API_SIGNATURE: [], API_TIMESTAMP: []},
]
WEBHOOK_SECURITY: Security = [{API_SIGNATURE: [], API_TIMESTAMP: []}]
PARTNER_SECURITY: Security = [{PARTNER_BEARER: []}]

HTML = {"text/html": {"schema": {"type": "string"}}}
JSON_ERROR = {"application/json": {"schema": ERROR_REF}}
FEED_TYPES = {
    "application/rss+xml": {"schema": {"type": "string"}},
    "application/atom+xml": {"schema": {"type": "string"}},
    "application/feed+json": {"schema": {"type": "object"}},
}


#: Models the bodies refer to, by name under ``components/schemas`` (``install`` adds them).
SCHEMAS: dict[str, Any] = {}


def article_schema() -> dict[str, Any]:
    """The body of ``POST /api/articles``: an Article, with the CMS's own id."""
    schema = Article.model_json_schema(ref_template="#/components/schemas/{model}")
    SCHEMAS.update(schema.pop("$defs", {}))
    cms_id = {
        "anyOf": [{"type": "string", "minLength": 1, "maxLength": 200}, {"type": "integer"}],
        "description": "The CMS's own id: with the token's source it identifies the article",
    }
    schema["properties"] = {**schema["properties"], "id": cms_id, "source_id": cms_id}
    return schema


#: A feed document's answers (the format is the path's extension).
FEED_OK: dict[int | str, dict[str, Any]] = {
    200: {"description": "The feed document", "content": FEED_TYPES},
    304: {"description": WHY[304]},
}


#: Partner feeds come in ninjs too (IPTC's JSON for news).
PARTNER_FEED_OK: dict[int | str, dict[str, Any]] = {
    **FEED_OK,
    200: {
        "description": "The partner's feed document",
        "content": {**FEED_TYPES, "application/ninjs+json": {"schema": {"type": "object"}}},
    },
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """JSON error answers, for ``responses=``."""
    return {s: {"description": WHY[s], "content": JSON_ERROR} for s in statuses}


def pages(*statuses: int, json: Iterable[int] = ()) -> dict[int | str, dict[str, Any]]:
    """HTML error pages; the statuses in ``json`` may come as the JSON error instead
    (the body checks run before a page can be chosen)."""
    also = set(json)
    out: dict[int | str, dict[str, Any]] = {}
    for s in sorted({*statuses, *also}):
        content = {**(HTML if s in statuses else {}), **(JSON_ERROR if s in also else {})}
        out[s] = {"description": WHY[s], "content": content}
    return out


def body(schema: dict[str, Any], *media_types: str) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its body itself: the request body
    (JSON unless ``media_types`` says otherwise)."""
    content = {media: {"schema": schema} for media in media_types or ("application/json",)}
    return {"requestBody": {"required": True, "content": content}}


def form(*names: str, lists: Iterable[str] = ()) -> dict[str, Any]:
    """``openapi_extra`` for an HTML form post: its fields, urlencoded or multipart."""
    repeated = set(lists)
    text: dict[str, Any] = {"type": "string"}
    fields = {n: {"type": "array", "items": text} if n in repeated else text for n in names}
    schema = {"type": "object", "properties": fields}
    return body(schema, "application/x-www-form-urlencoded", "multipart/form-data")


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route answers at this path: Starlette's 405 names only the first
    route that matched the path, and we have one route per method."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, APIRoute) and route.matches(scope)[0] is not Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


def install(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Replace ``app.openapi`` by one that adds the error schema and the auth schemes."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        spec = generate()  # FastAPI builds it once and caches it on the app
        components = spec.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.update({**SCHEMAS, "Error": ERROR_SCHEMA})
        # app.py answers a RequestValidationError in our shape, not FastAPI's `detail`.
        for operation in (op for path in spec.get("paths", {}).values() for op in path.values()):
            answer = operation.get("responses", {}).get("422")
            if answer and "HTTPValidationError" in str(answer):
                answer.update({"description": WHY[422], "content": JSON_ERROR})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        components["securitySchemes"] = SECURITY_SCHEMES
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
    return openapi


def add_link_page(
    router: Any,
    path: str,
    page: Any,
    action: Any,
    codes: tuple[int, ...],
    form_fields: dict[str, Any],
) -> None:
    """A page a mailed link opens: GET shows it (no side effect: scanners follow links),
    POST acts on the form it shows; both answer HTML, the POST also JSON errors."""
    router.add_api_route(
        path,
        page,
        methods=["GET"],
        response_class=HTMLResponse,
        responses=pages(400, 409, 410),
    )
    router.add_api_route(
        path,
        action,
        methods=["POST"],
        response_class=HTMLResponse,
        responses=pages(*codes, json=(400, 413)),
        openapi_extra=form_fields,
    )
