"""The newsletter archive: past editions, and each one as a web page ("view in browser").

Every digest's footer links to ``/archive/{edition}?segment=…``; this is that page. It is
public and the same for every reader, so it carries no personal link: the email's
preferences and unsubscribe links (the recipient's signed token) become one "Manage your
subscription" link to ``/subscribe``. Nothing here reads a subscriber or a ledger entry.

What is listed: editions that went to someone. Drafts are an operator's preview, an
edition frozen with no recipients reached nobody, and a cancelled one is shown only when
some mail had gone out (someone may follow its link). Withdrawn articles are left out of
the page even when the edition included them. The editors' intro, featured story and order
(store/editorial.py) are applied as in the email.

``Archive`` holds the dependencies (settings, the edition and editorial stores, the page
cache) and the helpers; ``ArchivePages`` holds the two routes; ``make_router`` builds both.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from syndication import i18n
from syndication.models import Article
from syndication.render import digest_email
from syndication.services.digests import arrange, segment_articles
from syndication.store.articles import State
from syndication.store.editions import Edition, EditionStatus
from syndication.store.editorial import EditorialStore
from syndication.store.subscribers import valid_topic
from syndication.templating import environment
from syndication.web import openapi

PAGE_SIZE = 20
CACHE_SECONDS = 300
_CACHE_SIZE = 64
# Edition ids are ``daily-2026-11-26``, ``weekly-2026-W48``, ``instant-2026-11-26T12:05``;
# anything else (braces would break the hash tag of its keys) is simply not found.
_EDITION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,99}")
_START = re.compile(r"[0-9]{1,8}")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?")
_SHOWN = (EditionStatus.SENDING, EditionStatus.PAUSED, EditionStatus.DONE, EditionStatus.CANCELLED)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    # The digest HTML has inline styles and the publisher's images, nothing else.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src https: http: data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}


def is_public(edition: Edition) -> bool:
    """Shown in the archive: it went (or is going) to at least one recipient."""
    if edition.status not in _SHOWN or edition.total == 0:
        return False
    if edition.status is EditionStatus.CANCELLED:
        return edition.counts.get("sent", 0) + edition.counts.get("uncertain", 0) > 0
    return True


@dataclass(frozen=True)
class SegmentChoice:
    language: str
    topics: tuple[str, ...]
    explicit: bool


def parse_segment(value: str | None, default_language: str) -> SegmentChoice | None:
    """``?segment=en`` or ``?segment=en:coca,peru`` (``segment_param``); None if malformed."""
    if not value:
        return SegmentChoice(default_language, (), False)
    language, _, topics_text = value.partition(":")
    topics = tuple(sorted({t for t in topics_text.split(",") if t}))
    if not _LANGUAGE.fullmatch(language) or not all(valid_topic(t) for t in topics):
        return None
    return SegmentChoice(language, topics, True)


class _PageCache:
    """Rendered edition pages for a few minutes: MJML costs tens of ms, editions rarely
    change. The key holds the article ids, so a withdrawal shows at once."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[Any, ...], tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> str | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or hit[0] < time.monotonic():
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: tuple[Any, ...], html: str) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + CACHE_SECONDS, html)
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)


def _query(lang: str, sep: str = "?") -> str:
    return f"{sep}{lang}" if lang else ""


class Archive:
    """The archive's dependencies, from ``ctx``: its settings, article store and Redis."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.publisher = self.settings.publisher
        self.base = self.settings.public_url.rstrip("/")
        self.tz = ZoneInfo(self.publisher.timezone)
        self.editions = ctx.edition_store
        self.editorials = EditorialStore(self.editions)
        self.max_articles = self.settings.digest.max_articles
        self.cache = _PageCache()
        self.default_locale = i18n.supported(self.publisher.language) or i18n.SOURCE
        self.locales = [(code, i18n.LANGUAGE_NAMES.get(code, code)) for code in i18n.LOCALES]

    # -- the page's chrome ---------------------------------------------------------------
    def ui_locale(self, request: Request) -> str:
        """The list's chrome: ``?lang=``, else ``Accept-Language``, else the publisher's."""
        return (
            i18n.supported(request.query_params.get("lang"))
            or i18n.negotiate(request.headers.get("accept-language"))
            or self.default_locale
        )

    def default_segment_language(self, request: Request) -> str:
        """An edition page without ``segment``: ``?lang=`` when it is a newsletter
        language (the archive list in that language links so), else the publisher's."""
        chosen = i18n.supported(request.query_params.get("lang"))
        languages = self.publisher.languages or [self.publisher.language]
        return chosen if chosen is not None and chosen in languages else self.publisher.language

    @staticmethod
    def keep_lang(request: Request) -> str:
        """``lang=xx`` for our own links when the reader chose it with the switcher."""
        chosen = i18n.supported(request.query_params.get("lang"))
        return f"lang={chosen}" if chosen else ""

    def page(
        self, name: str, request: Request, locale: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        lang = self.keep_lang(request)
        html = (
            environment()
            .get_template(f"web/archive/{name}.html")
            .render(
                publisher=self.publisher,
                locale=locale,
                locales=self.locales,
                subscribe_url=f"{self.base}/subscribe" + _query(lang),
                index_url=f"{self.base}/archive" + _query(lang),
                **values,
            )
        )
        headers = {**HEADERS, "Content-Language": locale, "Vary": "Accept-Language"}
        return HTMLResponse(html, status, headers=headers)

    # -- the list ------------------------------------------------------------------------
    def listing(self, start: int) -> tuple[list[Edition], int | None]:
        """Up to PAGE_SIZE shown editions from raw index position ``start``, and where the
        next page starts (None: nothing older)."""
        editions = self.editions
        shown: list[Edition] = []
        pos = start
        total = editions.count()
        while len(shown) < PAGE_SIZE and pos < total:
            for edition_id in editions.ids(PAGE_SIZE, offset=pos):
                pos += 1
                edition = editions.get(edition_id)
                if edition is not None and is_public(edition):
                    shown.append(edition)
                    if len(shown) == PAGE_SIZE:
                        break
        return shown, (pos if pos < total else None)

    def row(self, edition: Edition, locale: str) -> dict[str, Any]:
        tz, local = self.tz, edition.created_at.astimezone(self.tz)
        label = digest_email.FREQUENCY_LABELS.get(edition.frequency, i18n.N_("Digest"))
        when = f"{i18n.format_date(local, locale, tz)}, {local:%H:%M} ({self.publisher.timezone})"
        # A Spanish list links to the Spanish version (``?lang=``: the edition page's
        # default segment); the publisher's own language needs no parameter.
        lang = f"?lang={locale}" if locale != self.publisher.language else ""
        return {
            "url": f"{self.base}/archive/{quote(edition.id, safe='')}{lang}",
            "label": f"{i18n.gettext(locale, label)}, {local:%Y-%m-%d}",
            "date": when,
            "date_iso": local.isoformat(),
            "frequency": i18n.frequency_name(locale, edition.frequency),
            "articles": len(edition.article_ids),
        }

    # -- one edition ---------------------------------------------------------------------
    def published_articles(self, edition: Edition) -> list[Article]:
        stored = self.ctx.article_store.get_many(list(edition.article_ids))
        articles = [s.article for s in stored if s.state is State.PUBLISHED]
        return sorted(articles, key=lambda a: (a.published_at, a.id), reverse=True)

    def render(self, edition: Edition, choice: SegmentChoice) -> str | None:
        """The segment's page; without an explicit segment, the publisher's language (or,
        if the edition has none in it, the newest article's language), all topics."""
        articles = self.published_articles(edition)
        limit = self.max_articles
        ids = segment_articles(articles, choice.language, choice.topics, limit)
        language = choice.language
        if not ids and not choice.explicit and articles:
            language = articles[0].language
            ids = segment_articles(articles, language, (), limit)
        if not ids:
            return None
        # The editors' intro, order and featured story, as in the email (services.digests).
        editorial = self.editorials.get(edition.id)
        by_id = {a.id: a for a in articles}
        featured = by_id.get(editorial.featured or "")
        shown, featured_id = arrange(
            [by_id[i] for i in ids], editorial, language, featured, max(limit, len(ids))
        )
        segment = digest_email.DigestSegment(
            edition_id=edition.id,
            frequency=edition.frequency,
            language=language,
            topics=choice.topics,
            articles=tuple(shown),
            intro=editorial.intro,
            featured=featured_id,
        )
        return self.render_cached(segment, edition, editorial.revision)

    def render_cached(
        self, segment: digest_email.DigestSegment, edition: Edition, revision: int
    ) -> str:
        """The segment's web page, from the cache when its articles and editorial match."""
        ids = tuple(a.id for a in segment.articles)
        key = (edition.id, segment.language, segment.topics, ids, revision)
        html = self.cache.get(key)
        if html is None:
            html = digest_email.render_web_html(
                segment, self.publisher, self.settings.public_url, edition.created_at
            )
            self.cache.put(key, html)
        return html


class ArchivePages:
    """``GET /archive`` and ``GET /archive/{edition_id}`` over one ``Archive``."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    async def archive_index(self, request: Request, start: str = "0") -> HTMLResponse:
        archive = self.archive
        locale = archive.ui_locale(request)
        # ASCII digits only: str.isdigit() is also true of "³" and "٣", which int() refuses.
        offset = int(start) if _START.fullmatch(start) else 0
        shown, older = await run_in_threadpool(archive.listing, offset)
        lang = archive.keep_lang(request)
        base = archive.base
        return archive.page(
            "list",
            request,
            locale,
            editions=[archive.row(e, locale) for e in shown],
            start=offset,
            newest_url=f"{base}/archive" + _query(lang),
            older_url=f"{base}/archive?start={older}" + _query(lang, "&")
            if older is not None
            else "",
        )

    async def archive_edition(self, edition_id: str, request: Request) -> HTMLResponse:
        archive = self.archive
        edition = None
        if _EDITION_ID.fullmatch(edition_id):
            edition = await run_in_threadpool(archive.editions.get, edition_id)
        locale = archive.ui_locale(request)
        _ = i18n.translations(locale).gettext
        if edition is None or not is_public(edition):
            text = _("There is no published edition called “%(name)s”.")
            return archive.page(
                "message",
                request,
                locale,
                404,
                title=_("No such newsletter"),
                text=text % {"name": edition_id[:100]},
            )
        segment = request.query_params.get("segment")
        choice = parse_segment(segment, archive.default_segment_language(request))
        html = None if choice is None else await run_in_threadpool(archive.render, edition, choice)
        if html is None:
            return archive.page(
                "message",
                request,
                locale,
                404,
                title=_("Nothing to show"),
                text=_(
                    "This edition has no stories for that language and those topics "
                    "(or they have been withdrawn)."
                ),
            )
        return HTMLResponse(html, headers={**HEADERS, "Cache-Control": "public, max-age=300"})


def make_router(ctx: Any) -> APIRouter:
    """``GET /archive`` and ``GET /archive/{edition_id}`` over ``ctx``'s stores."""
    router = APIRouter()
    pages = ArchivePages(Archive(ctx))
    router.add_api_route(
        "/archive", pages.archive_index, methods=["GET"], response_class=HTMLResponse
    )
    router.add_api_route(
        "/archive/{edition_id}",
        pages.archive_edition,
        methods=["GET"],
        response_class=HTMLResponse,
        responses=openapi.pages(404),
    )
    return router
