"""What a partner's feed shows for an article that changed after the partner received it.

The store remembers the version of each article a partner first received. If the article
changes, its entry keeps its id (so importers update in place), gets a new ``updated``
date (Atom ``updated``, RSS/JSON ``date_modified``) and the visible note
``correction_note`` at the top of the content. A withdrawn article becomes the short
``withdrawn_notice`` for ``withdrawn_days`` days, for partners that received it, and a held
one (an editor's hold) the ``held_notice`` until it is released. All are
plain functions of the article, the publisher and the article's own dates, worded in the
article's language (the catalogs, as the attribution blocks are): a Spanish copy gets a
Spanish note.
"""

from __future__ import annotations

from datetime import UTC
from html import escape

from syndication.config import Publisher
from syndication.i18n import N_, SOURCE, supported, translations
from syndication.models import Article
from syndication.store.articles import StoredArticle

# Translators: %(date)s is a date and time in UTC; %(publisher)s the publisher's name.
_UPDATED = N_(
    "<strong>Updated %(date)s:</strong> %(publisher)s changed this article after it was "
    "first sent to you. Please replace your copy with this version."
)
_WITHDRAWN = N_(
    "<strong>Withdrawn:</strong> %(publisher)s withdrew %(title)s on %(date)s. Please take "
    "it down from your site."
)
# Translators: the title of a withdrawn article's notice in a partner feed.
_WITHDRAWN_TITLE = N_("Withdrawn: %(title)s")
_WITHDRAWN_SUMMARY = N_("%(publisher)s withdrew this article.")
_HELD = N_(
    "<strong>On hold:</strong> %(publisher)s put %(title)s on hold on %(date)s. Please take "
    "it down from your site until it is released; you will be told when it is."
)
# Translators: the title of a held article's notice in a partner feed.
_HELD_TITLE = N_("On hold: %(title)s")
_HELD_SUMMARY = N_("%(publisher)s put this article on hold.")


def _name(article: Article, publisher: Publisher) -> str:
    return article.publisher or publisher.attribution_name


def correction_note(article: Article, publisher: Publisher) -> str:
    when = article.modified.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    gettext = translations(supported(article.language) or SOURCE).gettext
    text = gettext(_UPDATED) % {
        "date": escape(when),
        "publisher": escape(_name(article, publisher)),
    }
    return f'<p class="syndication-correction">{text}</p>'


def withdrawn_notice(stored: StoredArticle, publisher: Publisher) -> Article:
    words = (_WITHDRAWN, _WITHDRAWN_TITLE, _WITHDRAWN_SUMMARY)
    return _notice(stored, publisher, words, "syndication-withdrawn")


def held_notice(stored: StoredArticle, publisher: Publisher) -> Article:
    """What a partner that received a held article sees in its place until the release."""
    words = (_HELD, _HELD_TITLE, _HELD_SUMMARY)
    return _notice(stored, publisher, words, "syndication-held")


def _notice(
    stored: StoredArticle, publisher: Publisher, words: tuple[str, str, str], css: str
) -> Article:
    article = stored.article
    when = stored.changed_at.astimezone(UTC)
    gettext = translations(supported(article.language) or SOURCE).gettext
    name = _name(article, publisher)
    body, title, summary = (gettext(w) for w in words)
    text = body % {
        "publisher": escape(name),
        "title": f"&#8220;{escape(article.title)}&#8221;",
        "date": f"{when:%Y-%m-%d}",
    }
    return article.model_copy(
        update={
            "title": title % {"title": article.title},
            "summary": summary % {"publisher": name},
            "body_html": f'<p class="{css}">{text}</p>',
            "updated_at": max(when, article.modified),
            "image": None,
            "embargoed_until": None,
        }
    )
