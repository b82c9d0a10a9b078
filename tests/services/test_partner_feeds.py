"""Partner feeds: what each partner receives, with attribution on every item, in every format.

Every item of every partner feed here is parsed (feedparser for RSS/Atom, json for JSON
Feed and ninjs, lxml through ``inspect_attribution`` for the content): the top and bottom
links point at the canonical URL, the licence link is the item's licence, and the byline
names the publisher. NC never goes to a commercial partner, all rights reserved and
``republishable: false`` never go anywhere, and each partner's filters hold.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import feedparser
import lxml.html
import pytest
from lxml import etree

from syndication.config import Publisher
from syndication.context import Context
from syndication.licences import LICENCES
from syndication.models import Article
from syndication.services.partners import Partners, make_partners
from syndication.services.partners.corrections import correction_note, withdrawn_notice
from syndication.store.articles import State, StoredArticle
from syndication.store.partners import Partner
from tests.support import article_data
from tests.support.partners import NOW, PUBLISHER, add_articles, assert_attributed

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"


@pytest.fixture
def service(context: Context) -> Partners:
    return make_partners(context.settings, context.client, context.article_store)


@pytest.fixture
def articles(context: Context) -> dict[str, Article]:
    return add_articles(context)


def add(service: Partners, name: str, **kwargs: Any) -> tuple[Partner, str]:
    return service.keys.add(name, now=NOW, **kwargs)


def parsed_items(service: Partners, partner: Partner, name: str, fmt: str) -> list[dict[str, Any]]:
    """(id, link, content HTML, licence URL, updated) of every item of the document."""
    doc = service.feeds.feed(partner, name, fmt, NOW)
    assert doc is not None
    if fmt in ("rss", "atom"):
        # feedparser checks the document is well-formed for readers; the content is read
        # with lxml, because feedparser's sanitiser drops the RDFa (ccREL) attributes.
        assert not feedparser.parse(doc.body).bozo
        root = etree.fromstring(doc.body)
        if fmt == "rss":
            return [
                {
                    "id": e.findtext("guid"),
                    "url": e.findtext("link"),
                    "title": e.findtext("title"),
                    "html": e.findtext(f"{{{CONTENT_NS}}}encoded"),
                    "updated": e.findtext("pubDate"),
                }
                for e in root.iter("item")
            ]
        return [
            {
                "id": e.findtext(f"{{{ATOM_NS}}}id"),
                "url": e.find(f"{{{ATOM_NS}}}link[@rel='alternate']").get("href"),
                "title": e.findtext(f"{{{ATOM_NS}}}title"),
                "html": e.findtext(f"{{{ATOM_NS}}}content"),
                "updated": e.findtext(f"{{{ATOM_NS}}}updated"),
            }
            for e in root.iter(f"{{{ATOM_NS}}}entry")
        ]
    data = json.loads(doc.body)
    if fmt == "json":
        return [
            {
                "id": i["id"],
                "url": i["url"],
                "title": i["title"],
                "html": i["content_html"],
                "updated": i["date_modified"],
            }
            for i in data["items"]
        ]
    assert data["standard"]["name"] == "ninjs"
    return [
        {
            "id": i["uri"],
            "url": i["altids"][0]["value"],
            "title": i["headlines"][0]["value"],
            "html": i["bodies"][0]["value"],
            "updated": i["versioncreated"],
            "pubstatus": i["pubstatus"],
            "linkedrights": i.get("rightsinfo", {}).get("linkedrights"),
        }
        for i in data["associations"]
    ]


FORMATS = ("rss", "atom", "json", "ninjs")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_item_of_every_partner_feed_is_attributed(service, articles, fmt):
    partners = [
        add(service, "Non-commercial daily")[0],
        add(service, "Commercial wire", commercial=True)[0],
        add(service, "Coca desk", topics=["coca"])[0],
        add(service, "Spanish outlet", languages=["es"])[0],
    ]
    feeds = ["all", "topic/coca", "section/brief", "lang/en", "lang/es"]
    seen = 0
    for partner in partners:
        for name in feeds:
            for item in parsed_items(service, partner, name, fmt):
                article = next(a for a in articles.values() if a.url == item["url"])
                assert_attributed(item, article)
                if fmt == "ninjs":
                    assert item["linkedrights"] == LICENCES[article.licence].url
                seen += 1
    assert seen > 20


def ids(service: Partners, partner: Partner, name: str = "all") -> set[str]:
    doc = service.feeds.feed(partner, name, "json", NOW)
    assert doc is not None
    return {i["url"].rstrip("/").rsplit("/", 1)[-1] for i in json.loads(doc.body)["items"]}


def test_licence_rules(service, articles):
    nc, _ = add(service, "Community paper")
    commercial, _ = add(service, "Big Media", commercial=True)
    # 3: all rights reserved, 4: republishable false → nobody; NC (1, 5) → not commercial.
    assert ids(service, nc) == {f"sample-story-{n}" for n in (1, 2, 5, 6, 7, 8)}
    assert ids(service, commercial) == {f"sample-story-{n}" for n in (2, 6, 7, 8)}
    for name in ("topic/coca", "lang/es", "section/news"):
        assert not {"sample-story-1", "sample-story-5"} & ids(service, commercial, name)
        assert not {"sample-story-3", "sample-story-4"} & ids(service, nc, name)


def test_filters(service, articles):
    coca, _ = add(service, "Coca desk", topics=["Coca"])
    brief, _ = add(service, "Briefs", sections=["brief"])
    spanish, _ = add(service, "El Diario", languages=["es"])
    both, _ = add(service, "Peru news", topics=["peru"], sections=["news"])
    assert ids(service, coca) == {"sample-story-1", "sample-story-5", "sample-story-7"}
    assert ids(service, brief) == {"sample-story-1", "sample-story-6", "sample-story-8"}
    assert ids(service, spanish) == {"sample-story-5"}
    assert ids(service, both) == {"sample-story-7"}
    # A feed outside the partner's filters is empty, not an error.
    assert ids(service, spanish, "lang/en") == set()
    assert service.feeds.feed(spanish, "topic/no-such-topic", "rss", NOW) is None
    assert service.feeds.feed(spanish, "author/sergio-saffon", "rss", NOW) is None


def test_hostile_titles_and_names_stay_escaped(service, articles):
    partner, _ = add(service, "Any")
    for fmt in ("rss", "atom", "json"):
        item = next(
            i for i in parsed_items(service, partner, "all", fmt) if "sample-story-8" in i["url"]
        )
        assert "<script" not in item["html"].lower()
        assert_attributed(item, articles["sample-story-8"])


def test_documents_are_deterministic_with_strong_etags(service, articles):
    partner, _ = add(service, "Any")
    first = service.feeds.feed(partner, "all", "atom", NOW)
    again = service.feeds.feed(partner, "all", "atom", NOW)
    assert first is not None and again is not None
    assert first.body == again.body and first.etag == again.etag
    assert first.etag.startswith('"') and first.etag.endswith('"')


def test_feeds_carry_no_key(service, articles, redis_client):
    partner, key = add(service, "Any")
    for fmt in FORMATS:
        doc = service.feeds.feed(partner, "all", fmt, NOW)
        assert doc is not None and key.encode() not in doc.body


def test_correction_note_and_atom_updated(service, context, articles):
    partner, _ = add(service, "Any")
    doc = service.feeds.feed(partner, "all", "atom", NOW)
    service.feeds.record_pull(partner, doc, NOW)
    before = {i["url"]: i for i in parsed_items(service, partner, "all", "atom")}
    assert not any("syndication-correction" in i["html"] for i in before.values())

    changed = articles["sample-story-2"].model_copy(
        update={
            "body_html": "<p>Corrected body.</p>",
            "updated_at": articles["sample-story-2"].published_at + timedelta(days=2),
        }
    )
    context.articles.accept(Article.model_validate(changed.to_json()))
    after = {i["url"]: i for i in parsed_items(service, partner, "all", "atom")}
    item = after[changed.url]
    assert item["updated"] != before[changed.url]["updated"]
    assert item["updated"].startswith(changed.modified.date().isoformat())
    assert "syndication-correction" in item["html"] and "Updated" in item["html"]
    assert item["id"] == before[changed.url]["id"]  # importers update in place
    assert_attributed(item, changed)
    # Other items unchanged, and a partner that never had the old version sees no note.
    assert all(
        "syndication-correction" not in i["html"] for u, i in after.items() if u != changed.url
    )
    fresh, _ = add(service, "Newcomer")
    assert all(
        "syndication-correction" not in i["html"]
        for i in parsed_items(service, fresh, "all", "atom")
    )


def test_withdrawn_notice_for_partners_that_had_it(service, context, articles, clock):
    had, _ = add(service, "Had it")
    never, _ = add(service, "Never pulled")
    service.feeds.record_pull(had, service.feeds.feed(had, "all", "rss", NOW), NOW)
    context.articles.withdraw("sample-story-7")  # at the test's clock: NOW
    assert clock() == NOW
    now = NOW
    items = {i["url"]: i for i in parsed_items(service, had, "all", "atom")}
    notice = items[articles["sample-story-7"].url]
    assert notice["title"].startswith("Withdrawn: ")
    assert "take it down" in notice["html"]
    ninjs = {i["url"]: i for i in parsed_items(service, had, "all", "ninjs")}
    assert ninjs[articles["sample-story-7"].url]["pubstatus"] == "canceled"
    assert articles["sample-story-7"].url not in {
        i["url"] for i in parsed_items(service, never, "all", "atom")
    }
    # After N days the notice is gone.
    later = now + timedelta(days=service.feeds.withdrawn_days + 1)
    doc = service.feeds.feed(had, "all", "atom", later)
    assert doc is not None and b"sample-story-7" not in doc.body


def test_ninjs_shape(service, articles):
    partner, _ = add(service, "Agency")
    doc = service.feeds.feed(partner, "all", "ninjs", NOW)
    assert doc is not None and doc.content_type.startswith("application/ninjs+json")
    data = json.loads(doc.body)
    assert data["type"] == "composite" and data["standard"]["version"] == "2.1"
    for item in data["associations"]:
        assert item["type"] == "text" and item["pubstatus"] == "usable"
        assert item["uri"].startswith("tag:insightcrime.org,")
        assert item["copyrightholder"] == PUBLISHER
        assert {"name", "uri", "headlines", "bodies", "versioncreated"} <= set(item)


def test_pixel_in_items_unless_turned_off(service, articles):
    with_pixel, _ = add(service, "Counted")
    without, _ = add(service, "Not counted", pixel=False)
    a = parsed_items(service, with_pixel, "all", "json")
    b = parsed_items(service, without, "all", "json")
    assert all("/pixel/" in i["html"] for i in a)
    assert not any("/pixel/" in i["html"] for i in b)


@pytest.mark.parametrize("fmt", ("rss", "atom", "json"))
def test_one_attribution_footer_per_item(service, articles, fmt):
    partner, _ = add(service, "Any")
    for item in parsed_items(service, partner, "all", fmt):
        root = lxml.html.fragment_fromstring(item["html"], create_parent="div")
        assert len(root.xpath("//a[@rel='license']")) == 1


def test_spanish_copies_get_spanish_update_and_withdrawal_notes() -> None:
    """Issue #15: the notes are worded in the article's language, like its footer."""
    publisher = Publisher(name="InSight Crime", site_url="https://insightcrime.org")
    article = Article.model_validate(article_data(5, language="es", title="Minería"))
    note = correction_note(article, publisher)
    assert "Actualizado el" in note and "InSight Crime cambió este artículo" in note
    assert "Updated" not in note
    stored = StoredArticle(article, State.WITHDRAWN, "hash", changed_at=NOW)
    notice = withdrawn_notice(stored, publisher)
    assert notice.title == "Retirado: Minería"
    assert "<strong>Retirado:</strong> InSight Crime retiró" in notice.body_html
    assert "Withdrawn" not in notice.body_html + notice.summary
