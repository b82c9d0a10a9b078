"""Readers who can come back (#15), in headless chromium against the real app, Redis and
SMTP: leave, subscribe again from the page that says goodbye, confirm from the new email,
and get the next digest; and a reader without an old newsletter gets their link by mail."""

from __future__ import annotations

from typing import Any

from syndication.context import Context
from syndication.store.subscribers import CONFIRMED, PENDING, UNSUBSCRIBED
from tests.support.digests import add_articles
from tests.support.smtp import ScriptedSmtp

from .journeys import (
    TOPICS,
    confirm_from_email,
    link_in,
    mail_to,
    send_digest,
    sign_up,
    subscriber,
)
from .live import LiveServer, Shots, expect


def test_unsubscribe_then_subscribe_again_and_a_digest_arrives(
    new_page: Any, live: LiveServer, live_context: Context, smtp: ScriptedSmtp, shots: Shots
) -> None:
    ctx, reader = live_context, "comes.back@example.org"
    add_articles(ctx.client, ctx.settings.key_prefix, TOPICS, now=ctx.clock())
    page = new_page()
    sign_up(page, shots, reader, "Weekly digest", [])
    confirm_from_email(page, shots, smtp, live.url, reader)
    page.get_by_role("link", name="Change what you receive").click()
    page.get_by_role("link", name="Unsubscribe from every newsletter").click()
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    assert subscriber(ctx, reader).status == UNSUBSCRIBED

    # Changed their mind: the goodbye page leads to a signup with their address filled in.
    page.get_by_role("link", name="Changed your mind? Subscribe again").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Subscribe again")
    expect(page.locator("main")).to_contain_text(reader)
    shots(page, "subscribe-again")
    page.get_by_label("Daily digest").check()
    page.get_by_role("button", name="Subscribe again").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    assert subscriber(ctx, reader).status == PENDING
    assert ctx.subscriber_store.is_suppressed(reader)  # until the reader confirms

    wanted = [m for m in mail_to(smtp, reader, 2) if "Confirm" in str(m["Subject"])]
    assert len(wanted) == 2
    page.goto(link_in(wanted[-1], live.url, "confirm"))
    page.get_by_role("button", name="Yes, subscribe me").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are subscribed")
    shots(page, "subscribed-again")
    back = subscriber(ctx, reader)
    assert (back.status, back.frequency) == (CONFIRMED, "daily")
    assert not ctx.subscriber_store.is_suppressed(reader)

    send_digest(ctx)
    [digest] = [m for m in mail_to(smtp, reader, 3) if m["List-Unsubscribe-Post"]]
    assert str(digest["List-Unsubscribe"]).startswith(f"<{live.url}/unsubscribe/")
    assert "mailto:" not in str(digest["List-Unsubscribe"])


def test_manage_by_email_from_the_signup_page(
    new_page: Any, live: LiveServer, live_context: Context, smtp: ScriptedSmtp, shots: Shots
) -> None:
    ctx, reader = live_context, "no.old.mail@example.org"
    add_articles(ctx.client, ctx.settings.key_prefix, TOPICS, now=ctx.clock())
    page = new_page()
    sign_up(page, shots, reader, "Weekly digest", [])
    confirm_from_email(page, shots, smtp, live.url, reader)

    other = new_page()  # another browser: no cookie, no old link
    other.goto("/subscribe")
    to_manage = "Already subscribed? Get a link to manage your subscription"
    other.get_by_role("link", name=to_manage).click()
    expect(other.get_by_role("heading", level=1)).to_have_text("Manage your subscription")
    shots(other, "manage-form")
    other.get_by_label("Email address").fill(reader)
    other.get_by_role("button", name="Email me a link").click()
    expect(other.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    shots(other, "manage-sent")

    [mail] = [m for m in mail_to(smtp, reader, 2) if "manage" in str(m["Subject"])]
    other.goto(link_in(mail, live.url, "preferences"))
    expect(other.get_by_role("heading", level=1)).to_have_text("Your newsletter preferences")
    other.get_by_label("Daily digest").check()
    other.get_by_role("button", name="Save").click()
    expect(other.get_by_role("status")).to_have_text("Saved.")
    assert subscriber(ctx, reader).frequency == "daily"
    # The footer of every subscriber page leads to the same form.
    expect(other.get_by_role("link", name="Manage your subscription")).to_have_attribute(
        "href", "/manage?lang=en"
    )
