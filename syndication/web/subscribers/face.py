"""What every subscriber page needs: ``SubscriberFace``, built once by ``make_router``.

The face holds the dependencies (the settings and the ``SubscriptionService``) and the
helpers the pages share: the page's language, rendering a page with the token pages'
security headers, a form page with its CSRF field, and the CSRF check of a posted form.
Route classes (``signup.py``, ``confirm.py`` …) receive it in their constructor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from syndication import i18n
from syndication.config import Publisher, Settings
from syndication.services.subscriptions import SubscriptionService
from syndication.store.subscribers import Subscriber
from syndication.templating import environment
from syndication.web.csrf import FIELD, Csrf, CsrfFailure
from syndication.web.forms import Fields, first

log = logging.getLogger("syndication.web.subscribers")

#: The language switcher: every locale with a catalog, each by its own name.
LOCALE_CHOICES = [(code, i18n.LANGUAGE_NAMES.get(code, code)) for code in i18n.LOCALES]
SIGNUP_FORM = "subscribe"
MANAGE_FORM = "manage"
#: Forms with no token in their URL: their CSRF field is bound to the browser's nonce cookie.
NONCE_FORMS = (SIGNUP_FORM, MANAGE_FORM)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class SubscriberFace:
    """The subscriber pages' dependencies: ``ctx`` (for its settings and, unless
    ``override`` is given, its ``subscriptions`` service)."""

    ctx: Any
    override: SubscriptionService | None = None

    # -- dependencies --------------------------------------------------------------------
    @property
    def service(self) -> SubscriptionService:
        return self.override if self.override is not None else self.ctx.subscriptions

    @property
    def settings(self) -> Settings:
        settings: Settings = self.ctx.settings
        return settings

    @property
    def publisher(self) -> Publisher:
        return self.settings.publisher

    @property
    def default_locale(self) -> str:
        return i18n.supported(self.publisher.language) or i18n.SOURCE

    def csrf(self) -> Csrf:
        secure = self.settings.https
        return Csrf(self.service.secret, secure)

    def now(self) -> datetime:
        return self.service.clock()

    # -- language ------------------------------------------------------------------------
    def locale(
        self, request: Request, sub: Subscriber | None = None, fields: Fields | None = None
    ) -> str:
        """``?lang=`` (or the form's ``lang``: the page it was posted from), then the
        subscriber's own language, then ``Accept-Language``, then the publisher's."""
        explicit = first(fields, "lang") if fields else ""
        return (
            i18n.supported(explicit or request.query_params.get("lang"))
            or (i18n.supported(sub.language) if sub is not None else None)
            or i18n.negotiate(request.headers.get("accept-language"))
            or self.default_locale
        )

    # -- pages ---------------------------------------------------------------------------
    def page(
        self,
        name: str,
        locale: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        notice: str = "",
        **values: Any,
    ) -> HTMLResponse:
        """``templates/web/subscribe/<name>.html`` in ``locale``, with the security headers."""
        html = (
            environment()
            .get_template(f"web/subscribe/{name}.html")
            .render(
                publisher=self.publisher,
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
        self, request: Request, name: str, locale: str, form: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        """A page with a form and its CSRF field. The signup and manage forms' field is bound
        to the browser's nonce cookie (set here if new); a token page's form to its link only."""
        guard = self.csrf()
        if form not in NONCE_FORMS:
            token = guard.token(form, self.now())
            return self.page(name, locale, status, csrf_token=token, **values)
        nonce, fresh = guard.nonce(request)
        token = guard.token(form, self.now(), nonce)
        response = self.page(name, locale, status, csrf_token=token, **values)
        if fresh:
            guard.set_cookie(response, nonce)
        return response

    # -- CSRF ----------------------------------------------------------------------------
    def refused(self, request: Request, fields: Fields, form: str, locale: str) -> str | None:
        """The 400 notice for a form whose CSRF field does not check out, else None."""
        submitted = first(fields, FIELD)
        failure = self.csrf().check(
            request, submitted, form, self.now(), with_cookie=form in NONCE_FORMS
        )
        if failure is None:
            return None
        log.info("form %s refused: CSRF %s", form.split(":")[0], failure.value)
        return csrf_notice(failure, locale)


def csrf_notice(failure: CsrfFailure, locale: str) -> str:
    """What the 400 page says about a refused form, in the page's language."""
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
