"""The digest as readers see it (its web version, the email's HTML) in English and Spanish
at 375 and 800 px, and the admin overview's charts at 1280 px: pictures with alt text and
credits, no sideways scrolling, every chart with its table. Screenshots of each go to
``tests/artifacts/screenshots/<test>/`` (``Shots`` checks accessibility first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syndication.context import Context
from syndication.demo import DEMO_SINCE, import_samples

from .conftest import ADMIN_PASSWORD
from .live import LiveServer, Shots
from .look import CHARTS_CHECK, DIGEST_CHECK, seed_history, serve_remote_pictures
from .screenshots import admin_sign_in

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CREDIT = {"en": "Photo:", "es": "Foto:"}
NOT_REDISTRIBUTABLE = "log-port.jpg"  # the timber story's image: all rights reserved


@pytest.fixture
def edition(live_context: Context) -> str:
    """The samples in a daily edition for an English and a Spanish reader, the bus
    extortion story (it has a picture) featured."""
    ctx = live_context
    assert import_samples(ctx.settings, EXAMPLES, ctx) >= 5
    for email, language in (("reader@example.org", "en"), ("lector@example.org", "es")):
        ctx.subscriptions.subscribe(email, "daily", (), language, source="test")
        sub = ctx.subscriber_store.get_by_email(email)
        assert sub is not None
        ctx.subscriber_store.confirm(sub.id, ctx.clock())
    created = ctx.digests.create_edition("daily", ctx.clock(), start=False, since=DEMO_SINCE)
    assert created.edition_id and created.edition
    ids = list(created.edition.article_ids)
    featured = next(i for i in ids if "bus" in i)
    order = [featured, *(i for i in ids if i != featured)]
    ctx.digests.edit(
        created.edition_id,
        intro="",
        featured=featured,
        order=order,
        now=ctx.clock(),
        edited_by="t",
    )
    ctx.digests.approve(created.edition_id, ctx.clock())  # sending: the archive shows it
    return created.edition_id


@pytest.mark.parametrize("width", [375, 800])
@pytest.mark.parametrize("lang", ["en", "es"])
def test_digest_pictures_fit_and_are_credited(
    new_page: Any, live: LiveServer, edition: str, shots: Shots, lang: str, width: int
) -> None:
    page = new_page(viewport={"width": width, "height": 900})
    serve_remote_pictures(page, live.url)
    answer = page.goto(f"/archive/{edition}?segment={lang}")
    assert answer is not None and answer.status == 200
    page.wait_for_load_state("networkidle")
    found = page.evaluate(DIGEST_CHECK)
    assert found["pictures"] >= 1, found
    assert found["loaded"] == found["pictures"], found
    assert all(alt.strip() for alt in found["alts"]), found["alts"]
    assert all(CREDIT[lang] in credit for credit in found["credits"]), found["credits"]
    assert not any(NOT_REDISTRIBUTABLE in src for src in found["sources"])
    assert found["overflow"] <= 0, found
    shots(page, f"digest-{lang}-{width}")


def test_admin_overview_charts_with_their_tables(
    new_page: Any, live: LiveServer, live_context: Context, shots: Shots
) -> None:
    seed_history(live_context, live_context.clock())
    page = new_page(viewport={"width": 1280, "height": 900})
    assert admin_sign_in(page, ADMIN_PASSWORD, "/admin")
    page.goto("/admin")
    found = page.evaluate(CHARTS_CHECK)
    titles = [c["title"] for c in found["charts"]]
    assert titles == [
        "Subscribers by state",
        "Recipients per edition",
        "Bounce and complaint rates",
        "Feed requests per day",
        "Partner pulls per day",
    ]
    for chart in found["charts"]:
        assert chart["desc"] and chart["width"] > 200, chart
    by_title = {c["title"]: c for c in found["charts"]}
    assert by_title["Feed requests per day"]["rows"] == 30
    assert found["overflow"] <= 0, found
    page.locator("details summary").first.click()  # a table, open, in the picture
    shots(page, "admin-overview")
