"""An embargoed article never appears early in any public output (issue #16).

One article under embargo until T, among ordinary ones, through the real app on a real
Redis. At T−1 s (the test's clock) every public document is fetched — every GET route of
the app without parameters (home page, /feeds, /archive, the API, …), every feed in the
catalog and every feed the article will be in, in every format, their RFC 5005 archive
pages, the archive page of an edition made then, the API's article URL, the republish page
— and the digest preview and selection are asked; none names the article by id, title or
URL. The release then runs at T+1 s, and the article is in each one where it belongs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from syndication.context import Context
from syndication.feed_catalog import feed_titles
from syndication.models import Article
from syndication.services.feeds import FORMATS
from syndication.slugs import slug_in_url
from syndication.web.app import create_app
from tests.support import article_data, wait_for
from tests.support.clock import ManualClock

ITEMS = 2  # feed length: small, so that archive pages exist
SECRET_TITLE = "Zebra-crossing report under embargo"
SECRET_URL = "https://insightcrime.org/news/analysis/zebra-crossing-report/"
# Names that only the embargoed article has: its feeds must not exist before the release.
SECRET_NAMES = {"topics": ["Zebra crossings"], "authors": ["Quillon Embargo"]}
NOT_DOCUMENTS = ("/admin", "/partners", "/metrics", "/healthz", "/openapi")


@pytest.fixture
def app(context: Context) -> Iterator[TestClient]:
    context.feeds.items = ITEMS
    with TestClient(create_app(context)) as client:
        yield client


def _subscribe(context: Context, address: str, frequency: str) -> None:
    context.subscriptions.subscribe(address, frequency, (), "en", source="test")
    sub = context.subscriber_store.get_by_email(address)
    assert sub is not None
    context.subscriber_store.confirm(sub.id, context.clock())


def _store(context: Context, clock: ManualClock, release: datetime) -> str:
    """Five ordinary articles of the last days and the embargoed one; returns its id."""
    now = clock()
    for n in range(1, 6):
        when = (now - timedelta(hours=10 * n)).isoformat()
        context.articles.accept(Article.model_validate(article_data(n, published_at=when)))
    secret = article_data(
        99,
        url=SECRET_URL,
        title=SECRET_TITLE,
        published_at=now.isoformat(),
        embargoed_until=release.isoformat(),
        **SECRET_NAMES,
    )
    written = context.articles.submit(Article.model_validate(secret))
    _subscribe(context, "reader@example.org", "daily")
    _subscribe(context, "weekly@example.org", "weekly")
    return written.article.id


def _public_paths(app: TestClient) -> list[str]:
    """Every GET route without parameters that is a public document."""
    out = [
        path
        for path, methods in _routes(app.app.routes)  # type: ignore[attr-defined]
        if "GET" in methods and "{" not in path and not path.startswith(NOT_DOCUMENTS)
    ]
    assert {"/", "/feeds", "/archive", "/api/articles"} <= set(out)
    return out


def _routes(routes: list[Any]) -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route, into included routers (FastAPI ≥ 0.165 keeps them
    as ``_IncludedRouter`` entries; their routes' paths are whole)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        elif hasattr(route, "path"):
            yield route.path, set(getattr(route, "methods", None) or ())


def _feed_paths(context: Context, names: set[str]) -> list[str]:
    """Every format of each feed, and of each of its archive pages (RFC 5005)."""
    out = []
    for name in sorted(names):
        base = f"/feeds/{slug_in_url(name)}"
        pages = context.article_store.feed_count(name) // ITEMS
        for fmt in FORMATS:
            out.append(f"{base}.{fmt}")
            out += [f"{base}/archive/{page}.{fmt}" for page in range(1, pages + 1)]
    return out


def _documents(app: TestClient, context: Context, secret_id: str, edition: str) -> dict[str, str]:
    names = {info.name for info in context.feeds.catalog()} | set(
        feed_titles(_secret(context, secret_id))
    )
    paths = _public_paths(app) + _feed_paths(context, names)
    paths += [f"/archive/{edition}", f"/api/articles/{secret_id}", f"/republish/{secret_id}"]
    return {path: app.get(path).text for path in paths}


def _secret(context: Context, secret_id: str) -> Article:
    stored = context.article_store.get(secret_id)
    assert stored is not None
    return stored.article


def _named(text: str, secret_id: str) -> list[str]:
    return [mark for mark in (secret_id, SECRET_TITLE, SECRET_URL) if mark in text]


def _digest_ids(context: Context, frequency: str) -> set[str]:
    preview = context.digests.preview(frequency, context.clock())
    found = {i for segment in preview["segments"] for i in segment["articles"]}
    return found | {a.id for a in context.digests.creation.candidates(frequency, context.clock())}


def test_an_embargoed_article_never_appears_early_in_any_public_output(
    app: TestClient, context: Context, clock: ManualClock
) -> None:
    release = clock() + timedelta(hours=1)
    secret_id = _store(context, clock, release)
    clock.advance(seconds=3600 - 1)  # T − 1 s
    context.articles.release_embargoes(clock())  # not due: releases nothing
    context.feeds.rebuild_dirty()
    daily = context.digests.create_edition("daily", clock())
    assert daily.edition_id
    assert app.get(f"/archive/{daily.edition_id}").status_code == 200  # a page to check

    early = _documents(app, context, secret_id, daily.edition_id)
    assert len(early) > 40  # every feed in every format and its archives, the pages
    leaks = {path: found for path, text in early.items() if (found := _named(text, secret_id))}
    assert leaks == {}
    for name in ("topic/zebra-crossings", "author/quillon-embargo"):
        assert app.get(f"/feeds/{name}.rss").status_code == 404  # no such feed yet
    assert secret_id not in _digest_ids(context, "daily")
    edition = context.digests.status(daily.edition_id)
    assert edition is not None and secret_id not in edition.article_ids

    clock.advance(seconds=2)  # T + 1 s
    assert context.articles.release_embargoes(clock()) == [secret_id]
    assert context.articles.release_embargoes(clock()) == []  # released once
    assert ("published", secret_id) in context.events.calls  # the path a publish takes
    context.feeds.rebuild_dirty()
    _check_released(app, context, secret_id)


def _check_released(app: TestClient, context: Context, secret_id: str) -> None:
    """Where the released article belongs: the home page, each feed it is in (every
    format; the feed front's memory drops the old bytes when told), the catalog, the
    digest's selection and an edition made now, and the API for its CMS."""
    secret = _secret(context, secret_id)
    for name in feed_titles(secret):
        for fmt in FORMATS:
            path = f"/feeds/{slug_in_url(name)}.{fmt}"
            wait_for(lambda p=path: SECRET_URL in app.get(p).text)  # type: ignore[misc]
            assert SECRET_TITLE in app.get(path).text
    home = app.get("/").text
    assert SECRET_TITLE in home and SECRET_URL in home
    catalog = app.get("/feeds").text
    assert "/feeds/topic/zebra-crossings.rss" in catalog
    assert secret_id in _digest_ids(context, "weekly")
    weekly = context.digests.create_edition(
        "weekly", context.clock(), since=datetime(2026, 11, 1, tzinfo=UTC)
    )
    assert SECRET_TITLE in app.get(f"/archive/{weekly.edition_id}").text
    token = context.settings.api_token
    auth = {"Authorization": f"Bearer {token}"}
    listed = app.get("/api/articles", headers=auth).json()["articles"]
    assert secret_id in [a["id"] for a in listed]
