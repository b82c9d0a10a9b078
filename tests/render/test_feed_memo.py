"""Items rendered once and reused (``ItemMemo``): the documents are the same bytes with or
without a memo, whatever other builds shared it, and a changed article is never served
from what its old version made."""

from __future__ import annotations

from dataclasses import replace

from syndication.models import Article
from syndication.render.feed_memo import ItemMemo
from syndication.render.feeds import BUILDERS, FeedLinks, FeedSpec
from tests.support import article_data

LINKS = FeedLinks(
    self_url="https://feeds.example/feeds/all.rss",
    alternates={fmt: f"https://feeds.example/feeds/all.{fmt}" for fmt in BUILDERS},
    html_url="https://insightcrime.org/",
    hubs=("https://hub.example/",),
)
SPEC = FeedSpec(
    name="all",
    title="InSight Crime",
    description="Organized crime in the Americas",
    site_url="https://insightcrime.org",
    language="en",
    publisher="InSight Crime",
    licence="CC-BY-NC-4.0",
    links=LINKS,
)
IMAGE = {"url": "https://insightcrime.org/lead.jpg?w=1&h=2", "caption": "A & B", "credit": "C"}


def articles() -> list[Article]:
    out = []
    for n in range(1, 9):
        data = article_data(n, topics=["Coca", "T & <U>"])
        if n % 2:
            data["image"] = {**IMAGE, "licence": "CC-BY-4.0"}
        if n % 3 == 0:
            data["licence"] = "all-rights-reserved"
        out.append(Article.model_validate(data))
    return out


def test_documents_are_the_same_bytes_with_a_shared_memo():
    items = articles()
    memo = ItemMemo()
    specs = [
        SPEC,
        replace(SPEC, name="topic/coca", title="InSight Crime: Coca"),
        replace(SPEC, licence="CC-BY-4.0"),
        replace(SPEC, attributed=True),
        replace(SPEC, site_url="https://other.example", publisher="Other"),
    ]
    for spec in specs:
        for subset in (items, items[1::2], items[:1], items[::-1]):
            for _, build in BUILDERS.values():
                assert build(spec, subset, None, memo) == build(spec, subset)
    assert 0 < len(memo) <= len(items)


def test_a_changed_article_is_rendered_again():
    first = articles()
    memo = ItemMemo()
    for _, build in BUILDERS.values():
        build(SPEC, first, None, memo)
    changed = [first[0].model_copy(update={"title": "A new title"}), *first[1:]]
    for fmt, (_, build) in BUILDERS.items():
        document = build(SPEC, changed, None, memo)
        assert document == build(SPEC, changed), fmt
        assert b"A new title" in document and b"Sample story 1<" not in document


def test_the_memo_keeps_the_most_recently_used_articles():
    memo = ItemMemo(size=2)
    a, b, c = articles()[:3]
    made: list[str] = []
    for article in (a, b, a, c, a, b):
        memo.get(article, "k", lambda article=article: made.append(article.id) or article.id)
    # a stays (used last but one each time), b is pushed out by c and made again
    assert made == [a.id, b.id, c.id, b.id]
