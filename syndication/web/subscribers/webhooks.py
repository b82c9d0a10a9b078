"""``POST /webhooks/email-events``: bounces and complaints from the mail provider.

Signed like the CMS webhooks (method, path, query, timestamp and body, each request
once), with the current secret key or, during a rollover, a previous one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from syndication.web import openapi
from syndication.web.api import read_body, require_signed
from syndication.web.errors import ApiError
from syndication.web.jsonbody import parse_json
from syndication.web.subscribers.face import SubscriberFace


class EmailEventsHook:
    """The provider webhook over one ``SubscriberFace``."""

    def __init__(self, face: SubscriberFace) -> None:
        self.face = face

    async def email_events(self, request: Request) -> JSONResponse:
        """Bounces and complaints from a mail provider (or the relay in front of it), signed
        like the CMS webhooks: method, path, query, timestamp and body, each request once."""
        settings = self.face.settings
        secret = settings.secret_key
        if not secret:
            raise ApiError(503, "webhooks are disabled: SYNDICATION_SECRET_KEY is not set")
        body = await read_body(request, settings.max_body_bytes)
        # During a key rollover the provider may still sign with the previous key.
        keys = (secret, *settings.previous_secret_keys)
        await require_signed(request, body, keys, self.face.ctx, "email-events")
        data = parse_json(body)
        events = data.get("events", [data]) if isinstance(data, dict) else data
        if not isinstance(events, list):
            raise ApiError(422, 'expected an event, a list of events, or {"events": [...]}')
        report = await run_in_threadpool(self.face.ctx.suppressions.record_events, events)
        return JSONResponse(report)


def add_routes(router: APIRouter, face: SubscriberFace) -> None:
    hook = EmailEventsHook(face)
    router.add_api_route(
        "/webhooks/email-events",
        hook.email_events,
        methods=["POST"],
        responses=openapi.errors(400, 401, 413, 422, 503),
        openapi_extra={
            **openapi.body({"anyOf": [{"type": "object"}, {"type": "array"}]}),
            "security": openapi.WEBHOOK_SECURITY,
        },
    )
