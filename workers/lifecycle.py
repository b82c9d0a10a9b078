"""How a worker stops and how it comes back: drain on shutdown, resume after a Redis outage.

**Drain.** ``docker stop`` sends SIGTERM to the worker's main process only, then SIGKILL
after the grace period. Celery's warm shutdown stops consuming and waits for the running
tasks, but a send task would carry on for up to ``mail_max_task_seconds`` and be killed
mid-transaction. So on ``worker_shutting_down`` the main process sets its own drain flag
(``syndication.shutdown``: the solo and threads pools run tasks here) and forwards
``DRAIN_SIGNAL`` to each pool process, whose handler sets the flag there; the send loop
sees it between two messages, marks the one just sent, releases the rest and returns.

A pool process also drains on a SIGTERM of its own (``kill`` of the process group, as the
test harness and some supervisors do) while it runs a task, instead of dying mid-message.
Idle, or on a second SIGTERM, it exits as billiard makes it (billiard installs its handler
after ``worker_process_init``, so ours wraps it at the first task). A SIGTERM to a busy pool
process while the main process is not stopping ends that process after its task (the pool
starts a fresh one), so it does not stay behind with the flag set.

**Recovery.** A sender that waits longer than ``mail_redis_patience_seconds`` for Redis
ends its task (a retry would have to be published to the Redis that is down, and is then
dropped: ``Reject(requeue=False)``); its claims come back when their leases run out. The
watchdog, a thread in every worker's main process, runs ``Digests.recover`` every
``mail_recover_interval_seconds``, as beat's ``mail.recover`` does each minute: it expires
leases and re-queues editions with pending work and no live sender (``take_kick`` keeps
several workers from flooding the queue). So a worker resumes an edition by itself after
an outage of any length, with or without beat.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import kombu.exceptions
from celery.signals import (
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)

from syndication import shutdown
from syndication.store.connection import ConnectionFailed

log = logging.getLogger(__name__)

# Sent by the main process to its pool processes. Not one billiard resets in its children
# (SIGTERM, SIGHUP, SIGQUIT, SIGUSR1) nor one Celery uses in the main process.
DRAIN_SIGNAL = signal.SIGUSR2
# Redis or the broker on it is unreachable: the watchdog waits for it, quietly.
OUTAGE = (*ConnectionFailed, OSError, kombu.exceptions.OperationalError)

_Handler = Callable[[int, FrameType | None], Any] | int | None


# -- drain: main process --------------------------------------------------------------------
class _Main:
    pool: Any = None  # Celery's TaskPool, known from worker_ready
    watchdog: RecoveryWatchdog | None = None


def _on_drain_signal(signum: int, _frame: FrameType | None) -> None:
    shutdown.request(f"{signal.Signals(signum).name} from the worker's main process")
    _Child.forwarded = True


def _install_drain_handler(**_: Any) -> None:
    """Before the pool forks, so that every pool process inherits the handler: one that is
    forwarded the signal before its own ``worker_process_init`` still drains, not dies."""
    signal.signal(DRAIN_SIGNAL, _on_drain_signal)


def pool_pids(pool: Any) -> list[int]:
    """The pids of the pool's processes: billiard's list, else the kernel's list of this
    process's children (Linux); none for the solo and threads pools."""
    try:
        return [int(p.pid) for p in pool._pool._pool if p.pid]
    except (AttributeError, TypeError):
        pass
    pids: list[int] = []
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        try:
            pids += [int(pid) for pid in children.read_text().split()]
        except OSError:
            continue
    return pids


def _remember_pool(sender: Any = None, **_: Any) -> None:
    _Main.pool = getattr(sender, "pool", None)


def _on_shutting_down(sig: str = "", how: str = "", **_: Any) -> None:
    """In the main process's signal handler: no logging, no locks (``announce`` logs)."""
    pids = pool_pids(_Main.pool)
    kind = (how or "warm").lower()
    shutdown.request(f"{kind} shutdown on {sig or 'a signal'}; drain sent to pool processes {pids}")
    for pid in pids:
        try:
            os.kill(pid, DRAIN_SIGNAL)
        except (ProcessLookupError, PermissionError):
            continue  # exited meanwhile


# -- drain: pool processes ----------------------------------------------------------------
class _Child:
    in_pool = False  # set in each pool process by worker_process_init
    running = 0  # tasks running in this process (0 or 1 in prefork)
    terms = 0  # SIGTERMs this process received
    forwarded = False  # the main process forwarded the drain: it is stopping
    wrapped_pid = 0  # the process whose SIGTERM handler is ours
    billiard_term: _Handler = None  # the handler ours wraps


def _on_child_start(**_: Any) -> None:
    _Child.in_pool = True
    _Child.running = _Child.terms = 0
    _Child.forwarded = False
    _install_drain_handler()
    _listen_for_signals()


def _listen_for_signals() -> None:
    """Set the flag from a thread as soon as the process gets the signal, whichever thread
    the kernel gave it to.

    A Python signal handler runs only in the main thread, and only once that thread wakes:
    when the kernel delivers the signal to another thread (an SMTP session), the main thread,
    blocked joining the sessions, would not run it until the task ends. The wakeup fd gets
    the signal's number at once in any case, and this thread acts on it."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)

    def run() -> None:
        while True:
            try:
                received = os.read(read_end, 64)
            except InterruptedError:
                continue
            for signum in received:
                if signum == DRAIN_SIGNAL:
                    _Child.forwarded = True
                    shutdown.request(f"{DRAIN_SIGNAL.name} from the worker's main process")
                elif signum == signal.SIGTERM and _Child.running:
                    shutdown.request("SIGTERM to the pool process while it ran a task")
            if shutdown.requested():
                _log_drain("pool process")
                return

    threading.Thread(target=run, name="drain-listener", daemon=True).start()


def _on_child_sigterm(signum: int, frame: FrameType | None) -> None:
    _Child.terms += 1
    if _Child.running and _Child.terms == 1:
        shutdown.request("SIGTERM to the pool process while it ran a task")
        return
    _billiard_exit(signum, frame)


def _billiard_exit(signum: int, frame: FrameType | None) -> None:
    """What the process did on SIGTERM before ours: billiard's clean exit, else die."""
    handler = _Child.billiard_term
    signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    if callable(handler):
        handler(signum, frame)
    elif handler != signal.SIG_IGN:
        os.kill(os.getpid(), signum)


def _task_started(**_: Any) -> None:
    if not _Child.in_pool:
        return
    _Child.running += 1
    if _Child.wrapped_pid != os.getpid():
        # billiard set its own SIGTERM handler after worker_process_init; wrap it now.
        _Child.billiard_term = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _on_child_sigterm)
        signal.signal(DRAIN_SIGNAL, _on_drain_signal)  # in case a pool reset it too
        _Child.wrapped_pid = os.getpid()


def _task_finished(**_: Any) -> None:
    if not _Child.in_pool:
        return
    _Child.running = max(0, _Child.running - 1)
    if _Child.terms and not _Child.forwarded and not _Child.running:
        # Asked to stop on its own while the worker goes on: leave now, not with the drain
        # flag set for the next task. The task ended; billiard counts it as lost with the
        # process and the message is delivered again (every task here is idempotent).
        _billiard_exit(signal.SIGTERM, None)


# -- announcing the drain -----------------------------------------------------------------
def announce(role: str) -> None:
    """Log once, from a thread, when this process is asked to drain: signal handlers set
    the flag but must not log (they may interrupt a write to the same stream)."""

    def run() -> None:
        while not shutdown.wait(None):
            pass
        _log_drain(role)

    threading.Thread(target=run, name="drain-announcer", daemon=True).start()


def _log_drain(role: str) -> None:
    log.warning(
        "drain requested in the %s: %s",
        role,
        shutdown.reason(),
        extra={"pid": os.getpid(), "role": role, "reason": shutdown.reason()},
    )


# -- recovery watchdog --------------------------------------------------------------------
class RecoveryWatchdog:
    """Runs the send recovery every ``interval`` seconds until stopped, whatever Redis does.

    ``recover`` is the face's call into the service, so it reads the wall clock there (as
    the ``mail.recover`` task does); the waits and the outage's length use the monotonic
    clock. An outage is logged once when it starts and once, with its length, when it ends.
    """

    def __init__(self, recover: Callable[[datetime], list[Any]], interval: float) -> None:
        self.recover = recover
        self.interval = interval
        self.down_since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recovery-watchdog", daemon=True)

    def start(self) -> RecoveryWatchdog:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Wake it and wait a little: a tick stuck on an unreachable Redis is left behind
        (a daemon thread), it must not hold up the worker's exit."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not shutdown.requested():  # a draining worker queues no new sends
                self.tick()
            self._stop.wait(self.interval)

    def tick(self) -> None:
        try:
            reports = self.recover(datetime.now(UTC))
        except OUTAGE as exc:
            if self.down_since is None:
                self.down_since = time.monotonic()
                log.warning(
                    "recovery watchdog: Redis unavailable (%s); retrying every %gs",
                    exc,
                    self.interval,
                )
            return
        except Exception:  # a bug must not stop the watchdog: the next tick tries again
            log.exception("recovery watchdog: recovery failed")
            return
        if self.down_since is not None:
            outage = time.monotonic() - self.down_since
            self.down_since = None
            log.warning(
                "recovery watchdog: Redis is back after %.0fs",
                outage,
                extra={"outage_seconds": round(outage, 1)},
            )
        kicked = [r.edition_id for r in reports if getattr(r, "kicked", False)]
        if kicked:
            log.info("recovery watchdog resumed editions: %s", ", ".join(kicked))


def _start_watchdog(**_: Any) -> None:
    from workers.base import new_context
    from workers.celery_app import current_settings

    settings = current_settings()
    interval = settings.mail.recover_interval_seconds
    if interval <= 0 or _Main.watchdog is not None:
        return
    # Its own Context and client, not the per-process one (workers/base.py): pool processes
    # forked later must not inherit one that this thread may be using (locks held mid-call).
    _Main.watchdog = RecoveryWatchdog(new_context().digests.recover, interval).start()


def _announce_main(**_: Any) -> None:
    announce("main process")


def _stop_watchdog(**_: Any) -> None:
    watchdog, _Main.watchdog = _Main.watchdog, None
    if watchdog is not None:
        watchdog.stop()


worker_init.connect(_install_drain_handler, weak=False)
worker_ready.connect(_remember_pool, weak=False)
worker_ready.connect(_announce_main, weak=False)
worker_ready.connect(_start_watchdog, weak=False)
worker_shutting_down.connect(_on_shutting_down, weak=False)
worker_shutdown.connect(_stop_watchdog, weak=False)
worker_process_init.connect(_on_child_start, weak=False)
task_prerun.connect(_task_started, weak=False)
task_postrun.connect(_task_finished, weak=False)
