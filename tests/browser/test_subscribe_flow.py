"""A reader's whole journey in headless chromium: sign up, confirm from the email, change
preferences, leave — with the store checked after every step that should change it.

Real everything: the app under uvicorn on loopback, Redis, the confirmation and digest
emails sent over SMTP by the app and parsed back here, the RFC 8058 one-click POST made
the way a mail provider makes it (no cookies, no page, just the POST).
"""

from __future__ import annotations

import re
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
from .live import PHONE, LiveServer, Shots, expect


def test_signup_confirm_preferences_and_one_click_unsubscribe(
    new_page: Any,
    live: LiveServer,
    live_context: Context,
    smtp: ScriptedSmtp,
    shots: Shots,
    playwright: Any,
) -> None:
    ctx, reader = live_context, "reader@example.org"
    add_articles(ctx.client, ctx.settings.key_prefix, TOPICS, now=ctx.clock())
    page = new_page()

    sign_up(page, shots, reader, "Weekly digest", ["Coca"])
    pending = subscriber(ctx, reader)
    assert (pending.status, pending.frequency, pending.topics) == (PENDING, "weekly", ("coca",))

    confirm_from_email(page, shots, smtp, live.url, reader)
    assert subscriber(ctx, reader).status == CONFIRMED

    # Preferences: the confirmation page links to them.
    page.get_by_role("link", name="Change what you receive").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your newsletter preferences")
    expect(page.get_by_label("Weekly digest")).to_be_checked()
    shots(page, "preferences")
    page.get_by_label("Daily digest").check()
    page.get_by_label("Peru", exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_label("Daily digest")).to_be_checked()
    shots(page, "preferences-saved")
    saved = subscriber(ctx, reader)
    assert (saved.status, saved.frequency, saved.topics) == (CONFIRMED, "daily", ("coca", "peru"))

    # A real digest goes out; its footer reaches the same preferences page.
    send_digest(ctx)
    [digest] = [m for m in mail_to(smtp, reader, 2) if m["List-Unsubscribe-Post"]]
    page.goto(link_in(digest, live.url, "preferences"))
    expect(page.get_by_label("Daily digest")).to_be_checked()
    expect(page.get_by_label("Peru", exact=True)).to_be_checked()

    # RFC 8058: the provider POSTs List-Unsubscribe=One-Click to the header's https URL,
    # with no cookie and no page (a fresh request context, not the browser's).
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.findall(r"<(http[^>]+)>", str(digest["List-Unsubscribe"]))[0]
    provider = playwright.request.new_context()
    try:
        answer = provider.post(url, form={"List-Unsubscribe": "One-Click"}, max_redirects=0)
        assert answer.status == 200, answer.text()
        assert "You are unsubscribed" in answer.text()
    finally:
        provider.dispose()
    gone = subscriber(ctx, reader)
    assert gone.status == UNSUBSCRIBED
    assert ctx.subscriber_store.is_suppressed(reader)
    assert reader not in {s.email for s in ctx.subscriber_store.iter_active("daily")}
    page.goto(url)  # the same link in the browser now just says so
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    shots(page, "unsubscribed-one-click")


def test_unsubscribe_button_on_a_phone(
    new_page: Any, live: LiveServer, live_context: Context, smtp: ScriptedSmtp, shots: Shots
) -> None:
    ctx, reader, stays = live_context, "second.reader@example.org", "stays@example.org"
    add_articles(ctx.client, ctx.settings.key_prefix, TOPICS, now=ctx.clock())
    page = new_page(phone=True)

    sign_up(page, shots, reader, "Daily digest", [])
    # Nothing on the signup form is wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    confirm_from_email(page, shots, smtp, live.url, reader)
    other, other_shots = new_page(phone=True), Shots(shots.folder / "other-reader")
    sign_up(other, other_shots, stays, "Daily digest", [])
    confirm_from_email(other, other_shots, smtp, live.url, stays)

    page.get_by_role("link", name="Change what you receive").click()
    page.get_by_role("link", name="Unsubscribe from every newsletter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe")
    shots(page, "unsubscribe-page")
    assert subscriber(ctx, reader).status == CONFIRMED  # the GET changed nothing
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    expect(page.locator("main")).to_contain_text(reader)
    shots(page, "unsubscribed")
    assert subscriber(ctx, reader).status == UNSUBSCRIBED
    assert [s.email for s in ctx.subscriber_store.iter_active("daily")] == [stays]


def test_signup_in_spanish(
    new_page: Any, live: LiveServer, live_context: Context, smtp: ScriptedSmtp, shots: Shots
) -> None:
    ctx, reader = live_context, "lectora@example.org"
    page = new_page(locale="es-ES")
    page.goto("/subscribe")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("button", name="Suscribirse")).to_be_visible()
    expect(page.get_by_label("Dirección de correo")).to_be_visible()
    shots(page, "formulario")
    page.get_by_label("Dirección de correo").fill(reader)
    page.get_by_label("Resumen semanal").check()
    page.get_by_role("button", name="Suscribirse").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revise su bandeja de entrada")
    shots(page, "revise-su-bandeja")
    assert subscriber(ctx, reader).language == "es"  # the form followed the browser

    [msg] = mail_to(smtp, reader)
    assert msg["Content-Language"] == "es"
    page.goto(link_in(msg, live.url, "confirm"))
    page.get_by_role("button", name="Sí, suscribirme").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Se ha suscrito")
    expect(page.get_by_role("link", name="Cambiar lo que recibe")).to_be_visible()
    shots(page, "suscrito")
    sub = subscriber(ctx, reader)
    assert (sub.status, sub.frequency, sub.language) == (CONFIRMED, "weekly", "es")
