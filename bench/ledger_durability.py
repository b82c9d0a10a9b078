"""What making the send ledger's claim durable costs (issue #12): ledger steps per second.

A "step" is one EVAL of a Lua script shaped like ``EditionStore.step`` (mark one recipient
sent, begin the next: nine HSET/HDEL/ZADD/ZREM/SADD/SREM/HINCRBY on the ledger's keys), one
round trip from one connection, as a sender does before each SMTP DATA. Rows, all on the
same redis-server binary (one with WAITAOF: ``find_redis_server(min_version=(7, 2))``) and
each against the first row measured in the same run (reference):

- no durability: ``appendfsync everysec``, the step alone (today's ledger);
- WAITAOF under everysec, one ``WAITAOF 1 0 1000`` after every step (window 1) or after
  every 10 steps (window 10; one WAITAOF covers the 10 claims before their 10 sends);
- ``appendfsync always``: every write fsynced before Redis answers;
- WAITAOF under always (window 1): the combination that is safe on Redis 7.4 (under everysec
  WAITAOF answers before the fsync there: redis/redis#13793, see
  tests/store/test_crash_durability.py);
- WAIT with 1 replica: ``WAIT 1 1000`` after every step, one real replica on loopback.

Progress lines give the latency of one write + WAITAOF / WAIT (min/p50/p95/p99/max).
No targets: the ratios are the finding. It starts its own servers (the stack's Redis keeps its
configuration), needs no shim, and runs alone too:

    .venv/bin/python -m bench.ledger_durability
    LEDGER_BENCH_SECONDS=2 …   (seconds per row, default 3)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import redis

from bench.common import Bench, Row, RowSpec, Stack, progress, summary_ms
from syndication.embedded_redis import EmbeddedRedis, find_redis_server, redis_server_version

SECONDS = float(os.environ.get("LEDGER_BENCH_SECONDS", "3"))
UNIT = "steps/s"

REFERENCE = RowSpec("ledger step round trips/s: no durability (everysec)", UNIT, UNIT)
WAITAOF_1 = RowSpec("ledger step round trips/s: WAITAOF everysec, window 1", UNIT, UNIT)
WAITAOF_10 = RowSpec("ledger step round trips/s: WAITAOF everysec, window 10", UNIT, UNIT)
ALWAYS = RowSpec("ledger step round trips/s: appendfsync always", UNIT, UNIT)
ALWAYS_WAITAOF = RowSpec("ledger step round trips/s: WAITAOF always, window 1", UNIT, UNIT)
REPLICA = RowSpec("ledger step round trips/s: WAIT 1 replica", UNIT, UNIT)
ROWS = (REFERENCE, WAITAOF_1, WAITAOF_10, ALWAYS, ALWAYS_WAITAOF, REPLICA)

# KEYS: state, owner, sending, inflight, attempts, counts. ARGV: mark_id, begin_id, token, now.
STEP = """
redis.call('HSET', KEYS[1], ARGV[1], 'sent')
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('HINCRBY', KEYS[6], 'sent', 1)
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('HINCRBY', KEYS[5], ARGV[2], 1)
return {'ok', 'ok'}
"""
KEYS = [f"bench:ledger:{part}" for part in ("state", "owner", "sending", "inflight", "att", "n")]


class Ledger:
    """One connection stepping through recipients r0, r1, …"""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.sha = client.script_load(STEP)
        self.n = 0

    def args(self) -> list[object]:
        self.n += 1
        return [*KEYS, f"r{self.n - 1}", f"r{self.n}", "token", self.n]

    def step(self) -> int:
        """One step, one round trip; returns the steps made (1) for ``_rate``."""
        self.client.evalsha(self.sha, len(KEYS), *self.args())
        return 1

    def stepper(self, *command: object) -> Callable[[], int]:
        """A body for ``_rate``: one step and ``command`` per round trip."""

        def body() -> int:
            self.step_then(*command)
            return 1

        return body

    def step_then(self, *command: object) -> object:
        """One step and ``command`` in one round trip (a pipeline, same connection)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.evalsha(self.sha, len(KEYS), *self.args())
        pipe.execute_command(*command)
        return pipe.execute()[1]


def _rate(body: Callable[[], int], seconds: float = SECONDS) -> float:
    """Run ``body`` (it returns the steps it made) until ``seconds`` pass: steps per second."""
    steps = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        steps += body()
    return steps / elapsed


@contextlib.contextmanager
def _server(exe: str, work: Path, name: str, *args: str) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(work / name, executable=exe, args=list(args)).start()
    try:
        yield server
    finally:
        server.stop(cleanup=False)


def _wait_online(master: redis.Redis, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = master.info("replication")
        slave = info.get("slave0")
        if isinstance(slave, dict) and slave.get("state") == "online":
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the replica did not come online: {info}")
        time.sleep(0.05)


def _latency(ledger: Ledger, command: tuple[object, ...], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        ledger.step_then(*command)
        samples.append(time.perf_counter() - t0)
    return samples


def measure() -> list[Row]:
    exe = find_redis_server(min_version=(7, 2))
    progress(f"redis-server {'.'.join(map(str, redis_server_version(exe)))}: {exe}")
    work = Path(tempfile.mkdtemp(prefix="synd-bench-ledger-"))
    rows: list[Row] = []
    try:
        with _server(exe, work, "everysec", "--appendfsync", "everysec") as server:
            ledger = Ledger(redis.Redis(port=server.port))
            _rate(ledger.step, 0.3)  # warm up
            reference = _rate(ledger.step)
            rows.append(REFERENCE.measured(reference, reference))
            progress(f"no durability: {reference:,.0f} steps/s")

            waitaof = ("WAITAOF", 1, 0, 1000)
            lat = _latency(ledger, waitaof, 30)
            progress(f"step + WAITAOF 1 0 1000 under everysec: {summary_ms(lat)}")
            rate = _rate(ledger.stepper(*waitaof))
            rows.append(WAITAOF_1.measured(rate, reference))

            def window(n: int = 10) -> int:
                for _ in range(n - 1):
                    ledger.step()
                ledger.step_then(*waitaof)
                return n

            rows.append(WAITAOF_10.measured(_rate(window), reference))
            ledger.client.close()

        with _server(exe, work, "always", "--appendfsync", "always") as server:
            ledger = Ledger(redis.Redis(port=server.port))
            rate = _rate(ledger.step)
            rows.append(ALWAYS.measured(rate, reference))
            lat = _latency(ledger, ("WAITAOF", 1, 0, 1000), 200)
            progress(f"step + WAITAOF 1 0 1000 under always: {summary_ms(lat)}")
            rate = _rate(ledger.stepper("WAITAOF", 1, 0, 1000))
            rows.append(ALWAYS_WAITAOF.measured(rate, reference))
            ledger.client.close()

        with (
            _server(exe, work, "master", "--appendfsync", "everysec") as master,
            _server(
                exe, work, "replica", "--appendfsync", "everysec",
                "--replicaof", "127.0.0.1", str(master.port),
            ),
        ):  # fmt: skip
            ledger = Ledger(redis.Redis(port=master.port))
            _wait_online(ledger.client)
            lat = _latency(ledger, ("WAIT", 1, 1000), 200)
            progress(f"step + WAIT 1 1000 with one replica: {summary_ms(lat)}")
            if ledger.step_then("WAIT", 1, 1000) != 1:
                raise RuntimeError("WAIT 1 did not see the replica's ack")
            rate = _rate(ledger.stepper("WAIT", 1, 1000))
            rows.append(REPLICA.measured(rate, reference))
            ledger.client.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for row in rows:
        progress(f"{row.name}: {row.value:,.0f} {UNIT} ({row.ratio:.3g}× reference)")
    return rows


def run(stack: Stack) -> list[Row]:
    return measure()  # its own servers: each row needs its own appendfsync / a replica


BENCH = Bench("Ledger durability (issue #12)", ROWS, run)


if __name__ == "__main__":
    from bench.run import table

    print(table(measure()))
    sys.exit(0)
