"""The fault rig (issue #12): real redis-server with AOF, real worker processes, an SMTP
server on loopback that records every recipient, and one fault injected mid-edition.

``FaultRig`` sets the scene; each fault in ``FAULTS`` runs one edition through one fault
and returns an ``Outcome``: how many readers got the message once, how many extra messages
went out (duplicates), how many got nothing although the ledger does not say "uncertain"
(missing), how many the ledger reports uncertain, and whether the edition finished with no
operator action. ``tests/faults/`` runs them small in ``make test``; ``make faults`` runs
them at full size and prints the table (``python -m tests.faults``).

Time: workers judge editions by the wall clock (recovery pauses editions older than
``max_resume_age``), so the rig dates its subscribers and edition by the wall clock too.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from syndication.clock import system_clock
from syndication.config import load_settings
from syndication.embedded_redis import find_redis_server
from syndication.services.digests import Digests, MailSettings, make_digest_service
from syndication.store.editions import EditionStatus, EntryState, Policy
from tests.support import EXAMPLE_CONFIG, wait_for
from tests.support.crashable_redis import CrashableRedis, build_aofcrash
from tests.support.digests import add_articles, add_subscribers
from tests.support.smtp import Script, ScriptedSmtp
from tests.support.workers import MailWorker

# Leases long enough that only a lapsed heartbeat (not the lease) brings a dead sender's
# entries back quickly: the rig shows what recovery does, not what a short lease hides.
POLICY = Policy(lease_s=120, tx_budget_s=10, retry_base_s=0.5, retry_max_s=2, max_attempts=6)


@dataclass(frozen=True)
class Outcome:
    fault: str
    recipients: int
    delivered_once: int
    duplicates: int  # messages beyond the first, over every reader
    missing: int  # readers with no message whom the ledger does not report uncertain
    uncertain: int  # ledger entries reported uncertain (may or may not have arrived)
    in_flight: int  # SMTP transactions begun at the moment of the fault (the duplicate bound)
    reported: int  # entries the ledger lists as "may have been sent twice"
    recovered: bool  # the edition finished with no operator action
    seconds: float
    notes: str = ""
    informational: bool = False  # a comparison row (e.g. no durability): no target

    @property
    def ok(self) -> bool:
        """The issue's targets: duplicates ≤ transactions in flight at the fault, nothing
        missing that the ledger does not report, recovery with no operator action."""
        if self.informational:
            return True
        return self.recovered and self.missing == 0 and self.duplicates <= self.in_flight

    def row(self) -> str:
        return (
            f"| {self.fault} | {self.recipients:,} | {self.delivered_once:,} | {self.duplicates} "
            f"| {self.missing} | {self.uncertain} | {self.reported} | {self.in_flight} "
            f"| {'yes' if self.recovered else 'NO'} | {self.seconds:.1f} s | {self.notes} |"
        )


TABLE_HEAD = (
    "| fault | recipients | delivered once | duplicates | missing | uncertain "
    "| reported repeated | in flight at fault | recovered unattended | time | notes |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


@dataclass
class FaultRig:
    """One Redis (AOF; ``appendfsync`` as asked; the crash shim so SIGKILL is a host crash),
    one recording SMTP server, worker processes, and ``recipients`` confirmed readers."""

    root: Path
    recipients: int
    appendfsync: str = "everysec"
    durability: str = "auto"
    script: Script = field(default_factory=Script)
    worker_env: dict[str, str] = field(default_factory=dict)
    redis: CrashableRedis | None = None
    smtp: ScriptedSmtp | None = None
    workers: list[MailWorker] = field(default_factory=list)
    prefix: str = "faults:"
    fanout: int = 2  # send tasks queued per edition

    def __enter__(self) -> FaultRig:
        shim = build_aofcrash(Path(tempfile.gettempdir()))
        if shim is None:
            raise RuntimeError("no C compiler: the host-crash shim cannot be built")
        server = CrashableRedis(
            self.root / "redis",
            executable=find_redis_server(),
            appendfsync=self.appendfsync,
            shim=shim,
        )
        server.start()
        self.redis = server
        self.script.keep_bodies = False
        self.smtp = ScriptedSmtp(self.script).start()
        self.env = {
            "SYNDICATION_REDIS_URL": server.url,
            "SYNDICATION_CONFIG": str(EXAMPLE_CONFIG),
            "SYNDICATION_KEY_PREFIX": self.prefix,
            "SYNDICATION_SECRET_KEY": "f" * 40,
            "SYNDICATION_PUBLIC_URL": "https://news.example",
            "SYNDICATION_SMTP_URL": self.smtp.url,
            "SYNDICATION_MAIL_DURABILITY": self.durability,
            "SYNDICATION_MAIL_HEARTBEAT_SECONDS": "1",
            "SYNDICATION_MAIL_RECOVER_INTERVAL_SECONDS": "1",
            **self.worker_env,
        }
        self.settings = load_settings(self.env)
        self.client = server.client(socket_timeout=10)
        now = system_clock()
        add_subscribers(self.client, self.prefix, self.recipients, now=now)
        add_articles(self.client, self.prefix, [{"topics": ["Coca"]}], now=now)
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.workers:
            worker.stop()
        if self.smtp is not None:
            self.smtp.stop()
        if self.redis is not None:
            self.redis.stop()

    # --- parts -------------------------------------------------------------------------

    def service(self) -> Digests:
        """The service as the CLI would make it, queuing tasks on this rig's broker (its own
        Celery app: never another test's cached connection pool)."""
        from celery import Celery

        from workers.celery_app import celery_config
        from workers.events import CeleryEvents

        celery = Celery("fault-rig", set_as_current=False)
        celery.conf.update(celery_config(self.settings))
        client = redis.Redis.from_url(self.settings.need_redis_url(), socket_timeout=10)
        return make_digest_service(
            self.settings,
            client,
            CeleryEvents(celery, self.settings),
            mail=MailSettings(policy=POLICY, fanout=self.fanout),
            with_sender=False,
        )

    def worker(self) -> MailWorker:
        log = self.root / f"worker{len(self.workers)}.log"
        w = MailWorker(self.env, log)
        self.workers.append(w)
        w.wait_ready()
        return w

    def in_flight(self, svc: Digests, edition_id: str) -> int:
        return int(self.client.scard(svc.editions.key(edition_id, "inflight")))

    def delivered(self) -> int:
        assert self.smtp is not None
        return self.smtp.count()

    def finished(self, svc: Digests, edition_id: str) -> bool:
        try:
            edition = svc.status(edition_id)
        except redis.exceptions.ConnectionError:
            return False
        return edition is not None and edition.status is EditionStatus.DONE

    def outcome(
        self,
        fault: str,
        svc: Digests,
        edition_id: str,
        *,
        in_flight: int,
        recovered: bool,
        seconds: float,
        notes: str = "",
        informational: bool = False,
    ) -> Outcome:
        assert self.smtp is not None
        per = self.smtp.per_recipient()
        states = svc.editions.states(edition_id)
        emails = {r.subscriber_id: r.email for r in svc.editions.iter_recipients(edition_id)}
        missing = sum(
            1
            for sid, email in emails.items()
            if per[email] == 0 and states.get(sid) != EntryState.UNCERTAIN.value
        )
        lies = sum(
            1 for sid, email in emails.items() if states.get(sid) == "sent" and not per[email]
        )
        if lies:
            notes = f"{notes}; {lies} marked sent but never received".strip("; ")
        return Outcome(
            fault=fault,
            recipients=len(emails),
            delivered_once=sum(1 for email in emails.values() if per[email] == 1),
            duplicates=sum(n - 1 for n in per.values() if n > 1),
            missing=missing + lies,
            uncertain=sum(1 for s in states.values() if s == EntryState.UNCERTAIN.value),
            in_flight=in_flight,
            reported=len(svc.editions.repeated(edition_id)),
            recovered=recovered,
            seconds=seconds,
            notes=notes,
            informational=informational,
        )


# --- the faults ---------------------------------------------------------------------------

Fault = Callable[[Path, int], Outcome]


def _run(
    rig: FaultRig,
    name: str,
    inject: Callable[[FaultRig, Digests, str], tuple[int, str]],
    *,
    at: float = 0.35,
    timeout: float = 300,
    informational: bool = False,
    prepare: Callable[[FaultRig], object] | None = None,
) -> Outcome:
    """Start a worker, create the edition (``prepare`` then sets more of the scene), inject
    the fault once ``at`` of it went out, and wait (with no operator action) for the edition
    to finish."""
    rig.worker()
    svc = rig.service()
    edition_id = svc.create_edition("daily", system_clock()).edition_id
    assert edition_id
    started = time.monotonic()
    if prepare is not None:
        prepare(rig)
    wait_for(lambda: rig.delivered() >= rig.recipients * at, timeout=timeout)
    in_flight, notes = inject(rig, svc, edition_id)
    try:
        wait_for(lambda: rig.finished(svc, edition_id), timeout=timeout, interval=0.2)
        recovered = True
    except AssertionError:
        recovered = False
    seconds = time.monotonic() - started
    return rig.outcome(
        name, svc, edition_id, in_flight=in_flight, recovered=recovered, seconds=seconds,
        notes=notes, informational=informational,
    )  # fmt: skip


def worker_killed(root: Path, n: int) -> Outcome:
    """SIGKILL of the worker that runs the edition's only send task, while another worker
    sits idle: recovery must hand the rest to the idle one within seconds (the dead
    sender's heartbeat lapses after three beats), not after the 120 s lease."""

    def inject(rig: FaultRig, svc: Digests, eid: str) -> tuple[int, str]:
        victim = rig.workers[0]
        os.killpg(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait()
        killed = time.monotonic()
        in_flight = rig.in_flight(svc, eid)
        at_kill = rig.delivered()
        wait_for(lambda: rig.delivered() > at_kill, timeout=120, interval=0.02)
        resumed = time.monotonic() - killed
        return in_flight, f"idle worker resumed sending {resumed:.1f} s after the kill"

    # Slow enough that the idle worker is up before the kill (about 12 s of sending).
    script = Script(delay=max(0.002, 24 / n))
    with FaultRig(root, n, script=script, fanout=1) as rig:
        return _run(rig, "worker SIGKILL", inject, prepare=FaultRig.worker)


def host_crash(
    root: Path, n: int, appendfsync: str = "always", durability: str = "auto"
) -> Outcome:
    """Redis's host crashes: SIGKILL with the shim loses every write not yet fsynced, and
    Redis restarts from what is on disk. With ``appendfsync always`` (or a replica, or
    WAITAOF on Redis ≥ 8) every begin is durable before DATA."""

    def inject(rig: FaultRig, svc: Digests, eid: str) -> tuple[int, str]:
        assert rig.redis is not None
        in_flight = rig.in_flight(svc, eid)
        rig.redis.crash()
        rig.redis.restart()
        return in_flight, f"appendfsync {appendfsync}, durability {durability}"

    with FaultRig(root, n, appendfsync=appendfsync, durability=durability) as rig:
        name = f"Redis host crash (appendfsync {appendfsync})"
        return _run(rig, name, inject, informational=durability == "off")


def host_crash_not_durable(root: Path, n: int) -> Outcome:
    """The same crash with ``everysec`` and no durable begin (Redis 7.0 alone offers none):
    what the ledger cannot prevent there, for comparison (no target)."""
    return host_crash(root, n, appendfsync="everysec", durability="off")


def long_outage(root: Path, n: int) -> Outcome:
    """Redis away for longer than the senders' patience (2 s here, 120 s by default), no
    beat: the worker's watchdog resumes the edition when Redis is back."""

    def inject(rig: FaultRig, svc: Digests, eid: str) -> tuple[int, str]:
        assert rig.redis is not None
        in_flight = rig.in_flight(svc, eid)
        rig.redis.stop(cleanup=False)
        worker = rig.workers[0]
        # Past the patience: senders either gave up a claim or begin, or hold a server's
        # answer and keep waiting to record it.
        wait_for(
            lambda: (
                "sender stopped: Redis unavailable" in worker.text()
                or "redis unavailable past the patience" in worker.text()
            ),
            timeout=60,
        )
        rig.redis.start()
        return in_flight, "senders gave up (patience 2 s); no beat"

    env = {"SYNDICATION_MAIL_REDIS_PATIENCE_SECONDS": "2"}
    with FaultRig(root, n, worker_env=env, script=Script(delay=0.001)) as rig:
        return _run(rig, "Redis outage > patience", inject)


def deploy(root: Path, n: int) -> Outcome:
    """A deploy: SIGTERM to the worker's main process (as ``docker stop``), SIGKILL 10 s
    later if it is still there, then a new worker starts."""

    def inject(rig: FaultRig, svc: Digests, eid: str) -> tuple[int, str]:
        old = rig.workers[0]
        in_flight = rig.in_flight(svc, eid)
        asked = time.monotonic()
        os.kill(old.proc.pid, signal.SIGTERM)
        try:
            old.proc.wait(timeout=10)
            took = time.monotonic() - asked
            note = f"old worker exited {took:.1f} s after SIGTERM"
        except Exception:
            os.killpg(old.proc.pid, signal.SIGKILL)
            old.proc.wait()
            note = "old worker needed SIGKILL after 10 s"
        held = int(rig.client.zcard(svc.editions.key(eid, "sending")))
        rig.worker()
        return in_flight, f"{note}; {held} entries still claimed after it"

    with FaultRig(root, n, script=Script(delay=0.001)) as rig:
        return _run(rig, "deploy (SIGTERM)", inject)


def dropped_mid_data(root: Path, n: int, drops: int = 10) -> Outcome:
    """The server takes the whole message for ``drops`` readers and drops the connection
    instead of answering: uncertain, never resent by default, reported."""
    emails = {f"reader{i:05d}@example.org" for i in range(0, n, max(1, n // drops))}

    def inject(rig: FaultRig, svc: Digests, eid: str) -> tuple[int, str]:
        return 0, f"{len(emails)} connections dropped after DATA"

    with FaultRig(root, n, script=Script(drop_after_data=set(emails))) as rig:
        return _run(rig, "SMTP drop mid-DATA", inject, at=0.0)


def greylisted(root: Path, n: int) -> Outcome:
    """Every reader's first attempt answered 451 (greylisting): all delivered, once."""
    script = Script(temp_fail={f"reader{i:05d}@example.org": 1 for i in range(n)})

    def inject(rig: FaultRig, svc: Digests, eid: str) -> tuple[int, str]:
        return 0, "451 on every first attempt"

    with FaultRig(root, n, script=script) as rig:
        return _run(rig, "greylisting (451 then 250)", inject, at=0.0)


FAULTS: dict[str, Fault] = {
    "worker_killed": worker_killed,
    "host_crash": host_crash,
    "host_crash_not_durable": host_crash_not_durable,
    "long_outage": long_outage,
    "deploy": deploy,
    "dropped_mid_data": dropped_mid_data,
    "greylisted": greylisted,
}


def describe(outcomes: list[Outcome]) -> str:
    return "\n".join([TABLE_HEAD, *(o.row() for o in outcomes)])
