"""The "Republish this story" page on a 375 px phone (issue #15): it used to be 469 px wide.

The seed (long URLs in its attribution and canonical-link advice) and a Spanish sample, on the
narrowest common phone width; the page must not scroll sideways, and its plain-text copy
must be there to copy, with the note of changes and the licence spelled out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syndication.context import Context
from syndication.demo import import_samples

from .live import LiveServer, Shots, expect

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NARROW = {"width": 375, "height": 812}


@pytest.mark.parametrize(
    "article_id",
    ["peru-familiar-stalemate-shining-path-rebels", "mineria-ilegal-rios-amazonia-dragas"],
)
def test_republish_page_fits_a_375px_phone(
    new_page: Any, live: LiveServer, live_context: Context, shots: Shots, article_id: str
) -> None:
    assert import_samples(live_context.settings, EXAMPLES, live_context) >= 5
    page = new_page(phone=True, viewport=NARROW)
    response = page.goto(f"/republish/{article_id}")
    assert response is not None and response.status == 200
    # Measured, not only looked at: the document is no wider than the screen.
    widths = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert widths[1] == NARROW["width"]
    assert widths[0] <= widths[1], f"page is {widths[0]} px wide on a {widths[1]} px screen"
    plain = page.get_by_label("Plain text of the story to republish")
    expect(plain).to_be_visible()
    text = plain.input_value()
    assert "https://creativecommons.org/licenses/by-nc/4.0/" in text
    if article_id.startswith("peru"):  # the seed's importer cut its page chrome
        assert "This article was modified: removed page navigation" in text
    box = plain.bounding_box()
    assert box is not None and box["x"] + box["width"] <= NARROW["width"]
    shots(page, "republish")
