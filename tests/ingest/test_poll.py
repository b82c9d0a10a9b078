"""Polling RSS, Atom and WordPress sources over real HTTP, into a real store on real Redis.

A small ``http.server`` on 127.0.0.1 plays the publisher's site, with ETag and
Last-Modified support, so conditional GETs, 304s and changes are exercised end to end.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis

from syndication.config import PollSource, Publisher, load_publisher
from syndication.events import RecordingEvents
from syndication.ingest.normalise import IngestError
from syndication.ingest.poll import USER_AGENT, request_url
from syndication.models import Article
from syndication.services.articles import ArticleService
from syndication.services.ingest import IngestService
from syndication.store.articles import ArticleStore, Outcome
from syndication.store.keys import Keys
from syndication.store.poll_state import PollStateStore
from tests.support import article_data

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


@dataclass
class Resource:
    body: bytes
    content_type: str
    modified: datetime
    etag: bool = True
    status: int = 200


@dataclass
class Site:
    """What the fake publisher serves, and every request it saw."""

    resources: dict[str, Resource] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    base: str = ""

    def put(self, path: str, resource: Resource) -> str:
        self.resources[path] = resource
        return self.base + path


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            res = site.resources.get(urlsplit(self.path).path)
            if res is None:
                self.send_error(404)
                return
            if res.status != 200:
                self.send_error(res.status)
                return
            etag = '"' + hashlib.sha256(res.body).hexdigest()[:16] + '"'
            last_modified = format_datetime(res.modified, usegmt=True)
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if res.etag and inm is not None:
                fresh = etag in [t.strip() for t in inm.split(",")]
            elif ims is not None:
                fresh = parsedate_to_datetime(ims) >= res.modified.replace(microsecond=0)
            else:
                fresh = False
            self.send_response(304 if fresh else 200)
            if res.etag:
                self.send_header("ETag", etag)
            self.send_header("Last-Modified", last_modified)
            if fresh:
                self.end_headers()
                return
            self.send_header("Content-Type", res.content_type)
            self.send_header("Content-Length", str(len(res.body)))
            self.end_headers()
            self.wfile.write(res.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def server_site() -> Iterator[Site]:
    site = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield site
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def site(server_site: Site) -> Site:
    """The module's server, emptied for each test."""
    server_site.resources.clear()
    server_site.requests.clear()
    return server_site


@pytest.fixture(scope="module")
def publisher() -> Publisher:
    return load_publisher(ROOT / "examples" / "insightcrime.toml")


@dataclass
class Rig:
    service: IngestService
    events: RecordingEvents
    store: ArticleStore
    state: PollStateStore


@pytest.fixture
def rig(redis_client: redis.Redis, prefix: str, publisher: Publisher, server_site: Site) -> Rig:
    """The service with the test site configured as a source: a poll may reach loopback
    only for a source configured on it (tests/ingest/test_poll_guard.py)."""
    events = RecordingEvents()
    store = ArticleStore(redis_client, prefix)
    state = PollStateStore(redis_client, prefix)
    configured = publisher.model_copy(update={"sources": [PollSource(url=server_site.base + "/")]})
    service = IngestService(
        ArticleService(store, events, clock=lambda: NOW), configured, state, clock=lambda: NOW
    )
    return Rig(service, events, store, state)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml"
JSON = "application/json; charset=UTF-8"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
T1 = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


def test_rss_first_poll_ingests_second_is_304_change_fires_updated(
    site: Site, rig: Rig, redis_client: redis.Redis, prefix: str
) -> None:
    url = site.put("/feed/", Resource(fixture("rss.xml"), RSS, T0))

    first = rig.service.poll(url)
    assert not first.not_modified and first.kind == "feed"
    assert first.outcomes == {
        "coca-growers-organise": Outcome.CREATED,
        "description-only": Outcome.CREATED,
    }
    assert len(first.errors) == 1 and "item 3: the item has no link" in first.errors[0]
    assert rig.events.calls == [
        ("published", "coca-growers-organise"),
        ("published", "description-only"),
    ]
    stored = rig.store.get("coca-growers-organise")
    assert stored is not None
    a = stored.article
    assert a.title == "Coca Growers Organise Against Forced Eradication"
    assert a.authors == ["Ana Gómez"] and a.topics == ["Coca", "Colombia"]
    assert a.published_at == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert a.language == "en" and a.licence == "CC-BY-NC-4.0"
    assert a.summary == (
        "Growers in three municipalities have formed associations to negotiate with the army."
    )
    assert 'href="https://news.example.org/news/analysis/eradication/"' in a.body_html
    assert "onclick" not in a.body_html and "evil" not in a.body_html
    assert a.image is not None and a.image.url.endswith("/growers.jpg")
    short = rig.store.get("description-only")
    assert short is not None
    assert short.article.body_html == "Plain description &amp; nothing more."
    assert short.article.authors == ["Luis Fernández"]
    assert short.article.published_at.isoformat() == "2026-03-03T14:00:00+00:00"

    # The validators were stored under the documented key, with the injected clock.
    key = Keys(prefix).poll_state(hashlib.sha256(url.encode()).hexdigest()[:16])
    saved = {k.decode(): v.decode() for k, v in redis_client.hgetall(key).items()}
    assert saved["etag"].startswith('"') and saved["last_modified"].endswith("GMT")
    assert saved["checked_at"] == NOW.isoformat()
    assert site.requests[-1][1]["user-agent"] == USER_AGENT

    second = rig.service.poll(url)
    assert second.not_modified and second.outcomes == {} and second.errors == []
    assert site.requests[-1][1]["if-none-match"] == saved["etag"]
    assert len(rig.events.calls) == 2

    changed = fixture("rss.xml").replace(
        b"the only protection they have", b"the only protection they still have"
    )
    site.put("/feed/", Resource(changed, RSS, T1))
    third = rig.service.poll(url)
    assert third.outcomes == {
        "coca-growers-organise": Outcome.UPDATED,
        "description-only": Outcome.UNCHANGED,
    }
    assert rig.events.calls[2:] == [("updated", "coca-growers-organise")]


def test_same_content_new_etag_fires_nothing(site: Site, rig: Rig) -> None:
    """A server that changes its ETag without changing content: the hash catches it."""
    url = site.put("/feed/", Resource(fixture("rss.xml"), RSS, T0))
    rig.service.poll(url)
    site.put("/feed/", Resource(fixture("rss.xml") + b"\n<!-- rebuilt -->\n", RSS, T1))
    again = rig.service.poll(url)
    assert not again.not_modified
    assert set(again.outcomes.values()) == {Outcome.UNCHANGED}
    assert len(rig.events.calls) == 2


def test_atom_with_last_modified_only(site: Site, rig: Rig) -> None:
    url = site.put("/feed.atom", Resource(fixture("atom.xml"), ATOM, T0, etag=False))
    report = rig.service.poll(url, kind="feed")
    assert report.errors == []
    assert report.outcomes == {
        "dragas-mercurio": Outcome.CREATED,
        "solo-actualizado": Outcome.CREATED,
    }
    stored = rig.store.get("dragas-mercurio")
    assert stored is not None
    a = stored.article
    assert a.url == "https://diario.example.net/regiones/dragas-mercurio"
    assert a.title == "Minería ilegal: las dragas & el mercurio"
    assert a.authors == ["María López", "Pedro Ruiz"]
    assert a.topics == ["Environmental Crime", "Minería"]
    assert a.language == "es"
    assert a.licence == "CC-BY-4.0"
    assert a.summary == "Las dragas regresan a los ríos."
    assert a.published_at == datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    assert a.updated_at == datetime(2026, 3, 5, 16, 0, tzinfo=UTC)
    assert 'href="https://diario.example.net/especiales/oro"' in a.body_html
    only_updated = rig.store.get("solo-actualizado")
    assert only_updated is not None
    assert only_updated.article.published_at == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    assert "Contenido XHTML." in only_updated.article.body_html

    second = rig.service.poll(url, kind="feed")
    assert second.not_modified
    assert "if-none-match" not in site.requests[-1][1]
    assert site.requests[-1][1]["if-modified-since"] == "Mon, 02 Mar 2026 15:00:00 GMT"
    assert len(rig.events.calls) == 2


def test_wordpress_rest(site: Site, rig: Rig, publisher: Publisher) -> None:
    url = site.put("/wp-json/wp/v2/posts", Resource(fixture("wp-posts.json"), JSON, T0))
    report = rig.service.poll(url)
    assert report.kind == "wordpress"
    assert parse_qs(urlsplit(site.requests[-1][0]).query) == {"_embed": ["1"]}
    assert report.outcomes == {
        "port-scanners-broken": Outcome.CREATED,
        "two-authors-brief": Outcome.CREATED,
    }
    assert len(report.errors) == 1
    assert report.errors[0].startswith("https://news.example.org/news/brief/empty-post/: ")
    assert "body_html" in report.errors[0]

    stored = rig.store.get("port-scanners-broken")
    assert stored is not None
    a = stored.article
    assert a.title == "Port Scanners ‘Broken for Months’"
    assert a.summary == "Scanners at two ports have been out of service since last year"
    assert a.authors == ["Ana Gómez"]
    assert a.topics == ["Investigation", "Ports & Customs"]
    assert a.published_at == datetime(2026, 3, 6, 14, 0, tzinfo=UTC)
    assert a.updated_at == datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    assert a.image is not None and a.image.caption == "A container scanner"
    assert 'src="https://news.example.org/wp-content/uploads/2026/03/scanner.jpg"' in a.body_html
    brief = rig.store.get("two-authors-brief")
    assert brief is not None
    assert brief.article.authors == ["Ana Gómez", "Luis Fernández"]
    assert brief.article.topics == [] and brief.article.image is None
    assert brief.article.summary == "First paragraph of a brief."
    # No date_gmt: the local date is the site's (the publisher's) zone.
    assert brief.article.published_at.isoformat() == "2026-03-07T08:30:00-05:00"

    assert rig.service.poll(url).not_modified
    changed = (
        fixture("wp-posts.json")
        .replace(b"done by hand", b"done by hand, slowly")
        .replace(b'"modified_gmt": "2026-03-06T15:00:00"', b'"modified_gmt": "2026-03-08T15:00:00"')
    )
    site.put("/wp-json/wp/v2/posts", Resource(changed, JSON, T1))
    third = rig.service.poll(url)
    assert third.outcomes["port-scanners-broken"] is Outcome.UPDATED
    assert third.outcomes["two-authors-brief"] is Outcome.UNCHANGED
    assert rig.events.calls == [
        ("published", "port-scanners-broken"),
        ("published", "two-authors-brief"),
        ("updated", "port-scanners-broken"),
    ]


def test_auto_sniffs_json_list_and_xml(site: Site, rig: Rig) -> None:
    wp = site.put("/api/latest", Resource(fixture("wp-posts.json"), "application/json", T0))
    assert rig.service.poll(wp).kind == "wordpress"
    assert "_embed" not in site.requests[-1][0]  # not a /wp-json/ URL: fetched as given
    feed = site.put("/rss", Resource(fixture("rss.xml"), "text/xml", T0))
    assert rig.service.poll(feed).kind == "feed"


def test_request_url_for_wordpress() -> None:
    assert request_url("https://x.example", "wordpress") == (
        "https://x.example/wp-json/wp/v2/posts?_embed=1"
    )
    assert request_url("https://x.example/wp-json/wp/v2/posts?per_page=5", "auto") == (
        "https://x.example/wp-json/wp/v2/posts?per_page=5&_embed=1"
    )
    assert request_url("https://x.example/feed/", "auto") == "https://x.example/feed/"


@pytest.mark.parametrize(
    ("path", "resource", "kind", "reason"),
    [
        ("/feed", Resource(b"", "text/plain", T0, status=500), "auto", "HTTP 500"),
        ("/api", Resource(b'{"posts": []}', JSON, T0), "auto", "not a list of WordPress posts"),
        (
            "/wp-json/wp/v2/posts",
            Resource(b'{"code": "rest_no_route"}', JSON, T0),
            "auto",
            "expected a JSON list of WordPress posts",
        ),
        ("/page", Resource(b"<html><body>hi</body></html>", "text/html", T0), "feed", "not an RSS"),
        ("/wp-json/wp/v2/posts", Resource(b"<rss/>", RSS, T0), "wordpress", "not WordPress JSON"),
        ("/big", Resource(b"x" * 5000, RSS, T0), "feed", "over 4096"),
    ],
)
def test_source_errors_raise_and_store_nothing(
    site: Site, rig: Rig, path: str, resource: Resource, kind: str, reason: str
) -> None:
    rig.service.max_bytes = 4096
    url = site.put(path, resource)
    with pytest.raises(IngestError, match=reason) as info:
        rig.service.poll(url, kind=kind)
    assert str(info.value).startswith(site.base)
    assert rig.state.get(url) is None
    assert rig.events.calls == []


def test_unreachable_and_bad_kind(rig: Rig, publisher: Publisher) -> None:
    nothing = PollSource(url="http://127.0.0.1:9/")  # the discard port: nothing listens
    rig.service.publisher = publisher.model_copy(update={"sources": [nothing]})
    with pytest.raises(IngestError, match="ConnectError"):
        rig.service.poll("http://127.0.0.1:9/feed/")
    with pytest.raises(IngestError, match="unknown source kind"):
        rig.service.poll("http://127.0.0.1:9/feed/", kind="jsonfeed")


def test_import_examples_twice_fires_once(rig: Rig, tmp_path: Path) -> None:
    """File import goes through the same accept path: a repeat import is silent."""
    examples = ROOT / "examples" / "articles"
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "no url"}', encoding="utf-8")
    first = rig.service.import_paths([examples, bad])
    assert first.files == 7 and len(first.outcomes) == 6
    assert set(first.outcomes.values()) == {Outcome.CREATED}
    assert len(first.errors) == 1 and first.errors[0].startswith(f"{bad}: ")
    second = rig.service.import_paths([examples])
    assert set(second.outcomes.values()) == {Outcome.UNCHANGED} and second.errors == []
    assert [kind for kind, _ in rig.events.calls] == ["published"] * 6
    with pytest.raises(IngestError, match="exactly one"):
        rig.service.import_paths([examples], url="https://insightcrime.org/x/")


# -- identity: guid first, then link; a source touches only its own articles ---------------


def _rss(items: list[tuple[str, str, str]]) -> bytes:
    """An RSS 2.0 document of (guid, link, title) items ("" guid: no <guid>)."""
    parts = []
    for guid, link, title in items:
        guid_el = f'<guid isPermaLink="false">{guid}</guid>' if guid else ""
        parts.append(
            f"<item><title>{title}</title><link>{link}</link>{guid_el}"
            f"<description>&lt;p&gt;{title} body.&lt;/p&gt;</description>"
            "<pubDate>Mon, 02 Mar 2026 15:00:00 +0000</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Partner</title><link>https://partner.example/</link>{''.join(parts)}"
        "</channel></rss>"
    ).encode()


def test_four_items_whose_links_end_alike_are_four_articles(site: Site, rig: Rig) -> None:
    items = [
        ("", "https://blog.example/2026/01/index.html", "January"),
        ("", "https://blog.example/2026/02/index.html", "February"),
        ("https://blog.example/?p=1", "https://blog.example/?p=1", "Post one"),
        ("https://blog.example/?p=2", "https://blog.example/?p=2", "Post two"),
    ]
    url = site.put("/feed.xml", Resource(_rss(items), RSS, T0))
    report = rig.service.poll(url)
    assert report.errors == [] and len(report.outcomes) == 4
    assert set(report.outcomes.values()) == {Outcome.CREATED}
    titles = sorted(
        s.article.title for s in rig.store.get_many(list(report.outcomes)) if s is not None
    )
    assert titles == ["February", "January", "Post one", "Post two"]


def test_an_item_is_its_guid_even_when_its_link_changes(site: Site, rig: Rig) -> None:
    first = [("urn:uuid:7", "https://blog.example/drafts/story", "Story")]
    url = site.put("/feed.xml", Resource(_rss(first), RSS, T0))
    (article_id,) = rig.service.poll(url).outcomes
    moved = [("urn:uuid:7", "https://blog.example/2026/story", "Story")]
    site.put("/feed.xml", Resource(_rss(moved), RSS, T1))
    report = rig.service.poll(url)
    assert report.outcomes == {article_id: Outcome.UPDATED}
    stored = rig.store.get(article_id)
    assert stored is not None and stored.article.url == "https://blog.example/2026/story"


def test_a_third_party_item_on_the_publishers_url_is_refused_per_item(site: Site, rig: Rig) -> None:
    ours = rig.service.articles.submit(
        Article.model_validate(article_data(1, url="https://insightcrime.org/news/peru-coca/"))
    ).article
    items = [
        ("t-1", "https://insightcrime.org/news/peru-coca/", "Replaced by a partner"),
        ("t-2", "https://partner.example/news/peru-coca/", "Their own story"),
    ]
    url = site.put("/third-party.xml", Resource(_rss(items), RSS, T0))
    report = rig.service.poll(url)
    (error,) = report.errors
    assert error.startswith("https://insightcrime.org/news/peru-coca/: refused: ")
    assert repr(ours.id) in error and "'publisher'" in error
    (theirs,) = report.outcomes
    assert theirs != ours.id and report.outcomes[theirs] is Outcome.CREATED
    stored = rig.store.get(ours.id)
    assert stored is not None and stored.article.title == ours.title
    assert ("updated", ours.id) not in rig.events.calls


def test_the_publishers_own_source_updates_the_publishers_articles(
    site: Site, rig: Rig, publisher: Publisher
) -> None:
    """``own = true``: items of the publisher's own site are the publisher's, so they update
    what the API, an import or an earlier version stored under the same URL."""
    early = article_data(
        1, url="https://insightcrime.org/news/peru-coca/", published_at="2026-03-01T12:00:00Z"
    )
    ours = rig.service.articles.submit(Article.model_validate(early)).article
    items = [("https://insightcrime.org/?p=5", ours.url, "Peru coca, from our WordPress")]
    url = site.put("/own.xml", Resource(_rss(items), RSS, T1))
    own = IngestService(
        rig.service.articles,
        publisher.model_copy(update={"sources": [PollSource(url=url, own=True)]}),
        rig.state,
        clock=lambda: NOW,
    )
    report = own.poll(url)
    assert report.errors == [] and report.outcomes == {ours.id: Outcome.UPDATED}
    stored = rig.store.get(ours.id)
    assert stored is not None and stored.article.title == "Peru coca, from our WordPress"
    assert stored.owner == "publisher"


def test_an_import_of_another_sources_url_is_refused_and_the_rest_imported(
    rig: Rig, tmp_path: Path
) -> None:
    from syndication.identity import for_feed_item

    theirs = Article.model_validate(article_data(1, url="https://partner.example/story"))
    rig.service.articles.submit(
        theirs, for_feed_item("https://partner.example/feed", theirs.url, "g")
    )
    batch = tmp_path / "batch.json"
    batch.write_text(
        json.dumps(
            [
                article_data(1, url=theirs.url, title="Ours now", published_at=T0.isoformat()),
                article_data(2, published_at=T0.isoformat()),
            ]
        ),
        encoding="utf-8",
    )
    report = rig.service.import_paths([batch])
    (error,) = report.errors
    assert error.startswith(f"{batch}: {theirs.url}: refused: ") and "partner.example/feed" in error
    assert list(report.outcomes.values()) == [Outcome.CREATED]
    stored = rig.store.get(theirs.id)
    assert stored is not None and stored.article.title == theirs.title
