"""Security headers on every answer, and a generic 500 for whatever a route lets escape.

One ASGI middleware, the outermost layer of the FastAPI app (inside ``FeedFront``, so the
feed documents it keeps in memory carry the same headers). A route's own header wins: the
admin's nonce CSP, the raw preview's ``CSP: sandbox``, the republish page's framing rule.
Only ``Referrer-Policy`` on token paths is forced, since the token is in the URL.

A route that raises gets a 500 in the API's error shape (JSON, or a short HTML page for a
browser) with no traceback; the traceback goes to the log once, here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import MutableHeaders

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(__name__)

#: Pages whose own CSP is absent: inline styles and our or https images, nothing else.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: Everything that is not HTML (JSON, feeds, images): a document that loads nothing.
DOCUMENT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
REFERRER_POLICY = "strict-origin-when-cross-origin"
HSTS = "max-age=31536000"
# Paths that carry a secret: subscriber tokens, and a partner key in the path (any case,
# any run of slashes: the referrer would carry whatever the browser was given).
_TOKEN_PATH = re.compile(r"^/+(?:confirm|unsubscribe|preferences|partners)/", re.IGNORECASE)
_ERROR_JSON = b'{"error":"internal server error","code":"internal_error"}'
_ERROR_HTML = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Something went wrong</title>"
    b"<h1>Something went wrong</h1><p>The error has been logged. Please try again later.</p>"
)


def _wants_html(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"accept":
            return b"text/html" in value
    return False


class SecurityHeaders:
    """ASGI middleware: default security headers (route headers win) and the catch-all 500."""

    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token_path = bool(_TOKEN_PATH.match(scope["path"]))
        started = False

        async def secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Content-Security-Policy", PAGE_CSP if html else DOCUMENT_CSP)
                if token_path:
                    headers["Referrer-Policy"] = "no-referrer"
                else:
                    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
                if self.https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        try:
            await self.app(scope, receive, secured)
        except Exception:
            log.exception("unhandled error answering %s %s", scope.get("method"), scope["path"])
            if started:  # too late for a status: the server ends the response
                raise
            html = _wants_html(scope)
            body = _ERROR_HTML if html else _ERROR_JSON
            ctype = b"text/html; charset=utf-8" if html else b"application/json"
            await secured(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", ctype),
                        (b"content-length", str(len(body)).encode()),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
