"""The pages a reader reaches without a link of their own — home, feed index, archive and
an edition in the browser — on a phone, in English and Spanish. ``Shots`` checks each for
accessibility and sideways scrolling before photographing it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syndication.context import Context
from syndication.demo import DEMO_SINCE, import_samples

from .live import LiveServer, Shots, expect

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def edition(live_context: Context) -> str:
    """The sample articles imported and a daily edition made of them (not sent), at the
    live app's clock (the browser's, see conftest.py)."""
    ctx = live_context
    assert import_samples(ctx.settings, EXAMPLES, ctx) >= 5
    ctx.subscriptions.subscribe("reader@example.org", "daily", (), "en", source="test")
    sub = ctx.subscriber_store.get_by_email("reader@example.org")
    assert sub is not None
    ctx.subscriber_store.confirm(sub.id, ctx.clock())
    created = ctx.digests.create_edition("daily", ctx.clock(), since=DEMO_SINCE)
    assert created.edition_id
    return created.edition_id


@pytest.mark.parametrize("locale", ["en-GB", "es-ES"])
def test_public_pages_on_a_phone(
    new_page: Any, live: LiveServer, edition: str, shots: Shots, locale: str
) -> None:
    page = new_page(phone=True, locale=locale)
    lang = locale[:2]
    for path, step in (
        ("/", "home"),
        ("/feeds", "feeds"),
        ("/archive", "archive"),
        (f"/archive/{edition}", "edition"),
        ("/subscribe", "subscribe"),
    ):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        if path != f"/archive/{edition}":  # the edition is the email, in its own language
            expect(page.locator("html")).to_have_attribute("lang", lang)
        shots(page, step)
    # The feed index announces its feeds for autodiscovery.
    page.goto("/feeds")
    assert page.locator('link[rel="alternate"][type="application/rss+xml"]').count() >= 1
