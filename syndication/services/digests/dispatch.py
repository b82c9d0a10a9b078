"""Sending an edition: one ``send_batch`` per send task, the engine in services/sending.py.

``send_batch`` runs ``connections`` SMTP sessions in threads; each claims recipients from
the ledger, builds each message from its segment's template (templates.py, built once per
segment and process) with ``personalise``, and marks the outcome before the next
transaction begins (store/editions.py has the state machine). This module builds the
``RunPlan``, classifies SMTP outcomes for the ledger, and asks for a continuation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

from syndication.clock import Clock, system_clock
from syndication.deliver.smtp import Outcome, Sender, SendResult
from syndication.events import Events
from syndication.render import digest_email
from syndication.services.deliverability import Deliverability
from syndication.services.digests.results import BatchReport
from syndication.services.digests.settings import MAX_COUNTDOWN, MailSettings
from syndication.services.digests.templates import SegmentTemplates
from syndication.services.sending import EditionRun, Retrying, RunPlan, Tally, Unbuildable
from syndication.store.domain_pacing import DomainPacer
from syndication.store.durability import Durability
from syndication.store.editions import Edition, EditionStatus, EditionStore, FrozenRecipient, Mark
from syndication.store.ratelimit import SendRateLimiter as RateLimiter
from syndication.store.subscribers import SubscriberStore

log = logging.getLogger(__name__)


class Dispatcher:
    """Runs a send task's share of an edition through the ledger."""

    def __init__(
        self,
        *,
        editions: EditionStore,
        subscribers: SubscriberStore,
        templates: SegmentTemplates,
        events: Events,
        mail: MailSettings,
        envelope_from: str,
        sender_factory: Callable[[], Sender] | None = None,
        rate: RateLimiter | None = None,
        pacing: DomainPacer | None = None,
        deliverability: Deliverability | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.editions = editions
        self.subscribers = subscribers
        self.templates = templates
        self.events = events
        self.mail = mail
        self.envelope_from = envelope_from
        self.sender_factory = sender_factory
        self.rate = rate
        self.pacing = pacing
        self.deliverability = deliverability
        self.clock = clock  # when a hard bounce is suppressed
        self._retry = Retrying(mail.redis_patience).patient

    def durability(self) -> Durability:
        """How this process makes begins durable, checked against the server now (an
        explicit ``mail_durability`` the server cannot give raises ValueError)."""
        mail = self.mail
        return self.editions.durability(
            mail.durability, mail.durability_replicas, mail.durability_timeout_ms
        )

    def send_batch(self, edition_id: str, *, requeue: bool = True) -> BatchReport:
        """Send until nothing is claimable (or ``max_task_seconds``, or a drain), with
        ``connections`` sessions in parallel (services/sending.py); then ask for a
        continuation if work remains."""
        if self.sender_factory is None:
            raise RuntimeError("no SMTP sender configured (SYNDICATION_SMTP_URL)")
        edition = self._retry(lambda: self.editions.get(edition_id))
        report = BatchReport(edition_id)
        if edition is None or edition.status is not EditionStatus.SENDING:
            report.status = edition.status.value if edition else "missing"
            return report
        durability = self._retry(self.durability)
        if not durability.durable:
            log.warning("sends are not durable: %s", durability.reason)
        stop_at = time.monotonic() + self.mail.max_task_seconds
        plan = self._plan(edition, self.sender_factory, durability, stop_at)
        tally = EditionRun(plan).run()
        self._count(edition_id, tally)
        report = BatchReport.of(edition_id, tally, durability.mode.value)
        if tally.repeated:
            log.warning(
                "entries may have been sent twice (Redis lost their records)",
                extra={"edition": edition_id, "repeated": tally.repeated},
            )
        current = self._retry(lambda: self.editions.get(edition_id))
        report.status = current.status.value if current else "missing"
        if (
            requeue
            and current is not None
            and current.status is EditionStatus.SENDING
            and current.counts.get("pending", 0) > 0
        ):
            out_of_time = time.monotonic() >= stop_at or tally.drained
            countdown = 0.0 if out_of_time else (report.due_in or 0.0)
            # Far below the broker's visibility timeout, or the task would be delivered twice.
            self.events.send_edition(edition_id, min(countdown, MAX_COUNTDOWN), 1)
        return report

    def _count(self, edition_id: str, tally: Tally) -> None:
        """The run's sends and hard bounces, for the 30-day rates (one write a run)."""
        if self.deliverability is None:
            return
        try:
            self._retry(
                partial(self.deliverability.record_run, edition_id, tally.sent, tally.hard_bounced)
            )
        except Exception:  # the ledger has the truth; only the rate's counts miss it
            log.exception("could not count the run's sends", extra={"edition": edition_id})

    def _plan(
        self,
        edition: Edition,
        sender_factory: Callable[[], Sender],
        durability: Durability,
        stop_at: float,
    ) -> RunPlan:
        windowed = durability.command() is not None
        return RunPlan(
            edition=edition,
            store=self.editions,
            sender_factory=sender_factory,
            build=self._build_for,
            classify=self._classify,
            envelope_from=self.envelope_from,
            durability=durability,
            connections=max(1, self.mail.connections),
            batch=self.mail.batch,
            window=max(1, self.mail.durable_window) if windowed else 1,
            heartbeat_s=self.mail.heartbeat_s,
            patience=self.mail.redis_patience,
            stop_at=stop_at,
            rate=self.rate,
            pacing=self.pacing,
        )

    def _build_for(self, edition: Edition, rcpt: FrozenRecipient) -> tuple[bytes, bool]:
        """The recipient's message and whether its line ends are all CRLF (the segment's
        template and check come from the per-process cache)."""
        try:
            _, built = self.templates.segment(edition, rcpt.segment)
            return self.templates.personalise(edition, rcpt, built.template), built.canonical
        except (digest_email.RecipientError, LookupError) as exc:
            raise Unbuildable(str(exc)) from exc

    def _classify(
        self, result: SendResult, rcpt: FrozenRecipient, report: Tally
    ) -> tuple[Mark, str]:
        if result.outcome is Outcome.SENT:
            report.sent += 1
            return Mark.SENT, ""
        if result.outcome is Outcome.TEMPORARY:
            report.retried += 1
            return Mark.RETRY, result.describe()
        if result.outcome is Outcome.UNCERTAIN:
            report.uncertain += 1
            return Mark.UNCERTAIN, result.describe()
        report.failed += 1
        if result.hard_bounce:
            report.hard_bounced += 1
            self._suppress(rcpt, f"hard bounce: {result.describe()}", report)
        return Mark.FAILED, result.describe()

    def _suppress(self, rcpt: FrozenRecipient, reason: str, report: Tally) -> None:
        try:
            now: datetime = self.clock()
            self._retry(partial(self.subscribers.suppress, rcpt.email, reason, now))
            report.suppressed += 1
        except Exception:  # the failure is still recorded in the ledger
            log.exception("could not suppress %s", rcpt.subscriber_id)
