"""The subscriber pages' message pages: a title, a sentence, maybe a link onwards.

Each takes the ``SubscriberFace`` and the page's language: expired or tampered links
(``invalid_link``), subscribed, ended, unsubscribed, and the 429 "too many requests".
"""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from syndication import i18n
from syndication.services.subscriptions import LinkInvalid
from syndication.store.subscribers import Subscriber
from syndication.web.forms import Fields
from syndication.web.subscribers.face import SubscriberFace


def message(
    face: SubscriberFace,
    locale: str,
    title: str,
    text: str,
    status: int = 200,
    link: str = "",
    link_text: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return face.page(
        "message",
        locale,
        status,
        headers,
        title=title,
        text=text,
        link=link,
        link_text=link_text,
    )


def invalid_link(
    face: SubscriberFace, exc: LinkInvalid, locale: str, manage: bool = False
) -> HTMLResponse:
    """Expired or tampered links say which, and where to go from here."""
    _ = i18n.translations(locale).gettext
    signup = f"/subscribe?lang={locale}"
    if exc.expired:
        return message(
            face,
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
        face, locale, _("This link is not valid"), text, 400, signup, _("Go to the signup page")
    )


def confirmed_page(
    face: SubscriberFace, sub: Subscriber, locale: str, already: bool = False
) -> HTMLResponse:
    _ = i18n.translations(locale).gettext
    return message(
        face,
        locale,
        _("You are already subscribed") if already else _("You are subscribed"),
        _("%(name)s's %(frequency)s newsletter will come to %(email)s.")
        % {
            "name": face.publisher.name,
            "frequency": i18n.frequency_name(locale, sub.frequency),
            "email": sub.email,
        },
        link=f"{face.service.preferences_url(sub)}?lang={locale}",
        link_text=_("Change what you receive"),
    )


def ended_page(face: SubscriberFace, locale: str) -> HTMLResponse:
    _ = i18n.translations(locale).gettext
    return message(
        face,
        locale,
        _("This subscription has ended"),
        _("This address has left the list, so we will not send it anything."),
        409,
    )


def unsubscribed_page(
    face: SubscriberFace, sub: Subscriber, locale: str, just_now: bool
) -> HTMLResponse:
    """Says it is done, and where to come back (the preferences link offers a new signup)."""
    _ = i18n.translations(locale).gettext
    text = (
        _("We will not send newsletters to %(email)s again. Sorry to see you go.")
        if just_now
        else _("We will not send newsletters to %(email)s again.")
    )
    return message(
        face,
        locale,
        _("You are unsubscribed"),
        text % {"email": sub.email},
        link=f"{face.service.preferences_url(sub)}?lang={locale}",
        link_text=_("Changed your mind? Subscribe again"),
    )


def too_many(face: SubscriberFace, locale: str, retry_after: int) -> HTMLResponse:
    """The 429 page of a rate-limited form, with ``Retry-After``."""
    _ = i18n.translations(locale).gettext
    return message(
        face,
        locale,
        _("Too many requests"),
        _("Please wait %(seconds)s seconds and try again.") % {"seconds": retry_after},
        429,
        headers={"Retry-After": str(retry_after)},
    )


async def managed(
    face: SubscriberFace, request: Request, token: str, fields: Fields | None = None
) -> tuple[Subscriber, str] | HTMLResponse:
    """The subscriber a manage link names and the page's language, or, for a link that is
    not valid (any more), the page that says so: the start of every manage page."""
    try:
        sub = await run_in_threadpool(face.service.manage, token)
    except LinkInvalid as exc:
        return invalid_link(face, exc, face.locale(request, fields=fields), manage=True)
    return sub, face.locale(request, sub, fields)
