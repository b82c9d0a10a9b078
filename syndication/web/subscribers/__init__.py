"""Subscriber pages and endpoints: signup, confirm, preferences, unsubscribe, provider webhook.

Thin: parse the request, call ``SubscriptionService``, render a page. HTML forms work
without JavaScript; bodies are parsed by ``syndication.web.forms`` (urlencoded or
multipart/form-data, bounded in size) so no extra dependency is needed.

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

The pages, one module each: ``signup`` (the form and the JSON API), ``manage`` (the
preferences link by mail, for a reader without an old newsletter), ``confirm``,
``preferences``, ``unsubscribe`` (with RFC 8058 one-click) and ``webhooks`` (the mail
provider's bounces and complaints). Each has a small class whose methods are the routes
and an ``add_routes(router, face)``; what they share is ``face.SubscriberFace`` (the
dependencies, the page language, rendering, CSRF), ``messages`` (the message pages) and
``choices`` (the forms' options). Reading forms is ``syndication.web.forms``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from syndication.services.subscriptions import SubscriptionService
from syndication.web.subscribers import (
    confirm,
    manage,
    preferences,
    signup,
    unsubscribe,
    webhooks,
)
from syndication.web.subscribers.face import SubscriberFace

__all__ = ["SubscriberFace", "make_router"]


def make_router(ctx: Any, service: SubscriptionService | None = None) -> APIRouter:
    """Routes over ``service`` (default ``ctx.subscriptions``); ``ctx`` gives the settings."""
    router = APIRouter()
    face = SubscriberFace(ctx, service)
    for module in (signup, manage, confirm, preferences, unsubscribe, webhooks):
        module.add_routes(router, face)
    return router
