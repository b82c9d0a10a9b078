"""``/api/docs``: the API's operations as one server-rendered page, from the OpenAPI document.

FastAPI's default Swagger UI loads its JavaScript and CSS from a CDN: an outside party
could then run script on our origin, and the page breaks offline or behind a strict proxy.
This page loads nothing (no script, no external style or font) and links to
``/api/openapi.json`` for tools.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code,pre{font-family:ui-monospace,monospace}pre{background:#f4f4f4;padding:.5rem;overflow:auto}
section{border-top:1px solid #ccc;padding:.5rem 0}.m{font-weight:bold;text-transform:uppercase}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
"""


def _schema_text(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    kind = schema.get("type", "")
    bounds = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "maxLength") if k in schema]
    return " ".join([str(kind), *(f"({b})" for b in bounds)]).strip()


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    out = [f'<section id="{escape(op.get("operationId", method + path))}">']
    out.append(f'<h2><span class="m">{escape(method)}</span> <code>{escape(path)}</code></h2>')
    for key in ("summary", "description"):
        if op.get(key):
            out.append(f"<p>{escape(str(op[key]))}</p>")
    params = [p for p in op.get("parameters", []) if isinstance(p, dict)]
    if params:
        out.append("<table><tr><th>parameter</th><th>in</th><th>schema</th><th>required</th></tr>")
        for p in params:
            out.append(
                f"<tr><td><code>{escape(str(p.get('name', '')))}</code></td>"
                f"<td>{escape(str(p.get('in', '')))}</td>"
                f"<td>{escape(_schema_text(p.get('schema')))}</td>"
                f"<td>{'yes' if p.get('required') else 'no'}</td></tr>"
            )
        out.append("</table>")
    body = op.get("requestBody")
    if isinstance(body, dict):
        types = ", ".join(escape(t) for t in body.get("content", {}))
        out.append(f"<p>Request body: {types or 'any'}</p>")
    responses = op.get("responses", {})
    if isinstance(responses, dict) and responses:
        items = "".join(
            f"<li><code>{escape(str(code))}</code> {escape(str(r.get('description', '')))}</li>"
            for code, r in responses.items()
            if isinstance(r, dict)
        )
        out.append(f"<p>Responses:</p><ul>{items}</ul>")
    out.append("</section>")
    return "\n".join(out)


def render(spec: dict[str, Any], openapi_url: str) -> str:
    """The whole page: title, a link to the document, then each operation."""
    info = spec.get("info", {})
    title = escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    ops = [
        _operation(path, method, op)
        for path, item in spec.get("paths", {}).items()
        for method in METHODS
        if isinstance(op := item.get(method), dict)
    ]
    schemes = spec.get("components", {}).get("securitySchemes", {})
    auth = (
        f"<h2>Authentication</h2><pre>{escape(json.dumps(schemes, indent=2))}</pre>"
        if schemes
        else ""
    )
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{title}</h1>"
        f'<p>The machine-readable description: <a href="{escape(openapi_url)}">'
        f"{escape(openapi_url)}</a> (OpenAPI {escape(str(spec.get('openapi', '')))}).</p>"
        f"{auth}{''.join(ops)}</body></html>\n"
    )


def make_router(openapi: Callable[[], dict[str, Any]], openapi_url: str) -> APIRouter:
    """``GET /api/docs`` over ``openapi`` (the app's ``openapi`` method: built once, cached)."""
    router = APIRouter()

    @router.get("/api/docs", include_in_schema=False, response_class=HTMLResponse)
    async def docs() -> HTMLResponse:
        html = render(openapi(), openapi_url)
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    return router
