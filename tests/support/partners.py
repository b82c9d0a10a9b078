"""Partner-feed sample data: articles under a mix of licences, and the attribution check."""

from __future__ import annotations

from typing import Any

from syndication.context import Context
from syndication.licences import LICENCES
from syndication.models import Article
from syndication.render.attribution import inspect_attribution
from tests.support import article_data
from tests.support.clock import START

NOW = START  # the `clock` fixture starts here too
PUBLISHER = "InSight Crime"

# id suffix → overrides: a mix of licences, topics, sections and languages.
ARTICLES: dict[int, dict[str, Any]] = {
    1: {"licence": "CC-BY-NC-4.0", "topics": ["Coca"], "section": "Brief"},
    2: {"licence": "CC-BY-4.0", "topics": ["Illegal Mining"], "section": "Analysis"},
    3: {"licence": "all-rights-reserved", "topics": ["Coca"]},
    4: {"licence": "CC-BY-4.0", "republishable": False, "topics": ["Coca"]},
    5: {"licence": "CC-BY-NC-SA-4.0", "topics": ["Coca"], "language": "es", "section": "News"},
    6: {"licence": "CC-BY-SA-3.0", "topics": ["Extortion"], "section": "Brief"},
    7: {"licence": "CC0-1.0", "topics": ["Coca", "Peru"], "section": "News"},
    8: {
        "licence": "CC-BY-ND-4.0",
        "topics": ["Peru"],
        "title": 'Hostile <script>alert("t")</script> & "quotes"',
        "authors": ["Ana <b>Bold</b>", "Ben & Co"],
    },
}


def add_articles(ctx: Context, which: dict[int, dict[str, Any]] = ARTICLES) -> dict[str, Article]:
    out = {}
    for n, overrides in which.items():
        article = Article.model_validate(article_data(n, **overrides))
        ctx.articles.accept(article)
        out[article.id] = article
    return out


def assert_attributed(item: dict[str, Any], article: Article) -> None:
    found = inspect_attribution(item["html"])
    assert found.top_url == article.url, item["title"]
    assert article.url in found.bottom_urls
    assert found.about == article.url
    assert found.licence_url == LICENCES[article.licence].url
    assert found.licence_name == LICENCES[article.licence].name
    assert found.byline_publisher == PUBLISHER
    assert found.byline is not None and PUBLISHER in found.byline
    assert found.attribution_name == PUBLISHER
