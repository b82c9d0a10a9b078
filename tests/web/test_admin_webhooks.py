"""/admin/webhooks: endpoints with their latest attempts, and the operator's actions."""

from __future__ import annotations

import dataclasses
import re

from fastapi.testclient import TestClient

from syndication.config import AdminConfig, WebhooksConfig
from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.web.app import create_app
from tests.support.receivers import HookReceiver

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ONCE = re.compile(r'name="once" value="([^"]+)"')


def signed_in(context: Context) -> tuple[TestClient, Context]:
    settings = dataclasses.replace(
        context.settings,
        admin=AdminConfig(password=PASSWORD),
        webhooks=WebhooksConfig(allow_private=True),
    )
    ctx = Context(settings, RecordingEvents(), context.client, clock=context.clock)
    client = TestClient(create_app(ctx), follow_redirects=False)
    page = client.get("/admin/login")
    csrf = CSRF.search(page.text)
    assert csrf
    answer = client.post("/admin/login", data={"csrf_token": csrf[1], "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client, ctx


def form(page: str, **data: object) -> dict[str, object]:
    csrf, once = CSRF.search(page), ONCE.search(page)
    assert csrf and once
    return {"csrf_token": csrf[1], "once": once[1], **data}


def test_the_page_lists_endpoints_with_their_attempts(context: Context) -> None:
    client, ctx = signed_in(context)
    receiver = HookReceiver(statuses=(500,))
    try:
        page = client.get("/admin/webhooks")
        assert page.status_code == 200 and "No endpoints yet." in page.text
        added = client.post(
            "/admin/webhooks",
            data=form(page.text, url=receiver.url, events=["edition.sent", "article.published"]),
        )
        assert added.status_code == 200, added.text
        secret = re.search(r'id="new-secret">(whsec_[0-9a-f]{64})<', added.text)
        assert secret
        again = client.post(
            "/admin/webhooks", data=form(page.text, url=receiver.url, events=["edition.sent"])
        )
        assert again.status_code == 409 and "whsec_" not in again.text  # a reload adds nothing
        (endpoint,) = ctx.event_hooks.endpoints.all()
        assert endpoint.events == ("edition.sent", "article.published")

        hooks = ctx.event_hooks
        eid = hooks.outbox.emit("edition.sent", {}, "ed-1")
        assert eid is not None
        hooks.delivery.deliver(endpoint.id, eid, 1, ctx.clock())
        hooks.delivery.deliver(endpoint.id, eid, 2, ctx.clock())
        page = client.get("/admin/webhooks")
        rows = re.findall(r'<tr class="attempt">(.*?)</tr>', page.text, re.S)
        assert len(rows) == 2
        assert "delivered" in rows[0] and ">204<" in rows[0]
        assert "retry" in rows[1] and ">500<" in rows[1] and " ms<" in rows[1]
        assert secret[1] not in page.text  # never shown again

        csrf = CSRF.search(page.text)
        assert csrf
        off = client.post(f"/admin/webhooks/{endpoint.id}/disable", data={"csrf_token": csrf[1]})
        assert off.status_code == 303
        assert "disabled" in client.get("/admin/webhooks").text
        test = client.post(f"/admin/webhooks/{endpoint.id}/test", data={"csrf_token": csrf[1]})
        assert test.status_code == 303
        assert isinstance(ctx.events, RecordingEvents)
        assert ctx.events.calls[-1][0] == "deliver_webhook"
        gone = client.post(f"/admin/webhooks/{endpoint.id}/remove", data={"csrf_token": csrf[1]})
        assert gone.status_code == 303 and ctx.event_hooks.endpoints.all() == []
    finally:
        receiver.close()


def test_a_private_address_is_refused_when_not_allowed(context: Context) -> None:
    client, ctx = signed_in(context)
    strict = dataclasses.replace(ctx.settings, webhooks=WebhooksConfig())
    client = TestClient(create_app(Context(strict, ctx.events, ctx.client, clock=ctx.clock)))
    client.cookies = signed_in(context)[0].cookies
    page = client.get("/admin/webhooks")
    refused = client.post("/admin/webhooks", data=form(page.text, url="http://10.0.0.5/hook"))
    assert refused.status_code == 400 and "public addresses only" in refused.text
    assert ctx.event_hooks.endpoints.all() == []


def test_actions_need_the_csrf_token(context: Context) -> None:
    client, ctx = signed_in(context)
    endpoint, _ = ctx.event_hooks.endpoints.add("https://example.org/hook", [], ctx.clock())
    answer = client.post(f"/admin/webhooks/{endpoint.id}/disable", data={})
    assert answer.status_code in (400, 403)
    assert ctx.event_hooks.endpoints.get(endpoint.id).enabled
