"""What the look tests and ``screenshots.py`` share: pictures for remote images, and a
history for the admin charts.

The machine has no network, so every request that leaves the live app is answered with a
small generated SVG (a picture of the right shape, never an error): the digest's remote
images then load as they would for a reader, and the page's layout is what readers see.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from syndication.context import Context

PICTURE = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 400">'
    '<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
    '<stop offset="0" stop-color="#6b8fa3"/><stop offset="1" stop-color="#2f4858"/>'
    "</linearGradient></defs>"
    '<rect width="600" height="400" fill="url(#g)"/>'
    '<path d="M0 300 L150 200 L260 270 L390 160 L600 290 L600 400 L0 400 Z" fill="#1d2f3a"/>'
    '<circle cx="470" cy="90" r="40" fill="#f2d492"/></svg>'
)


def serve_remote_pictures(page: Any, own: str) -> None:
    """Requests to any host but the live app get ``PICTURE`` (the app's own go through)."""

    def handle(route: Any) -> None:
        if route.request.url.startswith(own):
            route.continue_()
        else:
            route.fulfill(status=200, content_type="image/svg+xml", body=PICTURE)

    page.route("**/*", handle)


def seed_history(ctx: Context, now: datetime, days: int = 21) -> None:
    """Daily snapshots for the last ``days`` days and today, as the overview writes them:
    growing counters and subscriber levels that look like a newsroom's weeks (demo data).
    Today's is stamped ``now``, so opening the overview keeps it (it snapshots at most every
    ten minutes) and the picture has no cliff where the demo's real counts begin."""
    today = now.date()
    totals = {"feed_requests": 0, "feed_not_modified": 0}
    totals |= {"emails_sent": 0, "emails_failed": 0, "emails_uncertain": 0}
    totals |= {"bounces": 0, "complaints": 0}
    for n in range(days, -1, -1):
        day = today - timedelta(days=n)
        k = days - n
        weekday = day.weekday() < 5
        totals["feed_requests"] += 900 + 37 * (k % 7) + (300 if weekday else 0)
        totals["feed_not_modified"] += 520 + 21 * (k % 5) + (160 if weekday else 0)
        sent = 1200 + 15 * k
        totals["emails_sent"] += sent
        totals["emails_failed"] += k % 3
        totals["emails_uncertain"] += 1 if k % 6 == 0 else 0
        totals["bounces"] += 3 + k % 4
        totals["complaints"] += 1 if k % 5 else 3
        levels = {
            "subscribers_confirmed": 1100 + 14 * k,
            "subscribers_pending": 40 + 3 * (k % 5),
            "subscribers_unsubscribed": 60 + 2 * k,
        }
        at = now.timestamp() if n == 0 else 0.0
        ctx.daily_stats.snapshots.write(day, {**totals, **levels}, at)
        for pull in range(96 + 11 * (k % 4)):  # the partner store's own per-day counter
            ctx.partners.store.count_pull(f"demo-{pull % 3}", day)


#: In the page: every digest image has alt text and a credit line after it, nothing scrolls
#: sideways. Returns what it found, for the test to assert on.
DIGEST_CHECK = """() => {
  const pics = [...document.querySelectorAll("img.pic")];
  return {
    pictures: pics.length,
    loaded: pics.filter((i) => i.complete && i.naturalWidth > 0).length,
    alts: pics.map((i) => i.getAttribute("alt") || ""),
    credits: pics.map((i) => {
      const p = i.closest("a").nextElementSibling;
      return p && p.classList.contains("credit") ? p.textContent.trim() : "";
    }),
    sources: pics.map((i) => i.getAttribute("src")),
    overflow: document.documentElement.scrollWidth - window.innerWidth,
  };
}"""

CHARTS_CHECK = """() => {
  const cards = [...document.querySelectorAll(".chart-card")];
  return {
    charts: cards.map((c) => ({
      title: (c.querySelector("svg.chart > title") || {}).textContent || "",
      desc: (c.querySelector("svg.chart > desc") || {}).textContent || "",
      rows: c.querySelectorAll("details table.chart-data tbody tr").length,
      width: c.querySelector("svg.chart").getBoundingClientRect().width,
    })),
    overflow: document.documentElement.scrollWidth - window.innerWidth,
  };
}"""
