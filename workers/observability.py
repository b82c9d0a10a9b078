"""Worker heartbeat and task metrics, from Celery signals (no beat needed).

Heartbeat: when a worker is ready, a daemon thread in its main process writes
``{prefix}workers:heartbeat:{node}`` with a 30 s TTL every 10 s (``syndication.store.metrics``)
and the node name into ``{prefix}workers:hosts``. ``/healthz`` reads those: a worker that
dies or hangs stops beating and its key expires; a clean shutdown removes both at once.

Task metrics: ``task_prerun`` notes the start, ``task_postrun`` records the run (task name,
final state), its duration into a histogram, and what the task's result says happened:
digest emails sent/failed/uncertain (``mail.send_batch``, ``mail.recover``) and feed
documents changed (``feeds.rebuild_*``). One pipelined write per task run.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_ready, worker_shutdown

from syndication.metrics import HEARTBEAT_EVERY
from syndication.store.connection import RedisError, connect
from syndication.store.metrics import Heartbeats, Metrics
from workers.celery_app import current_settings

log = logging.getLogger(__name__)
_started: dict[str, float] = {}  # task id → perf_counter at prerun (this process)
_metrics: tuple[int, Metrics] | None = None  # (pid, recorder): one per process
_stop = threading.Event()
_node: list[str] = []


def _heartbeats() -> Heartbeats:
    settings = current_settings()
    return Heartbeats(connect(settings.need_redis_url(), check=False), settings.key_prefix)


def metrics() -> Metrics:
    """This process's recorder (made again after a fork: prefork children)."""
    global _metrics
    if _metrics is None or _metrics[0] != os.getpid():
        settings = current_settings()
        client = connect(settings.need_redis_url(), check=False)
        _metrics = (os.getpid(), Metrics(client, settings.key_prefix))
    return _metrics[1]


# -- heartbeat ----------------------------------------------------------------------------
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    node = str(getattr(sender, "hostname", None) or f"celery@{os.uname().nodename}")
    heartbeats = _heartbeats()
    _node[:] = [node]
    try:
        heartbeats.prune()
    except RedisError:
        log.warning("could not prune old worker heartbeats", exc_info=True)
    info = {"node": node, "pid": os.getpid()}
    _stop.clear()

    def run() -> None:
        warned = False
        while True:
            try:
                heartbeats.beat(node, info)
                if warned:
                    log.warning("worker heartbeat written again")
                    warned = False
            except RedisError as exc:
                if not warned:
                    log.warning("worker heartbeat not written: %s", exc)
                    warned = True
            if _stop.wait(HEARTBEAT_EVERY):
                return

    threading.Thread(target=run, name="worker-heartbeat", daemon=True).start()


def _stop_heartbeat(**_: Any) -> None:
    _stop.set()
    if not _node:
        return
    try:
        _heartbeats().remove(_node[0])
    except RedisError:
        log.warning("could not remove the worker heartbeat", exc_info=True)


# -- task metrics -------------------------------------------------------------------------
def _task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


def _task_finished(
    task_id: str | None = None,
    task: Any = None,
    retval: Any = None,
    state: str | None = None,
    **_: Any,
) -> None:
    begun = _started.pop(task_id or "", None)
    name = str(getattr(task, "name", None) or "unknown")
    try:
        m = metrics()
        m.add("task_runs_total", name, state or "UNKNOWN")
        if begun is not None:
            m.observe("task_duration_seconds", name, seconds=time.perf_counter() - begun)
        if state == "SUCCESS":
            record_result(m, name, retval)
        m.flush()
    except Exception:  # metrics must never fail a task
        log.warning("task metrics not recorded for %s", name, exc_info=True)


def record_result(m: Metrics, task: str, retval: Any) -> None:
    """What a finished task's result says happened, as counters."""
    if task == "mail.send_batch" and isinstance(retval, dict):
        for outcome in ("sent", "failed", "uncertain"):
            n = int(retval.get(outcome) or 0)
            if n:
                m.add("emails_total", outcome, n=n)
    elif task == "mail.recover" and isinstance(retval, list):
        n = sum(int(r.get("uncertain") or 0) for r in retval if isinstance(r, dict))
        if n:
            m.add("emails_total", "uncertain", n=n)
    elif task.startswith("feeds.rebuild_") and isinstance(retval, list) and retval:
        m.add("feed_documents_built_total", n=len(retval))


worker_ready.connect(_start_heartbeat, weak=False)
worker_shutdown.connect(_stop_heartbeat, weak=False)
task_prerun.connect(_task_started, weak=False)
task_postrun.connect(_task_finished, weak=False)
