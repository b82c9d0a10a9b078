"""The README's screenshots, taken in Debian's headless chromium from the real app.

Run from the repository root::

    .venv/bin/python -m tests.browser.screenshots [OUTDIR]     # default: docs/screenshots

It starts its own redis-server, SMTP catcher and app (nothing else need be running),
imports the sample articles in ``examples/articles/`` and plays an editor's week: a weekly
edition made as a draft, given an intro, the InSight Crime brief as featured story and an
order, approved and sent over SMTP to its confirmed readers; and today's daily edition left
as a draft with an intro begun. Then it photographs:

- ``digest.png``: the "View in browser" page (``/archive/{edition}``) that the link in the
  sent weekly digest's HTML part leads to, at a phone-ish width — the digest as readers see it
  (remote pictures are answered with a generated one: the machine has no network);
- ``digest-es.png``: the same edition's Spanish segment;
- ``admin-overview.png``: the overview's charts, over three weeks of daily snapshots
  written for the picture (``look.seed_history``) and today's real one;
- ``admin.png``: the sent weekly edition's detail page (counts, intro, featured story), after
  signing in through the form;
- ``admin-edit.png``: the daily draft's edit page (intro, featured story, order);
- ``admin-preview.png``: the daily draft's preview page (subject, size bar, the message);
- ``admin-republications.png``: the republication registry of one article (pages a partner
  reported and the pixel saw, views per day);
- ``admin-webhooks.png``: the event webhook endpoints (no attempts: nothing is delivered);
- ``admin-articles.png``: the articles page with one article on hold.

The admin pictures are skipped, with a message, while the app has no ``/admin``.
"""

from __future__ import annotations

import re
import sys
import tempfile
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

from syndication.clock import system_clock
from syndication.config import load_settings
from syndication.context import Context
from syndication.deliver.mail_catcher import MailCatcher
from syndication.demo import DEMO_SINCE
from syndication.embedded_redis import EmbeddedRedis, free_port
from syndication.events import RecordingEvents
from syndication.store.editions import EditionStatus
from syndication.web.app import create_app
from tests.support.digests import send_all

from .live import LiveServer, launch, missing_browser
from .look import seed_history, serve_remote_pictures

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "examples" / "articles"
PASSWORD = "screenshots-only-password"
EDITOR = "Desk editor"
READER = "reader@example.org"  # the weekly reader whose "View in browser" link we follow
#: More confirmed weekly readers, so the counts on the detail page look like a newsroom's.
OTHER_READERS = [(f"reader{n:02d}@example.org", "en") for n in range(1, 10)] + [
    (f"lector{n:02d}@example.org", "es") for n in range(1, 4)
]
FEATURED_SAMPLE = "insightcrime-peru-stalemate.txt"  # InSight Crime's Peru / Shining Path brief
WEEKLY_INTRO = """\
This week's coverage follows the money behind organised crime in Latin America: gangs \
taxing the buses commuters ride in Central America, coca base prices sliding along \
Colombia's Putumayo border, and illegal timber moving through Amazon river ports.

We lead with our brief from Peru, where security forces are once again pressing what \
remains of the Shining Path in the VRAEM, the valley that produces most of the country's \
cocaine. Partners may republish these stories under the licence shown with each one."""
DAILY_INTRO = """\
Today: how laundered logs reach the market through the Amazon's river ports, and why \
extortion calls from prison cells remain so hard to stop."""
DIGEST_VIEW = {"width": 600, "height": 900}  # phone-ish: legible at README width
ADMIN_VIEW = {"width": 1000, "height": 800}
OVERVIEW_VIEW = {"width": 1280, "height": 900}


def admin_sign_in(page: Any, password: str, target: str = "/admin/editions") -> bool:
    """Sign in through ``/admin``'s form and land on ``target``; False while no ``/admin``."""
    answer = page.goto(target)  # signed out: a redirect to /admin/login?next=<target>
    if answer is None or answer.status == 404:
        return False
    password_box = page.locator("input[type=password]")
    if not password_box.count():
        if page.url.endswith(target):
            return True  # signed in already
        page.goto(f"/admin/login?next={target}")
    password_box.fill(password)
    with page.expect_navigation():
        password_box.press("Enter")
    if not page.url.endswith(target):
        page.goto(target)
    return True


def subscribe(ctx: Context, email: str, frequency: str, language: str, now: datetime) -> None:
    """A confirmed reader, straight on the store (the screenshots skip the email round trip)."""
    _, sub = ctx.subscriber_store.signup(email, frequency, (), language, now)
    assert sub is not None, email
    ctx.subscriber_store.confirm(sub.id, now)


def featured_sample_id(ctx: Context, article_ids: list[str]) -> str:
    """The id of the InSight Crime brief among ``article_ids``, found by its canonical URL
    (``sources.toml`` gives it: the page dump carries none)."""
    sources = tomllib.loads((SAMPLES / "sources.toml").read_text())
    url = sources["files"][FEATURED_SAMPLE]["url"]
    for stored in ctx.article_store.get_many(article_ids):
        if str(stored.article.url).rstrip("/") == url.rstrip("/"):
            return stored.article.id
    raise RuntimeError(f"{FEATURED_SAMPLE} is not in the edition")


def featured_first(article_ids: list[str], featured: str) -> list[str]:
    return [featured, *(i for i in article_ids if i != featured)]


def edited_weekly_edition(ctx: Context, now: datetime) -> str:
    """The weekly draft, edited (intro, featured brief, order), approved and sent; its id."""
    for email, language in [(READER, "en"), *OTHER_READERS]:
        subscribe(ctx, email, "weekly", language, now)
    created = ctx.digests.create_edition("weekly", now, start=False, since=DEMO_SINCE)
    assert created.edition_id and created.edition, created
    ids = list(created.edition.article_ids)
    featured = featured_sample_id(ctx, ids)
    ctx.digests.edit(
        created.edition_id,
        intro=WEEKLY_INTRO,
        featured=featured,
        order=featured_first(ids, featured),
        now=now,
        edited_by=EDITOR,
    )
    _, new = ctx.digests.approve(created.edition_id, now)
    assert new == EditionStatus.SENDING.value, new
    send_all(ctx.digests, created.edition_id, timeout=120)
    return created.edition_id


def daily_draft(ctx: Context, now: datetime) -> str:
    """Today's daily edition left as a draft, an intro begun and a featured story picked."""
    subscribe(ctx, "daily@example.org", "daily", "en", now)
    created = ctx.digests.create_edition("daily", now, start=False, since=DEMO_SINCE)
    assert created.edition_id and created.edition, created
    ids = list(created.edition.article_ids)
    titles = {s.article.id: s.article.title for s in ctx.article_store.get_many(ids)}
    featured = next((i for i in ids if "Timber" in titles.get(i, "")), None)
    ctx.digests.edit(
        created.edition_id,
        intro=DAILY_INTRO,
        featured=featured,
        order=featured_first(ids, featured) if featured else ids,
        now=now,
        edited_by=EDITOR,
    )
    return created.edition_id


def view_in_browser_url(catcher: MailCatcher, base: str) -> str:
    """The "View in browser" link of the digest that reached ``READER``."""
    for msg in catcher.messages():
        html = msg.get_body(("html",))
        if str(msg["To"]) == READER and msg["List-Unsubscribe"] and html is not None:
            links = re.findall(rf'href="({re.escape(base)}/archive/[^"]+)"', html.get_content())
            if links:
                return str(links[0]).replace("&amp;", "&")
    raise RuntimeError("no digest with a View in browser link reached the catcher")


def shoot_until(page: Any, path: Path, stop: str | None, margin: int = 16) -> Path:
    """The page from its top down to just above the ``stop`` element (the whole page when
    ``stop`` is None or not there): the interesting part, not a metre of empty tables."""
    box = page.locator(stop).first.bounding_box() if stop and page.locator(stop).count() else None
    if box is None:
        page.screenshot(path=str(path), full_page=True)
    else:
        width = page.viewport_size["width"]
        clip = {"x": 0, "y": 0, "width": width, "height": max(box["y"] - margin, 200)}
        page.screenshot(path=str(path), full_page=True, clip=clip)
    return path


def take(outdir: Path) -> list[Path]:
    reason = missing_browser()
    if reason:
        raise SystemExit(f"cannot take screenshots: {reason}")
    from playwright.sync_api import sync_playwright

    outdir.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis().start()
        catcher = MailCatcher(Path(tmp) / "mail").start()
        port = free_port()
        client = redis.Redis.from_url(server.url)
        try:
            settings = load_settings(
                {
                    "SYNDICATION_REDIS_URL": server.url,
                    "SYNDICATION_CONFIG": str(ROOT / "examples" / "insightcrime.toml"),
                    "SYNDICATION_KEY_PREFIX": "shots:",
                    "SYNDICATION_SECRET_KEY": "screenshots-" + "s" * 40,
                    "SYNDICATION_PUBLIC_URL": f"http://127.0.0.1:{port}",
                    "SYNDICATION_SMTP_URL": catcher.url,
                    "SYNDICATION_ADMIN_PASSWORD": PASSWORD,
                }
            )
            # The system clock, as for the browser tests (conftest.py): chromium keeps the
            # app's cookies by the machine's clock. Every "now" below is read from it.
            # No worker: the app sends the confirmation emails itself.
            ctx = Context(
                settings, RecordingEvents(), client, clock=system_clock, inline_confirmations=True
            )
            report = ctx.ingest.import_paths([SAMPLES])
            assert report.outcomes and not report.errors, report.errors
            now = ctx.clock()
            weekly = edited_weekly_edition(ctx, now)
            daily = daily_draft(ctx, now)
            live = LiveServer(create_app(ctx), port).start()
            try:
                with sync_playwright() as playwright:
                    browser = launch(playwright)
                    page = browser.new_context(
                        base_url=live.url, viewport=DIGEST_VIEW, device_scale_factor=1
                    ).new_page()
                    serve_remote_pictures(page, live.url)
                    english = view_in_browser_url(catcher, live.url)
                    for name, url in (
                        ("digest.png", english),
                        ("digest-es.png", english.replace("segment=en", "segment=es")),
                    ):
                        page.goto(url)
                        page.wait_for_load_state("networkidle")
                        page.screenshot(path=str(outdir / name), full_page=True)
                        taken.append(outdir / name)
                    admin = browser.new_context(
                        base_url=live.url, viewport=ADMIN_VIEW, device_scale_factor=1
                    ).new_page()
                    seed_history(ctx, ctx.clock())
                    if admin_sign_in(admin, PASSWORD, f"/admin/editions/{weekly}"):
                        admin.set_viewport_size(OVERVIEW_VIEW)
                        admin.goto("/admin")
                        taken.append(
                            shoot_until(
                                admin,
                                outdir / "admin-overview.png",
                                "h2:has-text('Latest edition')",
                            )
                        )
                        admin.set_viewport_size(ADMIN_VIEW)
                        admin.goto(f"/admin/editions/{weekly}")
                        # Down to the end of "Contents": the empty failure lists add nothing.
                        taken.append(
                            shoot_until(admin, outdir / "admin.png", "h2:has-text('Failed')")
                        )
                        admin.goto(f"/admin/editions/{daily}/edit")
                        taken.append(shoot_until(admin, outdir / "admin-edit.png", None))
                        admin.goto(f"/admin/editions/{daily}/preview")
                        admin.wait_for_load_state("networkidle")
                        taken.append(
                            shoot_until(
                                admin,
                                outdir / "admin-preview.png",
                                "h2:has-text('Plain-text part')",
                            )
                        )
                        taken += issue16_pages(ctx, admin, outdir)
                    else:
                        print("admin pictures skipped: the app has no /admin/editions yet")
                    browser.close()
            finally:
                live.stop()
        finally:
            client.close()
            catcher.stop()
            server.stop()
    return taken


def issue16_pages(ctx: Context, admin: Any, outdir: Path) -> list[Path]:
    """The registry, webhooks and articles pages, over a partner that republished the
    featured brief, two endpoints and one article on hold."""
    now = ctx.clock()
    brief = ctx.article_store.latest_ids(1)[0]
    partner, _ = ctx.partners.keys.add("Diario del Sur", now=now)
    registry = ctx.partners.registry
    for page in (
        "https://diariodelsur.example/2026/12/peru-dragas",
        "https://diariodelsur.example/amp/peru-dragas",
    ):
        registry.report(partner.id, brief, page, now)
        for _ in range(3):
            registry.pixel_view(partner.id, brief, page, now)
    ctx.event_hooks.endpoints.add("https://crm.example.org/hooks/syndication", [], now)
    ctx.event_hooks.endpoints.add(
        "https://data.example.org/in", ["article.published", "edition.sent"], now
    )
    held = ctx.article_store.latest_ids(2)[-1]
    ctx.articles.hold(held, "legal review of a quote")
    shots = []
    for name, url in (
        ("admin-republications.png", f"/admin/republications/articles/{brief}"),
        ("admin-webhooks.png", "/admin/webhooks"),
        ("admin-articles.png", "/admin/articles"),
    ):
        admin.goto(url)
        admin.wait_for_load_state("networkidle")
        admin.screenshot(path=str(outdir / name), full_page=True)
        shots.append(outdir / name)
    return shots


def main(argv: list[str]) -> int:
    outdir = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    for path in take(outdir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
