"""One send task's run over an edition: SMTP sessions in threads, driven by the ledger.

What each fault does to a run (store/editions.py has the state machine):

- **Worker killed.** Its sessions' heartbeats (``heartbeat_s``, alive for three beats) lapse
  within seconds, so recovery hands the never-claimed rest of the edition to live workers
  at once; only the entries the dead sessions held wait for their lease.
- **Deploy (SIGTERM).** ``shutdown.requested()`` is asked before every message: the session
  records the message it just sent, hands back every entry it claimed or began but did not
  offer to the server, drops its heartbeat and returns. Nothing is left for a lease.
- **Redis restarting or down for long.** Claims and begins wait up to ``patience`` and then
  end the run cleanly (the worker's watchdog starts a new one when Redis is back). An
  outcome the session *knows* (the server's final reply) is retried until Redis takes it,
  however long that is: a delivered message always ends ``sent``.
- **Redis losing acknowledged writes (host crash).** Begins are made durable before DATA
  (``Durability``): a window of ``window`` entries is begun in one step, confirmed by
  ``WAITAOF``/``WAIT`` on the same connection, and only then offered to the server. Marks
  need no wait: when a session sees Redis come back with another run id, it writes again
  the outcomes of its last minute (``replay``), so what Redis lost is recorded, and an
  entry another sender had meanwhile begun is reported as possibly repeated.

Per-domain pacing (``RunPlan.pacing``, services/pacing.py): a recipient whose domain is
paused or out of tokens is set aside before it is begun, tried again at the end of its
batch when the wait is short, and otherwise handed back to the ledger, behind every due
entry: the session keeps sending to the other domains. When a session claims only
recipients it has set aside already (all that is left waits for slowed domains), it
waits a short pause out, or ends with ``due_in`` so the continuation comes after it.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from syndication import shutdown
from syndication.deliver.smtp import Sender, SendResult
from syndication.services.pacing import DomainGate
from syndication.store.connection import ConnectionFailed
from syndication.store.domain_pacing import DomainPacer
from syndication.store.durability import Durability
from syndication.store.editions import Claim, Edition, EditionStore, FrozenRecipient, Mark
from syndication.store.ratelimit import SendRateLimiter as RateLimiter

log = logging.getLogger(__name__)
_T = TypeVar("_T")
REDIS_TRANSIENT = ConnectionFailed
JOURNAL_SECONDS = 60.0  # outcomes a session can write again after Redis lost them
JOURNAL_MAX = 50_000
SHORT_WAIT = 0.25  # a domain's wait short enough to try its recipient again in the batch
WAIT_OUT = 1.0  # when only slowed domains are left, a session waits this long at most
# After Redis restarted, claims pause this many heartbeats: every running sender notices
# (its heartbeat thread checks the run id each beat) and writes its outcomes again first.
SETTLE_BEATS = 3


class RedisUnavailable(Exception):
    """Redis did not come back within the patience (or a drain was asked meanwhile)."""


class Unbuildable(Exception):
    """A recipient's message cannot be built (bad address, segment gone): mark it failed."""


@dataclass
class Tally:
    """What one run did, summed over its sessions."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    uncertain: int = 0
    released: int = 0
    suppressed: int = 0
    replayed: int = 0
    repeated: int = 0
    deferred: int = 0  # handed back for later: their domain was paused or out of tokens
    hard_bounced: int = 0  # 5xx naming the mailbox (counted for the bounce rate)
    status: str = ""
    due_in: float | None = None
    drained: bool = False

    def add(self, other: Tally) -> None:
        for name in (
            "sent", "failed", "retried", "uncertain", "released", "suppressed", "replayed",
            "repeated", "deferred", "hard_bounced",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.due_in is not None:
            self.due_in = other.due_in if self.due_in is None else min(self.due_in, other.due_in)
        self.status = other.status or self.status
        self.drained = self.drained or other.drained


class Retrying:
    """Calls Redis again while it is away. ``patient`` calls give up after ``patience`` (or
    at once when a drain is asked); ``forever`` calls (an outcome the server gave) never do.
    ``on_back`` runs after a call that succeeded only after failures."""

    def __init__(self, patience: float, on_back: Callable[[], None] | None = None) -> None:
        self.patience = patience
        self.on_back = on_back

    def patient(self, fn: Callable[[], _T]) -> _T:
        return self._call(fn, forever=False)

    def forever(self, fn: Callable[[], _T]) -> _T:
        return self._call(fn, forever=True)

    def _call(self, fn: Callable[[], _T], *, forever: bool) -> _T:
        started = time.monotonic()
        delay = 0.05
        failed = False
        past_patience = False
        last_log = 0.0
        while True:
            try:
                result = fn()
            except REDIS_TRANSIENT as exc:
                waited = time.monotonic() - started
                if not forever and (waited > self.patience or shutdown.requested()):
                    raise RedisUnavailable(f"Redis unavailable for {waited:.0f} s: {exc}") from exc
                if not failed or time.monotonic() - last_log > 30:
                    log.warning("redis unavailable for %.0f s; retrying", waited)
                    last_log = time.monotonic()
                if forever and waited > self.patience and not past_patience:
                    past_patience = True
                    log.warning(
                        "redis unavailable past the patience (%.0f s): still waiting to "
                        "record an outcome the SMTP server gave",
                        self.patience,
                    )
                failed = True
                if shutdown.wait(delay) and not forever:
                    raise RedisUnavailable("drain asked while Redis was unavailable") from exc
                delay = min(delay * 2, 2.0)
                continue
            if failed and self.on_back is not None:
                self.on_back()
            return result


class Heartbeat:
    """Keeps a run's session tokens registered as live senders (TTL three beats), and
    watches Redis's run id so sessions learn that Redis restarted (``generation``)."""

    def __init__(self, store: EditionStore, edition_id: str, interval: float) -> None:
        self.store = store
        self.edition_id = edition_id
        self.interval = interval
        self.tokens: set[str] = set()
        self.generation = 0
        self._run_id = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"beat-{edition_id}", daemon=True)

    @property
    def ttl(self) -> float:
        return self.interval * 3

    def start(self) -> Heartbeat:
        self.check_restart()
        self._thread.start()
        return self

    def add(self, token: str) -> None:
        with self._lock:
            self.tokens.add(token)
        self.beat_one(token)

    def remove(self, token: str) -> None:
        with self._lock:
            self.tokens.discard(token)
        with contextlib.suppress(*REDIS_TRANSIENT):  # else it expires within ``ttl``
            self.store.drop_heartbeat(self.edition_id, token)

    def beat_one(self, token: str) -> None:
        # On failure the thread tries again; a lapse only lets recovery start another sender.
        with contextlib.suppress(*REDIS_TRANSIENT):
            self.store.heartbeat(self.edition_id, token, self.ttl)

    def check_restart(self) -> bool:
        """True (and ``generation`` moves) when Redis answers with a new run id."""
        try:
            run_id = self.store.server_run_id()
        except REDIS_TRANSIENT:
            return False
        return self.note_run_id(run_id)

    def note_run_id(self, run_id: str) -> bool:
        """Record the run id Redis answered with; True (``generation`` moves) if it changed."""
        with self._lock:
            changed = bool(self._run_id) and run_id != self._run_id
            self._run_id = run_id
            if changed:
                self.generation += 1
        if changed:
            log.warning("redis restarted (new run id)", extra={"edition": self.edition_id})
        return changed

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                tokens = list(self.tokens)
            for token in tokens:
                self.beat_one(token)
            self.check_restart()

    def stop(self) -> None:
        self._stop.set()


@dataclass
class _Journal:
    """A session's recent outcomes, to write again if Redis loses them."""

    entries: deque[tuple[float, str, Mark, str]] = field(default_factory=deque)
    generation: int = 0

    def add(self, subscriber_id: str, mark: Mark, detail: str) -> None:
        if mark not in (Mark.SENT, Mark.FAILED):
            return  # only answers the server gave are facts worth writing again
        now = time.monotonic()
        self.entries.append((now, subscriber_id, mark, detail))
        while self.entries and (
            now - self.entries[0][0] > JOURNAL_SECONDS or len(self.entries) > JOURNAL_MAX
        ):
            self.entries.popleft()

    def marks(self) -> list[tuple[str, Mark, str]]:
        return [(sid, mark, detail) for _, sid, mark, detail in self.entries]


_Message = tuple[FrozenRecipient, bytes, bool]  # recipient, message, all line ends CRLF


@dataclass
class _Cursor:
    """Where a session is in its claimed batch, and the outcome still to be recorded."""

    batch: list[FrozenRecipient]
    index: int = 0
    prev: tuple[str, Mark, str] | None = None
    tokens: int = 0  # rate-limit tokens taken and not yet spent
    deferred: list[str] = field(default_factory=list)  # set aside: their domain must wait
    again: set[str] = field(default_factory=set)  # moved to the batch's end once already
    wait: float | None = None  # the shortest wait of a set-aside recipient
    attempted: int = 0  # transactions offered to the server

    def rest(self) -> list[str]:
        """What is claimed and not begun, set-aside recipients included (they go back with
        it, so the list of those is emptied)."""
        ids = [r.subscriber_id for r in self.batch[self.index :]] + self.deferred
        self.deferred = []
        return ids

    def defer(self, rcpt: FrozenRecipient, wait: float) -> None:
        """Try ``rcpt`` again at the batch's end (a short wait, once), or hand it back."""
        self.wait = wait if self.wait is None else min(self.wait, wait)
        short = wait <= SHORT_WAIT and rcpt.subscriber_id not in self.again
        if short and self.index < len(self.batch):
            self.again.add(rcpt.subscriber_id)
            self.batch.append(rcpt)
        else:
            self.deferred.append(rcpt.subscriber_id)


@dataclass(frozen=True)
class RunPlan:
    """What one run needs from the digest service (built per task)."""

    edition: Edition
    store: EditionStore
    sender_factory: Callable[[], Sender]
    build: Callable[[Edition, FrozenRecipient], tuple[bytes, bool]]  # (message, all CRLF)
    classify: Callable[[SendResult, FrozenRecipient, Tally], tuple[Mark, str]]
    envelope_from: str
    durability: Durability
    connections: int
    batch: int
    window: int
    heartbeat_s: float
    patience: float
    stop_at: float  # time.monotonic() deadline
    rate: RateLimiter | None = None
    pacing: DomainPacer | None = None  # per recipient domain (store/domain_pacing.py)


class EditionRun:
    """``connections`` sessions over one edition until nothing is claimable, the deadline,
    or a drain."""

    def __init__(self, plan: RunPlan) -> None:
        self.plan = plan
        self.heartbeat = Heartbeat(plan.store, plan.edition.id, plan.heartbeat_s)

    def run(self) -> Tally:
        tally = Tally()
        tallies = [Tally() for _ in range(max(1, self.plan.connections))]
        errors: list[BaseException] = []

        def session(i: int) -> None:
            try:
                _Session(self, tallies[i]).run()
            except BaseException as exc:  # surfaced below, after the other sessions end
                errors.append(exc)

        self.heartbeat.start()
        threads = [
            threading.Thread(
                target=session, args=(i,), name=f"smtp-{self.plan.edition.id}-{i}", daemon=True
            )
            for i in range(len(tallies))
        ]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            self.heartbeat.stop()
        for t_ in tallies:
            tally.add(t_)
        if errors:
            raise errors[0]
        return tally


class _Session:
    """One SMTP connection's loop: claim a batch, begin a window durably, send, mark."""

    def __init__(self, run: EditionRun, tally: Tally) -> None:
        self.run_ = run
        self.plan = run.plan
        self.tally = tally
        self.token = secrets.token_hex(8)
        self.journal = _Journal(generation=run.heartbeat.generation)
        self.retry = Retrying(self.plan.patience, on_back=self._redis_back)
        self.held: list[str] = []  # claimed by this session, not yet marked or handed back
        self.gate = DomainGate(self.plan.pacing) if self.plan.pacing is not None else None
        self.set_aside: set[str] = set()  # recipients this session handed back for pacing

    # --- Redis coming back --------------------------------------------------------------

    def _redis_back(self) -> None:
        self.run_.heartbeat.check_restart()
        self.run_.heartbeat.add(self.token)  # the heartbeat may have expired meanwhile

    def _replay_if_restarted(self) -> None:
        """After Redis restarted: write our recent outcomes again (claims pause meanwhile:
        see ``EditionStore.claim``)."""
        if self.run_.heartbeat.generation == self.journal.generation:
            return
        self.journal.generation = self.run_.heartbeat.generation
        marks = self.journal.marks()
        if not marks:
            return
        results = self.retry.forever(
            partial(self.plan.store.replay, self.plan.edition.id, self.token, marks)
        )
        repeated = sum(r == "repeated" for r in results)
        self.tally.replayed += len(marks)
        self.tally.repeated += repeated
        log.warning(
            "redis restarted: outcomes written again",
            extra={
                "edition": self.plan.edition.id,
                "replayed": len(marks),
                "repeated": repeated,
            },
        )

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> None:
        plan = self.plan
        sender = plan.sender_factory()
        self.run_.heartbeat.add(self.token)
        try:
            while time.monotonic() < plan.stop_at:
                if shutdown.requested():
                    self.tally.drained = True
                    return
                claim = self.retry.patient(self._claim)
                self.tally.status = claim.status
                self.tally.due_in = claim.due_in
                if not claim.recipients:
                    return
                self.held = [r.subscriber_id for r in claim.recipients]
                cursor = self._send_claimed(claim.recipients, sender)
                if cursor is not None and self._only_slowed_left(claim, cursor):
                    return
        except RedisUnavailable:
            # Leases cover what we hold; the watchdog starts a new run when Redis is back.
            log.warning("sender stopped: Redis unavailable", extra={"edition": plan.edition.id})
            raise
        finally:
            sender.close()
            self.run_.heartbeat.remove(self.token)

    def _only_slowed_left(self, claim: Claim, cursor: _Cursor) -> bool:
        """True to end the session: it claimed only recipients it had set aside before
        (what is left waits for slowed domains) and the wait is longer than ``WAIT_OUT``;
        a shorter wait is waited out here, since nothing else is there to send."""
        ids = {r.subscriber_id for r in claim.recipients}
        wrapped = cursor.attempted == 0 and ids <= self.set_aside
        self.set_aside |= ids if cursor.attempted == 0 else set()
        if not wrapped or cursor.wait is None:
            return False
        if cursor.wait > WAIT_OUT:
            self.tally.due_in = cursor.wait
            return True
        shutdown.wait(cursor.wait)
        self.set_aside.clear()
        return False

    def _claim(self) -> Claim:
        """One claim attempt: Redis's run id first (one INFO per batch), our outcomes written
        again if it changed, then the claim with that run id (so the first claim after a
        restart pauses every sender: ``EditionStore.claim``). Read afresh on every retry:
        a claim made with a run id from before the restart would not see it."""
        plan = self.plan
        run_id = plan.store.server_run_id()
        self.run_.heartbeat.note_run_id(run_id)
        self._replay_if_restarted()
        return plan.store.claim(
            plan.edition.id, plan.batch, self.token, run_id, plan.heartbeat_s * SETTLE_BEATS
        )

    def _hand_back(self, begun: Sequence[str], rest: Sequence[str]) -> None:
        """Entries begun but never offered (abort) and claimed but never begun (release)."""
        store, eid = self.plan.store, self.plan.edition.id
        if begun:
            self.tally.released += self.retry.patient(
                partial(store.release, eid, self.token, begun, abort=True)
            )
        if rest:
            self.tally.released += self.retry.patient(partial(store.release, eid, self.token, rest))
        self.held = []

    def _mark(self, mark: tuple[str, Mark, str]) -> str:
        """Record an outcome the server gave (retried until Redis takes it); the status."""
        plan = self.plan
        step = self.retry.forever(partial(plan.store.advance, plan.edition.id, self.token, mark))
        self.journal.add(*mark)
        return step.status

    def _prepare(self, sender: Sender, rcpt: FrozenRecipient) -> None:
        """Put the next transaction's envelope on the wire before the ledger step that must
        precede its data (the begin, or the previous outcome's mark), so the two round trips
        overlap. Nothing is delivered unless ``send`` follows for the same recipient: any
        other path (a refused begin, a drain, a pause) drops the SMTP session before data
        (``SmtpSender.prepare``). Not under a send-rate limit, whose wait comes between."""
        plan = self.plan
        if plan.rate is None or plan.rate.unlimited:
            sender.prepare(plan.envelope_from, rcpt.email, plan.edition.policy.tx_budget_s)

    def _send_claimed(self, batch: list[FrozenRecipient], sender: Sender) -> _Cursor | None:
        """Window by window: build, begin (durably), send, mark; stop on a drain, a pause
        or cancel, or a claim that is no longer ours (None). Recipients set aside for
        their domain's pace go back to the ledger at the end."""
        cursor = _Cursor(list(batch))
        while cursor.index < len(cursor.batch):
            window = self._next_window(cursor)
            if not window:
                continue
            self._prepare(sender, window[0][0])
            begun = self._begin_window(cursor, window)
            if begun is None or not self._send_window(cursor, begun, sender):
                return None
        if cursor.prev is not None:
            self._mark(cursor.prev)
        if cursor.deferred:
            store, eid = self.plan.store, self.plan.edition.id
            ids, cursor.deferred = cursor.deferred, []
            self.tally.deferred += self.retry.patient(partial(store.release, eid, self.token, ids))
        self.held = []
        return cursor

    def _next_window(self, cursor: _Cursor) -> list[_Message]:
        """The next ``window`` messages; one that cannot be built fails without any
        transaction (its mark rides with the next step)."""
        plan = self.plan
        window: list[_Message] = []
        while cursor.index < len(cursor.batch) and len(window) < plan.window:
            rcpt = cursor.batch[cursor.index]
            cursor.index += 1
            if self.gate is not None:
                wait = self.gate.wait(self.gate.group(rcpt.email))
                if wait > 0:
                    cursor.defer(rcpt, wait)
                    continue
            try:
                data, crlf = plan.build(plan.edition, rcpt)
            except Unbuildable as exc:
                if cursor.prev is not None:
                    self._mark(cursor.prev)
                cursor.prev = (rcpt.subscriber_id, Mark.FAILED, f"unbuildable: {exc}")
                self.tally.failed += 1
                continue
            window.append((rcpt, data, crlf))
        return window

    def _begin_window(self, cursor: _Cursor, window: list[_Message]) -> list[_Message] | None:
        """Begin the window in one step with the previous outcome (durably, if the plan
        says so); the messages that may go out, or None to stop (drain, not durable)."""
        plan = self.plan
        ids = [r.subscriber_id for r, _, _ in window]
        if shutdown.requested():
            if cursor.prev is not None:
                self._mark(cursor.prev)
            self.tally.drained = True
            self._hand_back((), ids + cursor.rest())
            return None
        self._replay_if_restarted()
        prev, cursor.prev = cursor.prev, None
        begin = partial(
            plan.store.advance, plan.edition.id, self.token, prev, ids, durability=plan.durability
        )
        # A step that carries an outcome the server gave waits for Redis however long.
        step = self.retry.forever(begin) if prev is not None else self.retry.patient(begin)
        if prev is not None:
            self.journal.add(*prev)
        if not step.durable:
            mode = plan.durability.mode.value
            log.error("begin not confirmed durable (%s): not sending", mode)
            self._hand_back(ids[: step.begun], ids[step.begun :] + cursor.rest())
            raise RedisUnavailable("durability not confirmed in time")
        if step.begun < len(ids):
            # Paused, cancelled, lost the claim, or the lease is too short: stop after these.
            if step.begin != "not-owner":
                self._hand_back((), ids[step.begun :] + cursor.rest())
            cursor.index = len(cursor.batch)
        return window[: step.begun]

    def _send_window(self, cursor: _Cursor, window: list[_Message], sender: Sender) -> bool:
        """Send the begun messages, marking each before the next; False to stop (a drain,
        or the edition is no longer sending: what is left is handed back)."""
        plan = self.plan
        for position, (rcpt, data, crlf) in enumerate(window):
            if position:
                self._prepare(sender, rcpt)  # while the previous outcome is marked
            sending = True
            if cursor.prev is not None:
                sending = self._mark(cursor.prev) == "sending"
                cursor.prev = None
            if not sending or shutdown.requested():
                self.tally.drained = self.tally.drained or shutdown.requested()
                left = [r.subscriber_id for r, _, _ in window[position:]]
                self._hand_back(left, cursor.rest())
                return False
            if plan.rate is not None and not plan.rate.unlimited and cursor.tokens == 0:
                cursor.tokens = plan.rate.chunk(len(window) - position)
                self.retry.patient(partial(plan.rate.take, cursor.tokens))
            cursor.tokens = max(cursor.tokens - 1, 0)
            group = self.gate.group(rcpt.email) if self.gate is not None else ""
            if self.gate is not None and self.gate.paused(group):
                # Begun in this window before its domain was paused: back, never offered.
                store, eid = plan.store, plan.edition.id
                aborted = partial(store.release, eid, self.token, [rcpt.subscriber_id], abort=True)
                self.tally.deferred += self.retry.patient(aborted)
                continue
            result = sender.send(
                plan.envelope_from, rcpt.email, data, plan.edition.policy.tx_budget_s, crlf
            )
            cursor.attempted += 1
            if self.gate is not None:
                self.gate.observe(group, result)
            mark, detail = plan.classify(result, rcpt, self.tally)
            cursor.prev = (rcpt.subscriber_id, mark, detail)
        return True
