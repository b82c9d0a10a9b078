"""``GET/POST /manage``: a reader who has no newsletter at hand asks for their preferences link.

The answer is the same page for every valid address, whatever it is (unknown, pending,
confirmed, unsubscribed, suppressed): the service reads nothing about the address before
answering, and mails the link (or nothing) after the response, so neither the page nor its
timing tells whether the address is on the list. Rate limited like the signup; the form's
CSRF field is bound to the browser's nonce cookie, as the signup form's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from starlette.background import BackgroundTask

from syndication.services.subscriptions import InvalidInput, RateLimited
from syndication.web import openapi
from syndication.web.csrf import FIELD
from syndication.web.forms import client_ip, first, read_form
from syndication.web.subscribers.choices import localised_errors
from syndication.web.subscribers.face import MANAGE_FORM, SubscriberFace, log
from syndication.web.subscribers.messages import too_many


class ManagePages:
    """The manage-by-email routes over one ``SubscriberFace``."""

    def __init__(self, face: SubscriberFace) -> None:
        self.face = face

    def form(
        self, request: Request, locale: str, status: int = 200, email: str = "", **values: Any
    ) -> HTMLResponse:
        values.setdefault("errors", {})
        return self.face.form_page(
            request, "manage", locale, MANAGE_FORM, status, email=email[:320], **values
        )

    async def manage_form(self, request: Request) -> HTMLResponse:
        return self.form(request, self.face.locale(request))

    async def manage(self, request: Request) -> HTMLResponse:
        face = self.face
        fields = await read_form(request)
        locale = face.locale(request, fields=fields)
        email = first(fields, "email")
        notice = face.refused(request, fields, MANAGE_FORM, locale)
        if notice is not None:
            return self.form(request, locale, 400, email, notice=notice)
        service = face.ctx.manage_links
        try:
            address = await run_in_threadpool(service.request, email, client_ip(request))
        except InvalidInput as exc:
            errors = localised_errors(face, exc.fields, locale)
            return self.form(request, locale, 422, email, errors=errors)
        except RateLimited as exc:
            return too_many(face, locale, exc.retry_after)

        def send() -> None:
            try:
                service.send(address)
            except Exception:  # SMTP away: the reader asks again
                log.exception("manage link not sent")

        response = face.page("manage_sent", locale)
        response.background = BackgroundTask(send)
        return response


def add_routes(router: APIRouter, face: SubscriberFace) -> None:
    pages = ManagePages(face)
    router.add_api_route("/manage", pages.manage_form, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(
        "/manage",
        pages.manage,
        methods=["POST"],
        response_class=HTMLResponse,
        responses=openapi.pages(400, 422, 429, json=(400, 413)),
        openapi_extra=openapi.form(FIELD, "email"),
    )
