"""Confirming a subscription: ``GET /confirm/{token}`` shows a button, ``POST`` confirms.

A GET never changes anything (link scanners fetch every URL in a message); the button's
form carries a CSRF field bound to this subscriber's confirm form.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from syndication import i18n
from syndication.services.subscriptions import LinkInvalid
from syndication.store.subscribers import CONFIRMED, UNSUBSCRIBED, ConfirmOutcome, Subscriber
from syndication.web import openapi
from syndication.web.csrf import FIELD
from syndication.web.forms import read_form
from syndication.web.subscribers.face import SubscriberFace
from syndication.web.subscribers.messages import confirmed_page, ended_page, invalid_link


def confirm_form(
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
        "confirm",
        locale,
        f"confirm:{sub.id}",
        status,
        notice=notice,
        subscriber=sub,
        token=token,
        frequency_name=i18n.frequency_name(locale, sub.frequency),
    )


class ConfirmPages:
    """The confirm routes over one ``SubscriberFace``."""

    def __init__(self, face: SubscriberFace) -> None:
        self.face = face

    async def confirm_page(self, request: Request, token: str) -> HTMLResponse:
        face = self.face
        try:
            sub = await run_in_threadpool(face.service.pending_confirmation, token)
        except LinkInvalid as exc:
            return invalid_link(face, exc, face.locale(request))
        locale = face.locale(request, sub)
        if sub.status == CONFIRMED:
            return confirmed_page(face, sub, locale, already=True)
        if sub.status == UNSUBSCRIBED:
            return ended_page(face, locale)
        return confirm_form(face, request, sub, token, locale)

    async def confirm(self, request: Request, token: str) -> HTMLResponse:
        face = self.face
        fields = await read_form(request)
        try:
            sub = await run_in_threadpool(face.service.pending_confirmation, token)
        except LinkInvalid as exc:
            return invalid_link(face, exc, face.locale(request, fields=fields))
        locale = face.locale(request, sub, fields)
        if sub.status == CONFIRMED:  # nothing to change: no form to check
            return confirmed_page(face, sub, locale, already=True)
        if sub.status == UNSUBSCRIBED:
            return ended_page(face, locale)
        notice = face.refused(request, fields, f"confirm:{sub.id}", locale)
        if notice is not None:
            return confirm_form(face, request, sub, token, locale, 400, notice)
        try:
            outcome, done = await run_in_threadpool(face.service.confirm, token)
        except LinkInvalid as exc:
            return invalid_link(face, exc, locale)
        if outcome is ConfirmOutcome.NOT_FOUND or done is None:
            return invalid_link(face, LinkInvalid("not found"), locale)
        if outcome is ConfirmOutcome.SUPPRESSED:
            return ended_page(face, locale)
        already = outcome is ConfirmOutcome.ALREADY_CONFIRMED
        return confirmed_page(face, done, locale, already=already)


def add_routes(router: APIRouter, face: SubscriberFace) -> None:
    pages = ConfirmPages(face)
    openapi.add_link_page(
        router,
        "/confirm/{token}",
        pages.confirm_page,
        pages.confirm,
        (400, 409, 410),
        openapi.form(FIELD),
    )
