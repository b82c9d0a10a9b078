"""What the browser journeys share: signing up and confirming in the page, the mail the
SMTP server accepted for a reader, the links in it, and a real daily digest sent inline."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.services.digests import MailSettings, make_digest_service
from syndication.store.editions import Policy
from syndication.store.subscribers import Subscriber
from tests.support import wait_for
from tests.support.digests import send_all
from tests.support.smtp import ScriptedSmtp

from .live import Shots, expect

FAST = Policy(lease_s=20, tx_budget_s=5, retry_base_s=0.1, retry_max_s=0.5, max_attempts=5)
TOPICS = [{"topics": ["Coca"]}, {"topics": ["Peru"]}, {"topics": ["Coca"], "language": "es"}]


def mail_to(smtp: ScriptedSmtp, address: str, count: int = 1) -> list[EmailMessage]:
    """The messages the SMTP server accepted for ``address``, once ``count`` have arrived
    (the app sends the confirmation after answering the browser)."""
    wait_for(lambda: smtp.per_recipient()[address] >= count)
    return [m for m in smtp.messages() if str(m["To"]) == address]


def link_in(msg: EmailMessage, base: str, path: str) -> str:
    """The one ``{base}/{path}/<token>`` link of the plain-text part."""
    part = msg.get_body(("plain",))
    assert part is not None, msg
    text = part.get_content()
    links = set(re.findall(rf"{re.escape(base)}/{path}/[A-Za-z0-9_.~-]+", text))
    assert len(links) == 1, text
    return links.pop()


def subscriber(ctx: Context, address: str) -> Subscriber:
    sub = ctx.subscriber_store.get_by_email(address)
    assert sub is not None, address
    return sub


def sign_up(page: Any, shots: Shots, address: str, frequency: str, topics: list[str]) -> None:
    page.goto("/subscribe")
    expect(page.get_by_role("heading", level=1)).to_contain_text("by email")
    shots(page, "signup-form")
    page.get_by_label("Email address").fill(address)
    page.get_by_label(frequency).check()
    for topic in topics:
        page.get_by_label(topic, exact=True).check()
    shots(page, "signup-filled")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    shots(page, "check-your-inbox")


def confirm_from_email(page: Any, shots: Shots, smtp: ScriptedSmtp, base: str, to: str) -> None:
    [msg] = mail_to(smtp, to)
    page.goto(link_in(msg, base, "confirm"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
    shots(page, "confirm-page")
    page.get_by_role("button", name="Yes, subscribe me").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are subscribed")
    shots(page, "confirmed")


def send_digest(ctx: Context) -> str:
    """Today's daily edition (today by the live app's clock), sent over SMTP to everyone
    subscribed daily: the batch sender runs inline until the edition has left ``sending``."""
    mail = MailSettings(connections=1, batch=20, policy=FAST)
    digests = make_digest_service(
        ctx.settings, ctx.client, RecordingEvents(), mail=mail, clock=ctx.clock
    )
    created = digests.create_edition("daily", ctx.clock())
    assert created.edition_id
    send_all(digests, created.edition_id)
    return created.edition_id
