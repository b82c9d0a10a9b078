"""``GET/POST /admin/login`` and ``POST /admin/logout``: the sign-in pages.

They use both halves: ``auth.AdminAuth`` (password, sessions, the login form's CSRF
cookie, throttling) and the ``AdminKit`` (pages, redirects, ``AdminError``). Kept apart
from ``auth.py`` so that ``kit.py`` builds on ``auth.py`` and nothing imports back.
"""

from __future__ import annotations

import logging
import math

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from syndication.web.admin.auth import LOGIN_FORM
from syndication.web.admin.kit import AdminError, AdminKit, safe_next
from syndication.web.csrf import CsrfFailure
from syndication.web.errors import ApiError
from syndication.web.forms import client_ip, read_form

#: The sign-in events keep the logger they had when they lived in auth.py.
log = logging.getLogger("syndication.web.admin.auth")

LOGIN_CSRF_MESSAGES = {
    CsrfFailure.NO_COOKIE: "Your browser did not send back our security cookie, so we could "
    "not check that this form came from this site. Allow cookies for this site and try again.",
    CsrfFailure.EXPIRED: "The sign-in form was open for too long. Please try again.",
    CsrfFailure.INVALID: "We could not check that this form came from this site. Please try again.",
}


class LoginPages:
    """``GET/POST /admin/login`` and ``POST /admin/logout`` over one ``AdminKit``."""

    def __init__(self, kit: AdminKit) -> None:
        self.kit = kit
        self.auth = kit.auth

    def login_page(
        self, request: Request, next_path: str, status: int = 200, error: str = ""
    ) -> Response:
        guard = self.auth.login_csrf
        nonce, fresh = guard.nonce(request)
        response = self.kit.page(
            request,
            "login.html",
            status=status,
            title="Sign in",
            next_path=next_path,
            login_token=guard.token(LOGIN_FORM, self.kit.now(), nonce),
            error=error,
        )
        if fresh:
            guard.set_cookie(response, nonce)
        return response

    def require_enabled(self) -> None:
        if not self.auth.enabled:
            raise AdminError(403, self.auth.disabled_reason(), title="The admin is disabled")

    async def login_form(self, request: Request) -> Response:
        self.require_enabled()
        next_path = safe_next(request.query_params.get("next"))
        if await run_in_threadpool(self.auth.session, request, self.kit.now()) is not None:
            return self.kit.redirect(next_path)
        return self.login_page(request, next_path)

    async def login(self, request: Request) -> Response:
        auth, kit = self.auth, self.kit
        self.require_enabled()
        ip = client_ip(request)
        await self.throttle(ip)
        fields = await self.read_login_form(request)
        next_path = safe_next((fields.get("next") or [""])[0])
        failure = auth.login_csrf.check(
            request, (fields.get("csrf_token") or [""])[0], LOGIN_FORM, kit.now()
        )
        if failure is not None:
            return self.login_page(request, next_path, 400, LOGIN_CSRF_MESSAGES[failure])
        password = (fields.get("password") or [""])[0]
        if not await run_in_threadpool(auth.check_password, password):
            log.warning("admin login failed", extra={"client": ip})
            return self.login_page(request, next_path, 401, "That password is not right.")
        # A session id the browser already had must not survive sign-in (fixation): end it
        # server-side too, not just by overwriting the cookie.
        previous = await run_in_threadpool(auth.session, request, kit.now())
        if previous is not None:
            await run_in_threadpool(auth.end, previous)
        _, cookie = await run_in_threadpool(auth.start, ip, kit.now())
        log.info("admin signed in", extra={"client": ip})
        response = kit.redirect(next_path)
        auth.set_cookie(response, auth.session_cookie, cookie, math.ceil(auth.ttl.total_seconds()))
        return response

    async def throttle(self, ip: str) -> None:
        """Count this attempt; past the limit, a 429 page with ``Retry-After``."""
        allowed, retry = await run_in_threadpool(self.auth.allow_attempt, ip, self.kit.now())
        if not allowed:
            log.warning("admin login throttled", extra={"client": ip})
            raise AdminError(
                429,
                f"Too many sign-in attempts from your address. Wait {retry} seconds and try again.",
                headers={"Retry-After": str(retry)},
            )

    @staticmethod
    async def read_login_form(request: Request) -> dict[str, list[str]]:
        """The sign-in form (at most 16 KiB); a bad body is an admin page, not JSON."""
        try:
            return await read_form(request, 16 * 1024)
        except ApiError as exc:
            raise AdminError(exc.status, exc.message) from None

    async def logout(self, request: Request) -> Response:
        await self.kit.form(request)
        await run_in_threadpool(self.auth.end, request.state.admin_session)
        response = self.kit.redirect("/admin/login", "You are signed out.")
        self.auth.delete_cookie(response, self.auth.session_cookie)
        return response


def add_routes(router: APIRouter, kit: AdminKit) -> None:
    """``GET/POST /admin/login`` and ``POST /admin/logout``."""
    pages = LoginPages(kit)
    router.add_api_route("/admin/login", pages.login_form, methods=["GET"])
    router.add_api_route("/admin/login", pages.login, methods=["POST"])
    router.add_api_route(
        "/admin/logout", pages.logout, methods=["POST"], dependencies=[Depends(kit.require)]
    )
