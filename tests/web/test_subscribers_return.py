"""Readers who can come back (#15), over the real app, a real Redis and a real SMTP server:
a reader's own unsubscribe is lifted by their next confirmation; bounces and complaints wait
for an operator; ``/manage`` mails the preferences link; and no answer tells which applies."""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from syndication.cli.subscribers import register
from syndication.config import AdminConfig, Settings
from syndication.context import Context
from syndication.deliver.mail_catcher import MailCatcher
from syndication.store.subscribers import CONFIRMED, PENDING, UNSUBSCRIBED
from syndication.web.app import create_app
from tests.support.clock import ManualClock

CSRF_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
PASSWORD = "correct horse battery staple"


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    server = MailCatcher(tmp_path / "mail").start()
    yield server
    server.stop()


@pytest.fixture
def ctx(settings: Settings, context: Context, catcher: MailCatcher) -> Context:
    """SMTP at the catcher, the admin signed in by password; confirmations sent inline."""
    changed = dataclasses.replace(
        settings, smtp_url=catcher.url, admin=AdminConfig(password=PASSWORD)
    )
    return Context(
        changed, context.events, context.client, clock=context.clock, inline_confirmations=True
    )


@pytest.fixture
def client(ctx: Context) -> TestClient:
    return TestClient(create_app(ctx), follow_redirects=False)


def csrf(client: TestClient, path: str) -> str:
    match = CSRF_FIELD.search(client.get(path).text)
    assert match, path
    return match[1]


def subscribe(client: TestClient, email: str, frequency: str = "daily"):  # type: ignore[no-untyped-def]
    data = {"email": email, "frequency": frequency, "language": "en"}
    return client.post("/subscribe", data={**data, "csrf_token": csrf(client, "/subscribe")})


def ask_for_link(client: TestClient, email: str):  # type: ignore[no-untyped-def]
    return client.post("/manage", data={"email": email, "csrf_token": csrf(client, "/manage")})


def mail_to(catcher: MailCatcher, email: str) -> list[EmailMessage]:
    return [m for m in catcher.messages() if m["To"] == email]


def link(msg: EmailMessage, path: str) -> str:
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    match = re.search(rf"http://testserver(/{path}/[A-Za-z0-9_.~-]+)", text)
    assert match, text
    return match[1]


def confirm(client: TestClient, msg: EmailMessage) -> None:
    path = link(msg, "confirm")
    done = client.post(path, data={"csrf_token": csrf(client, path)})
    assert done.status_code == 200, done.text


def confirmed(client: TestClient, catcher: MailCatcher, email: str) -> None:
    assert subscribe(client, email).status_code == 200
    confirm(client, mail_to(catcher, email)[-1])


def status(ctx: Context, email: str) -> str:
    sub = ctx.subscriber_store.get_by_email(email)
    assert sub is not None
    return sub.status


def one_click(ctx: Context, client: TestClient, email: str) -> str:
    sub = ctx.subscriber_store.get_by_email(email)
    assert sub is not None
    token = ctx.subscriptions.manage_token(sub)
    done = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    return token


def run_cli(ctx: Context, clock: ManualClock, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="syndication")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.fn(args, ctx.settings, clock=clock))


def test_a_reader_who_unsubscribed_comes_back_with_new_choices(ctx, client, catcher, clock):
    confirmed(client, catcher, "back@example.org")
    token = one_click(ctx, client, "back@example.org")
    assert ctx.subscriber_store.suppression("back@example.org").reason == "unsubscribed"  # type: ignore[union-attr]
    # The old preferences link is no dead end: it offers the signup, through confirmation.
    page = client.get(f"/preferences/{token}")
    assert page.status_code == 200 and "Subscribe again" in page.text
    assert '<form method="post" action="/subscribe">' in page.text
    assert 'name="email" value="back@example.org"' in page.text
    clock.advance(minutes=3)
    again = client.post(
        "/subscribe",
        data={
            "email": "back@example.org",
            "frequency": "weekly",
            "language": "en",
            "csrf_token": CSRF_FIELD.search(page.text)[1],  # type: ignore[index]
        },
    )
    assert again.status_code == 200 and "Check your inbox" in again.text
    # Until the reader confirms, the address stays suppressed and gets no digest.
    assert status(ctx, "back@example.org") == PENDING
    assert ctx.subscriber_store.is_suppressed("back@example.org")
    assert list(ctx.subscriber_store.iter_active("weekly")) == []
    confirm(client, mail_to(catcher, "back@example.org")[-1])
    sub = ctx.subscriber_store.get_by_email("back@example.org")
    assert sub is not None and sub.status == CONFIRMED and sub.frequency == "weekly"
    assert not ctx.subscriber_store.is_suppressed("back@example.org")
    assert [s.email for s in ctx.subscriber_store.iter_active("weekly")] == ["back@example.org"]


def test_bounces_and_complaints_stay_suppressed_until_an_operator_lifts_them(
    ctx, client, catcher, clock, capsys
):
    for email in ("bounced@example.org", "complained@example.org", "left@example.org"):
        confirmed(client, catcher, email)
    ctx.suppressions.record_events(
        [
            {"type": "bounce", "email": "bounced@example.org", "reason": "5.1.1 no mailbox"},
            {"type": "complaint", "email": "complained@example.org"},
        ]
    )
    one_click(ctx, client, "left@example.org")
    # A complaint after the reader's own unsubscribe takes its place: no signup lifts it.
    ctx.suppressions.record_events([{"type": "complaint", "email": "left@example.org"}])
    assert ctx.subscriber_store.suppression("left@example.org").reason.startswith("complaint")  # type: ignore[union-attr]
    clock.advance(minutes=3)
    before = Counter(m["To"] for m in catcher.messages())
    blocked = ("bounced@example.org", "complained@example.org", "left@example.org")
    pages = {email: subscribe(client, email) for email in (*blocked, "new@example.org")}
    assert {p.status_code for p in pages.values()} == {200}
    assert len({p.text for p in pages.values()}) == 1
    assert Counter(m["To"] for m in catcher.messages()) - before == Counter(["new@example.org"])
    assert {status(ctx, e) for e in blocked} == {UNSUBSCRIBED}
    # The operator lifts the bounce (CLI), which says what it was; then the owner can return.
    assert run_cli(ctx, clock, "subscribers", "unsuppress", "Bounced@example.org") == 0
    out = capsys.readouterr().out
    assert "hard bounce: 5.1.1 no mailbox" in out and "since 2026-12-01" in out
    assert run_cli(ctx, clock, "subscribers", "unsuppress", "bounced@example.org") == 1
    clock.advance(hours=2)
    confirmed(client, catcher, "bounced@example.org")
    assert status(ctx, "bounced@example.org") == CONFIRMED
    # The admin page shows the reason and the date, and lifts it too (with its CSRF field).
    login = client.get("/admin/login")
    client.post(
        "/admin/login",
        data={"csrf_token": CSRF_FIELD.search(login.text)[1], "password": PASSWORD},  # type: ignore[index]
    )
    page = client.get("/admin/subscribers", params={"q": "complained@example.org"})
    assert "complaint" in page.text and "2026-12-01" in page.text
    assert "Lift suppression" in page.text
    form = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert form
    refused = client.post("/admin/subscribers/unsuppress", data={"email": "complained@example.org"})
    assert refused.status_code == 400
    assert ctx.subscriber_store.is_suppressed("complained@example.org")
    lifted = client.post(
        "/admin/subscribers/unsuppress",
        data={"email": "complained@example.org", "csrf_token": form[1]},
    )
    assert lifted.status_code == 303
    assert not ctx.subscriber_store.is_suppressed("complained@example.org")
    assert "Suppression lifted (complaint" in client.get(lifted.headers["location"]).text


def test_manage_by_email_answers_the_same_for_every_state(ctx, client, catcher, clock):
    confirmed(client, catcher, "confirmed@example.org")
    subscribe(client, "pending@example.org")
    confirmed(client, catcher, "left@example.org")
    one_click(ctx, client, "left@example.org")
    confirmed(client, catcher, "bounced@example.org")
    ctx.suppressions.record_events([{"type": "bounce", "email": "bounced@example.org"}])
    ctx.suppressions.suppress("gone@example.org", "complaint")
    page = client.get("/subscribe")
    assert 'href="/manage?lang=en"' in page.text  # from the signup page and every footer
    before = Counter(m["To"] for m in catcher.messages())
    states = (
        "unknown@example.org",
        "pending@example.org",
        "confirmed@example.org",
        "left@example.org",
        "bounced@example.org",
        "gone@example.org",
    )
    answers = {email: ask_for_link(client, email) for email in states}
    assert {a.status_code for a in answers.values()} == {200}
    assert len({a.text for a in answers.values()}) == 1
    assert "a message with a link to manage it is on its way" in answers["gone@example.org"].text
    sent = Counter(m["To"] for m in catcher.messages()) - before
    assert sent == Counter(["pending@example.org", "confirmed@example.org", "left@example.org"])
    [mine] = [m for m in mail_to(catcher, "confirmed@example.org") if "manage" in m["Subject"]]
    prefs = client.get(link(mine, "preferences"))
    assert prefs.status_code == 200 and "Your newsletter preferences" in prefs.text
    [theirs] = [m for m in mail_to(catcher, "left@example.org") if "manage" in m["Subject"]]
    assert "Subscribe again" in client.get(link(theirs, "preferences")).text
    # Rate limited like the signup, on the same counters, whatever the address's state.
    ctx.subscriptions.policy = dataclasses.replace(ctx.subscriptions.policy, address_limit=1)
    ctx.manage_links.policy = ctx.subscriptions.policy
    clock.advance(hours=2)
    for email in ("unknown@example.org", "confirmed@example.org"):
        assert ask_for_link(client, email).status_code == 200
        refused = ask_for_link(client, email)
        assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert ask_for_link(client, "not an address").status_code == 422
