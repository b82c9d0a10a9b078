"""A test send: this period's digest to one confirmed reader, now, outside the ledger.

``digest send`` makes one edition per (frequency, period), so a reader who subscribes after
this period's edition went out (the demo sends one as it starts) would wait for the next
period to see a digest. ``send_proof`` renders the period's content for that reader's
language and topics with the same templates, personalisation and DKIM as an edition, and
hands it to the same SMTP sender, synchronously. It records nothing: no edition, no ledger
entry, no one-per-period slot; its Message-ID says ``test``, so it never poses as the
edition's message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from syndication.deliver.smtp import Sender, SendResult
from syndication.models import Article
from syndication.render import digest_email
from syndication.render.digest_selection import arrange, newest_first, segment_articles
from syndication.services.digests.creation import EditionCreator
from syndication.services.digests.settings import MailSettings
from syndication.services.digests.templates import SegmentTemplates
from syndication.store.articles import State
from syndication.store.editions import EditionStatus
from syndication.store.subscribers import Subscriber
from syndication.tokens import manage_token


class ProofError(Exception):
    """Nothing was sent; the message says why (not a reader, no articles for them)."""


@dataclass(frozen=True)
class ProofResult:
    """What a test send did: the content's source and the SMTP server's answer."""

    email: str
    edition_id: str
    source: str  # "edition" (this period's, as sent) or "candidates" (none made yet)
    article_ids: tuple[str, ...]
    subject: str
    result: SendResult
    warnings: list[str] = field(default_factory=list)


class ProofSender:
    """One-recipient test sends through the edition's rendering and SMTP path."""

    def __init__(
        self,
        *,
        creator: EditionCreator,
        templates: SegmentTemplates,
        mail: MailSettings,
        envelope_from: str,
        sender_factory: Callable[[], Sender] | None,
    ) -> None:
        self.creator = creator
        self.templates = templates
        self.mail = mail
        self.envelope_from = envelope_from
        self.sender_factory = sender_factory

    def send_proof(self, frequency: str, email: str, now: datetime) -> ProofResult:
        """This period's digest for ``email``'s reader; ProofError when nothing can go."""
        if self.sender_factory is None:
            raise ProofError("no SMTP server configured (SYNDICATION_SMTP_URL)")
        sub = self.creator.subscribers.get_by_email(email)
        if sub is None or not sub.active:
            raise ProofError(f"{email} is not a confirmed subscriber (subscribe and confirm first)")
        edition_id, source, articles, intro, featured = self._content(sub, frequency, now)
        if not articles:
            raise ProofError(
                f"no articles for {sub.language}/{','.join(sub.topics) or 'all topics'} "
                f"in this {frequency} period ({source})"
            )
        topics = tuple(sorted(sub.topics))
        template = self.templates.build(
            edition_id, frequency, sub.language, topics, articles, now, intro, featured
        )
        stamp = now.strftime("%Y%m%dT%H%M%S")
        recipient = digest_email.make_recipient(
            sub.email,
            sub.id,
            manage_token(self.templates.secret_key, sub),
            f"test-{edition_id}-{stamp}",
            self.templates.public_url,
        )
        data = digest_email.personalise(
            template, recipient, dkim=self.templates.dkim, signed_at=now
        )  # signed now: the Date field is ``now`` too
        sender = self.sender_factory()
        try:
            result = sender.send(self.envelope_from, sub.email, data, self.mail.smtp_timeout * 2)
        finally:
            sender.close()
        warnings = []
        if sub.frequency != frequency:
            warnings.append(f"{sub.email} reads the {sub.frequency} newsletter, not this one")
        return ProofResult(
            sub.email,
            edition_id,
            source,
            tuple(a.id for a in articles),
            template.subject,
            result,
            warnings,
        )

    def _content(
        self, sub: Subscriber, frequency: str, now: datetime
    ) -> tuple[str, str, list[Article], str, str | None]:
        """(edition id, source, articles, intro, featured): this period's edition as the
        reader's segment would have it, else what the next edition would take."""
        creator = self.creator
        edition_id = creator.edition_id_for(frequency, now)
        edition = creator.editions.get(edition_id)
        topics = tuple(sorted(sub.topics))
        limit = self.mail.max_articles
        if edition is None or edition.status is EditionStatus.CREATING:
            candidates = creator.candidates(frequency, now)
            ids = set(segment_articles(candidates, sub.language, topics, limit))
            return edition_id, "candidates", [a for a in candidates if a.id in ids], "", None
        stored = creator.articles.get_many(list(edition.article_ids))
        published = newest_first([s.article for s in stored if s.state is State.PUBLISHED])
        ids = set(segment_articles(published, sub.language, topics, limit))
        editorial = creator.editorials.get(edition_id)
        by_id = {a.id: a for a in published}
        shown, featured = arrange(
            [a for a in published if a.id in ids],
            editorial,
            sub.language,
            by_id.get(editorial.featured or ""),
            limit,
        )
        return edition_id, "edition", shown, editorial.intro, featured
