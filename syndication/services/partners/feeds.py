"""Partner feed documents: the public feeds seen through a partner's terms.

A partner feed is the public feed of the same name (``all``, ``topic/…``, ``section/…``,
``lang/…``) where each article is its partner copy (``copies``), carried by the same
``BUILDERS`` as the public feeds (or ``build.ninjs``), so the partner documents agree with
the public ones on ids, dates and licence elements. Articles the partner received before
and that changed since carry a correction note; withdrawn ones a withdrawal notice, held
ones a hold notice (``corrections``). A partner trusted with embargoed work
(``Partner.embargoed``) also gets the articles still under embargo, marked as such (title
prefix and category, JSON Feed ``_syndication.embargoed_until``, ninjs ``embargoed`` and
``withheld``); every other copy has its ``embargoed_until`` cleared, so nothing else is
marked and the marker drops at the release. ``record_pull`` counts each request and
remembers which versions a partner received, which is what makes the next change a
correction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from syndication.config import Publisher
from syndication.feed_catalog import ALL, LANGUAGE_NAMES, feed_titles, is_feed_name
from syndication.models import Article
from syndication.render.feeds import BUILDERS, FeedLinks, FeedSpec, feed_updated
from syndication.render.ninjs import NINJS, NINJS_TYPE, build_ninjs
from syndication.render.partner_copy import Excluded, PartnerItem
from syndication.services.partners.copies import PartnerCopies, allowed, terms_of
from syndication.services.partners.corrections import (
    correction_note,
    held_notice,
    withdrawn_notice,
)
from syndication.services.partners.pixel import PartnerPixel, pixel_img
from syndication.store.article_states import ArticleStates
from syndication.store.articles import ArticleStore, State, StoredArticle
from syndication.store.feeds import strong_etag
from syndication.store.partners import ArticleChanges, Partner, PartnerStore

PARTNER_KINDS = ("topic", "section", "lang")
FORMATS = (*BUILDERS, NINJS)
_SCAN_BATCH = 100
_SCAN_LIMIT = 1_000  # ids looked at per partner feed build, whatever the filters drop


@dataclass(frozen=True)
class PartnerDocument:
    body: bytes
    etag: str
    last_modified: datetime
    content_type: str
    versions: dict[str, str]  # article id → content hash, what this document delivers


@dataclass(frozen=True)
class _Items:
    articles: list[Article]
    versions: dict[str, str]
    withdrawn: frozenset[str]
    held: frozenset[str]
    texts: dict[str, str]  # article id → the copy as plain text (ninjs ``body_text``)


def feed_url(public_url: str, name: str, fmt: str) -> str:
    """The bearer-token URL of a partner feed (it never carries a key)."""
    return f"{public_url.rstrip('/')}/partners/feeds/{name}.{fmt}"


class PartnerFeeds:
    def __init__(
        self,
        store: PartnerStore,
        articles: ArticleStore,
        changes: ArticleChanges,
        copies: PartnerCopies,
        pixel: PartnerPixel,
        publisher: Publisher,
        public_url: str,
        items: int = 50,
        withdrawn_days: int = 14,
    ) -> None:
        self.store = store
        self.articles = articles
        self.states = ArticleStates(articles)
        self.changes = changes
        self.copies = copies
        self.pixel = pixel
        self.publisher = publisher
        self.public_url = public_url.rstrip("/")
        self.items = items
        self.withdrawn_days = withdrawn_days

    # -- naming -------------------------------------------------------------------------
    def url(self, name: str, fmt: str) -> str:
        """The bearer-token URL of a partner feed (it never carries a key)."""
        return feed_url(self.public_url, name, fmt)

    def title(self, name: str) -> str | None:
        if name == ALL:
            return f"{self.publisher.name} — for partners"
        kind, _, slug = name.partition("/")
        if not is_feed_name(name) or kind not in PARTNER_KINDS:
            return None
        label = self.articles.feed_title(name)
        if label is None and kind == "lang":
            label = LANGUAGE_NAMES.get(slug)
        return None if label is None else f"{self.publisher.name}: {label} — for partners"

    def _spec(self, name: str, title: str, fmt: str) -> FeedSpec:
        p = self.publisher
        kind, _, slug = name.partition("/")
        return FeedSpec(
            name=f"partners/{name}",
            title=title,
            description=(
                f"Full text from {p.name} for republication under each item's licence, "
                "with the attribution it requires."
            ),
            site_url=p.site_url,
            language=slug if kind == "lang" else p.language,
            publisher=p.attribution_name,
            licence=p.licence,
            links=FeedLinks(
                self_url=self.url(name, fmt),
                alternates={f: self.url(name, f) for f in BUILDERS},
                html_url=p.site_url + "/",
            ),
            attributed=True,  # partner copies carry header and footer: no second footer
        )

    # -- documents ----------------------------------------------------------------------
    def feed(self, partner: Partner, name: str, fmt: str, now: datetime) -> PartnerDocument | None:
        """Feed ``name`` in ``fmt`` for ``partner``, or None when there is no such feed."""
        title = self.title(name)
        if title is None or fmt not in FORMATS:
            return None
        found = self._items(partner, name, now)
        articles = found.articles
        if fmt == NINJS:
            spec = self._spec(name, title, NINJS)
            body = build_ninjs(
                spec, articles, self.publisher, found.withdrawn, texts=found.texts, held=found.held
            )
            content_type = NINJS_TYPE
        else:
            content_type, build = BUILDERS[fmt]
            body = build(self._spec(name, title, fmt), articles)
        return PartnerDocument(
            body, strong_etag(body), feed_updated(articles), content_type, found.versions
        )

    def record_pull(self, partner: Partner, doc: PartnerDocument | None, now: datetime) -> None:
        """Count the pull; remember which versions a 200 delivered (for corrections)."""
        self.store.count_pull(partner.id, now.astimezone(UTC).date())
        if doc is not None:
            self.store.record_pulled(partner.id, doc.versions, now)

    # -- items --------------------------------------------------------------------------
    def _selected(self, partner: Partner, name: str) -> list[tuple[StoredArticle, PartnerItem]]:
        """Up to ``items`` partner copies for feed ``name``, newest first."""
        terms = terms_of(partner)
        out = self._embargoed(partner, name) if partner.embargoed else []
        start = 0
        while len(out) < self.items and start < _SCAN_LIMIT:
            ids = self.articles.feed_ids(name, start, start + _SCAN_BATCH - 1, newest_first=True)
            if not ids:
                break
            start += _SCAN_BATCH
            candidates = [
                s
                for s in self.articles.get_many(ids)
                if s.state is State.PUBLISHED
                and not terms.filter_reason(s.article)
                and allowed(s.article, partner.commercial)
            ]
            # Ask for as many copies as the feed still needs, all at once: a few may turn
            # out excluded (an ND article that would need changes), then ask for more.
            while candidates and len(out) < self.items:
                need = self.items - len(out)
                chunk, candidates = candidates[:need], candidates[need:]
                made = self.copies.copies(chunk, partner.commercial)
                for s, copy in zip(chunk, made, strict=True):
                    if isinstance(copy, Excluded) or not allowed(copy.article, partner.commercial):
                        continue
                    out.append((s, copy))
        return out

    def _embargoed(self, partner: Partner, name: str) -> list[tuple[StoredArticle, PartnerItem]]:
        """The partner's copies of feed ``name``'s articles still under embargo."""
        terms = terms_of(partner)
        candidates = [
            s
            for s in self.states.embargoed()
            if name in feed_titles(s.article)
            and not terms.filter_reason(s.article)
            and allowed(s.article, partner.commercial)
        ][: self.items]
        made = self.copies.copies(candidates, partner.commercial)
        return [
            (s, copy)
            for s, copy in zip(candidates, made, strict=True)
            if not isinstance(copy, Excluded) and allowed(copy.article, partner.commercial)
        ]

    def _withdrawn(self, partner: Partner, name: str, now: datetime) -> list[StoredArticle]:
        """Articles this partner received that were withdrawn or put on hold in the last N
        days (a held one stays a notice until its release)."""
        since = (now - timedelta(days=self.withdrawn_days)).timestamp()
        ids = self.changes.between(since, now.timestamp())
        received = self.store.pulled(partner.id, ids)
        if not received:
            return []
        return [
            s
            for s in self.articles.get_many([i for i in ids if i in received])
            if s.state in (State.WITHDRAWN, State.HELD) and name in feed_titles(s.article)
        ]

    def _items(self, partner: Partner, name: str, now: datetime) -> _Items:
        selected = self._selected(partner, name)
        withdrawn = self._withdrawn(partner, name, now)
        received = self.store.pulled(partner.id, [s.article.id for s, _ in selected])
        items: list[tuple[datetime, Article]] = []
        versions: dict[str, str] = {}
        texts: dict[str, str] = {}
        for stored, made in selected:
            copy = made.article
            if stored.state is not State.EMBARGOED:
                copy = copy.model_copy(update={"embargoed_until": None})
            texts[copy.id] = made.text
            first = received.get(stored.article.id)
            body = copy.body_html
            if first is not None and first != stored.content_hash:
                body = correction_note(stored.article, self.publisher) + body
            if partner.pixel and self.pixel.enabled:
                body += pixel_img(self.pixel.url(partner.id, stored.article.id))
            items.append((stored.article.published_at, copy.model_copy(update={"body_html": body})))
            versions[stored.article.id] = stored.content_hash
        for stored in withdrawn:
            notice = held_notice if stored.state is State.HELD else withdrawn_notice
            items.append((stored.changed_at, notice(stored, self.publisher)))
        items.sort(key=lambda pair: pair[0], reverse=True)
        gone = {s.article.id: s.state for s in withdrawn}
        return _Items(
            [a for _, a in items],
            versions,
            frozenset(i for i, state in gone.items() if state is State.WITHDRAWN),
            frozenset(i for i, state in gone.items() if state is State.HELD),
            texts,
        )
