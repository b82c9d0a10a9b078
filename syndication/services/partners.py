"""Partners as use cases: keys, access, partner feeds, corrections, webhooks, the pixel.

A partner feed is the public feed of the same name (``all``, ``topic/…``, ``section/…``,
``lang/…``) seen through the partner's terms: each article goes through
``build.partner_copy`` (which applies the licence rules and puts the attribution header
and footer in the body) and then through the same ``BUILDERS`` as the public feeds, so the
partner documents agree with the public ones on ids, dates and licence elements.

Licences: an article under all rights reserved, or marked ``republishable: false``, never
goes to any partner; an NC article never goes to a partner marked commercial (CC 4.0
legal code §1(i), §2(a)(1): NonCommercial means "not primarily intended for or directed
towards commercial advantage"). ``partner_copy`` decides; this module checks the two
licence rules again before anything is served (defence in depth: a feed is the one place
a mistake would reach a partner).

Copies: a partner copy depends on the article version and on whether the partner is
commercial, nothing else of the partner's (its filters only choose which articles), so
there are at most two per article version. ``prepare_copies`` makes both when an article
is published or updated (a task queued with the article event) and stores them in Redis
(``store.partners.PartnerCopyStore``); a feed build looks each copy up in this process's
memo, then in Redis (one pipelined round trip for all the items it misses), and only then
makes it, storing what it made (articles older than the task, or the task not run yet).

Corrections: the store remembers the version of each article a partner first received. If
the article changes, its entry keeps its id (so importers update in place), gets a new
``updated`` date (Atom ``updated``, RSS/JSON ``date_modified``) and a visible note at the
top of the content. A withdrawn article becomes a short "withdrawn" notice for
``withdrawn_days`` days, for partners that received it. Partners with a webhook URL get a
signed POST per change (HMAC-SHA256 of the body, ``X-Syndication-Signature``; the secret
is derived from ``SYNDICATION_SECRET_KEY``, so nothing secret is stored in Redis).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlsplit

import redis

from syndication import i18n
from syndication.build.feeds import BUILDERS, FeedLinks, FeedSpec, feed_updated, item_id
from syndication.build.ninjs import NINJS, NINJS_TYPE, build_ninjs
from syndication.build.partner_copy import Excluded, PartnerItem, PartnerTerms, partner_copy
from syndication.config import Publisher, Settings
from syndication.feed_catalog import ALL, LANGUAGE_NAMES, feed_titles, is_feed_name
from syndication.licences import LICENCES, may_republish
from syndication.models import Article
from syndication.signing import SIGNATURE_HEADER
from syndication.signing import sign as sign_body
from syndication.slugs import slugify
from syndication.store.articles import ArticleStore, State, StoredArticle
from syndication.store.feeds import strong_etag
from syndication.store.partners import (
    ArticleChanges,
    Partner,
    PartnerCopyStore,
    PartnerStore,
    StoredCopy,
    copy_version,
    hash_key,
)
from syndication.templating import environment
from syndication.tokens import TokenError, sign, verify

PARTNER_KINDS = ("topic", "section", "lang")
FORMATS = (*BUILDERS, NINJS)
PIXEL = "pixel"
REPUBLISH_PARTNER = "_republish"  # pixel counts from the public "Republish" page
WEBHOOK_PURPOSE = "partner-webhook"
EVENT_HEADER = "X-Syndication-Event"
_SCAN_BATCH = 100
_SCAN_LIMIT = 1_000  # ids looked at per partner feed build, whatever the filters drop
_COPY_CACHE = 4_096
# Bump when what a stored copy holds, or how it is made, changes in a way the templates'
# and terms' fingerprint does not show (a rule in partner_copy, say).
COPY_FORMAT = "1"
_COPY_TEMPLATES = ("header.html", "footer.html")
_MAX_KEY = 200


class InvalidPartner(ValueError):
    """Input for a partner that we will not store (a bad webhook URL, say)."""


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


@dataclass(frozen=True)
class PartnerSummary:
    partner: Partner
    pulls_today: int
    pulls_30_days: int

    def to_json(self) -> dict[str, object]:
        return self.partner.to_json() | {
            "pulls_today": self.pulls_today,
            "pulls_30_days": self.pulls_30_days,
        }


@dataclass(frozen=True)
class Republish:
    """What the "Republish this story" page shows."""

    article: Article
    html: str  # ready to paste: header, body, footer, pixel
    preview_html: str  # the same without the pixel (showing the page counts no view)
    pixel_url: str | None
    licence_name: str
    licence_url: str | None
    commercial_allowed: bool
    changes_allowed: bool


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    body: bytes
    headers: dict[str, str]


# Terms without filters, per kind of partner: what a memoised copy is made with.
_PLAIN_TERMS = {False: PartnerTerms.of(commercial=False), True: PartnerTerms.of(commercial=True)}


def terms_of(partner: Partner) -> PartnerTerms:
    return PartnerTerms.of(
        commercial=partner.commercial,
        topics=partner.topics,
        sections=partner.sections,
        languages=partner.languages,
    )


def allowed(article: Article, commercial: bool) -> bool:
    """The licence rules every partner item must meet, whatever else decided."""
    return article.republishable and may_republish(article.licence, commercial=commercial)


def copy_terms(publisher: Publisher) -> str:
    """A fingerprint of everything but the article that shapes a stored copy: the
    publisher's terms, the attribution templates, the message catalogs they are translated
    with, and ``COPY_FORMAT``. Part of each stored copy's field, so a changed
    ``syndication.toml``, template or translation is never served stale."""
    env = environment()
    digest = hashlib.sha256(f"{COPY_FORMAT}\0{publisher.model_dump_json()}".encode())
    for name in _COPY_TEMPLATES:
        source, _, _ = env.loader.get_source(env, f"attribution/{name}")  # type: ignore[union-attr]
        digest.update(b"\0" + source.encode())
    for catalog in sorted(i18n.LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        digest.update(b"\0" + catalog.read_bytes())
    return digest.hexdigest()[:16]


def to_stored(made: PartnerItem | Excluded) -> StoredCopy:
    if isinstance(made, Excluded):
        return StoredCopy(excluded=(made.reason, made.code))
    return StoredCopy(
        header_html=made.header_html,
        body_html=made.body_html,
        footer_html=made.footer_html,
        licence=made.licence.spdx,
        changes=made.changes,
        keep_image=made.article.image is not None,
    )


def from_stored(copy: StoredCopy, article: Article, publisher: Publisher) -> PartnerItem | Excluded:
    """The copy as ``partner_copy`` made it, from its stored parts and the article."""
    if copy.excluded is not None:
        return Excluded(*copy.excluded)
    update: dict[str, Any] = {
        "body_html": f"{copy.header_html}\n{copy.body_html}\n{copy.footer_html}"
    }
    if not copy.keep_image:
        update["image"] = None
    return PartnerItem(
        article=article.model_copy(update=update),
        body_html=copy.body_html,
        header_html=copy.header_html,
        footer_html=copy.footer_html,
        licence=LICENCES[copy.licence],
        publisher=publisher,
        changes=copy.changes,
    )


def check_webhook_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise InvalidPartner("the webhook must be an absolute http(s) URL")
    return url.strip()


class PartnerService:
    def __init__(
        self,
        store: PartnerStore,
        articles: ArticleStore,
        publisher: Publisher,
        public_url: str,
        secret_key: str | None,
        items: int = 50,
        withdrawn_days: int = 14,
        copies: PartnerCopyStore | None = None,
        previous_secrets: Sequence[str] = (),
    ) -> None:
        self.store = store
        self.previous_secrets = tuple(previous_secrets)
        self.articles = articles
        self.publisher = publisher
        self.public_url = public_url.rstrip("/")
        self.secret_key = secret_key
        self.items = items
        self.withdrawn_days = withdrawn_days
        self._copies: OrderedDict[tuple[str, str, bool], PartnerItem | Excluded] = OrderedDict()
        self.copy_store = copies or PartnerCopyStore(store.r, articles.keys.prefix)
        self.changes = ArticleChanges(articles)
        self.copy_terms = copy_terms(publisher)
        # Where each copy came from: "memo", "stored" (Redis) or "made" (for /metrics,
        # the bench, and tests that a cold process reads rather than renders).
        self.copy_counts: Counter[str] = Counter()

    # -- partners -----------------------------------------------------------------------
    def add(
        self,
        name: str,
        *,
        now: datetime,
        commercial: bool = False,
        topics: Iterable[str] = (),
        sections: Iterable[str] = (),
        languages: Iterable[str] = (),
        webhook_url: str | None = None,
        pixel: bool = True,
    ) -> tuple[Partner, str]:
        """A new partner and its key: the key is returned here once and never again."""
        name = " ".join(name.split())
        if not name:
            raise InvalidPartner("the partner needs a name")
        if webhook_url:
            webhook_url = check_webhook_url(webhook_url)
        return self.store.add(
            name,
            commercial=commercial,
            topics=_slugs(topics),
            sections=_slugs(sections),
            languages=[lang.strip().lower() for lang in languages if lang.strip()],
            webhook_url=webhook_url or None,
            pixel=pixel,
            now=now,
        )

    def summaries(self, today: date) -> list[PartnerSummary]:
        """Every partner with its pulls today and over the last 30 days."""
        partners = self.store.all()
        day = self.store.pulls(today)
        month = self.store.pulls_since(today - timedelta(days=29), today)
        return [PartnerSummary(p, day.get(p.id, 0), month.get(p.id, 0)) for p in partners]

    def revoke(self, partner_id: str, now: datetime) -> Partner:
        return self.store.revoke(partner_id, now)

    def rotate(self, partner_id: str, now: datetime) -> tuple[Partner, str]:
        """A new key; the old one stops working now. The webhook secret changes with it."""
        return self.store.rotate(partner_id, now)

    def authenticate(self, key: str | None) -> Partner | None:
        """The active partner whose key this is, else None.

        The key is hashed first and only the hash is looked up, so no timing depends on
        the key's characters; the stored hash is then compared in constant time.
        """
        if not key or len(key) > _MAX_KEY:
            return None
        digest = hash_key(key)
        partner_id = self.store.id_for_key_hash(digest)
        if partner_id is None:
            return None
        partner = self.store.get(partner_id)
        if partner is None or not partner.active:
            return None
        if not hmac.compare_digest(partner.key_hash.encode(), digest.encode()):
            return None
        return partner

    def webhook_secret(self, partner: Partner) -> str:
        """The partner's webhook signing secret: derived, not stored; rotates with the key."""
        if not self.secret_key:
            raise InvalidPartner("SYNDICATION_SECRET_KEY is needed to sign webhooks")
        msg = f"{WEBHOOK_PURPOSE}:{partner.id}:{partner.secret_version}".encode()
        return hmac.new(self.secret_key.encode(), msg, hashlib.sha256).hexdigest()

    # -- naming -------------------------------------------------------------------------
    def url(self, name: str, fmt: str) -> str:
        """The bearer-token URL of a partner feed (it never carries a key)."""
        return f"{self.public_url}/partners/feeds/{name}.{fmt}"

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

    # -- partner copies -----------------------------------------------------------------
    def make_copy(self, article: Article, commercial: bool) -> PartnerItem | Excluded:
        """``partner_copy`` with the terms every partner of that kind shares."""
        return partner_copy(article, _PLAIN_TERMS[commercial], self.publisher)

    def copy(self, stored: StoredArticle, commercial: bool) -> PartnerItem | Excluded:
        """One article's copy (see ``copies``)."""
        return self.copies([stored], commercial)[0]

    def copies(
        self, stored: Sequence[StoredArticle], commercial: bool
    ) -> list[PartnerItem | Excluded]:
        """The copies of ``stored`` for a commercial partner or not, in order.

        This process's memo first; then Redis, one pipelined round trip for all the misses
        (the copies ``prepare_copies`` stored at publish time); then ``partner_copy`` for
        what is still missing, stored for every other process. A copy costs ~0.1 ms to
        make, ~0.02 ms to read back: the difference is what keeps a cold process's first
        feed within twice the public one.
        """
        out: list[PartnerItem | Excluded | None] = []
        missing: list[int] = []
        for n, s in enumerate(stored):
            key = (s.article.id, s.content_hash, commercial)
            found = self._copies.get(key)
            if found is None:
                missing.append(n)
            else:
                self._copies.move_to_end(key)
                self.copy_counts["memo"] += 1
            out.append(found)
        if missing:
            wanted = [(stored[n].article.id, stored[n].content_hash, commercial) for n in missing]
            found_stored = self.copy_store.get_many(wanted, self.copy_terms)
            made: list[tuple[str, str, int, bool, StoredCopy]] = []
            for n, hit in zip(missing, found_stored, strict=True):
                s = stored[n]
                if hit is not None:
                    copy = from_stored(hit, s.article, self.publisher)
                    self.copy_counts["stored"] += 1
                else:
                    self.copy_counts["made"] += 1
                    copy = self.make_copy(s.article, commercial)
                    version = copy_version(s.changed_at)
                    made.append(
                        (s.article.id, s.content_hash, version, commercial, to_stored(copy))
                    )
                self._remember((s.article.id, s.content_hash, commercial), copy)
                out[n] = copy
            self.copy_store.add_many(made, self.copy_terms)
        return [c for c in out if c is not None]

    def _remember(self, key: tuple[str, str, bool], copy: PartnerItem | Excluded) -> None:
        self._copies[key] = copy
        if len(self._copies) > _COPY_CACHE:
            self._copies.popitem(last=False)

    def prepare_copies(self, article_id: str) -> int:
        """Store the article's copies for both kinds of partner, replacing any older ones;
        a withdrawn (or vanished) article's are dropped. Returns how many were stored."""
        stored = self.articles.get(article_id)
        if stored is None:
            self.copy_store.drop(article_id)
            return 0
        version = copy_version(stored.changed_at)
        if stored.state is not State.PUBLISHED:
            self.copy_store.withdraw(article_id, version)
            return 0
        made = {c: to_stored(self.make_copy(stored.article, c)) for c in (False, True)}
        self.copy_store.replace(article_id, stored.content_hash, version, made, self.copy_terms)
        return len(made)

    def _selected(self, partner: Partner, name: str) -> list[tuple[StoredArticle, Article]]:
        """Up to ``items`` partner copies for feed ``name``, newest first."""
        terms = terms_of(partner)
        out: list[tuple[StoredArticle, Article]] = []
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
                for s, made in zip(chunk, self.copies(chunk, partner.commercial), strict=True):
                    if isinstance(made, Excluded) or not allowed(made.article, partner.commercial):
                        continue
                    out.append((s, made.article))
        return out

    def _withdrawn(self, partner: Partner, name: str, now: datetime) -> list[StoredArticle]:
        """Articles this partner received that were withdrawn in the last N days."""
        since = (now - timedelta(days=self.withdrawn_days)).timestamp()
        ids = self.changes.between(since, now.timestamp())
        received = self.store.pulled(partner.id, ids)
        if not received:
            return []
        return [
            s
            for s in self.articles.get_many([i for i in ids if i in received])
            if s.state is State.WITHDRAWN and name in feed_titles(s.article)
        ]

    def _items(self, partner: Partner, name: str, now: datetime) -> _Items:
        selected = self._selected(partner, name)
        withdrawn = self._withdrawn(partner, name, now)
        received = self.store.pulled(partner.id, [s.article.id for s, _ in selected])
        items: list[tuple[datetime, Article]] = []
        versions: dict[str, str] = {}
        for stored, copy in selected:
            first = received.get(stored.article.id)
            body = copy.body_html
            if first is not None and first != stored.content_hash:
                body = self._correction_note(stored.article) + body
            if partner.pixel and self.secret_key:
                body += pixel_img(self.pixel_url(partner.id, stored.article.id))
            items.append((stored.article.published_at, copy.model_copy(update={"body_html": body})))
            versions[stored.article.id] = stored.content_hash
        for stored in withdrawn:
            items.append((stored.changed_at, self._withdrawn_notice(stored)))
        items.sort(key=lambda pair: pair[0], reverse=True)
        return _Items([a for _, a in items], versions, frozenset(s.article.id for s in withdrawn))

    def _correction_note(self, article: Article) -> str:
        when = article.modified.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            '<p class="syndication-correction"><strong>Updated '
            f"{escape(when)}:</strong> {escape(self.publisher.attribution_name)} changed this "
            "article after it was first sent to you. Please replace your copy with this "
            "version.</p>"
        )

    def _withdrawn_notice(self, stored: StoredArticle) -> Article:
        article = stored.article
        when = stored.changed_at.astimezone(UTC)
        publisher = escape(self.publisher.attribution_name)
        body = (
            f'<p class="syndication-withdrawn"><strong>Withdrawn:</strong> {publisher} withdrew '
            f"&#8220;{escape(article.title)}&#8221; on {when:%Y-%m-%d}. Please take it down "
            "from your site.</p>"
        )
        return article.model_copy(
            update={
                "title": f"Withdrawn: {article.title}",
                "summary": f"{self.publisher.attribution_name} withdrew this article.",
                "body_html": body,
                "updated_at": max(when, article.modified),
                "image": None,
            }
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
            body = build_ninjs(spec, articles, self.publisher, found.withdrawn)
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

    # -- pixel --------------------------------------------------------------------------
    def pixel_url(self, partner_id: str, article_id: str) -> str:
        if not self.secret_key:
            raise InvalidPartner("SYNDICATION_SECRET_KEY is needed for pixel URLs")
        token = sign(self.secret_key, PIXEL, f"{partner_id}:{article_id}", None)
        return f"{self.public_url}/pixel/{token}.gif"

    def count_pixel(self, token: str, now: datetime) -> bool:
        """Count one view if the token is genuine (signed by us for that pair)."""
        if not self.secret_key:
            return False
        try:
            subject = verify(self.secret_key, token, PIXEL, now, self.previous_secrets)
        except TokenError:
            return False
        partner_id, _, article_id = subject.partition(":")
        if not partner_id or not article_id:
            return False
        self.store.count_view(partner_id, article_id, now.astimezone(UTC).date())
        return True

    # -- republish page -----------------------------------------------------------------
    def republish(self, article_id: str) -> Republish | None:
        """The page for outlets without a feed importer; None if it may not be republished.

        Terms are those for a non-commercial outlet: the page says what a commercial one
        may not do.
        """
        stored = self.articles.get(article_id)
        if stored is None or stored.state is not State.PUBLISHED:
            return None
        article = stored.article
        if not allowed(article, commercial=False):
            return None
        made = self.copy(stored, False)
        if isinstance(made, Excluded):
            return None
        pixel = self.pixel_url(REPUBLISH_PARTNER, article.id) if self.secret_key else None
        html = made.article.body_html + (pixel_img(pixel) if pixel else "")
        lic = LICENCES[article.licence]
        return Republish(
            article=article,
            html=html,
            preview_html=made.article.body_html,
            pixel_url=pixel,
            licence_name=lic.name,
            licence_url=lic.url,
            commercial_allowed=lic.commercial,
            changes_allowed=lic.derivatives,
        )

    # -- corrections and webhooks -------------------------------------------------------
    def changes_to_notify(self, article_id: str) -> list[tuple[str, str]]:
        """(partner id, change) pairs to send for the article's current state, each once.

        A change is ``updated:{hash}`` or ``withdrawn:{time}``; a partner hears of it only
        if it received the article, has a webhook, and has not been told of this change.
        """
        stored = self.articles.get(article_id)
        if stored is None:
            return []
        if stored.state is State.WITHDRAWN:
            change = f"withdrawn:{stored.changed_at.isoformat()}"
        else:
            change = f"updated:{stored.content_hash}"
        out = []
        for partner_id in self.store.partners_who_pulled(article_id):
            partner = self.store.get(partner_id)
            if partner is None or not partner.active or not partner.webhook_url:
                continue
            first = self.store.pulled(partner_id, [article_id]).get(article_id)
            if stored.state is State.PUBLISHED and first == stored.content_hash:
                continue  # the partner has exactly this version: nothing to correct
            if self.store.mark_notified(partner_id, article_id, change):
                out.append((partner_id, change))
        return out

    def changed_since(self, since: float, now: datetime) -> list[str]:
        """Articles changed (updated or withdrawn) after ``since`` (epoch seconds)."""
        return self.changes.after(since, now.timestamp())

    def sweep(self, now: datetime) -> list[tuple[str, str, str]]:
        """(partner id, article id, change) for every article changed since the last sweep:
        the safety net under the per-event task, so no change goes unannounced."""
        since = self.store.sweep_cursor()
        if since is None:  # first run: start from now, not from the beginning of time
            self.store.set_sweep_cursor(now.timestamp())
            return []
        out = []
        for article_id in self.changed_since(since, now):
            out += [(p, article_id, c) for p, c in self.changes_to_notify(article_id)]
        self.store.set_sweep_cursor(now.timestamp())
        return out

    def webhook_request(
        self, partner_id: str, article_id: str, change: str
    ) -> WebhookRequest | None:
        """The signed POST for one change, or None if it no longer applies."""
        partner = self.store.get(partner_id)
        stored = self.articles.get(article_id)
        if partner is None or not partner.active or not partner.webhook_url or stored is None:
            return None
        kind, _, _ = change.partition(":")
        article = stored.article
        payload: dict[str, Any] = {
            "event": f"article.{kind}",
            "change": change,
            "partner": partner.id,
            "article": {
                "id": article.id,
                "guid": item_id(article, self.publisher.site_url),
                "url": article.url,
                "title": article.title,
                "updated_at": (stored.changed_at if kind == "withdrawn" else article.modified)
                .astimezone(UTC)
                .isoformat(),
                "state": stored.state.value,
            },
            "feed": self.url(ALL, "atom"),
        }
        if kind == "withdrawn":
            payload["message"] = "The publisher withdrew this article: please take it down."
        else:
            payload["message"] = "The publisher updated this article: please replace your copy."
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(body, self.webhook_secret(partner)),
            EVENT_HEADER: payload["event"],
        }
        return WebhookRequest(partner.webhook_url, body, headers)


def pixel_img(url: str) -> str:
    """A 1×1 image, hidden from screen readers; no cookies are set by its URL."""
    return (
        f'<img src="{escape(url, quote=True)}" width="1" height="1" alt="" '
        'style="border:0;width:1px;height:1px" class="syndication-pixel"/>'
    )


def _slugs(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        slug = slugify(value)
        if slug and slug not in out:
            out.append(slug)
    return out


def make_partner_service(
    settings: Settings, client: redis.Redis, articles: ArticleStore | None = None
) -> PartnerService:
    """The service from settings (what ``Context.partners`` returns once it is wired)."""
    return PartnerService(
        PartnerStore(client, settings.key_prefix),
        articles or ArticleStore(client, settings.key_prefix),
        settings.publisher,
        settings.public_url,
        settings.secret_key,
        items=settings.feed_items,
        previous_secrets=settings.previous_secret_keys,
    )
