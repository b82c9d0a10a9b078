"""Confirmation emails (double opt-in) through a ledger, with retries over hours.

The web process only *records* a request (``request``: one small record in Redis, see
``store/confirmations.py``) and *queues* it (``enqueue``); a worker task calls ``deliver``,
which makes one SMTP attempt and records what became of it:

- accepted (2xx after DATA): ``sent``;
- a 4xx reply, or the connection failed before the whole message was written (SMTP down, a
  greylisting server, a dropped connection at RCPT): ``pending`` again, due after the next
  step of ``ConfirmationPolicy.retry_schedule`` (1, 2, 5, 10, 20, 40 min … 4 h, the last
  step repeating), until ``give_up_after`` (24 h) has passed since the request: ``failed``;
- a 5xx reply: ``failed`` (a 5xx to RCPT naming the mailbox suppresses the address, as a
  hard-bouncing digest does);
- the whole message was written and then the connection dropped before the reply:
  ``uncertain``, never resent (the server may have accepted it: RFC 1047).

Retries never rest on one long countdown (a Redis broker redelivers an ETA task after its
visibility timeout, FIELD-NOTES): the task that records a retry queues its successor with a
countdown of at most ``max_countdown`` (10 min); a task that runs before the record is due
queues the next one and stops. Only the holder of the record's current *kick* token does
that, so each request has one chain of tasks. ``sweep`` (beat, every minute, and when a
worker starts) queues a task for every due request whose chain is overdue by
``lost_after`` — the worker or the broker's Redis died — and turns attempts whose lease
passed (the worker died mid-transaction) into ``uncertain``. Duplicate tasks are harmless:
``begin`` is atomic, and a task for an older request finds a newer id and stops.

The confirmation link is signed when the mail is built, so it works for
``confirm_token_hours`` after the message leaves, however long the retries took.

Nothing here imports Celery: ``ConfirmationEvents`` is how a task is queued
(workers/events.py); ``InlineConfirmationEvents`` runs the attempt at once, for processes
without a worker (tests of the web pages).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.headerregistry import Address
from typing import Any, Protocol, TypeVar

from syndication import tokens
from syndication.clock import Clock, system_clock
from syndication.config import DEFAULT_CONFIRM_RETRY, Publisher, Settings, SubscribeConfig
from syndication.deliver.smtp import Outcome, Sender, SendResult
from syndication.render.headers import HeaderError
from syndication.store.confirmations import (
    ConfirmationStore,
    ConfirmRecord,
    ConfirmState,
    Requested,
    new_token,
)
from syndication.store.connection import Client, ConnectionFailed, RedisError
from syndication.store.subscribers import PENDING, SubscriberStore

log = logging.getLogger(__name__)
_T = TypeVar("_T")
REDIS_TRANSIENT = ConnectionFailed
_SUBSCRIBE = SubscribeConfig()
DEFAULT_SCHEDULE = DEFAULT_CONFIRM_RETRY


@dataclass(frozen=True)
class ConfirmationPolicy:
    """How confirmations are retried and when ``/healthz`` calls them degraded.

    ``retry_schedule``: seconds before each next attempt after a temporary failure (the last
    step repeats); ``give_up_after``: no attempt later than this after the request.
    ``double_submit``: a signup this soon after the previous request was made is answered by
    it (no second message). ``lease``/``tx_budget``: an attempt's claim and the longest SMTP
    transaction (below the lease). ``lost_after``: how overdue a queued task must be before
    the sweep queues another. ``alert_after``: ``/healthz`` is degraded when a request has
    waited this long unsent, or the last ``failing_streak`` attempts in that time all failed.
    """

    retry_schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    give_up_after: timedelta = timedelta(hours=_SUBSCRIBE.confirm_give_up_hours)
    double_submit: float = 120.0
    lease: float = 300.0
    tx_budget: float = 120.0
    lost_after: float = 120.0
    max_countdown: float = 600.0
    alert_after: timedelta = timedelta(minutes=_SUBSCRIBE.confirm_alert_minutes)
    failing_streak: int = 3
    keep_finished: timedelta = timedelta(days=30)
    confirm_ttl: timedelta = timedelta(hours=_SUBSCRIBE.confirm_token_hours)

    def __post_init__(self) -> None:
        if not self.retry_schedule or any(s <= 0 for s in self.retry_schedule):
            raise ValueError("retry_schedule needs at least one positive step")

    def delay(self, attempts: int) -> float:
        """Seconds before the attempt after ``attempts`` failed ones."""
        return self.retry_schedule[min(max(attempts, 1), len(self.retry_schedule)) - 1]

    @classmethod
    def from_settings(cls, settings: Settings) -> ConfirmationPolicy:
        sub = settings.subscribe
        return cls(
            retry_schedule=sub.confirm_retry_seconds,
            give_up_after=timedelta(hours=sub.confirm_give_up_hours),
            alert_after=timedelta(minutes=sub.confirm_alert_minutes),
            tx_budget=min(settings.mail.smtp_timeout * 4, cls.tx_budget),
            confirm_ttl=timedelta(hours=sub.confirm_token_hours),
        )


class ConfirmationEvents(Protocol):
    """How the service asks for an attempt in the background (workers/events.py: Celery)."""

    def send_confirmation(
        self, request_id: str, countdown: float = 0.0, kick: str = ""
    ) -> None: ...


class InlineConfirmationEvents:
    """``ConfirmationEvents`` for a process with no worker: an attempt due now runs here, at
    once (in the web face's background task, after the response); a later one waits for
    ``sweep``. Tests of the web pages and a worker-less ``serve`` use it."""

    def __init__(self, service: Callable[[], ConfirmationService]) -> None:
        self._service = service
        self.deferred: list[tuple[str, float]] = []

    def send_confirmation(self, request_id: str, countdown: float = 0.0, kick: str = "") -> None:
        if countdown > 0:
            self.deferred.append((request_id, countdown))
            return
        self._service().deliver(request_id, kick)


@dataclass
class Delivery:
    """What one ``deliver`` call did (the task's return value, in the worker's log)."""

    request_id: str
    state: str  # the record's state afterwards, or superseded/missing
    outcome: str = ""  # sent | retry | failed | uncertain | cancelled, when this call decided
    attempts: int = 0
    detail: str = ""
    requeued_in: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in ("", None)}


@dataclass
class SweepReport:
    queued: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)
    dropped: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"queued": self.queued, "uncertain": self.uncertain, "dropped": self.dropped}


@dataclass(frozen=True)
class ConfirmationHealth:
    ok: bool
    open: int
    due: int
    oldest_pending_seconds: float
    recent_attempts: int
    recent_failed: int
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": self.ok,
            "open": self.open,
            "due": self.due,
            "oldest_pending_seconds": round(self.oldest_pending_seconds, 1),
            "recent_attempts": self.recent_attempts,
            "recent_failed": self.recent_failed,
        }
        if self.reason:
            body["reason"] = self.reason
        return body


class ConfirmationService:
    def __init__(
        self,
        store: ConfirmationStore,
        subscribers: SubscriberStore,
        events: ConfirmationEvents,
        build: Callable[[Any, str, datetime], bytes],
        envelope_from: str,
        secret: str,
        public_url: str,
        sender_factory: Callable[[], Sender] | None,
        policy: ConfirmationPolicy | None = None,
        clock: Clock = system_clock,
        on_outcome: Callable[[str], None] | None = None,
        redis_patience: float = 120.0,
    ) -> None:
        self.store = store
        self.subscribers = subscribers
        self.events = events
        self.build = build  # (subscriber, confirm URL, now) -> the message bytes
        self.envelope_from = envelope_from
        self.secret = secret
        self.public_url = public_url.rstrip("/")
        self.sender_factory = sender_factory
        self.policy = policy or ConfirmationPolicy()
        self.clock = clock
        self.on_outcome = on_outcome
        self.redis_patience = redis_patience

    # --- the web side ------------------------------------------------------------------------

    def request(
        self, subscriber_id: str, now: datetime | None = None, fresh: bool = False
    ) -> Requested:
        """Record that ``subscriber_id`` is owed a confirmation (durable before the page says
        "on its way"); a repeat within the double-submit window returns the same request,
        unless ``fresh`` (a reader who had left signs up again: a new request at once)."""
        at = (now or self.clock()).timestamp()
        window = 0.0 if fresh else self.policy.double_submit
        return self.store.request(subscriber_id, at, window)

    def enqueue(self, requested: Requested) -> None:
        """Queue the first attempt of a new request (a repeated signup queues nothing)."""
        if requested.created:
            self.events.send_confirmation(requested.request_id, 0.0, requested.kick)

    # --- the worker side ---------------------------------------------------------------------

    def deliver(self, request_id: str, kick: str = "", now: datetime | None = None) -> Delivery:
        """One attempt for ``request_id`` if it is due (see the module docstring)."""
        current = now or self.clock()
        at = current.timestamp()
        rec = self.store.request_record(request_id)
        if rec is None:
            return Delivery(request_id, "superseded")
        if rec.state is ConfirmState.SENDING:
            if rec.lease_until < at:
                return self._expire(rec, at)
            return Delivery(request_id, rec.state.value, attempts=rec.attempts)
        if rec.state is not ConfirmState.PENDING:
            return Delivery(request_id, rec.state.value, attempts=rec.attempts)
        if rec.due_at > at:
            return self._wait(rec, kick, at)
        sub = self.subscribers.get(rec.subscriber_id)
        if sub is None or sub.status != PENDING or self.subscribers.is_blocked(sub.email):
            why = "no longer pending" if sub is not None else "gone"
            return self._finish_pending(rec, ConfirmState.CANCELLED, f"subscriber {why}", at)
        token = tokens.confirm_token(self.secret, sub.id, current, self.policy.confirm_ttl)
        try:
            data = self.build(sub, f"{self.public_url}/confirm/{token}", current)
        except (HeaderError, ValueError, LookupError) as exc:
            return self._finish_pending(rec, ConfirmState.FAILED, f"unbuildable: {exc}", at)
        attempt = new_token()
        begun = self.store.begin(request_id, at, self.policy.lease, attempt)
        if begun.status != "ok":
            return Delivery(request_id, begun.status)
        result = self._send(sub.email, data)
        return self._record(rec, attempt, begun.attempts, result, sub.email, at)

    def _send(self, rcpt: str, data: bytes) -> SendResult:
        if self.sender_factory is None:
            return SendResult(Outcome.TEMPORARY, 0, "SYNDICATION_SMTP_URL is not set")
        sender = self.sender_factory()
        try:
            return sender.send(self.envelope_from, rcpt, data, self.policy.tx_budget)
        finally:
            sender.close()

    def _record(
        self,
        rec: ConfirmRecord,
        attempt: str,
        attempts: int,
        result: SendResult,
        email: str,
        at: float,
    ) -> Delivery:
        p = self.policy
        ttl = int(p.keep_finished.total_seconds())
        detail = result.describe()
        rid = rec.id
        if result.outcome is Outcome.TEMPORARY:
            due = at + p.delay(attempts)
            if due - rec.created_at > p.give_up_after.total_seconds():
                outcome, detail = "failed", f"gave up after {attempts} attempts: {detail}"
            else:
                outcome = "retry"
        else:
            outcome = {
                Outcome.SENT: "sent",
                Outcome.PERMANENT: "failed",
                Outcome.UNCERTAIN: "uncertain",
            }[result.outcome]
        kick, kick_at = "", 0.0
        if outcome == "retry":
            kick, kick_at = new_token(), min(due, at + p.max_countdown)
        retry_at = due if outcome == "retry" else 0.0
        status = self._retry(
            lambda: self.store.mark(
                rid, attempt, outcome, at, detail, ttl, due_at=retry_at, kick=kick, kick_at=kick_at
            )
        )
        if status != "ok":
            log.warning("confirmation %s: outcome %s not recorded (%s)", rid, outcome, status)
            return Delivery(rid, status, outcome, attempts, detail)
        self._count(outcome)
        level = logging.INFO if outcome in ("sent", "retry") else logging.WARNING
        # The id and the server's codes only: replies often echo the address.
        log.log(
            level,
            "confirmation %s for subscriber %s: %s (attempt %d) %s",
            rid,
            rec.subscriber_id,
            outcome,
            attempts,
            f"{result.code}" if result.code else detail.split(":")[0][:80],
        )
        if outcome == "failed" and result.hard_bounce:
            try:
                self.subscribers.suppress(email, f"hard bounce: {detail}", self.clock())
            except Exception:  # the failure itself is recorded in the ledger
                log.exception("could not suppress subscriber %s", rec.subscriber_id)
        delivery = Delivery(rid, "pending" if outcome == "retry" else outcome, outcome, attempts)
        delivery.detail = detail if outcome != "sent" else ""
        if outcome == "retry":
            delivery.requeued_in = kick_at - at
            self.events.send_confirmation(rid, kick_at - at, kick)
        return delivery

    def _wait(self, rec: ConfirmRecord, kick: str, at: float) -> Delivery:
        """Ran before the record is due (a capped countdown): the chain's holder queues the
        next task; any other task stops here."""
        kick_at = min(rec.due_at, at + self.policy.max_countdown)
        fresh = self.store.take_kick(rec.id, kick, at, self.policy.lost_after, kick_at)
        delivery = Delivery(rec.id, rec.state.value, attempts=rec.attempts)
        if fresh:
            delivery.requeued_in = kick_at - at
            self.events.send_confirmation(rec.id, kick_at - at, fresh)
        return delivery

    def _finish_pending(
        self, rec: ConfirmRecord, state: ConfirmState, detail: str, at: float
    ) -> Delivery:
        ttl = int(self.policy.keep_finished.total_seconds())
        status = self.store.finish_pending(rec.id, state, at, detail, ttl)
        if status == "ok":
            self._count(state.value)
            log.info("confirmation %s: %s (%s)", rec.id, state.value, detail)
            return Delivery(rec.id, state.value, state.value, rec.attempts, detail)
        return Delivery(rec.id, status)

    def _expire(self, rec: ConfirmRecord, at: float) -> Delivery:
        detail = "the worker stopped during the SMTP transaction; not resent"
        ttl = int(self.policy.keep_finished.total_seconds())
        status = self.store.expire_lease(rec.id, at, detail, ttl)
        if status != "ok":
            return Delivery(rec.id, status)
        self._count("uncertain")
        log.warning("confirmation %s: uncertain (%s)", rec.id, detail)
        return Delivery(rec.id, "uncertain", "uncertain", rec.attempts, detail)

    def sweep(self, now: datetime | None = None, limit: int = 500) -> SweepReport:
        """Re-queue due requests whose task was lost; expire dead attempts; tidy the index."""
        at = (now or self.clock()).timestamp()
        report = SweepReport()
        for sid in self.store.due(at, limit):
            rec = self.store.get(sid)
            if rec is None or not rec.open:
                self.store.reindex(sid, rec)
                report.dropped += 1
                continue
            if rec.state is ConfirmState.SENDING:
                if rec.lease_until < at and self._expire(rec, at).outcome == "uncertain":
                    report.uncertain.append(rec.id)
                continue
            if rec.due_at > at:  # the index was behind the record
                self.store.reindex(sid, rec)
                continue
            kick = self.store.take_kick(rec.id, "", at, self.policy.lost_after, at)
            if kick:
                self.events.send_confirmation(rec.id, 0.0, kick)
                report.queued.append(rec.id)
        if report.queued or report.uncertain:
            log.warning("confirmation sweep: %s", report.to_json())
        return report

    # --- watching ----------------------------------------------------------------------------

    def health(self, now: datetime | None = None) -> ConfirmationHealth:
        """Degraded when a request has waited ``alert_after`` unsent, or the last
        ``failing_streak`` attempts within that time all failed (none was ``sent``)."""
        at = (now or self.clock()).timestamp()
        window = self.policy.alert_after.total_seconds()
        stats = self.store.stats(at, window)
        oldest = stats["oldest_requested_at"]
        age = max(0.0, at - oldest) if oldest is not None else 0.0
        recent: list[str] = stats["recent"]
        failed = sum(1 for o in recent if o != "sent")
        reasons = []
        if age > window:
            reasons.append(
                f"a confirmation email has waited {int(age // 60)} min unsent "
                f"(threshold {int(window // 60)} min)"
            )
        streak = recent[: self.policy.failing_streak]
        if len(streak) >= self.policy.failing_streak and "sent" not in streak:
            reasons.append(
                f"the last {len(streak)} confirmation attempts failed ({', '.join(streak)})"
            )
        return ConfirmationHealth(
            ok=not reasons,
            open=stats["open"],
            due=stats["due"],
            oldest_pending_seconds=age,
            recent_attempts=len(recent),
            recent_failed=failed,
            reason="; ".join(reasons),
        )

    # --- helpers -----------------------------------------------------------------------------

    def _count(self, outcome: str) -> None:
        if self.on_outcome is not None:
            try:
                self.on_outcome(outcome)
            except RedisError:  # a number, never a reason to lose the outcome
                log.warning("confirmation outcome %s not counted", outcome, exc_info=True)

    def _retry(self, fn: Callable[[], _T]) -> _T:
        """A mark after an SMTP transaction must land: ride out a Redis restart."""
        deadline = time.monotonic() + self.redis_patience
        delay = 0.05
        while True:
            try:
                return fn()
            except REDIS_TRANSIENT:
                if time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


def make_confirmation_service(
    settings: Settings,
    client: Client,
    events: ConfirmationEvents,
    *,
    clock: Clock = system_clock,
    on_outcome: Callable[[str], None] | None = None,
    policy: ConfirmationPolicy | None = None,
) -> ConfirmationService:
    """Wiring from Settings: the ledger, the confirmation template and an SMTP sender."""
    from syndication.deliver.confirmation import confirmation_bytes, sender_address
    from syndication.deliver.smtp import sender_factory as smtp_sender_factory
    from syndication.render.dkim import dkim_sign
    from syndication.services.dkim_keys import load_dkim_keys

    policy = policy or ConfirmationPolicy.from_settings(settings)
    publisher: Publisher = settings.publisher
    public_url: str = settings.public_url
    sender: Address = sender_address(publisher, public_url, settings.mail.from_address)
    hours = int(policy.confirm_ttl / timedelta(hours=1))

    dkim = load_dkim_keys(settings)  # the digests' keys: a bad key stops the worker at start

    def build(subscriber: Any, url: str, now: datetime) -> bytes:
        data = confirmation_bytes(subscriber, url, publisher, public_url, sender, hours, date=now)
        return dkim_sign(data, dkim, int(now.timestamp())) if dkim else data

    sender_factory = smtp_sender_factory(settings.smtp_url, settings.mail.smtp_timeout)

    return ConfirmationService(
        ConfirmationStore(client, settings.key_prefix),
        SubscriberStore(client, settings.key_prefix),
        events,
        build,
        settings.mail.envelope_from or sender.addr_spec,
        settings.need_secret_key(),
        public_url,
        sender_factory,
        policy=policy,
        clock=clock,
        on_outcome=on_outcome,
    )
