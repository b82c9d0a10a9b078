"""The toolkit every ``/admin`` page module is built on (the editions pages included).

``AdminKit`` bundles what a page needs so no module repeats it: the ``require`` dependency
(signed-in operators only), ``page`` (render a template that extends ``web/admin/base.html``
with the nav, the one-time flash message and the CSRF field), ``form`` (read a POSTed form
and check its CSRF token), ``redirect`` (303 to a local ``/admin`` path only) and ``now``.

Refusals are raised as ``AdminError``, a Starlette ``HTTPException``: routes made with
``kit.router()`` (route class ``AdminRoute``) turn them into HTML pages; anywhere else the
app's JSON handler still answers with the same status and ``Location`` — so access control
never depends on the route class, only the look of the refusal does. ``AdminRoute`` also
puts the admin's security headers on every response (no caching, no framing).
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from syndication import tokens
from syndication.templating import environment
from syndication.web.errors import ApiError
from syndication.web.forms import read_form

if TYPE_CHECKING:
    from syndication.context import Context
    from syndication.web.admin.auth import AdminAuth, Session

FIELD = "csrf_token"
FORM_LIMIT = 256 * 1024
FLASH_PURPOSE = "admin-flash"
FLASH_TTL = timedelta(minutes=2)
FLASH_MAX = 400
SESSION_STATE = "admin_session"
NAV = (
    ("overview", "Overview", "/admin"),
    ("articles", "Articles", "/admin/articles"),
    ("feeds", "Feeds", "/admin/feeds"),
    ("editions", "Editions", "/admin/editions"),
    ("partners", "Partners", "/admin/partners"),
    ("subscribers", "Subscribers", "/admin/subscribers"),
    ("webhooks", "Webhooks", "/admin/webhooks"),
)
# A local admin path: "/admin", "/admin/…" or "/admin?…", built from URL-safe characters
# only (no "//", no backslash, no scheme, no control characters or spaces).
_SEGMENT = r"[A-Za-z0-9._~!$&'()*+,;=:@%-]+"
_QUERY = r"[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*"
_LOCAL = re.compile(rf"/admin(?:/{_SEGMENT})*/?(?:\?{_QUERY})?")


def is_admin_path(path: str) -> bool:
    """Whether ``path`` is a same-site ``/admin`` URL we may redirect to (no open redirects)."""
    return (
        len(path) <= 2000
        and bool(_LOCAL.fullmatch(path))
        and "//" not in path
        and "/." not in path.partition("?")[0]
    )


def safe_next(value: str | None) -> str:
    """The ``next`` parameter if it is a local admin path, else ``/admin``."""
    if value and is_admin_path(value) and not value.startswith(("/admin/login", "/admin/logout")):
        return value
    return "/admin"


def security_headers(nonce: str = "") -> dict[str, str]:
    """No caching (pages show counts and, once, a partner key), no framing, no leaks."""
    script = f"'nonce-{nonce}'" if nonce else "'none'"
    return {
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": (
            f"default-src 'none'; script-src {script}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
    }


class AdminError(StarletteHTTPException):
    """A refusal with a human message: a page in admin routes, JSON elsewhere.

    ``status`` 303 with ``location`` is a redirect (to the login page)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        title: str = "",
        location: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        all_headers = dict(headers or {})
        if location is not None:
            all_headers["Location"] = location
        super().__init__(status, message, all_headers or None)
        self.message = message
        self.title = title or _TITLES.get(status, "Something went wrong")
        self.location = location


_TITLES = {
    400: "This form could not be accepted",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    413: "Too large",
    429: "Too many attempts",
}


@dataclass
class AdminKit:
    """What every admin page module receives from ``make_router``.

    ``auth`` is the session manager (``syndication.web.admin.auth.AdminAuth``). Time is
    ``ctx.clock`` (``now()``), as for every web face: a test's Context carries its clock.
    """

    ctx: Context
    auth: AdminAuth

    # -- time ---------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.ctx.clock()

    # -- routers ------------------------------------------------------------------------
    def router(self, **options: Any) -> APIRouter:
        """An ``APIRouter`` (``options`` as for APIRouter: ``prefix``, ``dependencies`` …)
        whose routes render ``AdminError`` as admin pages and add the security headers."""
        return APIRouter(route_class=self.route_class, **options)

    @cached_property
    def route_class(self) -> type[AdminRoute]:
        kit = self

        class _Route(AdminRoute):
            admin_kit = kit

        return _Route

    # -- access -------------------------------------------------------------------------
    async def require(self, request: Request) -> Session:
        """FastAPI dependency: the signed-in operator's session, else a refusal.

        GET/HEAD → 303 to ``/admin/login?next=<this path>``; other methods → 401 page
        (a form posted after the session ended must not be replayed by a redirect).
        """
        from fastapi.concurrency import run_in_threadpool

        if not self.auth.enabled:
            raise AdminError(403, self.auth.disabled_reason(), title="The admin is disabled")
        session = await run_in_threadpool(self.auth.session, request, self.now())
        if session is None:
            if request.method in ("GET", "HEAD"):
                here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                target = "/admin/login"
                if is_admin_path(here) and here != "/admin":
                    target += "?next=" + quote(here, safe="/")
                raise AdminError(303, "Please sign in.", location=target)
            raise AdminError(
                401,
                "Your session has ended, so nothing was changed. Sign in and try again.",
            )
        request.state.admin_session = session
        return session

    # -- forms --------------------------------------------------------------------------
    def csrf_token(self, request: Request) -> str:
        """The CSRF token of this request's session ('' before ``require`` ran)."""
        session = getattr(request.state, SESSION_STATE, None)
        return "" if session is None else self.auth.csrf_token(session)

    async def form(self, request: Request) -> FormData:
        """The POSTed form (urlencoded or multipart, at most FORM_LIMIT bytes), after its
        CSRF token was checked against the session (constant time); else a 400 page."""
        session = getattr(request.state, SESSION_STATE, None)
        if session is None:
            session = await self.require(request)
        try:
            fields = await read_form(request, FORM_LIMIT)
        except ApiError as exc:
            raise AdminError(exc.status, exc.message) from None
        submitted = (fields.get(FIELD) or [""])[0]
        if not self.auth.csrf_ok(session, submitted):
            raise AdminError(
                400,
                "This form did not carry a valid security token (it may come from another "
                "site, or from a page opened before you last signed in), so nothing was "
                "changed. Go back, reload the page and send it again.",
            )
        return FormData([(k, v) for k, values in fields.items() for v in values if k != FIELD])

    # -- responses ----------------------------------------------------------------------
    def page(
        self,
        request: Request,
        template_name: str,
        *,
        status: int = 200,
        title: str,
        active: str = "",
        **values: Any,
    ) -> HTMLResponse:
        """Render ``templates/web/admin/<template_name>`` (it extends ``base.html``).

        Every template gets ``title``, ``active`` (the nav entry to mark), ``nav``,
        ``flash`` (the one-time message, if any), ``csrf_token``, ``csrf_field()``,
        ``csp_nonce`` (for a ``<script nonce=…>``), ``signed_in``, ``publisher`` and ``now``.
        """
        token = self.csrf_token(request)
        flash = self._take_flash(request)
        nonce = secrets.token_urlsafe(16)

        def csrf_field() -> Markup:
            return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, token)

        html = (
            environment()
            .get_template(f"web/admin/{template_name}")
            .render(
                title=title,
                active=active,
                nav=NAV,
                flash=flash,
                csrf_token=token,
                csrf_field=csrf_field,
                csp_nonce=nonce,
                signed_in=bool(token),
                publisher=self.ctx.settings.publisher,
                now=self.now(),
                **values,
            )
        )
        response = HTMLResponse(html, status, headers=security_headers(nonce))
        if flash:
            self.auth.delete_cookie(response, self.auth.flash_cookie)
        return response

    def redirect(self, path: str, flash: str | None = None) -> RedirectResponse:
        """303 to a local ``/admin`` path (anything else is a ValueError: no open
        redirects), with an optional one-time ``flash`` message for the next page."""
        if not is_admin_path(path):
            raise ValueError(f"not a local admin path: {path!r}")
        response = RedirectResponse(path, 303, headers=security_headers())
        if flash:
            self._set_flash(response, flash)
        return response

    def error_page(self, request: Request, exc: AdminError) -> Response:
        """How ``AdminRoute`` shows a refusal."""
        if exc.location is not None:
            response: Response = RedirectResponse(exc.location, exc.status_code)
        else:
            response = self.page(
                request,
                "error.html",
                status=exc.status_code,
                title=exc.title,
                message=exc.message,
            )
        for name, value in (exc.headers or {}).items():
            if name.lower() != "location":
                response.headers[name] = value
        return response

    # -- flash --------------------------------------------------------------------------
    def _set_flash(self, response: Response, text: str) -> None:
        text = " ".join(text.split())[:FLASH_MAX]
        subject = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
        value = tokens.sign(self.auth.secret, FLASH_PURPOSE, subject, self.now() + FLASH_TTL)
        self.auth.set_cookie(response, self.auth.flash_cookie, value, max_age=None)

    def _take_flash(self, request: Request) -> str:
        raw = request.cookies.get(self.auth.flash_cookie, "")
        if not raw or not self.auth.secret:
            return ""
        try:
            subject = tokens.verify(self.auth.secret, raw, FLASH_PURPOSE, self.now())
            return base64.urlsafe_b64decode(subject + "=" * (-len(subject) % 4)).decode()
        except (tokens.TokenError, ValueError):
            return ""


def invalid_values(exc: RequestValidationError) -> AdminError:
    """A 400 page naming the bad parameters (not echoing their values) for a bad address."""
    names = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
    listed = ", ".join(names) or "a value"
    return AdminError(400, f"This address has a value that is not valid ({listed}).")


class AdminRoute(APIRoute):
    """Renders ``AdminError`` as an admin page and adds the security headers to every answer."""

    admin_kit: AdminKit | None = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        kit = self.admin_kit

        async def admin_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except AdminError as exc:
                if kit is None:
                    raise
                response = kit.error_page(request, exc)
            except RequestValidationError as exc:
                # Only reached once ``require`` let the request in (dependencies run first).
                if kit is None:
                    raise
                response = kit.error_page(request, invalid_values(exc))
            for name, value in security_headers().items():
                if name not in response.headers:
                    response.headers[name] = value
            return response

        return admin_handler
