"""Changing what one receives: ``GET/POST /preferences/{token}`` (the manage link).

For a reader who unsubscribed, the page offers to subscribe again: the signup form with
their address and last choices, posted to ``/subscribe`` (double opt-in, rate limited).

The form carries a CSRF field bound to this subscriber's preferences form; a refused or
invalid form is shown again with what was posted.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from syndication.services.subscriptions import InvalidInput, LinkInvalid
from syndication.store.subscribers import UNSUBSCRIBED, Subscriber
from syndication.web import openapi
from syndication.web.csrf import FIELD
from syndication.web.forms import Fields, first, read_form
from syndication.web.subscribers.choices import choices
from syndication.web.subscribers.face import SIGNUP_FORM, SubscriberFace
from syndication.web.subscribers.messages import ended_page, invalid_link, managed


def preferences_form(
    face: SubscriberFace,
    request: Request,
    sub: Subscriber,
    token: str,
    locale: str,
    status: int = 200,
    *,
    saved: bool = False,
    **values: Any,
) -> HTMLResponse:
    """The preferences page of ``sub`` (``values``: the form's choices, maybe a notice)."""
    return face.form_page(
        request,
        "preferences",
        locale,
        f"preferences:{sub.id}",
        status,
        subscriber=sub,
        token=token,
        saved=saved,
        **values,
    )


class PreferencesPages:
    """The preferences routes over one ``SubscriberFace``."""

    def __init__(self, face: SubscriberFace) -> None:
        self.face = face

    async def preferences(self, request: Request, token: str) -> HTMLResponse:
        face = self.face
        found = await managed(face, request, token)
        if isinstance(found, HTMLResponse):
            return found
        sub, locale = found
        values = await choices(face, locale, sub)
        if sub.status == UNSUBSCRIBED:  # no dead end: offer to come back, confirmed by mail
            return face.form_page(
                request, "resubscribe", locale, SIGNUP_FORM, subscriber=sub, **values
            )
        return preferences_form(face, request, sub, token, locale, **values)

    async def save_preferences(self, request: Request, token: str) -> HTMLResponse:
        face = self.face
        fields = await read_form(request)
        found = await managed(face, request, token, fields)
        if isinstance(found, HTMLResponse):
            return found
        current, locale = found
        if current.status == UNSUBSCRIBED:
            return ended_page(face, locale)
        notice = face.refused(request, fields, f"preferences:{current.id}", locale)
        if notice is not None:
            values = await choices(face, locale, fields=fields)
            return preferences_form(
                face, request, current, token, locale, 400, notice=notice, **values
            )
        return await self.update(request, token, current, locale, fields)

    async def update(
        self, request: Request, token: str, current: Subscriber, locale: str, fields: Fields
    ) -> HTMLResponse:
        """The service call of a form that passed the CSRF check, and the page after it."""
        face = self.face
        try:
            sub = await run_in_threadpool(
                face.service.update_preferences,
                token,
                first(fields, "frequency") or None,
                fields.get("topics", []),
                first(fields, "language") or None,
            )
        except LinkInvalid as exc:
            return invalid_link(face, exc, locale, manage=True)
        except InvalidInput as exc:
            values = await choices(face, locale, fields=fields, errors=exc.fields)
            return preferences_form(face, request, current, token, locale, 422, **values)
        values = await choices(face, locale, sub)
        return preferences_form(face, request, sub, token, locale, saved=True, **values)


def add_routes(router: APIRouter, face: SubscriberFace) -> None:
    pages = PreferencesPages(face)
    openapi.add_link_page(
        router,
        "/preferences/{token}",
        pages.preferences,
        pages.save_preferences,
        (400, 409, 410, 422),
        openapi.form(FIELD, "frequency", "topics", "language", lists=["topics"]),
    )
