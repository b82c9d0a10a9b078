"""Partners and embargoes and holds (issue #16), through the real app on a real Redis.

A partner trusted with embargoed work (``--embargoed``) sees an embargoed article before
its release, marked in every format; another partner does not see it at all; after the
release both see it, unmarked. A held article becomes a hold notice (in the article's
language, ninjs ``withheld``) for a partner that received it, and comes back on release.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import lxml.etree
import pytest
from fastapi.testclient import TestClient

from syndication.context import Context
from syndication.models import Article
from syndication.web.app import create_app
from tests.support import article_data
from tests.support.clock import ManualClock

ATOM = "{http://www.w3.org/2005/Atom}"
SECRET_URL = "https://insightcrime.org/news/brief/under-embargo/"


@pytest.fixture
def app(context: Context) -> Iterator[TestClient]:
    with TestClient(create_app(context)) as client:
        yield client


def _feeds(app: TestClient, key: str) -> dict[str, bytes]:
    auth = {"Authorization": f"Bearer {key}"}
    out = {}
    for fmt in ("rss", "atom", "json", "ninjs"):
        answer = app.get(f"/partners/feeds/all.{fmt}", headers=auth)
        assert answer.status_code == 200
        out[fmt] = answer.content
    return out


def _rss_item(body: bytes, url: str) -> lxml.etree._Element | None:
    root = lxml.etree.fromstring(body)
    return next((i for i in root.iter("item") if i.findtext("link") == url), None)


def _atom_entry(body: bytes, url: str) -> lxml.etree._Element | None:
    root = lxml.etree.fromstring(body)
    for entry in root.iter(f"{ATOM}entry"):
        if url in [link.get("href") for link in entry.iter(f"{ATOM}link")]:
            return entry
    return None


def _json_item(body: bytes, url: str) -> dict | None:  # type: ignore[type-arg]
    return next((i for i in json.loads(body)["items"] if i["url"] == url), None)


def _ninjs_item(body: bytes, url: str) -> dict | None:  # type: ignore[type-arg]
    for item in json.loads(body)["associations"]:
        if {"role": "canonical-url", "value": url} in item["altids"]:
            return item
    return None


def _check_marked(feeds: dict[str, bytes], title: str, until: str) -> None:
    prefix = f"EMBARGOED until {until}: "
    rss = _rss_item(feeds["rss"], SECRET_URL)
    assert rss is not None and rss.findtext("title") == prefix + title
    assert "embargoed" in [c.text for c in rss.iter("category")]
    atom = _atom_entry(feeds["atom"], SECRET_URL)
    assert atom is not None and atom.findtext(f"{ATOM}title") == prefix + title
    assert "embargoed" in [c.get("term") for c in atom.iter(f"{ATOM}category")]
    item = _json_item(feeds["json"], SECRET_URL)
    assert item is not None and item["_syndication"]["embargoed_until"] == until
    ninjs = _ninjs_item(feeds["ninjs"], SECRET_URL)
    assert ninjs is not None and ninjs["pubstatus"] == "withheld"
    assert ninjs["embargoed"].startswith(until.removesuffix("Z"))


def _check_plain(feeds: dict[str, bytes], title: str) -> None:
    rss = _rss_item(feeds["rss"], SECRET_URL)
    assert rss is not None and rss.findtext("title") == title
    assert "embargoed" not in [c.text for c in rss.iter("category")]
    atom = _atom_entry(feeds["atom"], SECRET_URL)
    assert atom is not None and atom.findtext(f"{ATOM}title") == title
    item = _json_item(feeds["json"], SECRET_URL)
    assert item is not None and "embargoed_until" not in item["_syndication"]
    ninjs = _ninjs_item(feeds["ninjs"], SECRET_URL)
    assert ninjs is not None and ninjs["pubstatus"] == "usable" and "embargoed" not in ninjs


def test_only_a_trusted_partner_sees_an_embargoed_article_marked_until_its_release(
    app: TestClient, context: Context, clock: ManualClock
) -> None:
    now = clock()
    release = now + timedelta(minutes=30)
    context.articles.accept(Article.model_validate(article_data(1)))
    title = "A report under embargo"
    data = article_data(
        2, url=SECRET_URL, title=title, published_at=now.isoformat(),
        embargoed_until=release.isoformat(),
    )  # fmt: skip
    context.articles.accept(Article.model_validate(data))
    _, trusted = context.partners.keys.add("Wire desk", now=now, embargoed=True)
    _, other = context.partners.keys.add("Outlet", now=now)

    clock.advance(minutes=29, seconds=59)
    _check_marked(_feeds(app, trusted), title, "2026-12-01T12:30:00Z")
    for body in _feeds(app, other).values():
        text = body.decode()
        assert SECRET_URL not in text and title not in text

    clock.advance(seconds=2)
    context.articles.release_embargoes(clock())
    _check_plain(_feeds(app, trusted), title)
    _check_plain(_feeds(app, other), title)
    # The trusted partner's copy was the same version: no correction note after release.
    rss = _rss_item(_feeds(app, trusted)["rss"], SECRET_URL)
    assert rss is not None
    assert "syndication-correction" not in (rss.findtext("{*}encoded") or "")


def test_a_held_article_becomes_a_hold_notice_in_its_language_until_released(
    app: TestClient, context: Context, clock: ManualClock
) -> None:
    data = article_data(3, url=SECRET_URL, title="Una nota", language="es")
    written = context.articles.submit(Article.model_validate(data))
    article_id = written.article.id
    _, key = context.partners.keys.add("Diario", now=clock())
    _feeds(app, key)  # the partner receives it (its pull is recorded)

    clock.advance(minutes=5)
    assert context.articles.hold(article_id, "legal review").value == "held"
    assert ("withdrawn", article_id) in context.events.calls  # what a withdrawal needs
    context.feeds.rebuild_dirty()
    assert SECRET_URL not in app.get("/feeds/all.rss").text
    assert app.get(f"/republish/{article_id}").status_code == 404
    feeds = _feeds(app, key)
    rss = _rss_item(feeds["rss"], SECRET_URL)
    assert rss is not None and rss.findtext("title") == "En espera: Una nota"
    assert "legal review" not in feeds["rss"].decode()  # the reason is for editors
    ninjs = _ninjs_item(feeds["ninjs"], SECRET_URL)
    assert ninjs is not None and ninjs["pubstatus"] == "withheld"
    assert context.articles.hold(article_id, "again").value == "already_held"

    clock.advance(minutes=5)
    assert context.articles.release_hold(article_id).value == "released"
    assert context.articles.release_hold(article_id).value == "not_held"
    context.feeds.rebuild_dirty()
    assert SECRET_URL in app.get("/feeds/all.rss").text
    _check_plain(_feeds(app, key), "Una nota")
