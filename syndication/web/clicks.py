"""``GET /c/{token}``: a digest story link, counted, then redirected to the story.

The target is the one recorded for the token's (edition, story) when the messages were
built (``services/clicks.py``); nothing in the request chooses it. A token we did not sign
is a 404 page and redirects nowhere. The canary link answers a small empty page. The
client's address is read only to hash its network with the minute (never stored as is),
and the user agent is not read at all.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syndication.context import Context
from syndication.services.clicks import ClickInvalid
from syndication.web.forms import client_ip

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
_EMPTY = "<!doctype html><title>·</title>"
_INVALID = (
    "<!doctype html><html lang=en><title>Link not valid</title>"
    "<p>This link is not valid. Please open the story from the newsletter again.</p></html>"
)


def make_router(ctx: Context) -> APIRouter:
    router = APIRouter()
    answers = {
        302: {"description": "To the story"},
        200: {"description": "Nothing here", "content": {"text/html": {}}},
        404: {"description": "Not a link of ours", "content": {"text/html": {}}},
    }

    @router.get("/c/{token}", response_class=Response, responses=answers)  # type: ignore[arg-type]
    async def follow(request: Request, token: str) -> Response:
        """One click on a digest story link (opt-in: ``SYNDICATION_CLICK_COUNTS``)."""
        try:
            followed = await run_in_threadpool(
                ctx.clicks.follow, token, client_ip(request), ctx.clock()
            )
        except ClickInvalid:
            return HTMLResponse(_INVALID, 404, headers=HEADERS)
        if followed.target is None:
            return HTMLResponse(_EMPTY, 200, headers=HEADERS)
        return RedirectResponse(followed.target, 302, headers=HEADERS)

    return router
