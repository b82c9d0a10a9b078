"""What the Article model lets in, whichever way an article comes: dates, URLs, sizes, text.

Every path (API, file import, polling, page parsers) ends in ``article_from_data``, so these
properties are checked there, with hypothesis feeding the whole class of input; the
per-path tests at the end show the same limits hold through the poll and import parsers.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from pydantic import ValidationError

from syndication.config import Publisher, load_publisher
from syndication.ingest.files import load_path
from syndication.ingest.normalise import IngestError, article_from_data
from syndication.ingest.poll import parse_feed, parse_wordpress
from syndication.models import (
    MAX_AUTHORS,
    MAX_BODY_BYTES,
    MAX_NAME,
    MAX_TOPICS,
    MAX_URL,
    Article,
)
from syndication.render.feeds import BUILDERS, FeedLinks, FeedSpec
from tests.support import EXAMPLE_CONFIG, article_data
from tests.support.clock import START

BOUNDED = settings(max_examples=200, deadline=None)
SPEC = FeedSpec(
    name="all",
    title="InSight Crime",
    description="Organized crime in the Americas",
    site_url="https://insightcrime.org",
    language="en",
    publisher="InSight Crime",
    licence="CC-BY-NC-4.0",
    links=FeedLinks(
        self_url="http://testserver/feeds/all.rss",
        alternates={f: f"http://testserver/feeds/all.{f}" for f in ("rss", "atom", "json")},
        html_url="https://insightcrime.org/",
    ),
)

# RFC 3986's ABNF for an http(s) URI, written out independently of the code under test.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
RFC3986_HTTP = re.compile(
    rf"^https?://(?:\[[0-9A-Fa-f:.]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})+)(?::[0-9]*)?"
    rf"(?:/{_PCHAR}*)*(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?$"
)
FORBIDDEN = set(' "<>\\^`{|}')
CONTROL = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]]


@pytest.fixture(scope="module")
def publisher() -> Publisher:
    return load_publisher(EXAMPLE_CONFIG)


def fields_of(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in err["loc"]) for err in exc.errors()}


def build_every_format(article: Article) -> None:
    """The article in RSS, Atom and JSON Feed: none raises, and the XML parses."""
    for fmt, (_, build) in BUILDERS.items():
        document = build(SPEC, [article])
        if fmt == "json":
            json.loads(document)
        else:
            etree.fromstring(document)


# -- dates -------------------------------------------------------------------------------

offsets = st.timedeltas(
    min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
).map(lambda d: timezone(timedelta(minutes=round(d.total_seconds() / 60))))
zones = st.one_of(offsets, st.timezones())
aware = st.datetimes(timezones=zones) | st.datetimes(  # and often near the bounds
    min_value=datetime(1969, 12, 30), max_value=datetime(2026, 12, 3), timezones=zones
)


@BOUNDED
@given(published=aware)
def test_any_aware_date_is_feed_buildable_or_refused_naming_the_field(
    publisher: Publisher, published: datetime
) -> None:
    try:
        article = article_from_data(
            article_data(1, published_at=published.isoformat()), publisher, now=START
        )
    except ValidationError as exc:
        assert fields_of(exc) == {"published_at"}
        return
    assert datetime(1970, 1, 1, tzinfo=UTC) <= article.published_at <= START + timedelta(days=1)
    build_every_format(article)


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+14:00",  # overflowed every feed rebuild
        "9999-12-31T23:59:59-14:00",  # pinned the article on top
        "1969-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "2026-11-01T12:00:00",  # naive: whose noon?
    ],
)
def test_implausible_dates_are_refused(publisher: Publisher, value: str) -> None:
    for field in ("published_at", "updated_at"):
        data = article_data(1, **{field: value})
        with pytest.raises(ValidationError) as info:
            article_from_data(data, publisher)
        assert field in fields_of(info.value)


def test_scheduled_posts_may_be_a_day_ahead_of_the_callers_clock(publisher: Publisher) -> None:
    soon = (START + timedelta(hours=23)).isoformat()
    assert article_from_data(article_data(1, published_at=soon), publisher, now=START)
    later = (START + timedelta(days=1, minutes=1)).isoformat()
    for field in ("published_at", "updated_at"):
        data = article_data(1, **{"published_at": START.isoformat(), field: later})
        with pytest.raises(ValidationError) as info:
            article_from_data(data, publisher, now=START)
        assert fields_of(info.value) == {field}
        assert "ahead of now" in str(info.value)


# -- URLs --------------------------------------------------------------------------------

url_chars = st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from(
    [*FORBIDDEN, "%", "/", "?", "#", "[", "]", "@", ":", "é", "\t", "\n", "\x00"]
)
url_tail = st.lists(st.text(url_chars, max_size=8) | st.sampled_from(["%2", "%41", "%e2%82"]))
urls = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda scheme, host, rest: scheme + host + rest,
        st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "//", "javascript:", ""]),
        st.sampled_from(
            ["ex.org", "bücher.de", "[::1]", "u:p@ex.org", "ex.org:8080", "", "ex..org", "a_b.c"]
        ),
        url_tail.map("".join) | st.just("/" + "a" * MAX_URL),
    ),
)


@BOUNDED
@given(url=urls, where=st.sampled_from(["url", "image.url", "related.0.url"]))
def test_accepted_urls_are_absolute_valid_bounded_and_stable(
    publisher: Publisher, url: str, where: str
) -> None:
    data = article_data(1, related=[{"title": "See also", "url": "https://ex.org/r"}])
    if where == "url":
        data["url"] = url
    elif where == "image.url":
        data["image"] = {"url": url}
    else:
        data["related"] = [{"title": "See also", "url": url}]
    try:
        article = article_from_data(data, publisher)
    except ValidationError as exc:
        # An article URL urlsplit cannot parse ("https://[x/") fails first in the id
        # derivation, which reports it for the whole article (issue 11 §1 rewrites it).
        assert where in fields_of(exc) or (where == "url" and fields_of(exc) == {""})
        return
    accepted = {
        "url": article.url,
        "image.url": article.image.url if article.image else "",
        "related.0.url": article.related[0].url,
    }[where]
    assert RFC3986_HTTP.match(accepted), accepted
    assert not FORBIDDEN & set(accepted) and len(accepted) <= MAX_URL
    assert urlsplit(accepted).scheme in ("http", "https") and urlsplit(accepted).hostname
    assert Article.model_validate(article.to_json()) == article  # a stored URL reads back as is
    build_every_format(article)


@pytest.mark.parametrize(
    "url",
    [
        'https://insightcrime.org/a"onmouseover="x',
        "https://insightcrime.org/<script>",
        "https://insightcrime.org/a b",
        "https://user:secret@insightcrime.org/a",
        "https://insightcrime.org/100%",
        "https://insightcrime.org/" + "a" * MAX_URL,
        "mailto:news@insightcrime.org",
    ],
)
def test_hostile_urls_are_refused_in_every_url_field(publisher: Publisher, url: str) -> None:
    for field, extra in (
        ("url", {"url": url}),
        ("image.url", {"image": {"url": url}}),
        ("related.0.url", {"related": [{"title": "See also", "url": url}]}),
    ):
        with pytest.raises(ValidationError) as info:
            article_from_data(article_data(1, **extra), publisher)
        assert field in fields_of(info.value)


def test_international_urls_are_percent_encoded_not_refused(publisher: Publisher) -> None:
    article = article_from_data(
        article_data(1, url="https://bücher.example/perú/año?q=ñ", image="/fotos/niño.jpg"),
        publisher,
    )
    assert article.url == "https://xn--bcher-kva.example/per%C3%BA/a%C3%B1o?q=%C3%B1"
    assert article.image is not None
    assert article.image.url == "https://xn--bcher-kva.example/fotos/ni%C3%B1o.jpg"


# -- sizes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "ok", "too_much"),
    [
        ("authors", ["A" * MAX_NAME], ["A" * (MAX_NAME + 1)]),
        ("authors", [f"Author {i}" for i in range(MAX_AUTHORS)], [f"A{i}" for i in range(21)]),
        ("topics", [f"Topic {i}" for i in range(MAX_TOPICS)], [f"T{i}" for i in range(31)]),
        ("topics", ["T" * MAX_NAME], ["T" * (MAX_NAME + 1)]),
        ("section", "S" * MAX_NAME, "S" * (MAX_NAME + 1)),
        ("title", "T" * 1000, "T" * 1001),
        ("summary", "S" * 5000, "S" * 5001),
        ("image", {"url": "https://ex.org/i.jpg", "credit": "C" * MAX_NAME},
         {"url": "https://ex.org/i.jpg", "credit": "C" * (MAX_NAME + 1)}),
        ("image", {"url": "https://ex.org/i.jpg", "caption": "C" * 1000},
         {"url": "https://ex.org/i.jpg", "caption": "C" * 1001}),
    ],
)  # fmt: skip
def test_names_and_texts_are_bounded(
    publisher: Publisher, field: str, ok: object, too_much: object
) -> None:
    assert article_from_data(article_data(1, **{field: ok}), publisher)
    with pytest.raises(ValidationError) as info:
        article_from_data(article_data(1, **{field: too_much}), publisher)
    assert {f.split(".")[0] for f in fields_of(info.value)} == {field}


def test_body_is_capped_at_the_api_limit_in_utf8_bytes(publisher: Publisher) -> None:
    paragraph = "<p>" + "ñ" * 1000 + "</p>"  # 2,007 bytes of UTF-8 for 1,007 characters
    fits = paragraph * (MAX_BODY_BYTES // len(paragraph.encode()))
    assert article_from_data(article_data(1, body_html=fits), publisher)
    over = paragraph * (len(fits) // len(paragraph) + 1)  # fewer characters than the cap
    assert len(over) < MAX_BODY_BYTES < len(over.encode())
    with pytest.raises(ValidationError) as info:
        article_from_data(article_data(1, body_html=over), publisher)
    assert fields_of(info.value) == {"body_html"}
    assert f"at most {MAX_BODY_BYTES} bytes" in str(info.value)


# -- control characters ------------------------------------------------------------------

words = st.lists(st.text(st.characters(categories=("L", "N")), min_size=1), min_size=2, max_size=6)


@BOUNDED
@given(words=words, separators=st.lists(st.sampled_from(CONTROL), min_size=5, max_size=5))
def test_control_characters_become_spaces_never_glue(
    publisher: Publisher, words: list[str], separators: list[str]
) -> None:
    joined = "".join(w + separators[i % 5] for i, w in enumerate(words)).rstrip("".join(CONTROL))
    article = article_from_data(
        article_data(
            1,
            title=joined,
            summary=joined,
            authors=[joined],
            section=joined,
            topics=[joined],
            body_html=f"<p>{joined}</p>",
        ),
        publisher,
    )
    spaced = " ".join(words)
    assert article.title == article.summary == article.section == spaced
    assert article.authors == article.topics == [spaced]
    assert article.body_html == f"<p>{spaced}</p>"
    assert not set(CONTROL) & set(article.body_html)


# -- the same limits through the other paths in ----------------------------------------


def rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title>'
        "<link>https://partner.example/</link><description>D</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def item(link: str, date: str = "Tue, 01 Dec 2026 09:00:00 +0000", extra: str = "") -> str:
    return (
        f"<item><title>Story</title><link>{link}</link><pubDate>{date}</pubDate>"
        f"<description>Body text.</description>{extra}</item>"
    )


def test_polled_items_meet_the_same_limits_one_bad_item_skipped(publisher: Publisher) -> None:
    body = rss(
        item("https://partner.example/good"),
        item("https://partner.example/far-future", "Fri, 31 Dec 9999 23:59:59 +0000"),
        item("https://partner.example/next-week", "Tue, 08 Dec 2026 09:00:00 +0000"),
        item("https://partner.example/long-name", extra=f"<dc:creator>{'N' * 300}</dc:creator>"),
        item("https://partner.example/a&quot;b"),
    )
    parsed = parse_feed(body, publisher, "https://partner.example/feed", now=START)
    assert [a.url for a in parsed.articles] == ["https://partner.example/good"]
    assert len(parsed.errors) == 4
    far, week, name, quote = parsed.errors
    assert "published_at: must be between 1970-01-01 and 2100-01-01" in far
    assert "published_at: must not be more than 1 day ahead of now" in week
    assert "authors.0: must be at most 200 characters (got 300)" in name
    assert 'url: must not contain "' in quote


def test_wordpress_dates_from_year_one_are_refused(publisher: Publisher) -> None:
    post = {
        "id": 7,
        "link": "https://wp.example/?p=7",
        "date_gmt": "0001-01-01T00:00:00",
        "title": {"rendered": "Old"},
        "content": {"rendered": "<p>Text</p>"},
    }
    parsed = parse_wordpress(json.dumps([post]).encode(), publisher, "https://wp.example/wp-json")
    assert parsed.articles == []
    assert len(parsed.errors) == 1 and "published_at: must be between" in parsed.errors[0]


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_import_refuses_an_oversized_article_in_one_line(
    tmp_path: Path, publisher: Publisher
) -> None:
    big = write(tmp_path, "big.json", article_data(1, body_html="<p>" + "x" * MAX_BODY_BYTES))
    with pytest.raises(IngestError) as info:
        load_path(big, publisher)
    message = str(info.value)
    assert message.startswith(f"{big}: body_html: must be at most {MAX_BODY_BYTES} bytes")
    assert "\n" not in message


def test_import_refuses_a_file_over_the_read_cap_unread(
    tmp_path: Path, publisher: Publisher
) -> None:
    sparse = tmp_path / "huge.json"
    with sparse.open("wb") as handle:  # a hole: no disk or time spent on the test itself
        handle.truncate(1024 * 1024 + 1)
    with pytest.raises(IngestError) as info:
        load_path(sparse, publisher, max_bytes=1024 * 1024)
    assert str(info.value) == f"{sparse}: file is larger than 1048576 bytes"


def test_import_checks_dates_against_the_callers_clock(
    tmp_path: Path, publisher: Publisher
) -> None:
    ahead = (START + timedelta(days=3)).isoformat()
    path = write(tmp_path, "ahead.json", article_data(1, published_at=ahead))
    assert load_path(path, publisher)  # no clock given: only the fixed window applies
    with pytest.raises(IngestError) as info:
        load_path(path, publisher, now=START)
    assert "published_at: must not be more than 1 day ahead of now" in str(info.value)


def test_records_stored_before_these_limits_still_read_back() -> None:
    """The store reads its records with ``context={"stored": True}`` where it must not lose
    them (withdrawing one): the limits on incoming input are not applied again."""
    legacy = article_data(
        1,
        url='https://insightcrime.org/a"b',
        published_at="0001-01-01T00:00:00+14:00",
        authors=["N" * 300, *(f"A{i}" for i in range(30))],
        body_html="<p>" + "x" * MAX_BODY_BYTES + "</p>",
        image={"url": "https://insightcrime.org/i<1>.jpg", "caption": "C" * 2000},
    )
    with pytest.raises(ValidationError):
        Article.model_validate(legacy)
    article = Article.model_validate(legacy, context={"stored": True})
    assert article.url == legacy["url"] and article.published_at.year == 1
    assert len(article.authors) == 31


def test_an_update_before_publication_is_refused_naming_updated_at(publisher: Publisher) -> None:
    data = article_data(1, published_at="2026-11-02T12:00:00Z", updated_at="2026-11-01T12:00:00Z")
    with pytest.raises(ValidationError) as info:
        article_from_data(data, publisher)
    assert fields_of(info.value) == {"updated_at"}
    assert "must not be before published_at" in str(info.value)
