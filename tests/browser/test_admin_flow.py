"""An operator steers editions from /admin in headless chromium.

Signs in through the login form with ``SYNDICATION_ADMIN_PASSWORD``, clicks the edition
page's Pause and Resume buttons, and checks both the page and the edition store after each
click; then lets the edition finish and sees "done". A second test resends one uncertain
entry (a real SMTP server dropped the connection after DATA) through the confirmation page.
Skips only while the app has no ``/admin/editions`` route (404).
"""

from __future__ import annotations

from typing import Any

import pytest

from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.services.digests import (
    MailSettings,
    make_digest_service,
)
from syndication.store.editions import EditionStatus, EditionStore, Policy
from tests.support.digests import add_articles, add_subscribers, send_all, uncertain_edition
from tests.support.smtp import ScriptedSmtp

from .conftest import ADMIN_PASSWORD
from .live import LiveServer, Shots, expect
from .screenshots import admin_sign_in

FAST = Policy(lease_s=20, tx_budget_s=5, retry_base_s=0.1, retry_max_s=0.5, max_attempts=5)
READERS = 3


def test_admin_pauses_and_resumes_an_edition(
    new_page: Any, live: LiveServer, live_context: Context, smtp: ScriptedSmtp, shots: Shots
) -> None:
    ctx = live_context
    page = new_page()
    probe = page.request.get("/admin/editions", max_redirects=0)
    if probe.status == 404:
        pytest.skip("admin editions pages not available")

    prefix = ctx.settings.key_prefix
    now = ctx.clock()  # the live app's clock, which is the browser's (conftest.py)
    add_subscribers(ctx.client, prefix, READERS, now=now)
    add_articles(ctx.client, prefix, [{"topics": ["Coca"]}, {"topics": ["Peru"]}], now=now)
    mail = MailSettings(connections=1, batch=20, policy=FAST)
    digests = make_digest_service(
        ctx.settings, ctx.client, RecordingEvents(), mail=mail, clock=ctx.clock
    )
    created = digests.create_edition("daily", ctx.clock())
    edition_id = created.edition_id
    assert edition_id
    store = EditionStore(ctx.client, prefix)

    def stored_status() -> EditionStatus:
        edition = store.get(edition_id)
        assert edition is not None
        return edition.status

    assert stored_status() is EditionStatus.SENDING
    target = f"/admin/editions/{edition_id}"
    page.goto(target)
    expect(page.locator("input[type=password]")).to_be_visible()  # not signed in: the form
    shots(page, "login")
    assert admin_sign_in(page, ADMIN_PASSWORD, target)
    expect(page.get_by_role("heading", level=1)).to_contain_text(edition_id)
    status = page.locator("[data-status]")
    expect(status).to_have_text("sending")
    shots(page, "edition-sending")

    page.get_by_role("button", name="Pause").click()
    expect(status).to_have_text("paused")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    shots(page, "edition-paused")
    assert stored_status() is EditionStatus.PAUSED
    digests.send_batch(edition_id, requeue=False)  # a sender finds it paused: sends nothing
    assert smtp.count() == 0

    page.get_by_role("button", name="Resume").click()
    expect(status).to_have_text("sending")
    shots(page, "edition-resumed")
    assert stored_status() is EditionStatus.SENDING

    send_all(digests, edition_id)
    assert stored_status() is EditionStatus.DONE and smtp.count() == READERS
    page.goto(target)
    expect(status).to_have_text("done")
    expect(page.locator('[data-count="sent"]')).to_have_text(str(READERS))
    shots(page, "edition-done")


def test_admin_resends_a_chosen_uncertain_entry(
    new_page: Any, live: LiveServer, live_context: Context, smtp: ScriptedSmtp, shots: Shots
) -> None:
    ctx = live_context
    page = new_page()
    probe = page.request.get("/admin/editions", max_redirects=0)
    if probe.status == 404:
        pytest.skip("admin editions pages not available")
    # the live app's clock, which is the browser's (conftest.py)
    sender, edition_id, subs = uncertain_edition(
        ctx.settings, ctx.client, smtp, ctx.clock, readers=READERS, uncertain=(0, 2)
    )
    chosen, left = subs[0], subs[2]
    store = EditionStore(ctx.client, ctx.settings.key_prefix)
    target = f"/admin/editions/{edition_id}"
    assert admin_sign_in(page, ADMIN_PASSWORD, target)
    status = page.locator("[data-status]")
    expect(status).to_have_text("done")
    expect(page.locator('[data-count="uncertain"]')).to_have_text("2")
    shots(page, "edition-uncertain")

    page.get_by_label(chosen.id).check()
    page.get_by_role("button", name="Resend selected").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Resend 1 uncertain message")
    expect(page.locator("[data-risk]")).to_contain_text("may deliver it twice")
    expect(page.locator("[data-chosen]")).to_contain_text(chosen.email)
    expect(page.locator("[data-chosen]")).not_to_contain_text(left.email)
    shots(page, "resend-confirm")
    assert store.entry(edition_id, chosen.id)["state"] == "uncertain"  # asking changes nothing

    page.get_by_role("button", name="Yes, resend 1 message").click()
    expect(status).to_have_text("sending")
    expect(page.get_by_text("Queued 1 uncertain message to be sent again")).to_be_visible()
    shots(page, "resend-queued")
    assert store.entry(edition_id, chosen.id)["state"] == "pending"
    assert store.entry(edition_id, left.id)["state"] == "uncertain"

    send_all(sender, edition_id)
    assert smtp.per_recipient()[chosen.email] == 2  # the duplicate the page warned about
    page.goto(target)
    expect(status).to_have_text("done")
    expect(page.locator('[data-count="uncertain"]')).to_have_text("1")
