"""Each segment's message template, built once per process and editorial revision.

A send builds one ``MessageTemplate`` (render/digest_email.py) per segment and personalises it per
recipient, so the templates, the article ids each shows and whether its line ends are all
CRLF live together in one small LRU (``SegmentCache``), keyed on (edition, segment,
editorial revision): a preview after an edit is fresh, and senders (past the draft) never
ask Redis for a template again. The revision of an edition past its draft is final (only
drafts are edited), so it is remembered too instead of read per message.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from syndication.config import Publisher
from syndication.deliver.smtp import canonical_eols
from syndication.models import Article
from syndication.render import digest_email
from syndication.render.digest_selection import SegmentSpec, arrange
from syndication.render.dkim import DkimKey
from syndication.services.clicks import ClickCounts
from syndication.services.sending import Retrying
from syndication.store.articles import ArticleStore, State
from syndication.store.editions import Edition, EditionStatus, EditionStore, FrozenRecipient
from syndication.store.editorial import Editorial, EditorialStore
from syndication.tokens import manage_token_of

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: (edition id, segment id, editorial revision)
TemplateKey = tuple[str, str, int]


class Lru(Generic[K, V]):
    """A small LRU shared by a process's sender threads: at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


@dataclass(frozen=True)
class SegmentTemplate:
    """A segment's template with what the senders and the preview need to know of it."""

    template: digest_email.MessageTemplate
    shown: tuple[str, ...]  # article ids, in the order the message shows them
    canonical: bool  # every line end is CRLF (the recipient values never hold CR or LF)

    @classmethod
    def of(
        cls, template: digest_email.MessageTemplate, articles: Sequence[Article]
    ) -> SegmentTemplate:
        canonical = all(canonical_eols(c) for c in template.chunks)
        return cls(template, tuple(a.id for a in articles), canonical)


class SegmentTemplates:
    """Builds segment templates and personalises them (one per process, all threads)."""

    def __init__(
        self,
        *,
        editions: EditionStore,
        articles: ArticleStore,
        editorials: EditorialStore,
        publisher: Publisher,
        public_url: str,
        sender: str,
        max_articles: int,
        retrying: Retrying,
        secret_key: str,
        dkim: tuple[DkimKey, ...] = (),
        clicks: ClickCounts | None = None,
    ) -> None:
        self.editions = editions
        self.secret_key = secret_key  # signs each recipient's manage token
        self.clicks = clicks  # counted story links (SYNDICATION_CLICK_COUNTS), else None
        self.articles = articles
        self.editorials = editorials
        self.publisher = publisher
        self.public_url = public_url
        self.sender = sender
        self.max_articles = max_articles
        self.dkim = dkim
        self._patient = retrying.patient  # Redis reads wait for Redis to come back
        self.cache: Lru[TemplateKey, SegmentTemplate] = Lru(64)
        self._final_revisions: Lru[str, int] = Lru(256)
        # One build at a time: a process's sender threads all start on the same segments,
        # and a build (Jinja, MJML, css-inline: tens of ms) is CPU under the GIL anyway.
        self._building = threading.Lock()

    def build(
        self,
        edition_id: str,
        frequency: str,
        language: str,
        topics: tuple[str, ...],
        articles: Sequence[Article],
        now: datetime,
        intro: str = "",
        featured: str | None = None,
    ) -> digest_email.MessageTemplate:
        """A template from scratch (no cache): render the digest, then split the message."""
        segment = digest_email.DigestSegment(
            edition_id=edition_id,
            frequency=frequency,
            language=language,
            topics=topics,
            articles=tuple(articles),
            intro=intro,
            featured=featured,
        )
        links, canary, clicks = None, None, self.clicks
        if clicks is not None:  # counted links: recorded in Redis, like any other read here
            story = self._patient(lambda: clicks.links(edition_id, articles))
            links, canary = story.links, story.canary
        rendered = digest_email.render_digest(
            segment, self.publisher, self.public_url, now, links, canary
        )
        return digest_email.build_message_template(
            rendered, segment, self.publisher, self.public_url, self.sender, now
        )

    def revision(self, edition: Edition) -> int:
        """The editorial revision a template must reflect: read from Redis while the
        edition is a draft (editors may save any time), remembered once it is not."""
        if edition.status in (EditionStatus.CREATING, EditionStatus.DRAFT):
            return self._patient(lambda: self.editorials.revision(edition.id))
        known = self._final_revisions.get(edition.id)
        if known is not None:
            return known
        revision = self._patient(lambda: self.editorials.revision(edition.id))
        self._final_revisions.put(edition.id, revision)
        return revision

    def segment(self, edition: Edition, segment_id: str) -> tuple[TemplateKey, SegmentTemplate]:
        """The segment's template with the editorial applied, from the cache or built now,
        and the key it is cached under (its revision is the one it reflects)."""
        key = (edition.id, segment_id, self.revision(edition))
        known = self.cache.get(key)
        if known is not None:
            return key, known
        with self._building:
            known = self.cache.get(key)  # another thread may have built it meanwhile
            return (key, known) if known is not None else self._build_segment(edition, segment_id)

    def _build_segment(
        self, edition: Edition, segment_id: str
    ) -> tuple[TemplateKey, SegmentTemplate]:
        """Build the segment's template and cache it (under ``segment``'s lock)."""
        raw = self._patient(lambda: self.editions.segment(edition.id, segment_id))
        if raw is None:
            raise LookupError(f"edition {edition.id} has no segment {segment_id}")
        spec = SegmentSpec.from_json(raw)
        editorial = self._patient(lambda: self.editorials.get(edition.id))
        articles, featured = self._arranged(edition, spec, editorial)
        # Date: the edition's creation time, so every attempt builds the same message.
        template = self.build(
            edition.id,
            edition.frequency,
            spec.language,
            spec.topics,
            articles,
            edition.created_at,
            intro=editorial.intro,
            featured=featured,
        )
        built = SegmentTemplate.of(template, articles)
        key = (edition.id, segment_id, editorial.revision)  # what was built (an edit may
        self.cache.put(key, built)  # have landed since the revision was read)
        return key, built

    def template(self, edition: Edition, segment_id: str) -> digest_email.MessageTemplate:
        """The segment's message template with the editorial applied (see ``segment``)."""
        return self.segment(edition, segment_id)[1].template

    def canonical(self, edition: Edition, segment_id: str) -> bool:
        """The segment template's line ends are all CRLF (checked once per template); the
        recipient values B substitutes never hold CR or LF, so every message is canonical."""
        return self.segment(edition, segment_id)[1].canonical

    def message(self, edition: Edition, rcpt: FrozenRecipient) -> bytes:
        return self.personalise(edition, rcpt, self.template(edition, rcpt.segment))

    def personalise(
        self, edition: Edition, rcpt: FrozenRecipient, template: digest_email.MessageTemplate
    ) -> bytes:
        token = rcpt.token or manage_token_of(
            self.secret_key, rcpt.subscriber_id, rcpt.token_version
        )
        recipient = digest_email.make_recipient(
            rcpt.email, rcpt.subscriber_id, token, edition.id, self.public_url
        )
        # t= is the edition's creation time, like the Date field: every attempt at one
        # recipient writes the same bytes (as with Message-ID), and no clock is needed here.
        return bytes(
            digest_email.personalise(
                template, recipient, dkim=self.dkim, signed_at=edition.created_at
            )
        )

    def _arranged(
        self, edition: Edition, spec: SegmentSpec, editorial: Editorial
    ) -> tuple[list[Article], str | None]:
        """The segment's articles with the editorial applied (see ``arrange``)."""
        wanted = list(spec.article_ids)
        extra = editorial.featured
        if extra and extra not in wanted and extra in edition.article_ids:
            wanted.append(extra)
        stored = self._patient(lambda: self.articles.get_many(wanted))
        by_id = {s.article.id: s.article for s in stored}
        articles = [by_id[i] for i in spec.article_ids if i in by_id]
        featured = None
        if extra and extra in by_id:
            state = next(s.state for s in stored if s.article.id == extra)
            if extra in spec.article_ids or state is State.PUBLISHED:
                featured = by_id[extra]
        limit = max(self.max_articles, len(articles))
        return arrange(articles, editorial, spec.language, featured, limit)
