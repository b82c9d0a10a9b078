"""What a partner's feed shows for an article that changed after the partner received it.

The store remembers the version of each article a partner first received. If the article
changes, its entry keeps its id (so importers update in place), gets a new ``updated``
date (Atom ``updated``, RSS/JSON ``date_modified``) and the visible note
``correction_note`` at the top of the content. A withdrawn article becomes the short
``withdrawn_notice`` for ``withdrawn_days`` days, for partners that received it. Both are
plain functions of the article, the publisher and the article's own dates.
"""

from __future__ import annotations

from datetime import UTC
from html import escape

from syndication.config import Publisher
from syndication.models import Article
from syndication.store.articles import StoredArticle


def correction_note(article: Article, publisher: Publisher) -> str:
    when = article.modified.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<p class="syndication-correction"><strong>Updated '
        f"{escape(when)}:</strong> {escape(publisher.attribution_name)} changed this "
        "article after it was first sent to you. Please replace your copy with this "
        "version.</p>"
    )


def withdrawn_notice(stored: StoredArticle, publisher: Publisher) -> Article:
    article = stored.article
    when = stored.changed_at.astimezone(UTC)
    name = escape(publisher.attribution_name)
    body = (
        f'<p class="syndication-withdrawn"><strong>Withdrawn:</strong> {name} withdrew '
        f"&#8220;{escape(article.title)}&#8221; on {when:%Y-%m-%d}. Please take it down "
        "from your site.</p>"
    )
    return article.model_copy(
        update={
            "title": f"Withdrawn: {article.title}",
            "summary": f"{publisher.attribution_name} withdrew this article.",
            "body_html": body,
            "updated_at": max(when, article.modified),
            "image": None,
        }
    )
