"""Partner copies: each article as a partner may republish it, made once and reused.

A partner copy is the article through ``build.partner_copy``, which applies the licence
rules and puts the attribution header and footer in the body. It depends on the article
version and on whether the partner is commercial, nothing else of the partner's (its
filters only choose which articles), so there are at most two per article version.
``prepare_copies`` makes both when an article is published or updated (a task queued with
the article event) and stores them in Redis (``store.partners.PartnerCopyStore``); a feed
build looks each copy up in this process's memo, then in Redis (one pipelined round trip
for all the items it misses), and only then makes it, storing what it made (articles older
than the task, or the task not run yet).

Licences: an article under all rights reserved, or marked ``republishable: false``, never
goes to any partner; an NC article never goes to a partner marked commercial (CC 4.0
legal code §1(i), §2(a)(1): NonCommercial means "not primarily intended for or directed
towards commercial advantage"). ``partner_copy`` decides; ``allowed`` checks the two
licence rules again before anything is served (defence in depth: a feed is the one place
a mistake would reach a partner).
"""

from __future__ import annotations

import hashlib
from collections import Counter, OrderedDict
from collections.abc import Sequence
from typing import Any

from syndication import i18n
from syndication.config import Publisher
from syndication.licences import LICENCES, may_republish
from syndication.models import Article
from syndication.render.partner_copy import Excluded, PartnerItem, PartnerTerms, partner_copy
from syndication.store.articles import ArticleStore, State, StoredArticle
from syndication.store.partners import Partner, PartnerCopyStore, StoredCopy, copy_version
from syndication.templating import environment

_COPY_CACHE = 4_096
# Bump when what a stored copy holds, or how it is made, changes in a way the templates'
# and terms' fingerprint does not show (a rule in partner_copy, say).
COPY_FORMAT = "2"  # 2: notes of changes include the importer's (Article.changes)
_COPY_TEMPLATES = ("header.html", "footer.html")

# Terms without filters, per kind of partner: what a memoised copy is made with.
_PLAIN_TERMS = {False: PartnerTerms.of(commercial=False), True: PartnerTerms.of(commercial=True)}

Copy = PartnerItem | Excluded


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


def to_stored(made: Copy) -> StoredCopy:
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


def from_stored(copy: StoredCopy, article: Article, publisher: Publisher) -> Copy:
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


class PartnerCopies:
    """Partner copies from this process's memo, else Redis, else made (and stored)."""

    def __init__(
        self, articles: ArticleStore, publisher: Publisher, copy_store: PartnerCopyStore
    ) -> None:
        self.articles = articles
        self.publisher = publisher
        self.copy_store = copy_store
        self.copy_terms = copy_terms(publisher)
        self._copies: OrderedDict[tuple[str, str, bool], Copy] = OrderedDict()
        # Where each copy came from: "memo", "stored" (Redis) or "made" (for /metrics,
        # the bench, and tests that a cold process reads rather than renders).
        self.copy_counts: Counter[str] = Counter()

    def make_copy(self, article: Article, commercial: bool) -> Copy:
        """``partner_copy`` with the terms every partner of that kind shares."""
        return partner_copy(article, _PLAIN_TERMS[commercial], self.publisher)

    def copy(self, stored: StoredArticle, commercial: bool) -> Copy:
        """One article's copy (see ``copies``)."""
        return self.copies([stored], commercial)[0]

    def copies(self, stored: Sequence[StoredArticle], commercial: bool) -> list[Copy]:
        """The copies of ``stored`` for a commercial partner or not, in order.

        This process's memo first; then Redis, one pipelined round trip for all the misses
        (the copies ``prepare_copies`` stored at publish time); then ``partner_copy`` for
        what is still missing, stored for every other process. A copy costs ~0.1 ms to
        make, ~0.02 ms to read back: the difference is what keeps a cold process's first
        feed within twice the public one.
        """
        out: list[Copy | None] = []
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
            fetched = self._fetch([stored[n] for n in missing], commercial)
            for n, copy in zip(missing, fetched, strict=True):
                out[n] = copy
        return [c for c in out if c is not None]

    def _fetch(self, stored: Sequence[StoredArticle], commercial: bool) -> list[Copy]:
        """Copies the memo missed: from Redis where stored, else made and stored."""
        wanted = [(s.article.id, s.content_hash, commercial) for s in stored]
        found_stored = self.copy_store.get_many(wanted, self.copy_terms)
        made: list[tuple[str, str, int, bool, StoredCopy]] = []
        out: list[Copy] = []
        for s, hit in zip(stored, found_stored, strict=True):
            if hit is not None:
                copy = from_stored(hit, s.article, self.publisher)
                self.copy_counts["stored"] += 1
            else:
                self.copy_counts["made"] += 1
                copy = self.make_copy(s.article, commercial)
                version = copy_version(s.changed_at)
                made.append((s.article.id, s.content_hash, version, commercial, to_stored(copy)))
            self._remember((s.article.id, s.content_hash, commercial), copy)
            out.append(copy)
        self.copy_store.add_many(made, self.copy_terms)
        return out

    def _remember(self, key: tuple[str, str, bool], copy: Copy) -> None:
        self._copies[key] = copy
        if len(self._copies) > _COPY_CACHE:
            self._copies.popitem(last=False)

    def prepare_copies(self, article_id: str) -> int:
        """Store the article's copies for both kinds of partner, replacing any older ones;
        a withdrawn, held (or vanished) article's are dropped. Returns how many were stored."""
        stored = self.articles.get(article_id)
        if stored is None:
            self.copy_store.drop(article_id)
            return 0
        version = copy_version(stored.changed_at)
        if stored.state not in (State.PUBLISHED, State.EMBARGOED):
            self.copy_store.withdraw(article_id, version)
            return 0
        made = {c: to_stored(self.make_copy(stored.article, c)) for c in (False, True)}
        self.copy_store.replace(article_id, stored.content_hash, version, made, self.copy_terms)
        return len(made)
