"""The metric counters in Redis, and the worker heartbeats (``syndication/metrics.py``
names the families and writes the exposition).

Each metric family is one Redis hash under the key prefix (``{prefix}{metrics}:<family>``:
one hash tag, so a flush or a read of every family is one Cluster node and one round trip);
a field is the family's label values joined by ``|`` (histograms add ``|le=…``, ``|sum``
and ``|count``). Writing is ``HINCRBY``/``HINCRBYFLOAT`` in one pipeline; reading for
``/metrics`` is one ``HGETALL`` per family, pipelined.

Two ways to record:

- ``Metrics.record(...)`` / ``flush()`` in the same call: one round trip, for workers (a
  task is seconds of work; a round trip at its end costs nothing).
- ``BufferedMetrics``: counts add up in this process's memory and a daemon thread writes
  them every ``interval`` seconds, or sooner once ``max_pending`` increments are waiting.
  That is for the feed fast path, which must not wait on Redis per request. A flush that
  fails (Redis away) puts its counts back, so a blip delays numbers, it does not lose them;
  at most ``interval`` seconds of counts are lost if the process is killed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

import redis

from syndication.metrics import FAMILIES, HEARTBEAT_TTL, SEP, bucket_of, field_of
from syndication.store.batch import Batched

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
MAX_PENDING = 1000  # increments waiting before a flush is asked for early
MAX_KEPT = 10_000  # distinct series kept in memory while Redis is away


def metrics_key(prefix: str, family: str) -> str:
    return f"{prefix}{{metrics}}:{family}"


def heartbeat_key(prefix: str, hostname: str) -> str:
    """One key per worker node, with a TTL: it disappears when the worker stops beating."""
    return f"{prefix}{{workers}}:heartbeat:{hostname}"


def heartbeat_hosts_key(prefix: str) -> str:
    """Node names that ever beat (a set), so /healthz never SCANs the keyspace."""
    return f"{prefix}{{workers}}:hosts"


@dataclass(frozen=True)
class FeedCounts:
    """Per-feed request counters (feed name → count, all formats together), as
    ``MeteredRequests`` keeps them: answers 200 or 304, and the 304s among them."""

    requests: dict[str, int]
    not_modified: dict[str, int]


class Metrics:
    """Record into a local batch and write it with ``flush()`` (one pipeline)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._lock = threading.Lock()
        self._ints: dict[tuple[str, str], int] = {}
        self._floats: dict[tuple[str, str], float] = {}
        self.pending = 0

    # -- recording ----------------------------------------------------------------------
    def add(self, family: str, *labels: str, n: int = 1) -> None:
        """Add ``n`` to a counter (a KeyError for an unknown family: a typo, not a metric)."""
        self.add_field((family, field_of(FAMILIES[family], labels)), n)

    def add_field(self, key: tuple[str, str], n: int = 1) -> None:
        """``add`` with the (family, field) already made."""
        with self._lock:
            self._ints[key] = self._ints.get(key, 0) + n
            self.pending += 1
        self._added()

    def add_fields(self, keys: tuple[tuple[str, str], ...]) -> None:
        """One to each (family, field), under one lock: the per-request fast path."""
        with self._lock:
            ints = self._ints
            for key in keys:
                ints[key] = ints.get(key, 0) + 1
            self.pending += 1
        self._added()

    def observe(self, family: str, *labels: str, seconds: float) -> None:
        """One histogram observation: its bucket, the count and the sum."""
        base = field_of(FAMILIES[family], labels)
        with self._lock:
            for suffix in (f"le={bucket_of(seconds)}", "count"):
                key = (family, f"{base}{SEP}{suffix}")
                self._ints[key] = self._ints.get(key, 0) + 1
            key = (family, f"{base}{SEP}sum")
            self._floats[key] = self._floats.get(key, 0.0) + seconds
            self.pending += 1
        self._added()

    def _added(self) -> None:
        """Hook for the buffered variant."""

    def flush(self) -> None:
        """Write what was recorded since the last flush; on failure keep it for the next."""
        with self._lock:
            ints, floats = self._ints, self._floats
            self._ints, self._floats, self.pending = {}, {}, 0
        if not ints and not floats:
            return
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for (family, field), n in ints.items():
                    pipe.hincrby(metrics_key(self.prefix, family), field, n)
                for (family, field), x in floats.items():
                    pipe.hincrbyfloat(metrics_key(self.prefix, family), field, x)
                pipe.execute()
        except redis.RedisError:
            self._put_back(ints, floats)
            raise

    def _put_back(
        self, ints: dict[tuple[str, str], int], floats: dict[tuple[str, str], float]
    ) -> None:
        with self._lock:
            for key, n in ints.items():
                if key in self._ints or len(self._ints) < MAX_KEPT:
                    self._ints[key] = self._ints.get(key, 0) + n
            for key, x in floats.items():
                if key in self._floats or len(self._floats) < MAX_KEPT:
                    self._floats[key] = self._floats.get(key, 0.0) + x

    # -- reading ------------------------------------------------------------------------
    def read(self) -> dict[str, dict[str, float]]:
        """Every family's stored fields (one pipelined HGETALL each)."""
        names = list(FAMILIES)
        with self.client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(metrics_key(self.prefix, name))
            raw = pipe.execute()
        return {
            name: {k.decode(): float(v) for k, v in values.items()}
            for name, values in zip(names, raw, strict=True)
        }

    def feed_counts(self) -> FeedCounts:
        """``feed_counts_read().run()``: the per-feed counters in one round trip."""
        return self.feed_counts_read().run()

    def feed_counts_read(self) -> Batched[FeedCounts]:
        """The per-feed request and 304 counters as stored (what was flushed so far), as
        a read that can share a pipeline with another store's (``store.batch.together``)."""
        families = ("feed_requests_by_feed_total", "feed_not_modified_by_feed_total")

        def queue(pipe: Any) -> None:
            for family in families:
                pipe.hgetall(metrics_key(self.prefix, family))

        def decode(replies: list[Any]) -> FeedCounts:
            requests, not_modified = (
                {k.decode(): int(v) for k, v in values.items()} for values in replies
            )
            return FeedCounts(requests, not_modified)

        return Batched(self.client, queue, decode)


class BufferedMetrics(Metrics):
    """``Metrics`` that flushes itself from a daemon thread: every ``interval`` seconds, or
    as soon as ``max_pending`` increments wait. Recording is a dict update under a lock; the
    thread starts on first use, and again in a forked child (threads do not survive fork)."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        interval: float = FLUSH_SECONDS,
        max_pending: int = MAX_PENDING,
    ) -> None:
        super().__init__(client, prefix)
        self.interval = interval
        self.max_pending = max_pending
        self._wake = threading.Event()
        self._started = False
        self._generation = 0  # a thread runs while its generation is current
        self._warned = False
        me = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forked(me))
        atexit.register(_final_flush, me)

    def _added(self) -> None:
        if not self._started:
            self._start()
        if self.pending >= self.max_pending:
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            self._generation += 1
            generation = self._generation
        threading.Thread(
            target=self._run, args=(generation,), name="metrics-flush", daemon=True
        ).start()

    def stop(self) -> None:
        """Flush now and end the thread (tests, shutdown)."""
        with self._lock:
            self._started = False
            self._generation += 1
        self._wake.set()
        self.flush()

    def _run(self, generation: int) -> None:
        while self._generation == generation:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._generation != generation:
                return
            try:
                self.flush()
                if self._warned:
                    log.warning("metrics are written to Redis again")
                    self._warned = False
            except redis.RedisError as exc:
                if not self._warned:  # once per outage
                    log.warning("metrics kept in memory, Redis did not take them: %s", exc)
                    self._warned = True


def _forked(ref: weakref.ReferenceType[BufferedMetrics]) -> None:
    """In a forked child: the parent's thread is gone and its lock may be held; start over
    with empty counts (the parent writes its own)."""
    metrics = ref()
    if metrics is not None:
        metrics._lock = threading.Lock()
        metrics._ints, metrics._floats, metrics.pending = {}, {}, 0
        metrics._started = False
        metrics._wake = threading.Event()


def _final_flush(ref: weakref.ReferenceType[BufferedMetrics]) -> None:
    metrics = ref()
    if metrics is not None and metrics._started:
        with contextlib.suppress(redis.RedisError):
            metrics.flush()


class Heartbeats:
    """Worker heartbeats: one key per node with a TTL (it disappears when the worker stops
    beating), and the set of node names that ever beat, so /healthz never SCANs."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def read(self) -> dict[str, Any]:
        """``{node: {"fresh": bool, "ttl": seconds left, ...what the worker wrote}}``."""
        hosts = sorted(h.decode() for h in self.client.smembers(heartbeat_hosts_key(self.prefix)))
        if not hosts:
            return {}
        with self.client.pipeline(transaction=False) as pipe:
            for host in hosts:
                pipe.get(heartbeat_key(self.prefix, host))
                pipe.ttl(heartbeat_key(self.prefix, host))
            raw = pipe.execute()
        out: dict[str, Any] = {}
        for i, host in enumerate(hosts):
            value, ttl = raw[2 * i], raw[2 * i + 1]
            info: dict[str, Any] = {}
            if value is not None:
                try:
                    info = json.loads(value)
                except ValueError:
                    info = {}
            out[host] = {**info, "fresh": value is not None, "ttl": max(int(ttl), 0)}
        return out

    def beat(self, hostname: str, info: dict[str, Any]) -> None:
        """Write one heartbeat: the node's key with a fresh TTL, and its name in the set."""
        payload = json.dumps({**info, "at": time.time()})
        with self.client.pipeline(transaction=False) as pipe:
            pipe.set(heartbeat_key(self.prefix, hostname), payload, ex=HEARTBEAT_TTL)
            pipe.sadd(heartbeat_hosts_key(self.prefix), hostname)
            pipe.execute()

    def prune(self) -> None:
        """Forget nodes whose heartbeat expired long ago (a crashed worker never said
        goodbye)."""
        hosts = [h.decode() for h in self.client.smembers(heartbeat_hosts_key(self.prefix))]
        if not hosts:
            return
        with self.client.pipeline(transaction=False) as pipe:
            for host in hosts:
                pipe.exists(heartbeat_key(self.prefix, host))
            alive = pipe.execute()
        gone = [h for h, a in zip(hosts, alive, strict=True) if not a]
        if gone:
            self.client.srem(heartbeat_hosts_key(self.prefix), *gone)

    def remove(self, hostname: str) -> None:
        """A worker that stops says goodbye: its key and its name go."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.delete(heartbeat_key(self.prefix, hostname))
            pipe.srem(heartbeat_hosts_key(self.prefix), hostname)
            pipe.execute()
