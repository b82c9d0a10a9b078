"""The double opt-in mail from the web process: a temporary failure is retried once, and
every failure is logged with the subscriber id, never the address (real SMTP on loopback)."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from syndication.config import Settings
from syndication.deliver.confirmation import ConfirmationFailed, SmtpConfirmationMailer
from syndication.embedded_redis import free_port
from syndication.ratelimit import RateLimiter
from syndication.services.subscriptions import MailUnavailable, SubscriptionService
from syndication.store.subscribers import SubscriberStore
from syndication.web import subscribers
from tests.support.clock import ManualClock
from tests.support.smtp import ScriptedSmtp

ADDRESS = "greylisted.reader@example.org"


def service(
    settings: Settings, client: redis.Redis, smtp_url: str, clock: ManualClock
) -> SubscriptionService:
    mailer = SmtpConfirmationMailer(
        smtp_url, settings.publisher, settings.public_url, retry_delay=0.05
    )
    return SubscriptionService(
        SubscriberStore(client, settings.key_prefix),
        RateLimiter(client, settings.key_prefix),
        mailer,
        settings.need_secret_key(),
        settings.public_url,
        ["en", "es"],
        clock=clock,
    )


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Our log lines (the test SMTP server's own log, aiosmtpd's, names the address)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("syndication"))


def test_a_451_is_retried_once_through_the_web_form(
    settings: Settings,
    redis_client: redis.Redis,
    smtp: ScriptedSmtp,
    context: Any,
    caplog: pytest.LogCaptureFixture,
    clock: ManualClock,
) -> None:
    smtp.script.temp_fail[ADDRESS] = 1
    svc = service(settings, redis_client, smtp.url, clock)
    app = FastAPI()
    app.include_router(subscribers.make_router(context, service=svc))
    caplog.set_level(logging.INFO)
    with TestClient(app) as client:  # runs the background send before returning
        form = client.get("/subscribe").text  # sets the CSRF cookie, like a browser
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        resp = client.post(
            "/subscribe", data={"email": ADDRESS, "frequency": "daily", "csrf_token": token[1]}
        )
    assert resp.status_code == 200
    assert smtp.handler.replies["451"] == 1
    assert smtp.per_recipient() == {ADDRESS: 1}
    sub = svc.store.get_by_email(ADDRESS)
    assert sub is not None
    text = logged(caplog)
    assert f"subscriber {sub.id}" in text and "retrying" in text and "451" in text
    assert ADDRESS not in text and "greylisted" not in text


def test_a_second_failure_is_reported_with_the_id_only(
    settings: Settings,
    redis_client: redis.Redis,
    smtp: ScriptedSmtp,
    caplog: pytest.LogCaptureFixture,
    clock: ManualClock,
) -> None:
    smtp.script.temp_fail[ADDRESS] = 5
    svc = service(settings, redis_client, smtp.url, clock)
    caplog.set_level(logging.INFO)
    result = svc.subscribe(ADDRESS, "daily")
    assert result.confirmation is not None
    sid = result.confirmation.subscriber.id
    with pytest.raises(ConfirmationFailed) as info:
        svc.send(result)
    assert smtp.handler.replies["451"] == 2  # the first try and one retry, no more
    assert f"subscriber {sid}" in str(info.value) and "451" in str(info.value)
    assert ADDRESS not in str(info.value) and ADDRESS not in logged(caplog)


def test_a_550_is_not_retried_and_a_dead_server_is(
    settings: Settings,
    redis_client: redis.Redis,
    smtp: ScriptedSmtp,
    caplog: pytest.LogCaptureFixture,
    clock: ManualClock,
) -> None:
    smtp.script.perm_fail.add(ADDRESS)
    svc = service(settings, redis_client, smtp.url, clock)
    result = svc.subscribe(ADDRESS, "daily")
    with pytest.raises(ConfirmationFailed) as info:
        svc.send(result)
    assert info.value.permanent and smtp.handler.replies["550"] == 1
    assert ADDRESS not in str(info.value)

    caplog.set_level(logging.INFO)
    down = service(settings, redis_client, f"smtp://127.0.0.1:{free_port()}", clock)
    other = down.subscribe("second.reader@example.org", "weekly")
    assert other.confirmation is not None
    with pytest.raises(MailUnavailable) as failure:
        down.send(other)
    assert "after 2 attempts" in str(failure.value)
    assert f"subscriber {other.confirmation.subscriber.id}" in logged(caplog)
    assert "second.reader" not in logged(caplog) + str(failure.value)
