"""Subscriber pages and endpoints: signup, confirm, preferences, unsubscribe, provider webhook.

Thin: parse the request, call ``SubscriptionService``, render a page. HTML forms work
without JavaScript; bodies are parsed here (urlencoded or multipart/form-data, bounded in
size) so no extra dependency is needed.

- ``GET`` never changes anything: link scanners and mail-security bots fetch every URL in a
  message, so ``GET /confirm/{t}`` and ``GET /unsubscribe/{t}`` show a button, and only the
  ``POST`` acts. ``POST /unsubscribe/{t}`` is the RFC 8058 one-click endpoint: no session,
  no CSRF token, no redirect; the mail client posts ``List-Unsubscribe=One-Click`` and we
  act on the token alone (RFC 8058 §3.2). The page's own button posts a CSRF field instead.
- Token pages are ``no-store`` with ``Referrer-Policy: no-referrer`` (the token is in the
  URL) and cannot be framed (``frame-ancestors 'none'``: no clickjacking of the buttons).
- Every page is rendered from templates with autoescape on; nothing redirects, so there
  is no open redirect to abuse (the only links we build are our own paths).
- Pages are in English or Spanish (``syndication.i18n``): ``?lang=`` (the switcher's
  plain links, and a hidden ``lang`` field in every form), else the subscriber's own
  language on token pages, else ``Accept-Language``, else the publisher's language.
- The HTML forms (signup, confirm, preferences, the unsubscribe button) carry a CSRF field
  (``web/csrf.py``); a POST without a valid one gets a 400 page that says why and shows the
  form again. The one-click unsubscribe and the JSON API need none (see there).
- Expired and tampered links get a page in the reader's language that says which it is
  and where to go next (sign up again; the link in the latest newsletter).
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.background import BackgroundTask

from syndication import i18n
from syndication.i18n import N_
from syndication.services.subscriptions import (
    InvalidInput,
    LinkInvalid,
    RateLimited,
    SignupResult,
    SubscriptionService,
)
from syndication.store.subscribers import CONFIRMED, UNSUBSCRIBED, ConfirmOutcome, Subscriber
from syndication.templating import environment
from syndication.web import openapi
from syndication.web.api import ApiError, read_body, require_signed
from syndication.web.csrf import FIELD, Csrf, CsrfFailure
from syndication.web.jsonbody import parse_json

log = logging.getLogger(__name__)

FORM_LIMIT = 64 * 1024
FREQUENCY_LABELS = {
    "daily": N_("Daily digest"),
    "weekly": N_("Weekly digest"),
    "instant": N_("Each new article, as it is published"),
}
LANGUAGE_NAMES = i18n.LANGUAGE_NAMES
#: The language switcher: every locale with a catalog, each by its own name.
LOCALE_CHOICES = [(code, i18n.LANGUAGE_NAMES.get(code, code)) for code in i18n.LOCALES]
SIGNUP_FORM = "subscribe"
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
    default_locale = i18n.supported(publisher.language) or i18n.SOURCE
    secure = str(settings.public_url).lower().startswith("https://")

    def svc() -> SubscriptionService:
        return service if service is not None else ctx.subscriptions

    def csrf() -> Csrf:
        return Csrf(svc().secret, secure)

    def now() -> datetime:
        return svc().clock()

    def ui_locale(
        request: Request,
        sub: Subscriber | None = None,
        fields: dict[str, list[str]] | None = None,
    ) -> str:
        """``?lang=`` (or the form's ``lang``: the page it was posted from), then the
        subscriber's own language, then ``Accept-Language``, then the publisher's."""
        explicit = _first(fields, "lang") if fields else ""
        return (
            i18n.supported(explicit or request.query_params.get("lang"))
            or (i18n.supported(sub.language) if sub is not None else None)
            or i18n.negotiate(request.headers.get("accept-language"))
            or default_locale
        )

    def page(
        name: str,
        locale: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        notice: str = "",
        **values: Any,
    ) -> HTMLResponse:
        html = (
            environment()
            .get_template(f"web/subscribe/{name}.html")
            .render(
                publisher=publisher,
                locale=locale,
                locales=LOCALE_CHOICES,
                notice=notice,
                **values,
            )
        )
        return HTMLResponse(
            html,
            status,
            headers={
                **SECURITY_HEADERS,
                "Content-Language": locale,
                "Vary": "Accept-Language, Cookie",
                **(headers or {}),
            },
        )

    def form_page(
        request: Request, name: str, locale: str, form: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        """A page with a form and its CSRF field. The signup form's field is bound to the
        browser's nonce cookie (set here if new); a token page's form to its link only."""
        guard = csrf()
        if form != SIGNUP_FORM:
            return page(name, locale, status, csrf_token=guard.token(form, now()), **values)
        nonce, fresh = guard.nonce(request)
        response = page(name, locale, status, csrf_token=guard.token(form, now(), nonce), **values)
        if fresh:
            guard.set_cookie(response, nonce)
        return response

    def refused(
        request: Request, fields: dict[str, list[str]], form: str, locale: str
    ) -> str | None:
        """The 400 notice for a form whose CSRF field does not check out, else None."""
        submitted = _first(fields, FIELD)
        failure = csrf().check(request, submitted, form, now(), with_cookie=form == SIGNUP_FORM)
        if failure is None:
            return None
        log.info("form %s refused: CSRF %s", form.split(":")[0], failure.value)
        _ = i18n.translations(locale).gettext
        if failure is CsrfFailure.NO_COOKIE:
            return _(
                "We could not check that this form came from this site, because your browser "
                "did not send back our security cookie. Nothing was changed. Please allow "
                "cookies for this site and send the form again."
            )
        if failure is CsrfFailure.EXPIRED:
            return _(
                "This form was open for too long and has expired, so nothing was changed. "
                "Please check it and send it again."
            )
        return _(
            "We could not check that this form came from this site, so nothing was changed. "
            "Please send it again."
        )

    def message(
        locale: str,
        title: str,
        text: str,
        status: int = 200,
        link: str = "",
        link_text: str = "",
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        return page(
            "message",
            locale,
            status,
            headers,
            title=title,
            text=text,
            link=link,
            link_text=link_text,
        )

    def invalid_link(exc: LinkInvalid, locale: str, manage: bool = False) -> HTMLResponse:
        """Expired or tampered links say which, and where to go from here."""
        _ = i18n.translations(locale).gettext
        signup = f"/subscribe?lang={locale}"
        if exc.expired:
            return message(
                locale,
                _("This link has expired"),
                _(
                    "Confirmation links work for a limited time. Sign up again and we will "
                    "send you a fresh one."
                ),
                410,
                signup,
                _("Sign up again"),
            )
        if manage:
            text = _(
                "It may be incomplete (check that you copied all of it), or it has been "
                "replaced by a newer one: use the link at the bottom of the latest newsletter "
                "we sent you. If you no longer receive it, you can sign up again."
            )
        else:
            text = _(
                "It may be incomplete (check that you copied all of it) or it may have been "
                "replaced by a newer one. Sign up again to get a new confirmation link."
            )
        return message(
            locale, _("This link is not valid"), text, 400, signup, _("Go to the signup page")
        )

    def localised_errors(errors: dict[str, str], locale: str) -> dict[str, str]:
        """The service's field errors (English, for the API) as the page's language."""
        _ = i18n.translations(locale).gettext
        shown: dict[str, str] = {}
        for name in errors:
            if name == "email":
                shown[name] = _("enter a valid email address, like name@example.org")
            elif name == "frequency":
                labels = ", ".join(_(label) for label in FREQUENCY_LABELS.values())
                shown[name] = _("choose one of: %(choices)s") % {"choices": labels}
            elif name == "language":
                codes = svc().languages or (publisher.language,)
                names = ", ".join(i18n.LANGUAGE_NAMES.get(c, c) for c in codes)
                shown[name] = _("choose one of: %(choices)s") % {"choices": names}
            elif name == "topics":
                shown[name] = _("choose topics from the list")
            else:
                shown[name] = errors[name]
        return shown

    async def choices(
        locale: str,
        sub: Subscriber | None = None,
        fields: dict[str, list[str]] | None = None,
        errors: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        _ = i18n.translations(locale).gettext
        topics = await run_in_threadpool(svc().available_topics)
        languages = list(svc().languages) or [publisher.language]
        if fields is not None:
            frequency = _first(fields, "frequency")
            chosen_topics = fields.get("topics", [])
            language = _first(fields, "language")
        elif sub is not None:
            frequency, chosen_topics, language = sub.frequency, list(sub.topics), sub.language
        else:
            frequency, chosen_topics = svc().policy.default_frequency, []
            # A reader browsing in Spanish most likely wants the Spanish newsletter.
            language = locale if locale in languages else ""
        return {
            "frequencies": [(k, _(v)) for k, v in FREQUENCY_LABELS.items()],
            "topics": topics,
            "languages": languages,
            "language_names": i18n.LANGUAGE_NAMES,
            "chosen_frequency": frequency,
            "chosen_topics": chosen_topics,
            "chosen_language": language or publisher.language,
            "errors": localised_errors(errors or {}, locale),
        }

    def send_later(result: SignupResult) -> BackgroundTask:
        """After the response, queue the confirmation's task (``subscribe`` recorded the
        request already, so the page's "on its way" holds even if this fails: the workers'
        sweep queues it). The client learns nothing from how long queueing takes."""

        def run() -> None:
            try:
                svc().send(result)
            except Exception:  # the broker is away: the request waits in the ledger
                log.exception("confirmation task not queued; the sweep will queue it")

        return BackgroundTask(run)

    # -- signup --------------------------------------------------------------------------

    @router.get("/subscribe", response_class=HTMLResponse)
    async def subscribe_form(request: Request) -> HTMLResponse:
        locale = ui_locale(request)
        values = await choices(locale)
        return form_page(request, "form", locale, SIGNUP_FORM, email="", **values)

    @router.post(
        "/subscribe",
        response_class=HTMLResponse,
        responses=openapi.pages(400, 422, 429, json=(400, 413)),
        openapi_extra=openapi.form(
            FIELD, "email", "frequency", "topics", "language", lists=["topics"]
        ),
    )
    async def subscribe(request: Request) -> HTMLResponse:
        fields = await read_form(request)
        locale = ui_locale(request, fields=fields)
        email = _first(fields, "email")
        notice = refused(request, fields, SIGNUP_FORM, locale)
        if notice is not None:
            values = await choices(locale, fields=fields)
            return form_page(
                request,
                "form",
                locale,
                SIGNUP_FORM,
                400,
                notice=notice,
                email=email[:320],
                **values,
            )
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
            values = await choices(locale, fields=fields, errors=exc.fields)
            return form_page(request, "form", locale, SIGNUP_FORM, 422, email=email[:320], **values)
        except RateLimited as exc:
            _ = i18n.translations(locale).gettext
            return message(
                locale,
                _("Too many requests"),
                _("Please wait %(seconds)s seconds and try again.") % {"seconds": exc.retry_after},
                429,
                headers={"Retry-After": str(exc.retry_after)},
            )
        response = page("check_inbox", locale)
        response.background = send_later(result)
        return response

    @router.post(
        "/api/subscribers",
        status_code=202,
        responses={
            202: {"description": "Pending confirmation"},
            **openapi.errors(400, 413, 422, 429),
        },
        openapi_extra=openapi.body(
            {
                "type": "object",
                "required": ["email"],
                "properties": {
                    "email": {"type": "string"},
                    "frequency": {"type": "string"},
                    "topics": {"type": "array", "items": {"type": "string"}},
                    "language": {"type": "string"},
                },
            }
        ),
    )
    async def subscribe_api(request: Request) -> JSONResponse:
        """JSON, no cookies, so no CSRF: browsers cannot post JSON cross-site without a
        CORS preflight we never answer. Rate limited like the form."""
        data = parse_json(await read_body(request, FORM_LIMIT))
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

    def confirmed_page(sub: Subscriber, locale: str, already: bool = False) -> HTMLResponse:
        _ = i18n.translations(locale).gettext
        return message(
            locale,
            _("You are already subscribed") if already else _("You are subscribed"),
            _("%(name)s's %(frequency)s newsletter will come to %(email)s.")
            % {
                "name": publisher.name,
                "frequency": i18n.frequency_name(locale, sub.frequency),
                "email": sub.email,
            },
            link=f"{svc().preferences_url(sub)}?lang={locale}",
            link_text=_("Change what you receive"),
        )

    def ended_page(locale: str) -> HTMLResponse:
        _ = i18n.translations(locale).gettext
        return message(
            locale,
            _("This subscription has ended"),
            _("This address has left the list, so we will not send it anything."),
            409,
        )

    def unsubscribed_page(sub: Subscriber, locale: str, just_now: bool) -> HTMLResponse:
        _ = i18n.translations(locale).gettext
        text = (
            _("We will not send newsletters to %(email)s again. Sorry to see you go.")
            if just_now
            else _("We will not send newsletters to %(email)s again.")
        )
        return message(locale, _("You are unsubscribed"), text % {"email": sub.email})

    def confirm_form(
        request: Request,
        sub: Subscriber,
        token: str,
        locale: str,
        status: int = 200,
        notice: str = "",
    ) -> HTMLResponse:
        return form_page(
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

    link_pages = openapi.pages(400, 409, 410)

    @router.get("/confirm/{token}", response_class=HTMLResponse, responses=link_pages)
    async def confirm_page(request: Request, token: str) -> HTMLResponse:
        try:
            sub = await run_in_threadpool(svc().pending_confirmation, token)
        except LinkInvalid as exc:
            return invalid_link(exc, ui_locale(request))
        locale = ui_locale(request, sub)
        if sub.status == CONFIRMED:
            return confirmed_page(sub, locale, already=True)
        if sub.status == UNSUBSCRIBED:
            return ended_page(locale)
        return confirm_form(request, sub, token, locale)

    @router.post(
        "/confirm/{token}",
        response_class=HTMLResponse,
        responses=openapi.pages(400, 409, 410, json=(400, 413)),
        openapi_extra=openapi.form(FIELD),
    )
    async def confirm(request: Request, token: str) -> HTMLResponse:
        fields = await read_form(request)
        try:
            sub = await run_in_threadpool(svc().pending_confirmation, token)
        except LinkInvalid as exc:
            return invalid_link(exc, ui_locale(request, fields=fields))
        locale = ui_locale(request, sub, fields)
        if sub.status == CONFIRMED:  # nothing to change: no form to check
            return confirmed_page(sub, locale, already=True)
        if sub.status == UNSUBSCRIBED:
            return ended_page(locale)
        notice = refused(request, fields, f"confirm:{sub.id}", locale)
        if notice is not None:
            return confirm_form(request, sub, token, locale, 400, notice)
        try:
            outcome, done = await run_in_threadpool(svc().confirm, token)
        except LinkInvalid as exc:
            return invalid_link(exc, locale)
        if outcome is ConfirmOutcome.NOT_FOUND or done is None:
            return invalid_link(LinkInvalid("not found"), locale)
        if outcome is ConfirmOutcome.SUPPRESSED:
            return ended_page(locale)
        return confirmed_page(done, locale, already=outcome is ConfirmOutcome.ALREADY_CONFIRMED)

    # -- preferences ---------------------------------------------------------------------

    @router.get("/preferences/{token}", response_class=HTMLResponse, responses=link_pages)
    async def preferences(request: Request, token: str) -> HTMLResponse:
        try:
            sub = await run_in_threadpool(svc().manage, token)
        except LinkInvalid as exc:
            return invalid_link(exc, ui_locale(request), manage=True)
        locale = ui_locale(request, sub)
        if sub.status == UNSUBSCRIBED:
            return ended_page(locale)
        values = await choices(locale, sub)
        return form_page(
            request,
            "preferences",
            locale,
            f"preferences:{sub.id}",
            subscriber=sub,
            token=token,
            saved=False,
            **values,
        )

    @router.post(
        "/preferences/{token}",
        response_class=HTMLResponse,
        responses=openapi.pages(400, 409, 410, 422, json=(400, 413)),
        openapi_extra=openapi.form(FIELD, "frequency", "topics", "language", lists=["topics"]),
    )
    async def save_preferences(request: Request, token: str) -> HTMLResponse:
        fields = await read_form(request)
        try:
            current = await run_in_threadpool(svc().manage, token)
        except LinkInvalid as exc:
            return invalid_link(exc, ui_locale(request, fields=fields), manage=True)
        locale = ui_locale(request, current, fields)
        if current.status == UNSUBSCRIBED:
            return ended_page(locale)
        form = f"preferences:{current.id}"
        notice = refused(request, fields, form, locale)
        if notice is not None:
            values = await choices(locale, fields=fields)
            return form_page(
                request,
                "preferences",
                locale,
                form,
                400,
                notice=notice,
                subscriber=current,
                token=token,
                saved=False,
                **values,
            )
        try:
            sub = await run_in_threadpool(
                svc().update_preferences,
                token,
                _first(fields, "frequency") or None,
                fields.get("topics", []),
                _first(fields, "language") or None,
            )
        except LinkInvalid as exc:
            return invalid_link(exc, locale, manage=True)
        except InvalidInput as exc:
            values = await choices(locale, fields=fields, errors=exc.fields)
            return form_page(
                request,
                "preferences",
                locale,
                form,
                422,
                subscriber=current,
                token=token,
                saved=False,
                **values,
            )
        values = await choices(locale, sub)
        return form_page(
            request,
            "preferences",
            locale,
            form,
            subscriber=sub,
            token=token,
            saved=True,
            **values,
        )

    # -- unsubscribe ---------------------------------------------------------------------

    def unsubscribe_form(
        request: Request,
        sub: Subscriber,
        token: str,
        locale: str,
        status: int = 200,
        notice: str = "",
    ) -> HTMLResponse:
        return form_page(
            request,
            "unsubscribe",
            locale,
            f"unsubscribe:{sub.id}",
            status,
            notice=notice,
            subscriber=sub,
            token=token,
        )

    @router.get("/unsubscribe/{token}", response_class=HTMLResponse, responses=link_pages)
    async def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
        """Shows the button only: a GET never unsubscribes (scanners follow every link)."""
        try:
            sub = await run_in_threadpool(svc().manage, token)
        except LinkInvalid as exc:
            return invalid_link(exc, ui_locale(request), manage=True)
        locale = ui_locale(request, sub)
        if sub.status == UNSUBSCRIBED:
            return unsubscribed_page(sub, locale, just_now=False)
        return unsubscribe_form(request, sub, token, locale)

    @router.post(
        "/unsubscribe/{token}",
        response_class=HTMLResponse,
        responses=openapi.pages(400, 409, 410, json=(400, 413)),
        openapi_extra=openapi.form(FIELD, "List-Unsubscribe"),
    )
    async def unsubscribe(request: Request, token: str) -> HTMLResponse:
        """RFC 8058 one-click (body ``List-Unsubscribe=One-Click``): the token alone
        authorises it, no cookie, no CSRF field. The page's button posts a CSRF field."""
        fields = await read_form(request)
        one_click = [v.strip() for v in fields.get("List-Unsubscribe", [])] == ["One-Click"]
        try:
            sub = await run_in_threadpool(svc().manage, token)
        except LinkInvalid as exc:
            return invalid_link(exc, ui_locale(request, fields=fields), manage=True)
        locale = ui_locale(request, sub, fields)
        if not one_click and sub.status != UNSUBSCRIBED:
            notice = refused(request, fields, f"unsubscribe:{sub.id}", locale)
            if notice is not None:
                return unsubscribe_form(request, sub, token, locale, 400, notice)
        try:
            done = await run_in_threadpool(svc().unsubscribe, token)
        except LinkInvalid as exc:
            return invalid_link(exc, locale, manage=True)
        return unsubscribed_page(done, locale, just_now=True)

    # -- provider webhook ----------------------------------------------------------------

    @router.post(
        "/webhooks/email-events",
        responses=openapi.errors(400, 401, 413, 422, 503),
        openapi_extra={
            **openapi.body({"anyOf": [{"type": "object"}, {"type": "array"}]}),
            "security": openapi.WEBHOOK_SECURITY,
        },
    )
    async def email_events(request: Request) -> JSONResponse:
        """Bounces and complaints from a mail provider (or the relay in front of it), signed
        like the CMS webhooks: method, path, query, timestamp and body, each request once."""
        secret = settings.secret_key
        if not secret:
            raise ApiError(503, "webhooks are disabled: SYNDICATION_SECRET_KEY is not set")
        body = await read_body(request, settings.max_body_bytes)
        # During a key rollover the provider may still sign with the previous key.
        keys = (secret, *settings.previous_secret_keys)
        await require_signed(request, body, keys, ctx, "email-events")
        data = parse_json(body)
        events = data.get("events", [data]) if isinstance(data, dict) else data
        if not isinstance(events, list):
            raise ApiError(422, 'expected an event, a list of events, or {"events": [...]}')
        report = await run_in_threadpool(svc().record_events, events)
        return JSONResponse(report)

    return router
