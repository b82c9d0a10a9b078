"""``Digests``: the digest use cases as the faces (web, CLI, workers) call them.

It builds the five services over shared stores and caches and hands out their methods
under the names the faces have always used; new code may as well take the service it
needs (``digests.creation``, ``.editing``, ``.control``, ``.dispatch``, ``.templates``).
Nothing here imports Celery: ``Events.send_edition`` (syndication/events.py) is how
sending work is queued.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from syndication.clock import Clock, system_clock
from syndication.config import Publisher
from syndication.deliver.smtp import Sender
from syndication.events import Events
from syndication.render import digest_email
from syndication.render.dkim import DkimKey
from syndication.services.clicks import ClickCounts
from syndication.services.deliverability import Deliverability
from syndication.services.digests.control import EditionControl
from syndication.services.digests.creation import EditionCreator
from syndication.services.digests.dispatch import Dispatcher
from syndication.services.digests.editorial import EditorialDesk
from syndication.services.digests.proof import ProofSender
from syndication.services.digests.retention import EditionRetention
from syndication.services.digests.settings import MailSettings
from syndication.services.digests.templates import SegmentTemplates
from syndication.services.sending import Retrying
from syndication.store.articles import ArticleStore
from syndication.store.domain_pacing import DomainPacer
from syndication.store.editions import EditionStore
from syndication.store.editorial import EditorialStore
from syndication.store.ratelimit import SendRateLimiter as RateLimiter
from syndication.store.subscribers import SubscriberStore


class Digests:
    """The digest services of one process, wired once (wiring.py: ``make_digest_service``)."""

    def __init__(
        self,
        editions: EditionStore,
        articles: ArticleStore,
        subscribers: SubscriberStore,
        publisher: Publisher,
        public_url: str,
        secret_key: str,
        mail: MailSettings,
        events: Events,
        sender_factory: Callable[[], Sender] | None = None,
        rate: RateLimiter | None = None,
        pacing: DomainPacer | None = None,
        deliverability: Deliverability | None = None,
        dkim: tuple[DkimKey, ...] = (),
        clock: Clock = system_clock,
        clicks: ClickCounts | None = None,
    ) -> None:
        self.editions = editions
        self.clicks = clicks
        self.articles = articles
        self.subscribers = subscribers
        self.editorials = EditorialStore(editions)
        self.publisher = publisher
        self.public_url = public_url
        self.mail = mail
        self.events = events
        self.tz = ZoneInfo(publisher.timezone)
        self.templates = self._segment_templates(dkim, secret_key)
        self.creation = EditionCreator(
            editions=editions,
            articles=articles,
            subscribers=subscribers,
            editorials=self.editorials,
            templates=self.templates,
            events=events,
            mail=mail,
            tz=self.tz,
        )
        self.editing = EditorialDesk(
            editions=editions,
            editorials=self.editorials,
            templates=self.templates,
            events=events,
            mail=mail,
            publisher=publisher,
            public_url=public_url,
        )
        self.control = EditionControl(editions=editions, events=events, mail=mail)
        self.retention = EditionRetention(
            editions=editions, retention=mail.retention, archive_dir=mail.archive_dir
        )
        self.dispatch = self._dispatcher(sender_factory, rate, pacing, deliverability, clock)
        self.proof = self._proof_sender(sender_factory)
        self._expose_use_cases()

    def _segment_templates(self, dkim: tuple[DkimKey, ...], secret_key: str) -> SegmentTemplates:
        """The one template cache every part renders through."""
        mail, publisher, public_url = self.mail, self.publisher, self.public_url
        return SegmentTemplates(
            editions=self.editions,
            articles=self.articles,
            editorials=self.editorials,
            publisher=publisher,
            public_url=public_url,
            sender=mail.mail_from or digest_email.default_sender(publisher, public_url),
            max_articles=mail.max_articles,
            retrying=Retrying(mail.redis_patience),
            secret_key=secret_key,
            dkim=dkim,
            clicks=self.clicks,
        )

    def _expose_use_cases(self) -> None:
        """The faces' names for the use cases, each one service's method."""
        self.edition_id_for = self.creation.edition_id_for
        self.create_edition = self.creation.create_edition
        self.create_scheduled = self.creation.create_scheduled
        self.preview = self.creation.preview
        self.editorial = self.editing.editorial
        self.edit = self.editing.edit
        self.approve = self.editing.approve
        self.start_due_drafts = self.editing.start_due_drafts
        self.segment_ids = self.editing.segment_ids
        self.preview_segment = self.editing.preview_segment
        self.recover = self.control.recover
        self.pause = self.control.pause
        self.resume = self.control.resume
        self.cancel = self.control.cancel
        self.resend_uncertain = self.control.resend_uncertain
        self.status = self.control.status
        self.report = self.control.report
        self.compact = self.retention.compact
        self.compact_scheduled = self.retention.scheduled
        self.send_batch = self.dispatch.send_batch
        self.message = self.templates.message
        self.send_proof = self.proof.send_proof

    def _proof_sender(self, sender_factory: Callable[[], Sender] | None) -> ProofSender:
        """``digest send --to``: the edition's rendering and SMTP, recorded nowhere."""
        return ProofSender(
            creator=self.creation,
            templates=self.templates,
            mail=self.mail,
            envelope_from=self.dispatch.envelope_from,
            sender_factory=sender_factory,
        )

    def _dispatcher(
        self,
        sender_factory: Callable[[], Sender] | None,
        rate: RateLimiter | None,
        pacing: DomainPacer | None,
        deliverability: Deliverability | None,
        clock: Clock,
    ) -> Dispatcher:
        return Dispatcher(
            editions=self.editions,
            subscribers=self.subscribers,
            templates=self.templates,
            events=self.events,
            mail=self.mail,
            envelope_from=self.mail.envelope_from
            or f"newsletter@{digest_email.host_of(self.public_url)}",
            sender_factory=sender_factory,
            rate=rate,
            pacing=pacing,
            deliverability=deliverability,
            clock=clock,
        )


#: The name the faces import (web/admin/editions/, cli/digest.py, workers/mail_tasks.py).
DigestService = Digests
