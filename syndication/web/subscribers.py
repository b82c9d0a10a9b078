"""Subscriber pages and endpoints: signup, confirm, preferences, unsubscribe, provider webhook.

Thin: parse the request, call ``SubscriptionService``, render a page. HTML forms work
without JavaScript; bodies are parsed here (urlencoded or multipart/form-data, bounded in
size) so no extra dependency is needed.

- ``GET`` never changes anything: link scanners and mail-security bots fetch every URL in a
  message, so ``GET /confirm/{t}`` and ``GET /unsubscribe/{t}`` show a button, and only the
  ``POST`` acts. ``POST /unsubscribe/{t}`` is the RFC 8058 one-click endpoint: no session,
  no CSRF token, no redirect; the mail client posts ``List-Unsubscribe=One-Click`` and we
  act on the token alone (RFC 8058 §3.2), so any POST with a valid token unsubscribes.
- Token pages are ``no-store`` with ``Referrer-Policy: no-referrer`` (the token is in the
  URL) and cannot be framed (``frame-ancestors 'none'``: no clickjacking of the buttons).
- Every page is rendered from templates with autoescape on; nothing redirects, so there
  is no open redirect to abuse.
"""

from __future__ import annotations

import json
import logging
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.background import BackgroundTask

from syndication.services.subscriptions import (
    InvalidInput,
    LinkInvalid,
    MailUnavailable,
    RateLimited,
    SignupResult,
    SubscriptionService,
)
from syndication.store.subscribers import CONFIRMED, UNSUBSCRIBED, ConfirmOutcome, Subscriber
from syndication.templating import environment
from syndication.web.api import ApiError, read_body
from syndication.web.auth import SIGNATURE_HEADER, signature_ok

log = logging.getLogger(__name__)

FORM_LIMIT = 64 * 1024
FREQUENCY_LABELS = {
    "daily": "Daily digest",
    "weekly": "Weekly digest",
    "instant": "Each new article, as it is published",
}
LANGUAGE_NAMES = {"en": "English", "es": "Español", "pt": "Português", "fr": "Français"}
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}
CHECK_INBOX = (
    "If this address can receive our newsletter, a message to confirm the subscription "
    "is on its way."
)


async def read_form(request: Request, limit: int = FORM_LIMIT) -> dict[str, list[str]]:
    """Fields of an ``application/x-www-form-urlencoded`` or ``multipart/form-data`` body."""
    body = await read_body(request, limit)
    ctype = request.headers.get("content-type", "")
    if ctype.lower().startswith("multipart/form-data"):
        head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
        msg = BytesParser(policy=HTTP).parsebytes(head + body)
        fields: dict[str, list[str]] = {}
        if msg.is_multipart():
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if isinstance(name, str) and part.get_filename() is None:
                    payload = part.get_payload(decode=True)
                    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
                    fields.setdefault(name, []).append(text)
        return fields
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "form body is not valid UTF-8") from None
    return parse_qs(text, keep_blank_values=True, max_num_fields=200)


def _first(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0]


def client_ip(request: Request) -> str:
    """The peer as uvicorn reports it (``--forwarded-allow-ips`` decides trusted proxies)."""
    return request.client.host if request.client else ""


def make_router(ctx: Any, service: SubscriptionService | None = None) -> APIRouter:
    """Routes over ``service`` (default ``ctx.subscriptions``); ``ctx`` gives the settings."""
    router = APIRouter()
    settings = ctx.settings
    publisher = settings.publisher

    def svc() -> SubscriptionService:
        return service if service is not None else ctx.subscriptions

    def page(
        name: str, status: int = 200, headers: dict[str, str] | None = None, **values: Any
    ) -> HTMLResponse:
        html = (
            environment()
            .get_template(f"web/subscribe/{name}.html")
            .render(
                publisher=publisher,
                language=values.pop("language", publisher.language),
                **values,
            )
        )
        return HTMLResponse(html, status, headers={**SECURITY_HEADERS, **(headers or {})})

    def message(
        title: str,
        text: str,
        status: int = 200,
        link: str = "",
        link_text: str = "",
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        return page(
            "message", status, headers, title=title, text=text, link=link, link_text=link_text
        )

    def invalid_link(exc: LinkInvalid) -> HTMLResponse:
        if exc.expired:
            return message(
                "This link has expired",
                "Confirmation links work for a limited time. Sign up again and we will "
                "send you a fresh one.",
                410,
                "/subscribe",
                "Sign up again",
            )
        return message(
            "This link is not valid",
            "It may be incomplete (check that you copied all of it) or it may have been "
            "replaced by a newer one.",
            400,
            "/subscribe",
            "Go to the signup page",
        )

    async def choices(
        sub: Subscriber | None = None,
        fields: dict[str, list[str]] | None = None,
        errors: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        topics = await run_in_threadpool(svc().available_topics)
        if fields is not None:
            frequency = _first(fields, "frequency")
            chosen_topics = fields.get("topics", [])
            language = _first(fields, "language")
        elif sub is not None:
            frequency, chosen_topics, language = sub.frequency, list(sub.topics), sub.language
        else:
            frequency, chosen_topics, language = svc().policy.default_frequency, [], ""
        return {
            "frequencies": list(FREQUENCY_LABELS.items()),
            "topics": topics,
            "languages": list(svc().languages) or [publisher.language],
            "language_names": LANGUAGE_NAMES,
            "chosen_frequency": frequency,
            "chosen_topics": chosen_topics,
            "chosen_language": language or publisher.language,
            "errors": errors or {},
        }

    def send_later(result: SignupResult) -> BackgroundTask:
        """After the response: the client learns nothing from how long sending takes."""

        def run() -> None:
            try:
                svc().send(result)
            except MailUnavailable as exc:
                log.error("confirmation not sent: %s", exc)

        return BackgroundTask(run)

    # -- signup --------------------------------------------------------------------------

    @router.get("/subscribe", response_class=HTMLResponse)
    async def subscribe_form() -> HTMLResponse:
        return page("form", email="", **(await choices()))

    @router.post("/subscribe", response_class=HTMLResponse)
    async def subscribe(request: Request) -> HTMLResponse:
        fields = await read_form(request)
        email = _first(fields, "email")
        try:
            result = await run_in_threadpool(
                svc().subscribe,
                email,
                _first(fields, "frequency") or None,
                fields.get("topics", []),
                _first(fields, "language") or None,
                ip=client_ip(request),
                source="web form",
            )
        except InvalidInput as exc:
            values = await choices(fields=fields, errors=exc.fields)
            return page("form", 422, email=email[:320], **values)
        except RateLimited as exc:
            return message(
                "Too many requests",
                f"Please wait {exc.retry_after} seconds and try again.",
                429,
                headers={"Retry-After": str(exc.retry_after)},
            )
        response = page("check_inbox")
        response.background = send_later(result)
        return response

    @router.post("/api/subscribers")
    async def subscribe_api(request: Request) -> JSONResponse:
        body = await read_body(request, FORM_LIMIT)
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError(400, "body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(422, "body must be a JSON object: {email, frequency, topics, language}")
        topics = data.get("topics") or []
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise ApiError(
                422,
                "invalid subscription: topics",
                fields=[{"field": "topics", "message": "must be a list of topic slugs"}],
            )
        try:
            result = await run_in_threadpool(
                svc().subscribe,
                str(data.get("email", "")),
                str(data["frequency"]) if data.get("frequency") else None,
                topics,
                str(data["language"]) if data.get("language") else None,
                ip=client_ip(request),
                source="api",
            )
        except InvalidInput as exc:
            fields = [{"field": k, "message": v} for k, v in exc.fields.items()]
            names = ", ".join(exc.fields)
            raise ApiError(422, f"invalid subscription: {names}", fields=fields) from None
        except RateLimited as exc:
            raise ApiError(429, str(exc), retry_after=exc.retry_after) from None
        return JSONResponse(
            {"status": "pending", "message": CHECK_INBOX},
            202,
            background=send_later(result),
        )

    # -- confirm -------------------------------------------------------------------------

    def confirmed_page(sub: Subscriber, already: bool = False) -> HTMLResponse:
        return message(
            "You are already subscribed" if already else "You are subscribed",
            f"{publisher.name}'s {sub.frequency} newsletter will come to {sub.email}.",
            link=svc().preferences_url(sub),
            link_text="Change what you receive",
        )

    def ended_page() -> HTMLResponse:
        return message(
            "This subscription has ended",
            "This address has left the list, so we will not send it anything.",
            409,
        )

    @router.get("/confirm/{token}", response_class=HTMLResponse)
    async def confirm_page(token: str) -> HTMLResponse:
        try:
            sub = await run_in_threadpool(svc().pending_confirmation, token)
        except LinkInvalid as exc:
            return invalid_link(exc)
        if sub.status == CONFIRMED:
            return confirmed_page(sub, already=True)
        if sub.status == UNSUBSCRIBED:
            return ended_page()
        return page("confirm", subscriber=sub, token=token, language=sub.language)

    @router.post("/confirm/{token}", response_class=HTMLResponse)
    async def confirm(token: str) -> HTMLResponse:
        try:
            outcome, sub = await run_in_threadpool(svc().confirm, token)
        except LinkInvalid as exc:
            return invalid_link(exc)
        if outcome is ConfirmOutcome.NOT_FOUND or sub is None:
            return invalid_link(LinkInvalid("not found"))
        if outcome is ConfirmOutcome.SUPPRESSED:
            return ended_page()
        return confirmed_page(sub, already=outcome is ConfirmOutcome.ALREADY_CONFIRMED)

    # -- preferences ---------------------------------------------------------------------

    @router.get("/preferences/{token}", response_class=HTMLResponse)
    async def preferences(token: str) -> HTMLResponse:
        try:
            sub = await run_in_threadpool(svc().manage, token)
        except LinkInvalid as exc:
            return invalid_link(exc)
        if sub.status == UNSUBSCRIBED:
            return ended_page()
        values = await choices(sub)
        return page(
            "preferences", subscriber=sub, token=token, saved=False, language=sub.language, **values
        )

    @router.post("/preferences/{token}", response_class=HTMLResponse)
    async def save_preferences(request: Request, token: str) -> HTMLResponse:
        fields = await read_form(request)
        try:
            sub = await run_in_threadpool(
                svc().update_preferences,
                token,
                _first(fields, "frequency") or None,
                fields.get("topics", []),
                _first(fields, "language") or None,
            )
        except LinkInvalid as exc:
            return invalid_link(exc)
        except InvalidInput as exc:
            current = await run_in_threadpool(svc().manage, token)
            values = await choices(fields=fields, errors=exc.fields)
            return page("preferences", 422, subscriber=current, token=token, saved=False, **values)
        values = await choices(sub)
        return page(
            "preferences", subscriber=sub, token=token, saved=True, language=sub.language, **values
        )

    # -- unsubscribe ---------------------------------------------------------------------

    @router.get("/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe_page(token: str) -> HTMLResponse:
        """Shows the button only: a GET never unsubscribes (scanners follow every link)."""
        try:
            sub = await run_in_threadpool(svc().manage, token)
        except LinkInvalid as exc:
            return invalid_link(exc)
        if sub.status == UNSUBSCRIBED:
            return message(
                "You are unsubscribed", f"We will not send newsletters to {sub.email} again."
            )
        return page("unsubscribe", subscriber=sub, token=token, language=sub.language)

    @router.post("/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe(token: str) -> HTMLResponse:
        """RFC 8058 one-click (and the page's button): the token alone authorises it."""
        try:
            sub = await run_in_threadpool(svc().unsubscribe, token)
        except LinkInvalid as exc:
            return invalid_link(exc)
        return message(
            "You are unsubscribed",
            f"We will not send newsletters to {sub.email} again. Sorry to see you go.",
        )

    # -- provider webhook ----------------------------------------------------------------

    @router.post("/webhooks/email-events")
    async def email_events(request: Request) -> JSONResponse:
        """Bounces and complaints from a mail provider, signed like the CMS webhooks."""
        secret = settings.secret_key
        if not secret:
            raise ApiError(503, "webhooks are disabled: SYNDICATION_SECRET_KEY is not set")
        body = await read_body(request, settings.max_body_bytes)
        if not signature_ok(request.headers.get(SIGNATURE_HEADER), body, secret):
            raise ApiError(401, f"missing or wrong {SIGNATURE_HEADER} (HMAC-SHA256 of the body)")
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError(400, "body is not valid JSON") from None
        events = data.get("events", [data]) if isinstance(data, dict) else data
        if not isinstance(events, list):
            raise ApiError(422, 'expected an event, a list of events, or {"events": [...]}')
        report = await run_in_threadpool(svc().record_events, events)
        return JSONResponse(report)

    return router
