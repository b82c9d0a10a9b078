"""Article identity as plain values: the canonical URL and the ids minted from identities."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndication.identity import (
    PUBLISHER,
    canonical_url,
    feed_owner,
    for_api,
    for_feed_item,
    for_url,
    id_candidates,
)

_ID_CHARS = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("HTTPS://Blog.Example/a", "https://blog.example/a"),
        ("https://blog.example:443/a", "https://blog.example/a"),
        ("http://blog.example:80/a", "http://blog.example/a"),
        ("https://blog.example/a#comments", "https://blog.example/a"),
        ("https://blog.example", "https://blog.example/"),
        ("https://blog.example/a?utm_source=news&utm_medium=email", "https://blog.example/a"),
        ("https://blog.example/?p=1&utm_campaign=x", "https://blog.example/?p=1"),
        ("https://blog.example/caf%c3%a9", "https://blog.example/caf%C3%A9"),
        ("https://blog.example./a", "https://blog.example/a"),
    ],
)
def test_what_never_changes_the_page_is_normalised(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://blog.example/?p=1", "https://blog.example/?p=2"),  # WordPress permalinks
        ("https://blog.example/2024/01/index.html", "https://blog.example/2024/02/index.html"),
        ("https://blog.example/a", "https://blog.example/a/"),  # may be two pages
        ("https://blog.example/Story", "https://blog.example/story"),  # paths are case-sensitive
        ("http://blog.example/a", "https://blog.example/a"),
        ("https://blog.example:8443/a", "https://blog.example/a"),
        ("https://blog.example/a?id=1&page=2", "https://blog.example/a?id=1"),
    ],
)
def test_what_may_name_another_page_is_kept(a: str, b: str) -> None:
    assert canonical_url(a) != canonical_url(b)


def test_identities_name_the_sender_and_what_it_calls_the_article() -> None:
    url = "https://Blog.Example/2024/01/index.html#top"
    assert for_url(url).owner == PUBLISHER
    assert for_url(url).key == "url:https://blog.example/2024/01/index.html"
    assert for_api(url, "wp-123").key == "id:wp-123"
    assert for_api(url, "wp-123").preferred_id == "wp-123"
    assert for_api(url, "Post 123").preferred_id == "index"  # not an id: the URL's slug
    assert for_api(url, None) == for_url(url)
    item = for_feed_item("https://Partner.Example/feed", url, "urn:uuid:1")
    assert (
        item.owner
        == feed_owner("https://partner.example/feed")
        == ("feed:https://partner.example/feed")
    )
    assert item.key == "guid:urn:uuid:1"
    assert for_feed_item("https://partner.example/feed", url, "").key.startswith("url:")
    own = for_feed_item("https://insightcrime.org/feed/", url, "123", own=True)
    assert own.owner == PUBLISHER and own.key == "guid:https://insightcrime.org/feed/ 123"
    assert for_feed_item("https://insightcrime.org/feed/", url, "", own=True) == for_url(url)
    assert len(for_api(url, "x" * 5000).key) < 100  # long keys are kept as a hash


@settings(max_examples=200, deadline=None)
@given(base=_ID_CHARS, keys=st.lists(st.text(min_size=1, max_size=30), min_size=2, max_size=5))
def test_two_identities_never_share_a_hashed_candidate(base: str, keys: list[str]) -> None:
    """The first candidate (the readable id) may be shared; the store then moves on to the
    hashed ones, which differ for different identities."""
    base = base.strip("-") or "a"
    identities = {for_api(f"https://blog.example/{base}", k) for k in keys}
    hashed = [list(id_candidates(i))[1:] for i in identities]
    flat = [c for cands in hashed for c in cands]
    assert len(flat) == len(set(flat))
