"""Signing up: ``GET/POST /subscribe`` (the HTML form) and ``POST /api/subscribers`` (JSON).

Both record the request with ``SubscriptionService.subscribe`` and queue the confirmation
after the response (``send_later``). The form carries a CSRF field bound to the browser's
nonce cookie; the JSON API needs none (no cookies; browsers cannot post JSON cross-site
without a CORS preflight we never answer). Both are rate limited by the service.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.background import BackgroundTask

from syndication.services.subscriptions import InvalidInput, RateLimited, SignupResult
from syndication.web import openapi
from syndication.web.api import read_body
from syndication.web.csrf import FIELD
from syndication.web.errors import ApiError
from syndication.web.forms import FORM_LIMIT, client_ip, first, read_form
from syndication.web.jsonbody import parse_json
from syndication.web.subscribers.choices import choices
from syndication.web.subscribers.face import SIGNUP_FORM, SubscriberFace, log
from syndication.web.subscribers.messages import too_many

CHECK_INBOX = (
    "If this address can receive our newsletter, a message to confirm the subscription "
    "is on its way."
)
API_BODY = {
    "type": "object",
    "required": ["email"],
    "properties": {
        "email": {"type": "string"},
        "frequency": {"type": "string"},
        "topics": {"type": "array", "items": {"type": "string"}},
        "language": {"type": "string"},
    },
}


def send_later(face: SubscriberFace, result: SignupResult) -> BackgroundTask:
    """After the response, queue the confirmation's task (``subscribe`` recorded the
    request already, so the page's "on its way" holds even if this fails: the workers'
    sweep queues it). The client learns nothing from how long queueing takes."""

    def run() -> None:
        try:
            face.service.send(result)
        except Exception:  # the broker is away: the request waits in the ledger
            log.exception("confirmation task not queued; the sweep will queue it")

    return BackgroundTask(run)


def api_topics(data: dict[str, object]) -> list[str]:
    """The JSON body's ``topics``: a list of strings, else a 422."""
    topics = data.get("topics") or []
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise ApiError(
            422,
            "invalid subscription: topics",
            fields=[{"field": "topics", "message": "must be a list of topic slugs"}],
        )
    return topics


class SignupPages:
    """The signup routes over one ``SubscriberFace``."""

    def __init__(self, face: SubscriberFace) -> None:
        self.face = face

    async def subscribe_form(self, request: Request) -> HTMLResponse:
        face = self.face
        locale = face.locale(request)
        values = await choices(face, locale)
        return face.form_page(request, "form", locale, SIGNUP_FORM, email="", **values)

    async def subscribe(self, request: Request) -> HTMLResponse:
        face = self.face
        fields = await read_form(request)
        locale = face.locale(request, fields=fields)
        email = first(fields, "email")
        notice = face.refused(request, fields, SIGNUP_FORM, locale)
        if notice is not None:
            values = await choices(face, locale, fields=fields)
            return face.form_page(
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
                face.service.subscribe,
                email,
                first(fields, "frequency") or None,
                fields.get("topics", []),
                first(fields, "language") or None,
                ip=client_ip(request),
                source="web form",
            )
        except InvalidInput as exc:
            values = await choices(face, locale, fields=fields, errors=exc.fields)
            return face.form_page(
                request, "form", locale, SIGNUP_FORM, 422, email=email[:320], **values
            )
        except RateLimited as exc:
            return too_many(face, locale, exc.retry_after)
        response = face.page("check_inbox", locale)
        response.background = send_later(face, result)
        return response

    async def subscribe_api(self, request: Request) -> JSONResponse:
        """JSON, no cookies, so no CSRF: browsers cannot post JSON cross-site without a
        CORS preflight we never answer. Rate limited like the form."""
        data = parse_json(await read_body(request, FORM_LIMIT))
        if not isinstance(data, dict):
            raise ApiError(422, "body must be a JSON object: {email, frequency, topics, language}")
        topics = api_topics(data)
        try:
            result = await run_in_threadpool(
                self.face.service.subscribe,
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
            background=send_later(self.face, result),
        )


def add_routes(router: APIRouter, face: SubscriberFace) -> None:
    pages = SignupPages(face)
    router.add_api_route(
        "/subscribe", pages.subscribe_form, methods=["GET"], response_class=HTMLResponse
    )
    router.add_api_route(
        "/subscribe",
        pages.subscribe,
        methods=["POST"],
        response_class=HTMLResponse,
        responses=openapi.pages(400, 422, 429, json=(400, 413)),
        openapi_extra=openapi.form(
            FIELD, "email", "frequency", "topics", "language", lists=["topics"]
        ),
    )
    router.add_api_route(
        "/api/subscribers",
        pages.subscribe_api,
        methods=["POST"],
        status_code=202,
        responses={
            202: {"description": "Pending confirmation"},
            **openapi.errors(400, 413, 422, 429),
        },
        openapi_extra=openapi.body(API_BODY),
    )
