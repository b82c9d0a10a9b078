"""Digest editions: create one per frequency and period, send it through the ledger, recover.

- ``create_edition`` takes the articles published since the previous edition of the same
  frequency that no edition of it included yet (by article id, so a back-dated or late
  article is neither lost nor sent twice), freezes the active subscribers of that frequency
  with the segment (language, topics) each belongs to, and is idempotent per (frequency,
  period): the slot is taken with SET NX, the record with HSETNX, recipients with HSETNX.
- ``send_batch`` runs ``connections`` SMTP sessions in threads; each claims recipients from
  the ledger, builds each message from its segment's template (built once per segment and
  process, B's ``build_message_template``) with ``personalise``, and marks the outcome
  before the next transaction begins (store/editions.py has the state machine).
- ``recover`` turns expired leases into ``uncertain`` (or back to pending when never begun),
  and re-queues sending for editions that have work and no live sender.
- Editorial (store/editorial.py): while an edition is a draft, editors set an intro, a
  featured story and the order (``edit``), look at each segment (``preview_segment``) and
  send it (``approve``). With ``digest_approval_minutes`` the scheduled edition waits as a
  draft until ``send_at`` and ``start_due_drafts`` starts it. ``template`` applies the
  editorial (``arrange``) and keys its cache on the record's revision.

Nothing here imports Celery: ``DigestEvents`` is how sending work is queued.
"""

from __future__ import annotations

import email
import email.policy
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import redis

from syndication.build import email as mail_build
from syndication.build.digest_selection import (
    FREQUENCIES as FREQUENCIES,
)
from syndication.build.digest_selection import (
    PERIOD_LENGTH,
    check_order,
)
from syndication.build.digest_selection import (
    SegmentSpec as SegmentSpec,
)
from syndication.build.digest_selection import arrange as arrange
from syndication.build.digest_selection import period_of as period_of
from syndication.build.digest_selection import segment_articles as segment_articles
from syndication.clock import Clock, system_clock
from syndication.config import ENV_PREFIX, ConfigError, Publisher, Settings
from syndication.deliver.smtp import Outcome, Sender, SendResult, canonical_eols
from syndication.deliver.throttle import RateLimiter
from syndication.models import Article
from syndication.services.sending import EditionRun, Retrying, RunPlan, Tally, Unbuildable
from syndication.store.articles import ArticleStore, State
from syndication.store.durability import Durability, resolve
from syndication.store.editions import (
    Edition,
    EditionStatus,
    EditionStore,
    EntryState,
    FrozenRecipient,
    Mark,
    Policy,
)
from syndication.store.editorial import EditionNotEditable as EditionNotEditable
from syndication.store.editorial import Editorial as Editorial
from syndication.store.editorial import EditorialConflict as EditorialConflict
from syndication.store.editorial import EditorialStore, clean_intro
from syndication.store.subscribers import Subscriber, SubscriberStore
from syndication.tokens import manage_token

log = logging.getLogger(__name__)
_T = TypeVar("_T")

MAX_COUNTDOWN = 600.0
REDIS_TRANSIENT = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


@dataclass(frozen=True)
class MailSettings:
    """Delivery settings. Read from ``Settings`` attributes named ``mail_*`` when config.py
    has them (see the issue note), else these defaults."""

    connections: int = 2  # SMTP sessions (threads) per send task
    batch: int = 50  # recipients claimed at a time per session
    fanout: int = 2  # send tasks queued per edition
    smtp_timeout: float = 30.0
    rate_per_second: float = 0.0  # 0: unlimited
    rate_per_hour: float = 0.0
    max_task_seconds: float = 600.0  # a send task hands over to a fresh one after this
    max_articles: int = 15  # per segment (the HTML stays under the Gmail clip at 15)
    max_resume_age: timedelta = timedelta(hours=48)
    redis_patience: float = 120.0  # how long claims and begins wait for Redis to come back
    durability: str = "auto"  # store/durability.py: how begins are made durable before DATA
    durable_window: int = 20  # entries begun per durability wait (WAITAOF/WAIT only)
    durability_timeout_ms: int = 5000
    durability_replicas: int = 1
    heartbeat_s: float = 5.0  # live-sender heartbeat; a dead sender lapses after 3 of them
    policy: Policy = field(default_factory=Policy)
    mail_from: str | None = None  # header From (default: "Publisher" <newsletter@host>)
    envelope_from: str | None = None  # MAIL FROM / bounce address
    approval_window: timedelta = timedelta(0)  # scheduled editions wait as drafts this long

    @classmethod
    def from_settings(cls, settings: Settings) -> MailSettings:
        def get(name: str, default: Any) -> Any:
            value = getattr(settings, name, None)
            if value is None:
                value = settings.extra.get(name)
            return default if value is None else value

        base = cls()
        policy = Policy(
            lease_s=float(get("mail_lease_seconds", base.policy.lease_s)),
            tx_budget_s=float(get("mail_tx_budget_seconds", base.policy.tx_budget_s)),
            retry_base_s=float(get("mail_retry_base_seconds", base.policy.retry_base_s)),
            retry_max_s=float(get("mail_retry_max_seconds", base.policy.retry_max_s)),
            max_attempts=int(get("mail_max_attempts", base.policy.max_attempts)),
            uncertain=str(get("mail_uncertain_policy", base.policy.uncertain)),
        )
        return cls(
            connections=int(get("mail_connections", base.connections)),
            batch=int(get("mail_batch", base.batch)),
            fanout=int(get("mail_fanout", base.fanout)),
            smtp_timeout=float(get("smtp_timeout", base.smtp_timeout)),
            rate_per_second=float(get("mail_rate_per_second", base.rate_per_second)),
            rate_per_hour=float(get("mail_rate_per_hour", base.rate_per_hour)),
            max_task_seconds=float(get("mail_max_task_seconds", base.max_task_seconds)),
            max_articles=int(get("digest_max_articles", base.max_articles)),
            max_resume_age=timedelta(
                hours=float(
                    get("mail_max_resume_age_hours", base.max_resume_age / timedelta(hours=1))
                )
            ),
            redis_patience=float(get("mail_redis_patience_seconds", base.redis_patience)),
            durability=str(get("mail_durability", base.durability)),
            durable_window=int(get("mail_durable_window", base.durable_window)),
            durability_timeout_ms=int(
                get("mail_durability_timeout_ms", base.durability_timeout_ms)
            ),
            durability_replicas=int(get("mail_durability_replicas", base.durability_replicas)),
            heartbeat_s=float(get("mail_heartbeat_seconds", base.heartbeat_s)),
            policy=policy,
            mail_from=get("mail_from", None),
            envelope_from=get("mail_envelope_from", None),
            approval_window=timedelta(minutes=float(get("digest_approval_minutes", 0))),
        )


class DigestEvents(Protocol):
    """How the service asks for background sending (workers/mail_tasks.py: Celery)."""

    def send_edition(self, edition_id: str, countdown: float = 0.0, copies: int = 1) -> None: ...


class RecordingDigestEvents:
    """Keeps the requests, for callers that run ``send_batch`` themselves (tests, CLI)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, int]] = []

    def send_edition(self, edition_id: str, countdown: float = 0.0, copies: int = 1) -> None:
        self.calls.append((edition_id, countdown, copies))


@dataclass(frozen=True)
class SegmentPreview:
    """One segment of an edition as its subscribers get it (placeholder personal links).

    ``html`` and ``text`` are the parts of the very message the senders personalise;
    ``html_size`` counts every personal link at its longest, like the send-time checks.
    ``recipients`` is None while the edition is still being created.
    """

    segment_id: str
    language: str
    topics: tuple[str, ...]
    recipients: int | None
    subject: str
    html: str
    text: str
    html_size: int
    clipped: bool  # over GMAIL_CLIP_BYTES: Gmail shows "[Message clipped]"
    over_budget: bool  # over SIZE_BUDGET
    article_ids: tuple[str, ...] = ()  # in the order the segment shows them
    revision: int = 0  # the editorial revision it reflects


@dataclass(frozen=True)
class Created:
    edition_id: str | None
    created: bool  # False: it existed already (a retried task, a second beat) or nothing new
    reason: str = ""
    edition: Edition | None = None


@dataclass
class BatchReport:
    edition_id: str
    sent: int = 0
    failed: int = 0
    retried: int = 0
    uncertain: int = 0
    released: int = 0
    suppressed: int = 0
    replayed: int = 0  # outcomes written again after Redis restarted
    repeated: int = 0  # entries that may have reached the reader twice (reported)
    status: str = ""
    due_in: float | None = None
    drained: bool = False  # the run stopped for a shutdown (SIGTERM)
    durability: str = ""

    @classmethod
    def of(cls, edition_id: str, tally: Tally, durability: str) -> BatchReport:
        fields = {k: v for k, v in tally.__dict__.items() if k in cls.__dataclass_fields__}
        return cls(edition_id, **fields, durability=durability)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ResendReport:
    edition_id: str
    resent: int
    skipped: list[str]  # ids that were not uncertain (already sent, failed, unknown …)
    status: str  # the edition's status after it ('' or unchanged when refused)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RecoverReport:
    edition_id: str
    uncertain: int
    requeued: int
    kicked: bool
    stale: bool
    next_check_in: float | None
    active: bool = False  # still sending with work left: worth looking at again soon


class DigestService:
    def __init__(
        self,
        editions: EditionStore,
        articles: ArticleStore,
        subscribers: SubscriberStore,
        publisher: Publisher,
        public_url: str,
        secret_key: str,
        mail: MailSettings,
        events: DigestEvents,
        sender_factory: Callable[[], Sender] | None = None,
        rate: RateLimiter | None = None,
        dkim: mail_build.DkimKey | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.editions = editions
        self.articles = articles
        self.subscribers = subscribers
        self.publisher = publisher
        self.public_url = public_url
        self.secret_key = secret_key
        self.mail = mail
        self.events = events
        self.sender_factory = sender_factory
        self.rate = rate
        self.dkim = dkim
        self.clock = clock  # when a hard bounce is suppressed; the rest take ``now``
        self.tz = ZoneInfo(publisher.timezone)
        self.sender = mail.mail_from or mail_build.default_sender(publisher, public_url)
        self.envelope_from = mail.envelope_from or f"newsletter@{mail_build.host_of(public_url)}"
        self._templates: OrderedDict[tuple[str, str, int], Any] = OrderedDict()
        self._shown: dict[tuple[str, str, int], tuple[str, ...]] = {}  # article ids, in order
        self._templates_lock = threading.Lock()
        self._canonical: dict[tuple[str, str, int], bool] = {}
        self._retry = Retrying(mail.redis_patience).patient
        self.editorials = EditorialStore(editions)
        # Editorial revisions of editions past their draft: final (only drafts are edited),
        # so the senders look them up here instead of asking Redis per message.
        self._final_revisions: OrderedDict[str, int] = OrderedDict()
        self._segment_counts: OrderedDict[str, dict[str, int]] = OrderedDict()

    # --- creating --------------------------------------------------------------------------

    def _candidates(
        self, frequency: str, now: datetime, since: datetime | None = None
    ) -> list[Article]:
        """Published articles since the previous edition, not yet in an edition of ``frequency``.

        ``since`` widens the window (a first edition that should reach back further, the
        demo's sample articles); articles already in an edition of ``frequency`` stay out.
        """
        previous = self.editions.latest_of(frequency)
        length = PERIOD_LENGTH[frequency]
        if since is not None:
            start = since
        elif previous is not None:
            start = min(previous.created_at, now - length) - length  # overlap: ids dedupe
        else:
            start = now - length
        ids = self.articles.ids_between(start, now)
        seen = self.editions.included(frequency, (start - length).timestamp())
        fresh = [i for i in ids if i not in seen]
        stored = self.articles.get_many(fresh)
        published = [s.article for s in stored if s.state is State.PUBLISHED]
        return sorted(published, key=lambda a: (a.published_at, a.id), reverse=True)

    def edition_id_for(self, frequency: str, now: datetime) -> str:
        return f"{frequency}-{period_of(frequency, now, self.tz)}"

    def create_edition(
        self,
        frequency: str,
        now: datetime,
        *,
        start: bool = True,
        policy: Policy | None = None,
        since: datetime | None = None,
        send_at: datetime | None = None,
    ) -> Created:
        """One edition per (frequency, period), whoever calls and however often.

        ``since``: take articles published from then on instead of since the previous
        edition (see ``_candidates``); the edition is still one per period. ``send_at``:
        leave a draft that ``start_due_drafts`` starts at that time (editors may edit and
        approve it before); written before the draft exists, so no draft is left without it.
        """
        if send_at is not None:
            start = False
        if frequency not in FREQUENCIES:
            raise ValueError(f"unknown frequency {frequency!r}")
        period = period_of(frequency, now, self.tz)
        edition_id = self.editions.reserve(f"{frequency}-{period}", frequency, period)
        existing = self.editions.get(edition_id)
        if existing is not None and existing.status is not EditionStatus.CREATING:
            return Created(edition_id, False, "exists", existing)
        if existing is None:
            articles = self._candidates(frequency, now, since)
            if not articles:
                # Release the slot so a later call in the same period may still make one.
                self.editions.r.delete(self.editions.period_key(frequency, period))
                return Created(None, False, "no new articles")
            self.editions.init(
                edition_id,
                frequency,
                period,
                [a.id for a in articles],
                policy or self.mail.policy,
                now,
            )
        edition = self.editions.get(edition_id)
        assert edition is not None
        self._freeze(edition)
        if send_at is not None:
            self.editorials.schedule(edition_id, send_at)
        status = self.editions.finish_creation(edition_id, start, now)
        edition = self.editions.get(edition_id)
        if status is EditionStatus.SENDING:
            self.events.send_edition(edition_id, 0.0, self.mail.fanout)
        log.info("edition created", extra={"edition": edition_id, "status": status.value})
        return Created(edition_id, True, "created", edition)

    def create_scheduled(self, frequency: str, now: datetime) -> Created:
        """What beat runs: with an approval window (``digest_approval_minutes``) a draft
        that sends itself at ``now + window`` unless an editor approves it sooner; without,
        an edition that starts at once."""
        window = self.mail.approval_window
        if window > timedelta(0):
            return self.create_edition(frequency, now, start=False, send_at=now + window)
        return self.create_edition(frequency, now)

    def _freeze(self, edition: Edition) -> None:
        """Recipients in chunks (memory stays flat); each chunk in one script, idempotent."""
        stored = self.articles.get_many(list(edition.article_ids))
        articles = sorted(
            (s.article for s in stored if s.state is State.PUBLISHED),
            key=lambda a: (a.published_at, a.id),
            reverse=True,
        )
        segment_cache: dict[tuple[str, tuple[str, ...]], SegmentSpec | None] = {}
        chunk: list[FrozenRecipient] = []
        new_segments: dict[str, str] = {}

        def flush() -> None:
            if chunk or new_segments:
                self.editions.add_recipients(edition.id, chunk, new_segments)
            chunk.clear()
            new_segments.clear()

        for sub in self.subscribers.iter_active(edition.frequency):
            topics = tuple(sorted(sub.topics))
            key = (sub.language, topics)
            if key not in segment_cache:
                ids = segment_articles(articles, sub.language, topics, self.mail.max_articles)
                spec = SegmentSpec(sub.language, topics, ids) if ids else None
                segment_cache[key] = spec
                if spec is not None:
                    new_segments[spec.id] = spec.to_json()
            spec = segment_cache[key]
            if spec is None:
                continue  # nothing in this edition for their language and topics
            chunk.append(
                FrozenRecipient(sub.id, sub.email, spec.id, manage_token(self.secret_key, sub))
            )
            if len(chunk) >= 500:
                flush()
        flush()

    # --- previewing ------------------------------------------------------------------------

    def preview(self, frequency: str, now: datetime) -> dict[str, Any]:
        """The next edition as it stands: segments, recipients, sizes, and size warnings."""
        articles = self._candidates(frequency, now)
        counts: dict[tuple[str, tuple[str, ...]], int] = {}
        for sub in self.subscribers.iter_active(frequency):
            key = (sub.language, tuple(sorted(sub.topics)))
            counts[key] = counts.get(key, 0) + 1
        segments = []
        warnings = []
        for (language, topics), n in sorted(counts.items()):
            ids = segment_articles(articles, language, topics, self.mail.max_articles)
            if not ids:
                continue
            chosen = [a for a in articles if a.id in set(ids)]
            template = self._build(f"preview-{frequency}", frequency, language, topics, chosen, now)
            size = int(template.html_size)
            seg = {
                "language": language,
                "topics": list(topics),
                "recipients": n,
                "articles": list(ids),
                "subject": template.subject,
                "html_size": size,
                "message_size": int(template.size),
            }
            if size > mail_build.SIZE_BUDGET:
                clip = " (Gmail will clip it)" if size > mail_build.GMAIL_CLIP_BYTES else ""
                warnings.append(
                    f"segment {language}/{','.join(topics) or 'all'}: HTML is {size:,} bytes, "
                    f"over the {mail_build.SIZE_BUDGET:,} budget{clip}"
                )
            segments.append(seg)
        return {
            "frequency": frequency,
            "period": period_of(frequency, now, self.tz),
            "articles": [a.id for a in articles],
            "recipients": sum(s["recipients"] for s in segments),
            "segments": segments,
            "warnings": warnings,
        }

    # --- building --------------------------------------------------------------------------

    def _build(
        self,
        edition_id: str,
        frequency: str,
        language: str,
        topics: tuple[str, ...],
        articles: Sequence[Article],
        now: datetime,
        intro: str = "",
        featured: str | None = None,
    ) -> Any:
        segment = mail_build.DigestSegment(
            edition_id=edition_id,
            frequency=frequency,
            language=language,
            topics=topics,
            articles=tuple(articles),
            intro=intro,
            featured=featured,
        )
        rendered = mail_build.render_digest(segment, self.publisher, self.public_url, now)
        return mail_build.build_message_template(
            rendered, segment, self.publisher, self.public_url, self.sender, now
        )

    def _revision(self, edition: Edition) -> int:
        """The editorial revision a template must reflect: read from Redis while the
        edition is a draft (editors may save any time), remembered once it is not."""
        if edition.status in (EditionStatus.CREATING, EditionStatus.DRAFT):
            return self._retry(lambda: self.editorials.revision(edition.id))
        with self._templates_lock:
            known = self._final_revisions.get(edition.id)
        if known is not None:
            return known
        revision = self._retry(lambda: self.editorials.revision(edition.id))
        with self._templates_lock:
            self._final_revisions[edition.id] = revision
            while len(self._final_revisions) > 256:
                self._final_revisions.popitem(last=False)
        return revision

    def _template(self, edition: Edition, segment_id: str) -> tuple[tuple[str, str, int], Any]:
        key = (edition.id, segment_id, self._revision(edition))
        with self._templates_lock:
            if key in self._templates:
                self._templates.move_to_end(key)
                return key, self._templates[key]
        raw = self._retry(lambda: self.editions.segment(edition.id, segment_id))
        if raw is None:
            raise LookupError(f"edition {edition.id} has no segment {segment_id}")
        spec = SegmentSpec.from_json(raw)
        editorial = self._retry(lambda: self.editorials.get(edition.id))
        articles, featured = self._arranged(edition, spec, editorial)
        # Date: the edition's creation time, so every attempt builds the same message.
        template = self._build(
            edition.id,
            edition.frequency,
            spec.language,
            spec.topics,
            articles,
            edition.created_at,
            intro=editorial.intro,
            featured=featured,
        )
        key = (edition.id, segment_id, editorial.revision)  # what was built (an edit may
        with self._templates_lock:  # have landed since the revision was read)
            self._templates[key] = template
            self._shown[key] = tuple(a.id for a in articles)
            while len(self._templates) > 64:
                old, _ = self._templates.popitem(last=False)
                self._shown.pop(old, None)
        return key, template

    def _arranged(
        self, edition: Edition, spec: SegmentSpec, editorial: Editorial
    ) -> tuple[list[Article], str | None]:
        """The segment's articles with the editorial applied (see ``arrange``)."""
        wanted = list(spec.article_ids)
        extra = editorial.featured
        if extra and extra not in wanted and extra in edition.article_ids:
            wanted.append(extra)
        stored = self._retry(lambda: self.articles.get_many(wanted))
        by_id = {s.article.id: s.article for s in stored}
        articles = [by_id[i] for i in spec.article_ids if i in by_id]
        featured = None
        if extra and extra in by_id:
            state = next(s.state for s in stored if s.article.id == extra)
            if extra in spec.article_ids or state is State.PUBLISHED:
                featured = by_id[extra]
        limit = max(self.mail.max_articles, len(articles))
        return arrange(articles, editorial, spec.language, featured, limit)

    def template(self, edition: Edition, segment_id: str) -> Any:
        """The segment's message template with the editorial applied, built once per
        process and editorial revision (a small LRU): a preview after an edit is fresh,
        and senders (past the draft) never ask Redis for it again."""
        return self._template(edition, segment_id)[1]

    def canonical(self, edition: Edition, segment_id: str) -> bool:
        """The segment template's line ends are all CRLF (checked once per template); the
        recipient values B substitutes never hold CR or LF, so every message is canonical."""
        key, template = self._template(edition, segment_id)
        with self._templates_lock:
            if key not in self._canonical:
                chunks = getattr(template, "chunks", None)
                self._canonical[key] = chunks is not None and all(canonical_eols(c) for c in chunks)
            return self._canonical[key]

    def message(self, edition: Edition, rcpt: FrozenRecipient) -> bytes:
        return self._personalise(edition, rcpt, self.template(edition, rcpt.segment))

    def _personalise(self, edition: Edition, rcpt: FrozenRecipient, template: Any) -> bytes:
        recipient = mail_build.make_recipient(
            rcpt.email, rcpt.subscriber_id, rcpt.token, edition.id, self.public_url
        )
        return bytes(mail_build.personalise(template, recipient, dkim=self.dkim))

    # --- sending ---------------------------------------------------------------------------

    def durability(self) -> Durability:
        """How this process makes begins durable, checked against the server now (an
        explicit ``mail_durability`` the server cannot give raises ValueError)."""
        mail = self.mail
        return resolve(
            self.editions.r,
            mail.durability,
            replicas=mail.durability_replicas,
            timeout_ms=mail.durability_timeout_ms,
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
        windowed = durability.command() is not None
        stop_at = time.monotonic() + self.mail.max_task_seconds
        plan = RunPlan(
            edition=edition,
            store=self.editions,
            sender_factory=self.sender_factory,
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
        )
        tally = EditionRun(plan).run()
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

    def _build_for(self, edition: Edition, rcpt: FrozenRecipient) -> tuple[bytes, bool]:
        """The recipient's message and whether its line ends are all CRLF (the segment's
        template and check come from the per-process cache)."""
        try:
            template = self.template(edition, rcpt.segment)
            crlf = self.canonical(edition, rcpt.segment)
            return self._personalise(edition, rcpt, template), crlf
        except (mail_build.RecipientError, LookupError) as exc:
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
            try:
                reason = f"hard bounce: {result.describe()}"
                now = self.clock()
                self._retry(partial(self.subscribers.suppress, rcpt.email, reason, now))
                report.suppressed += 1
            except Exception:  # the failure is still recorded in the ledger
                log.exception("could not suppress %s", rcpt.subscriber_id)
        return Mark.FAILED, result.describe()

    # --- recovering, controlling -----------------------------------------------------------

    def recover(self, now: datetime) -> list[RecoverReport]:
        """Expire dead workers' leases and re-queue editions that have work but no sender."""
        out = []
        for edition_id in self.editions.ids_with_status(
            EditionStatus.SENDING, EditionStatus.PAUSED
        ):
            rec = self.editions.recover(edition_id)
            edition = self.editions.get(edition_id)
            if edition is None:
                continue
            stale = now - edition.created_at > self.mail.max_resume_age
            kicked = False
            if rec.uncertain:
                log.warning(
                    "uncertain deliveries",
                    extra={"edition": edition_id, "uncertain": rec.uncertain},
                )
            if (
                edition.status is EditionStatus.SENDING
                and edition.counts.get("pending", 0) > 0
                and self.editions.live_senders(edition_id) == 0
            ):
                if stale:
                    # Too old to go out unattended: an operator decides (digest resume).
                    self.editions.set_status(
                        edition_id, EditionStatus.PAUSED, (EditionStatus.SENDING,), now
                    )
                elif self.editions.take_kick(edition_id, 30):
                    self.events.send_edition(edition_id, 0.0, self.mail.fanout)
                    kicked = True
            left = edition.counts.get("pending", 0) + edition.counts.get("sending", 0)
            active = edition.status is EditionStatus.SENDING and left > 0 and not stale
            out.append(
                RecoverReport(
                    edition_id,
                    rec.uncertain,
                    rec.requeued,
                    kicked,
                    stale,
                    rec.next_deadline_in,
                    active,
                )
            )
        return out

    def pause(self, edition_id: str, now: datetime) -> tuple[str, str]:
        """Senders stop before their next transaction (``begin`` refuses) and hand back."""
        return self.editions.set_status(
            edition_id, EditionStatus.PAUSED, (EditionStatus.SENDING, EditionStatus.DRAFT), now
        )

    def resume(self, edition_id: str, now: datetime) -> tuple[str, str]:
        """Paused or draft → sending (done if nothing is left), and queue the senders."""
        old, new = self.editions.set_status(
            edition_id, EditionStatus.SENDING, (EditionStatus.PAUSED, EditionStatus.DRAFT), now
        )
        if new == EditionStatus.SENDING.value:
            self.events.send_edition(edition_id, 0.0, self.mail.fanout)
        return old, new

    def cancel(self, edition_id: str, now: datetime) -> tuple[str, str]:
        """No further transactions: entries already sent stay sent, every unsent one ends
        ``cancelled`` (those a sender holds when it hands them back)."""
        old, new, n = self.editions.cancel(
            edition_id, (EditionStatus.SENDING, EditionStatus.PAUSED, EditionStatus.DRAFT)
        )
        if new:
            log.info("edition cancelled", extra={"edition": edition_id, "cancelled": n})
        return old, new

    def resend_uncertain(
        self, edition_id: str, subscriber_ids: Sequence[str] | None, now: datetime, by: str = ""
    ) -> ResendReport:
        """Send again the uncertain entries an operator chose (None: all of them).

        An uncertain message may already be in the reader's mailbox (the connection dropped
        after DATA, or a sender died mid-transaction), so this is never automatic: the
        operator takes the risk of a duplicate, and the entry's detail says who did. Ids that
        are not uncertain are skipped and listed. A finished edition reopens for them.
        """
        edition = self._edition(edition_id)
        uncertain = set(self.editions.members(edition_id, EntryState.UNCERTAIN))
        wanted = (
            sorted(uncertain) if subscriber_ids is None else list(dict.fromkeys(subscriber_ids))
        )
        chosen = [i for i in wanted if i in uncertain]
        skipped = [i for i in wanted if i not in uncertain]
        who = " ".join(by.split())[:200] or "an operator"
        detail = f"resent by {who} at {now.isoformat(timespec='seconds')} (was uncertain)"
        status, moved = self.editions.resend(edition_id, chosen, detail)
        if moved and status == EditionStatus.SENDING.value:
            self.events.send_edition(edition_id, 0.0, self.mail.fanout)
        log.warning(
            "uncertain entries resent by an operator",
            extra={"edition": edition_id, "resent": moved, "by": who},
        )
        if not moved and chosen:
            status = status or edition.status.value
        return ResendReport(edition_id, moved, skipped, status)

    # --- editorial -------------------------------------------------------------------------

    def _edition(self, edition_id: str) -> Edition:
        edition = self.editions.get(edition_id)
        if edition is None:
            raise LookupError(f"no edition {edition_id}")
        return edition

    def editorial(self, edition_id: str) -> Editorial:
        """The edition's editorial record (empty, revision 0, until someone edits it)."""
        self._edition(edition_id)
        return self.editorials.get(edition_id)

    def edit(
        self,
        edition_id: str,
        *,
        intro: str,
        featured: str | None,
        order: Sequence[str],
        now: datetime,
        edited_by: str = "",
        expected_revision: int | None = None,
    ) -> Editorial:
        """Save the editors' intro, featured story and order of a draft edition.

        Raises LookupError (no such edition), EditionNotEditable (not a draft: checked again
        in the same atomic step as the write, so an edit never races the send), ValueError
        (intro too long or with control characters, ``featured`` not one of the edition's
        articles, ``order`` not each of the edition's article ids exactly once) and, with
        ``expected_revision``, EditorialConflict when someone saved since that revision.
        """
        edition = self._edition(edition_id)
        if edition.status is not EditionStatus.DRAFT:
            raise EditionNotEditable(edition_id, edition.status.value)
        text = clean_intro(intro)
        featured = (featured or "").strip() or None
        if featured is not None and featured not in edition.article_ids:
            raise ValueError(f"featured article {featured!r} is not in edition {edition_id}")
        chosen = [str(i).strip() for i in order]
        check_order(chosen, edition.article_ids)
        saved = self.editorials.save(
            edition_id,
            intro=text,
            featured=featured,
            order=chosen,
            edited_by=" ".join(edited_by.split())[:200],
            now=now,
            expected_revision=expected_revision,
        )
        if saved.error == "conflict":
            raise EditorialConflict(edition_id, saved.revision)
        if saved.error:
            raise EditionNotEditable(edition_id, saved.status)
        log.info("edition edited", extra={"edition": edition_id, "revision": saved.revision})
        return self.editorials.get(edition_id)

    def approve(self, edition_id: str, now: datetime) -> tuple[str, str]:
        """Send a draft now: draft → sending (done if it has no recipient), ``send_at``
        cleared, senders queued. Returns (old, new) like ``resume``; new is '' when the
        edition is not a draft (old is '' when there is no such edition)."""
        old, new = self.editorials.start(edition_id, now, due_only=False)
        if new == EditionStatus.SENDING.value:
            self.events.send_edition(edition_id, 0.0, self.mail.fanout)
        return old, new

    def start_due_drafts(self, now: datetime) -> list[str]:
        """Start the drafts whose ``send_at`` has passed (beat, every minute). Each start is
        one atomic step that needs the edition to still be a draft: two beats racing start
        it once, and a draft cancelled or approved meanwhile is left as it is."""
        started = []
        for edition_id in self.editions.ids_with_status(EditionStatus.DRAFT):
            _, new = self.editorials.start(edition_id, now, due_only=True)
            if not new:
                continue
            started.append(edition_id)
            if new == EditionStatus.SENDING.value:
                self.events.send_edition(edition_id, 0.0, self.mail.fanout)
            log.info("scheduled edition started", extra={"edition": edition_id, "status": new})
        return started

    def segment_ids(self, edition_id: str) -> list[str]:
        """The edition's segments: the publisher's language for all topics first, then by
        language and topics."""
        primary = self.publisher.language.split("-")[0].lower()
        specs = {
            sid: SegmentSpec.from_json(raw)
            for sid, raw in self.editions.segments(edition_id).items()
        }

        def rank(sid: str) -> tuple[bool, str, bool, tuple[str, ...]]:
            spec = specs[sid]
            own = spec.language.split("-")[0].lower() == primary
            return (not own, spec.language, bool(spec.topics), spec.topics)

        return sorted(specs, key=rank)

    def _recipient_counts(self, edition: Edition) -> dict[str, int] | None:
        """Recipients per segment: one pass over the frozen list, remembered (it no longer
        changes once the edition is created)."""
        if edition.status is EditionStatus.CREATING:
            return None
        with self._templates_lock:
            known = self._segment_counts.get(edition.id)
        if known is not None:
            return known
        counts: dict[str, int] = {}
        for rcpt in self.editions.iter_recipients(edition.id):
            counts[rcpt.segment] = counts.get(rcpt.segment, 0) + 1
        with self._templates_lock:
            self._segment_counts[edition.id] = counts
            while len(self._segment_counts) > 32:
                self._segment_counts.popitem(last=False)
        return counts

    def preview_segment(self, edition_id: str, segment_id: str | None = None) -> SegmentPreview:
        """One segment's message exactly as built for its subscribers, with placeholder
        personal links (``segment_id`` None: the first of ``segment_ids``). LookupError for
        an unknown edition or segment."""
        edition = self._edition(edition_id)
        ids = self.segment_ids(edition_id)
        if segment_id is None:
            if not ids:
                raise LookupError(f"edition {edition_id} has no segments (no recipients)")
            segment_id = ids[0]
        elif segment_id not in ids:
            raise LookupError(f"edition {edition_id} has no segment {segment_id}")
        key, template = self._template(edition, segment_id)
        raw = self.editions.segment(edition_id, segment_id)
        assert raw is not None
        spec = SegmentSpec.from_json(raw)
        recipient = mail_build.make_recipient(
            "subscriber@example.org", "preview", "preview", edition_id, self.public_url
        )
        msg = email.message_from_bytes(
            mail_build.personalise(template, recipient), policy=email.policy.default
        )
        assert isinstance(msg, email.message.EmailMessage)
        html, text = msg.get_body(("html",)), msg.get_body(("plain",))
        size = int(template.html_size)
        counts = self._recipient_counts(edition)
        return SegmentPreview(
            segment_id=segment_id,
            language=spec.language,
            topics=spec.topics,
            recipients=None if counts is None else counts.get(segment_id, 0),
            subject=str(template.subject),
            html=html.get_content() if html is not None else "",
            text=text.get_content() if text is not None else "",
            html_size=size,
            clipped=size > mail_build.GMAIL_CLIP_BYTES,
            over_budget=size > mail_build.SIZE_BUDGET,
            article_ids=self._shown.get(key, ()),
            revision=key[2],
        )

    def status(self, edition_id: str) -> Edition | None:
        return self.editions.get(edition_id)

    def report(self, edition_id: str, limit: int = 1000) -> dict[str, Any]:
        """Status plus who failed, is uncertain or may have been sent twice (``repeated``:
        Redis lost the record of a delivery), and why. Cancelled entries are only counted."""
        edition = self.editions.get(edition_id)
        if edition is None:
            raise LookupError(edition_id)
        failed = self.editions.members(edition_id, EntryState.FAILED)[:limit]
        uncertain = self.editions.members(edition_id, EntryState.UNCERTAIN)[:limit]
        repeated = self.editions.repeated(edition_id)[:limit]
        return edition.to_json() | {
            "failed": self.editions.details(edition_id, failed),
            "uncertain": self.editions.details(edition_id, uncertain),
            "repeated": self.editions.details(edition_id, repeated),
        }

    def iter_subscribers(self, frequency: str) -> Iterator[Subscriber]:
        return self.subscribers.iter_active(frequency)


DKIM_KEY_VAR = f"{ENV_PREFIX}DKIM_KEY_FILE"


def load_dkim_key(settings: Settings) -> mail_build.DkimKey | None:
    """The DKIM key (RFC 6376) from ``SYNDICATION_DKIM_*``, or None when signing is off.

    Read and parsed when the service is made, so a missing or unreadable key stops a
    worker or ``digest send`` at start (one line naming the variable) instead of failing
    every message of an edition later.
    """
    path = settings.dkim_key_file
    if path is None:
        return None
    if not settings.dkim_selector or not settings.dkim_domain:
        raise ConfigError(
            f"{DKIM_KEY_VAR} needs {ENV_PREFIX}DKIM_SELECTOR and {ENV_PREFIX}DKIM_DOMAIN"
        )
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{DKIM_KEY_VAR}: cannot read {path}: {exc.strerror or exc}") from None
    try:
        import dkim.crypto
    except ImportError:
        raise ConfigError(f"{DKIM_KEY_VAR} is set but dkimpy is not installed") from None
    try:
        dkim.crypto.parse_pem_private_key(pem)
    except (dkim.crypto.UnparsableKeyError, ValueError, IndexError):
        raise ConfigError(
            f"{DKIM_KEY_VAR}: {path} is not a PEM RSA private key (PKCS#1 or PKCS#8)"
        ) from None
    return mail_build.DkimKey(settings.dkim_selector, settings.dkim_domain, pem)


def make_digest_service(
    settings: Settings,
    client: redis.Redis,
    events: DigestEvents,
    *,
    mail: MailSettings | None = None,
    with_sender: bool = True,
    clock: Clock = system_clock,
) -> DigestService:
    """Wire the service from Settings (until context.py carries it; see the issue note)."""
    from syndication.deliver.smtp import SmtpSender

    mail = mail or MailSettings.from_settings(settings)
    dkim_key = load_dkim_key(settings)
    prefix = settings.key_prefix
    sender_factory: Callable[[], Sender] | None = None
    if with_sender and settings.smtp_url:
        url, timeout = settings.smtp_url, mail.smtp_timeout

        def sender_factory() -> Sender:
            return SmtpSender(url, timeout=timeout)

    return DigestService(
        editions=EditionStore(client, prefix),
        articles=ArticleStore(client, prefix),
        subscribers=SubscriberStore(client, prefix),
        publisher=settings.publisher,
        public_url=settings.public_url,
        secret_key=settings.need_secret_key(),
        mail=mail,
        events=events,
        sender_factory=sender_factory,
        rate=RateLimiter(client, prefix, mail.rate_per_second, mail.rate_per_hour),
        dkim=dkim_key,
        clock=clock,
    )
