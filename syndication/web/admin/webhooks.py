"""``/admin/webhooks``: event webhook endpoints, their latest attempts, and what an operator
does to them (add, switch on or off, send a test event, rotate the secret, remove).

A secret appears only in the answer to "add" and "rotate" (``no-store`` like every admin
page; never in a URL, a redirect, a flash message or a log line). Like the partners' key
rotation, each of those forms carries a one-time ``once`` value, so a reload of the answer
does not make a second endpoint or silently replace the secret just copied.
"""

from __future__ import annotations

import re
import secrets

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from syndication.services.event_hooks import (
    EVENT_TYPES,
    Endpoint,
    EndpointNotFound,
    EventHooks,
    InvalidEndpoint,
)
from syndication.store.once import OnceStore
from syndication.web.admin.kit import AdminError, AdminKit

ONCE_PURPOSE = "admin:webhook-once"
ONCE_TTL_S = 7 * 24 * 3600
ATTEMPTS_SHOWN = 10
_ID = re.compile(r"wh_[0-9a-f]{12}")
_ONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
ACTIONS = {
    "enable": "Switched on {id}.",
    "disable": "Switched off {id}.",
    "test": "Queued a test event for {id}.",
    "remove": "Removed {id}.",
}


def checked_id(endpoint_id: str) -> str:
    if not _ID.fullmatch(endpoint_id):
        raise AdminError(404, "There is no webhook endpoint with that id.")
    return endpoint_id


class WebhookPages:
    def __init__(self, kit: AdminKit) -> None:
        self.kit = kit
        self.onces = OnceStore(kit.ctx.client, kit.ctx.settings.key_prefix)

    @property
    def hooks(self) -> EventHooks:
        return self.kit.ctx.event_hooks

    async def index(self, request: Request) -> Response:
        views = await run_in_threadpool(self.hooks.endpoints.views, ATTEMPTS_SHOWN)
        return self.kit.page(
            request,
            "webhooks.html",
            title="Webhooks",
            active="webhooks",
            views=views,
            event_types=EVENT_TYPES,
            once=secrets.token_urlsafe(16),
        )

    async def _spend(self, form_once: str, subject: str) -> None:
        if not _ONCE.fullmatch(form_once):
            raise AdminError(400, "This form is out of date. Reload the webhooks page.")
        claimed = await run_in_threadpool(
            self.onces.claim, ONCE_PURPOSE, f"{subject}\x00{form_once}", ONCE_TTL_S
        )
        if not claimed:
            raise AdminError(
                409,
                "This form was already sent (the page was reloaded), so nothing was done "
                "again and no secret is shown a second time.",
                title="Already done",
            )

    async def add(self, request: Request) -> Response:
        form = await self.kit.form(request)
        await self._spend(str(form.get("once", "")), "add")
        events = [str(v) for v in form.getlist("events")]
        try:
            endpoint, secret = await run_in_threadpool(
                self.hooks.endpoints.add,
                str(form.get("url", "")),
                events,
                self.kit.now(),
                str(form.get("description", "")),
            )
        except InvalidEndpoint as exc:
            raise AdminError(400, f"Not added: {exc}.") from None
        return self._secret_page(request, endpoint, secret, "Endpoint added")

    async def rotate(self, request: Request, endpoint_id: str) -> Response:
        checked_id(endpoint_id)
        form = await self.kit.form(request)
        await self._spend(str(form.get("once", "")), endpoint_id)
        try:
            endpoint, secret = await run_in_threadpool(self.hooks.endpoints.rotate, endpoint_id)
        except EndpointNotFound:
            raise AdminError(404, "There is no webhook endpoint with that id.") from None
        return self._secret_page(request, endpoint, secret, "New secret")

    def _secret_page(
        self, request: Request, endpoint: Endpoint, secret: str, title: str
    ) -> Response:
        return self.kit.page(
            request,
            "webhook_secret.html",
            title=title,
            active="webhooks",
            endpoint=endpoint,
            secret=secret,
        )

    async def act(self, request: Request, endpoint_id: str, action: str) -> Response:
        checked_id(endpoint_id)
        if action not in ACTIONS:
            raise AdminError(404, "There is no such webhook action.")
        await self.kit.form(request)
        hooks = self.hooks
        run = {
            "enable": hooks.endpoints.enable,
            "disable": hooks.endpoints.disable,
            "test": hooks.outbox.send_test,
            "remove": hooks.endpoints.remove,
        }[action]
        try:
            await run_in_threadpool(run, endpoint_id)
        except EndpointNotFound:
            raise AdminError(404, "There is no webhook endpoint with that id.") from None
        return self.kit.redirect("/admin/webhooks", ACTIONS[action].format(id=endpoint_id))


def make_router(kit: AdminKit) -> APIRouter:
    router = kit.router(dependencies=[Depends(kit.require)])
    pages = WebhookPages(kit)
    router.add_api_route("/admin/webhooks", pages.index, methods=["GET"])
    router.add_api_route("/admin/webhooks", pages.add, methods=["POST"])
    router.add_api_route("/admin/webhooks/{endpoint_id}/rotate", pages.rotate, methods=["POST"])
    router.add_api_route("/admin/webhooks/{endpoint_id}/{action}", pages.act, methods=["POST"])
    return router
