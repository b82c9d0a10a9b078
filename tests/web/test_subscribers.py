"""Subscriber pages over the real app, a real Redis and a real SMTP server on loopback."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from syndication import tokens
from syndication.config import Settings
from syndication.context import Context
from syndication.deliver.confirmation import POLICY, build_confirmation, sender_address
from syndication.deliver.mail_catcher import MailCatcher
from syndication.services.subscriptions import (
    Policy,
    SubscriptionService,
)
from syndication.store.subscribers import Subscriber
from syndication.web.app import create_app
from syndication.web.auth import signed_headers
from tests.support import article_data, tamper
from tests.support.clock import ManualClock

SECRET = "s" * 40  # conftest's SYNDICATION_SECRET_KEY
AUTH = {"Authorization": "Bearer test-token-0123456789"}
LINK = re.compile(r"http://testserver/confirm/([A-Za-z0-9_.-]+)")
CSRF_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    server = MailCatcher(tmp_path / "mail").start()
    yield server
    server.stop()


@pytest.fixture
def mail_context(settings: Settings, context: Context, catcher: MailCatcher) -> Context:
    """The test's Context (and clock) with SYNDICATION_SMTP_URL pointing at the catcher; no
    worker here, so the confirmation is sent in the web process (``inline_confirmations``)."""
    with_smtp = dataclasses.replace(settings, smtp_url=catcher.url)
    return Context(
        with_smtp, context.events, context.client, clock=context.clock, inline_confirmations=True
    )


@pytest.fixture
def service(mail_context: Context) -> SubscriptionService:
    return mail_context.subscriptions


@pytest.fixture
def app(mail_context: Context):  # type: ignore[no-untyped-def]
    return create_app(mail_context)


@pytest.fixture
def client(app) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app)


def form(email: str, **extra: str) -> dict[str, str]:
    return {"email": email, "frequency": "daily", "language": "en", **extra}


def csrf_from(client: TestClient, path: str) -> str:
    """What a browser does: GET the form (which sets the cookie), read the hidden field."""
    page = client.get(path)
    match = CSRF_FIELD.search(page.text)
    assert match, page.text
    return match[1]


def subscribe(client: TestClient, email: str, **extra: str):  # type: ignore[no-untyped-def]
    """POST the signup form the way a browser does, with the field from GET /subscribe."""
    return client.post(
        "/subscribe", data={**form(email, **extra), "csrf_token": csrf_from(client, "/subscribe")}
    )


def post_form(client: TestClient, path: str, data: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    """POST a token page's form (confirm, preferences, unsubscribe) with its CSRF field."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_from(client, path)})


def confirm_link(msg: EmailMessage) -> str:
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    match = LINK.search(text)
    assert match, text
    return match[1]


def mail_to(catcher: MailCatcher, email: str) -> list[EmailMessage]:
    """Messages for ``email`` (Maildir order is not arrival order within a second)."""
    return [m for m in catcher.messages() if m["To"] == email]


def confirmed(client: TestClient, catcher: MailCatcher, email: str) -> None:
    assert subscribe(client, email).status_code == 200
    [msg] = mail_to(catcher, email)
    assert post_form(client, f"/confirm/{confirm_link(msg)}").status_code == 200


def manage(service: SubscriptionService, email: str) -> str:
    sub = service.store.get_by_email(email)
    assert sub is not None
    return service.manage_token(sub)


def test_double_opt_in_through_the_confirmation_email(client, catcher, service):
    page = client.get("/subscribe")
    assert page.status_code == 200 and '<form method="post" action="/subscribe"' in page.text
    response = subscribe(client, "Reader@Example.org")
    assert response.status_code == 200 and "Check your inbox" in response.text
    [msg] = catcher.messages()
    assert msg["To"] == "Reader@example.org"
    assert msg["From"] == "InSight Crime <newsletter@testserver>"
    assert msg["Subject"] == "Confirm your subscription to InSight Crime"
    assert msg["Auto-Submitted"] == "auto-generated"
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    token = confirm_link(msg)
    assert f"http://testserver/confirm/{token}" in html
    assert list(service.store.iter_active("daily")) == []

    shown = client.get(f"/confirm/{token}")  # a link scanner's GET confirms nothing
    assert shown.status_code == 200 and f'action="/confirm/{token}"' in shown.text
    assert list(service.store.iter_active("daily")) == []

    done = post_form(client, f"/confirm/{token}")
    assert done.status_code == 200 and "You are subscribed" in done.text
    [sub] = service.store.iter_active("daily")
    assert sub.email == "Reader@example.org" and sub.consent_source == "web form"
    assert sub.consent_ip == "testclient" and sub.confirmed_at is not None
    assert f"/preferences/{service.manage_token(sub)}" in done.text
    again = client.post(f"/confirm/{token}")  # nothing left to change: no form to check
    assert again.status_code == 200 and "already subscribed" in again.text


def test_the_answer_never_tells_whether_an_address_is_known(
    client, catcher, service, clock, mail_context
):
    confirmed(client, catcher, "known@example.org")
    subscribe(client, "pending@example.org")
    mail_context.suppressions.suppress("gone@example.org", "complaint")
    # A signup within two minutes of the last is a double submit, answered by the same
    # confirmation (tests/services/test_confirmations.py); this one is a new request.
    clock.advance(minutes=3)
    sent_before = Counter(m["To"] for m in catcher.messages())
    pages = {
        email: subscribe(client, email)
        for email in (
            "new@example.org",
            "known@example.org",
            "pending@example.org",
            "gone@example.org",
        )
    }
    assert {r.status_code for r in pages.values()} == {200}
    assert len({r.text for r in pages.values()}) == 1
    apis = {
        email: client.post("/api/subscribers", json={"email": email, "frequency": "weekly"})
        for email in ("new2@example.org", "known@example.org", "gone@example.org")
    }
    assert {r.status_code for r in apis.values()} == {202}
    assert len({r.text for r in apis.values()}) == 1
    # Mail goes only to the new and the still-pending addresses; nothing else changed.
    sent = Counter(m["To"] for m in catcher.messages()) - sent_before
    assert sent == Counter(["new2@example.org", "new@example.org", "pending@example.org"])
    assert service.store.get_by_email("known@example.org").frequency == "daily"  # type: ignore[union-attr]
    assert service.store.is_suppressed("gone@example.org")


def test_expired_and_tampered_confirmation_links_are_refused(
    client, catcher, service, clock: ManualClock
):
    subscribe(client, "late@example.org")
    sub = service.store.get_by_email("late@example.org")
    assert sub is not None
    old = tokens.confirm_token(SECRET, sub.id, clock() - timedelta(hours=49))
    for method in (client.get, client.post):
        expired = method(f"/confirm/{old}")
        assert expired.status_code == 410 and "expired" in expired.text
    good = confirm_link(mail_to(catcher, "late@example.org")[0])
    body, mac = good.split(".")
    other = tokens.confirm_token(SECRET, "ffffffffffffffff", clock())
    for bad in (
        tamper(body + "." + mac),
        other.split(".")[0] + "." + mac,
        service.manage_token(sub),  # a manage link is not a confirm link
        "nonsense",
    ):
        for method in (client.get, client.post):
            refused = method(f"/confirm/{bad}")
            assert refused.status_code == 400, bad
    assert service.store.get(sub.id).status == "pending"  # type: ignore[union-attr]


def test_get_unsubscribe_shows_a_button_and_never_unsubscribes(client, catcher, service):
    confirmed(client, catcher, "stay@example.org")
    token = manage(service, "stay@example.org")
    for _ in range(3):
        page = client.get(f"/unsubscribe/{token}")
        assert page.status_code == 200
        assert f'<form method="post" action="/unsubscribe/{token}">' in page.text
    head = client.head(f"/unsubscribe/{token}")
    assert head.status_code in (200, 405)
    assert [s.email for s in service.store.iter_active("daily")] == ["stay@example.org"]
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_rfc8058_one_click_post_unsubscribes(client, catcher, service, encoding):
    confirmed(client, catcher, "leave@example.org")
    confirmed(client, catcher, "stay@example.org")
    token = manage(service, "leave@example.org")
    fresh = TestClient(client.app)  # no cookies, no session, no CSRF token: just the POST
    if encoding == "urlencoded":
        done = fresh.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    else:
        done = fresh.post(f"/unsubscribe/{token}", files={"List-Unsubscribe": (None, "One-Click")})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert [s.email for s in service.store.iter_active("daily")] == ["stay@example.org"]
    assert service.store.is_suppressed("leave@example.org")
    assert (
        fresh.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code
        == 200
    )
    assert "You are unsubscribed" in fresh.get(f"/unsubscribe/{token}").text
    # Signing up again alone does not bring the address back: it stays suppressed and gets
    # no digest until its owner confirms from the new confirmation email.
    subscribe(client, "leave@example.org")
    assert service.store.get_by_email("leave@example.org").status == "pending"  # type: ignore[union-attr]
    assert service.store.is_suppressed("leave@example.org")
    assert [s.email for s in service.store.iter_active("daily")] == ["stay@example.org"]
    *_, again = mail_to(catcher, "leave@example.org")
    assert post_form(client, f"/confirm/{confirm_link(again)}").status_code == 200
    assert not service.store.is_suppressed("leave@example.org")
    assert sorted(s.email for s in service.store.iter_active("daily")) == [
        "leave@example.org",
        "stay@example.org",
    ]


def test_preferences_change_and_revoked_links(client, catcher, service):
    client.post("/api/articles", json=article_data(1, topics=["Coca", "Peru"]), headers=AUTH)
    confirmed(client, catcher, "prefs@example.org")
    token = manage(service, "prefs@example.org")
    page = client.get(f"/preferences/{token}")
    assert page.status_code == 200 and 'value="coca"' in page.text and 'value="peru"' in page.text
    saved = post_form(
        client,
        f"/preferences/{token}",
        {"frequency": "weekly", "topics": ["coca", "peru"], "language": "es"},
    )
    assert saved.status_code == 200 and "Saved." in saved.text
    [sub] = service.store.iter_active("weekly")
    assert sub.topics == ("coca", "peru") and sub.language == "es"
    # The page now follows the subscriber's language (es); a reader who switched to English:
    bad = post_form(
        client, f"/preferences/{token}", {"frequency": "hourly", "topics": "nope", "lang": "en"}
    )
    assert bad.status_code == 422 and "choose one of" in bad.text
    spanish = post_form(client, f"/preferences/{token}", {"frequency": "hourly"})
    assert spanish.status_code == 422 and "elija una de estas opciones" in spanish.text
    assert service.store.get(sub.id) == sub
    service.revoke_links(sub.id)
    for path in (f"/preferences/{token}", f"/unsubscribe/{token}"):
        assert client.get(path).status_code == 400
    assert client.post(f"/unsubscribe/{token}").status_code == 400
    assert service.store.get(sub.id).status == "confirmed"  # type: ignore[union-attr]


def test_rate_limits_per_ip_and_per_address_answer_429(app, service, catcher):
    service.policy = Policy(ip_limit=3, address_limit=2)
    one_ip = TestClient(app, client=("203.0.113.7", 4000))
    for i in range(3):
        assert subscribe(one_ip, f"ip{i}@example.org").status_code == 200
    limited = subscribe(one_ip, "ip3@example.org")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    api = one_ip.post("/api/subscribers", json={"email": "ip4@example.org"})
    assert api.status_code == 429 and int(api.headers["Retry-After"]) >= 1
    # The same address from many IPs (IPv6 clients are counted per /64, so use v4 here).
    codes = [
        subscribe(
            TestClient(app, client=(f"198.51.100.{i}", 4000)), "target@example.org"
        ).status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 429, 429]
    # The second signup came within the double-submit window: the first's mail answers it.
    assert sum(m["To"] == "target@example.org" for m in catcher.messages()) == 1
    # One IPv6 /64 is one client.
    v6 = [
        subscribe(
            TestClient(app, client=(f"2001:db8::{i}", 4000)), f"v6-{i}@example.org"
        ).status_code
        for i in range(4)
    ]
    assert v6 == [200, 200, 200, 429]


def test_bad_input_is_shown_escaped_and_never_stored(client, catcher, service):
    evil = "<script>x</script>@example.org\r\nBcc: victim@example.org"
    page = subscribe(client, evil)
    assert page.status_code == 422
    assert "<script>x" not in page.text and "&lt;script&gt;" in page.text
    assert "enter a valid email address" in page.text
    api = client.post("/api/subscribers", json={"email": evil, "frequency": "hourly"})
    assert api.status_code == 422
    assert {f["field"] for f in api.json()["fields"]} == {"email", "frequency"}
    assert client.post("/api/subscribers", content=b"{oops").status_code == 400
    assert catcher.messages() == [] and service.store.counts()["total"] == 0


def test_hostile_publisher_name_cannot_inject_headers(settings):
    publisher = settings.publisher.model_copy(update={"name": "Evil\r\nBcc: victim@example.org"})
    sender = sender_address(publisher, "https://news.example.org")
    sub = Subscriber(
        "0123456789abcdef",
        "a@example.org",
        "pending",
        "daily",
        (),
        "en",
        datetime(2026, 1, 1, tzinfo=UTC),
        None,
        1,
    )
    raw = build_confirmation(sub, "https://news.example.org/confirm/x.y", publisher, "", sender)
    data = raw.as_bytes(policy=POLICY)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head and b"\nBcc:" not in head
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def test_bounce_and_complaint_webhook_suppresses(client, catcher, service, clock: ManualClock):
    confirmed(client, catcher, "bounce@example.org")
    confirmed(client, catcher, "spam@example.org")
    confirmed(client, catcher, "soft@example.org")
    body = json.dumps(
        {
            "events": [
                {
                    "type": "bounce",
                    "bounce_type": "hard",
                    "email": "Bounce@example.org",
                    "reason": "550 5.1.1 no such user\r\nX-Evil: 1",
                },
                {"type": "complaint", "email": "spam@example.org"},
                {"type": "bounce", "bounce_type": "soft", "email": "soft@example.org"},
                {"type": "delivered", "email": "soft@example.org"},
                {"type": "bounce", "email": "not an address"},
            ]
        }
    ).encode()
    unsigned = client.post("/webhooks/email-events", content=body)
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "signature_missing"
    now = int(clock().timestamp())
    path = "/webhooks/email-events"
    wrong = client.post(
        path, content=body, headers=signed_headers("x" * 40, "POST", path, "", body, now)
    )
    assert wrong.status_code == 401 and wrong.json()["code"] == "signature_invalid"
    assert service.store.is_suppressed("bounce@example.org") is False
    ok = client.post(
        path, content=body, headers=signed_headers(SECRET, "POST", path, "", body, now)
    )
    assert ok.status_code == 200
    assert ok.json() == {"suppressed": 2, "ignored": 2, "invalid": 1}
    assert [s.email for s in service.store.iter_active("daily")] == ["soft@example.org"]
    reason = service.store.suppression("bounce@example.org").reason  # type: ignore[union-attr]
    assert reason.startswith("hard bounce: 550 5.1.1") and "\n" not in reason


def test_links_signed_with_the_previous_key_keep_working_after_a_rotation(
    client, catcher, service, mail_context
):
    """CAN-SPAM and RFC 8058: an unsubscribe link in mail already delivered must keep
    working when the secret key is rotated, as long as the old key is listed as previous."""
    confirmed(client, catcher, "old-link@example.org")
    confirmed(client, catcher, "stay@example.org")
    old_token = manage(service, "old-link@example.org")
    new_key = "n" * 40

    def rotated(previous: tuple[str, ...]) -> TestClient:
        settings = dataclasses.replace(
            mail_context.settings, secret_key=new_key, previous_secret_keys=previous
        )
        ctx = Context(
            settings,
            mail_context.events,
            mail_context.client,
            clock=mail_context.clock,
            inline_confirmations=True,
        )
        return TestClient(create_app(ctx))

    without = rotated(())
    refused = without.post(f"/unsubscribe/{old_token}", data={"List-Unsubscribe": "One-Click"})
    assert refused.status_code == 400
    assert service.store.get_by_email("old-link@example.org").status == "confirmed"  # type: ignore[union-attr]

    with_previous = rotated((mail_context.settings.secret_key,))
    done = with_previous.post(f"/unsubscribe/{old_token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert [s.email for s in service.store.iter_active("daily")] == ["stay@example.org"]
