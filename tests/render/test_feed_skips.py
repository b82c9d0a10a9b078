"""One bad item never stops a feed build (issue 11 §2), and no item's date pins the feed's.

Articles here are made with ``model_copy(update=...)``: the model now refuses such dates at
ingest, but articles stored before that (and future bugs) still reach the builders.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from lxml import etree

from syndication.models import Article
from syndication.render.feed_common import (
    FUTURE_SLACK,
    ItemFailed,
    build_skipping,
    find_failing,
)
from syndication.render.feeds import (
    BUILDERS,
    EPOCH,
    FeedLinks,
    FeedSpec,
    SkipHandler,
    build_atom,
    build_json,
    build_rss,
    feed_updated,
)
from tests.support import article_data

AS_OF = datetime(2026, 12, 1, 12, tzinfo=UTC)
PLUS_14 = timezone(timedelta(hours=14))
MINUS_12 = timezone(timedelta(hours=-12))
SPEC = FeedSpec(
    name="all",
    title="InSight Crime",
    description="Organized crime in the Americas",
    site_url="https://insightcrime.org",
    language="en",
    publisher="InSight Crime",
    licence="CC-BY-4.0",
    links=FeedLinks(
        self_url="https://feeds.example/feeds/all.rss",
        alternates={},
        html_url="https://insightcrime.org/",
    ),
    as_of=AS_OF,
)
NS = {"atom": "http://www.w3.org/2005/Atom"}


def dated(n: int, when: datetime, **fields: Any) -> Article:
    valid = Article.model_validate(article_data(n))
    return valid.model_copy(update={"published_at": when, "updated_at": when, **fields})


def good(n: int) -> Article:
    return Article.model_validate(article_data(n))


YEAR_1 = dated(90, datetime(1, 1, 1, tzinfo=PLUS_14), id="year-one")  # no UTC equivalent
LAST_DAY = dated(91, datetime(9999, 12, 31, 23, tzinfo=MINUS_12), id="past-9999")  # neither


def collector() -> tuple[list[str], SkipHandler]:
    """A list of skipped article ids and the ``on_skip`` that fills it."""
    ids: list[str] = []
    return ids, lambda article, exc: ids.append(article.id)


def titles(fmt: str, document: bytes) -> list[str]:
    if fmt == "json":
        return [item["title"] for item in json.loads(document)["items"]]
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return [entry.title for entry in parsed.entries]


@pytest.mark.parametrize("fmt", list(BUILDERS))
def test_an_item_that_cannot_be_built_is_left_out_and_reported(fmt: str):
    _, build = BUILDERS[fmt]
    skipped: list[tuple[str, str]] = []
    articles = [good(3), YEAR_1, good(2), LAST_DAY, dated(92, datetime(1, 1, 1), id="naive")]
    document = build(SPEC, articles, lambda a, exc: skipped.append((a.id, type(exc).__name__)))
    assert titles(fmt, document) == ["Sample story 3", "Sample story 2"]
    assert skipped == [
        ("year-one", "ValueError"),
        ("past-9999", "ValueError"),
        ("naive", "ValueError"),
    ]
    assert document == build(SPEC, [good(3), good(2)])  # as if the bad ones were never there


def test_without_a_handler_the_skip_is_logged(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="syndication.render.feed_common"):
        build_rss(SPEC, [YEAR_1, good(1)])
    (record,) = caplog.records
    assert "'year-one'" in record.getMessage() and "no UTC equivalent" in record.getMessage()


def test_an_unknown_licence_skips_only_that_item():
    broken = good(4).model_copy(update={"id": "odd-licence", "licence": "WTFPL-9"})
    for fmt, (_, build) in BUILDERS.items():
        skipped, on_skip = collector()
        document = build(SPEC, [broken, good(1)], on_skip)
        assert titles(fmt, document) == ["Sample story 1"] and skipped == ["odd-licence"]


def test_a_feed_level_error_still_raises():
    """Only items are skipped: a spec that cannot be built is the caller's bug."""
    from dataclasses import replace

    with pytest.raises(KeyError):
        build_rss(replace(SPEC, licence="WTFPL-9"), [good(1)])


def test_build_skipping_retries_without_each_failing_item():
    seen: list[list[int]] = []

    def build(articles: list[Article]) -> bytes:
        ns = [int(a.id.rsplit("-", 1)[1]) for a in articles]
        seen.append(ns)
        for index, n in enumerate(ns):
            if n % 2:
                raise ItemFailed(index, ValueError(f"odd {n}"))
        return repr(ns).encode()

    reported: list[str] = []
    out = build_skipping(
        build, [good(n) for n in (1, 2, 3, 4)], lambda a, e: reported.append(str(e))
    )
    assert out == b"[2, 4]" and reported == ["odd 1", "odd 3"]
    assert seen == [[1, 2, 3, 4], [2, 3, 4], [2, 4]]


def test_find_failing_names_the_first_item_that_raises():
    with pytest.raises(ItemFailed) as failed:
        find_failing(["a", 1, "b", None], lambda item: item.upper())  # type: ignore[union-attr]
    assert failed.value.index == 1 and isinstance(failed.value.cause, AttributeError)
    find_failing(["a", "b"], str.upper)  # nothing fails: returns


# --- the feed's own date ---------------------------------------------------------------


def test_year_9999_never_pins_the_feeds_date():
    far = dated(93, datetime(9999, 12, 31, 12, tzinfo=UTC), id="far-future")
    articles = [far, good(3), good(2)]
    assert feed_updated(articles, AS_OF) == good(3).modified  # the newest plausible item
    channel = etree.fromstring(build_rss(SPEC, articles)).find("channel")
    assert parsedate_to_datetime(channel.findtext("lastBuildDate")) == good(3).modified
    assert len(channel.findall("item")) == 3  # the item itself is still served
    atom = etree.fromstring(build_atom(SPEC, articles))
    assert datetime.fromisoformat(atom.findtext("atom:updated", namespaces=NS)) == good(3).modified
    assert feed_updated([far], AS_OF) == EPOCH
    assert feed_updated(articles) == far.modified  # no as_of: no bound (pure callers)


def test_a_date_slightly_ahead_moves_the_feed_but_never_past_as_of():
    """A CMS clock a little fast: the new item must move Last-Modified (or If-Modified-Since
    clients miss it), and HTTP forbids a Last-Modified later than the response."""
    ahead = dated(94, AS_OF + timedelta(hours=3))
    assert feed_updated([ahead, good(3)], AS_OF) == AS_OF
    assert feed_updated([dated(95, AS_OF + FUTURE_SLACK + timedelta(seconds=1))], AS_OF) == EPOCH
    build_json(SPEC, [ahead])  # every format still builds it


OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
DATES = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    OFFSETS,
)


def utc_or_none(when: datetime) -> datetime | None:
    try:
        return when.astimezone(UTC)
    except OverflowError:
        return None


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dates=st.lists(st.one_of(DATES, st.sampled_from([YEAR_1.published_at])), max_size=6))
def test_any_dates_build_every_format_and_bound_the_feeds_date(dates: list[datetime]):
    articles = [dated(n, when, id=f"a-{n}") for n, when in enumerate(dates, 1)]
    buildable = [a.id for a in articles if utc_or_none(a.published_at) is not None]
    for fmt, (_, build) in BUILDERS.items():
        skipped, on_skip = collector()
        document = build(SPEC, articles, on_skip)
        assert skipped == [a.id for a in articles if a.id not in buildable], fmt
        assert len(titles(fmt, document)) == len(buildable), fmt
    updated = feed_updated(articles, AS_OF)
    assert updated <= AS_OF
    plausible = [
        min(when, AS_OF)
        for when in map(utc_or_none, dates)
        if when is not None and when <= AS_OF + FUTURE_SLACK
    ]
    assert updated == max(plausible, default=EPOCH)
