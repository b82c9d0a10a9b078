"""Leaving the list: ``GET /unsubscribe/{token}`` shows a button, ``POST`` unsubscribes.

``POST`` is also the RFC 8058 one-click endpoint: the mail client posts
``List-Unsubscribe=One-Click`` with no session, no cookie and no CSRF field, and the signed
token in the URL alone authorises it (RFC 8058 §3.2); no redirect. The page's own button
posts a CSRF field bound to this subscriber's unsubscribe form instead.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from syndication.services.subscriptions import LinkInvalid
from syndication.store.subscribers import UNSUBSCRIBED, Subscriber
from syndication.web import openapi
from syndication.web.csrf import FIELD
from syndication.web.forms import Fields, read_form
from syndication.web.subscribers.face import SubscriberFace
from syndication.web.subscribers.messages import invalid_link, managed, unsubscribed_page

ONE_CLICK_FIELD = "List-Unsubscribe"


def is_one_click(fields: Fields) -> bool:
    """Whether the body is RFC 8058's ``List-Unsubscribe=One-Click``."""
    return [v.strip() for v in fields.get(ONE_CLICK_FIELD, [])] == ["One-Click"]


def unsubscribe_form(
    face: SubscriberFace,
    request: Request,
    sub: Subscriber,
    token: str,
    locale: str,
    status: int = 200,
    notice: str = "",
) -> HTMLResponse:
    return face.form_page(
        request,
        "unsubscribe",
        locale,
        f"unsubscribe:{sub.id}",
        status,
        notice=notice,
        subscriber=sub,
        token=token,
    )


class UnsubscribePages:
    """The unsubscribe routes over one ``SubscriberFace``."""

    def __init__(self, face: SubscriberFace) -> None:
        self.face = face

    async def unsubscribe_page(self, request: Request, token: str) -> HTMLResponse:
        """Shows the button only: a GET never unsubscribes (scanners follow every link)."""
        face = self.face
        found = await managed(face, request, token)
        if isinstance(found, HTMLResponse):
            return found
        sub, locale = found
        if sub.status == UNSUBSCRIBED:
            return unsubscribed_page(face, sub, locale, just_now=False)
        return unsubscribe_form(face, request, sub, token, locale)

    async def unsubscribe(self, request: Request, token: str) -> HTMLResponse:
        """RFC 8058 one-click (body ``List-Unsubscribe=One-Click``): the token alone
        authorises it, no cookie, no CSRF field. The page's button posts a CSRF field."""
        face = self.face
        fields = await read_form(request)
        one_click = is_one_click(fields)
        found = await managed(face, request, token, fields)
        if isinstance(found, HTMLResponse):
            return found
        sub, locale = found
        if not one_click and sub.status != UNSUBSCRIBED:
            notice = face.refused(request, fields, f"unsubscribe:{sub.id}", locale)
            if notice is not None:
                return unsubscribe_form(face, request, sub, token, locale, 400, notice)
        try:
            done = await run_in_threadpool(face.service.unsubscribe, token)
        except LinkInvalid as exc:
            return invalid_link(face, exc, locale, manage=True)
        return unsubscribed_page(face, done, locale, just_now=True)


def add_routes(router: APIRouter, face: SubscriberFace) -> None:
    pages = UnsubscribePages(face)
    openapi.add_link_page(
        router,
        "/unsubscribe/{token}",
        pages.unsubscribe_page,
        pages.unsubscribe,
        (400, 409, 410),
        openapi.form(FIELD, ONE_CLICK_FIELD),
    )
