"""Digest delivery throughput: edition start → every message accepted by postfix's smtp-sink.

Reported next to the ceiling of postfix's own C client (``smtp-source`` → ``smtp-sink``,
same message size, ``-d`` reusing connections, as many sessions as we use connections), in
the same run. Memory: peak RSS (VmHWM) of the worker processes, 10,000 vs 100,000 recipients.

    .venv/bin/python -m bench.run_one bench.digest_send
    DIGEST_BENCH_N=20000 … (smaller runs while trying things)

Installs the ``postfix`` package non-interactively when smtp-sink is missing (FIELD-NOTES).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from bench.common import Bench, Row, RowSpec, Stack, Target, add_subscribers, article_data, progress
from syndication.config import load_settings
from syndication.embedded_redis import free_port

N_LARGE = int(os.environ.get("DIGEST_BENCH_N", "100000"))
N_SMALL = max(1, N_LARGE // 10)
WORKER_PROCESSES = int(os.environ.get("DIGEST_BENCH_PROCESSES", "2"))  # one per core here
CONNECTIONS = int(os.environ.get("DIGEST_BENCH_CONNECTIONS", "2"))  # SMTP sessions per task
SESSIONS = WORKER_PROCESSES * CONNECTIONS

ROWS = (
    RowSpec("digest send throughput", "msg/s", "msg/s", Target(">=", 1000, "msg/s")),
    RowSpec("share of smtp-source ceiling", "%", "", Target(">=", 40, "%")),
    RowSpec("peak worker RSS (large)", "MB", "MB", Target("<=", 250, "MB")),
    RowSpec("worker RSS growth small→large", "%", "", Target("<=", 15, "%")),
    # The cost of durable sends (issue #12): the same edition with Redis on appendfsync
    # always (every begin on disk before DATA), against the everysec run above. No target:
    # it depends on the disk's fsync; the README quotes it.
    RowSpec("digest send throughput, appendfsync always", "msg/s", "msg/s everysec"),
    # Issue #14: every message signed with RSA-2048 and Ed25519 (RFC 8463 dual signing).
    RowSpec(
        "digest send throughput, DKIM on (rsa + ed25519)",
        "msg/s",
        "msg/s smtp-source",
        Target(">=", 800, "msg/s"),
    ),
    RowSpec("DKIM on: share of smtp-source ceiling", "%", "", Target(">=", 25, "%")),
)
N_DURABLE = max(1, N_LARGE // 5)
N_DKIM = max(1, N_LARGE // 5)


def _dkim_env(work: Path) -> dict[str, str]:
    """A fresh RSA-2048 and Ed25519 key in PEM files, and the settings that name them."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    env = {"SYNDICATION_DKIM_DOMAIN": "bench.example.org"}
    keys = (
        ("", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ED25519_", ed25519.Ed25519PrivateKey.generate()),
    )
    for kind, key in keys:
        path = work / f"dkim-{kind or 'RSA_'}key.pem"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        env[f"SYNDICATION_DKIM_{kind}SELECTOR"] = f"bench{kind.lower().rstrip('_')}"
        env[f"SYNDICATION_DKIM_{kind}KEY_FILE"] = str(path)
    return env


def _postfix_tools() -> tuple[str, str]:
    sink, source = shutil.which("smtp-sink"), shutil.which("smtp-source")
    for candidate in ("/usr/sbin/smtp-sink", "/usr/sbin/smtp-source"):
        if Path(candidate).exists():
            if candidate.endswith("sink"):
                sink = candidate
            else:
                source = candidate
    if not (sink and source):
        progress("installing postfix (smtp-sink, smtp-source) …")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "postfix"], env=env, check=True, capture_output=True
        )
        return _postfix_tools()
    return sink, source


class Sink:
    def __init__(self, exe: str, work: Path) -> None:
        self.port = free_port()
        self.log = (work / f"smtp-sink-{self.port}.log").open("wb")
        args = [exe]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        args += [f"127.0.0.1:{self.port}", "1024"]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise RuntimeError("smtp-sink exited at start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


def _ceiling(source: str, port: int, size: int, count: int) -> float:
    """smtp-source with SESSIONS sessions reusing connections (-d): messages per second."""
    start = time.perf_counter()
    subprocess.run(
        [
            source,
            "-d",
            "-s",
            str(SESSIONS),
            "-m",
            str(count),
            "-l",
            str(size),
            "-f",
            "bench@example.org",
            "-t",
            "sink@example.org",
            f"127.0.0.1:{port}",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return count / (time.perf_counter() - start)


def _articles(client: redis.Redis, prefix: str) -> None:
    from syndication.models import Article
    from syndication.store.articles import ArticleStore

    store = ArticleStore(client, prefix)
    now = datetime.now(UTC)
    for n in range(15):
        data = article_data("digest", n, published_at=now - timedelta(minutes=30 + n))
        data["topics"] = ["Coca", "Peru", "Colombia", "Mexico"][: 1 + n % 4]
        store.upsert(Article.model_validate(data), now)


def _rss_mb(pids: list[int]) -> float:
    peak = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", text)
        if match:
            peak = max(peak, int(match.group(1)))
    return peak / 1024


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _run_edition(
    stack: Stack, sink: Sink, n: int, tag: str, extra: dict[str, str] | None = None
) -> tuple[float, float, int]:
    """Seconds from edition start to all accepted, peak child RSS (MB), message size.
    ``extra``: more settings for the workers and the service (the DKIM keys)."""
    from celery import Celery

    from syndication.services.digests import MailSettings, make_digest_service
    from syndication.store.connection import connect
    from workers.celery_app import celery_config
    from workers.events import CeleryEvents

    assert stack.redis is not None
    prefix = f"{stack.prefix}{tag}-"
    env = {**stack.env, "SYNDICATION_KEY_PREFIX": prefix, **(extra or {})}
    env["SYNDICATION_SMTP_URL"] = f"smtp://127.0.0.1:{sink.port}"
    settings = load_settings(env)
    client = connect(stack.redis.url)
    progress(f"[{tag}] {n:,} subscribers …")
    add_subscribers(client, prefix, n)
    _articles(client, prefix)
    log = stack.work_dir / f"mail-worker-{tag}.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery_app",
                "worker",
                "--include",
                "workers.mail_tasks",
                "-Q",
                "mail",
                "--pool",
                "prefork",
                "--concurrency",
                str(WORKER_PROCESSES),
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "WARNING",
            ],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while len(_children(worker.pid)) < WORKER_PROCESSES:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mail worker did not start: " + log.read_text()[-2000:])
            time.sleep(0.2)
        time.sleep(1.0)
        celery = Celery("bench", set_as_current=False)
        celery.conf.update(celery_config(settings))
        mail = MailSettings(fanout=WORKER_PROCESSES, connections=CONNECTIONS)
        service = make_digest_service(
            settings, client, CeleryEvents(celery, settings), mail=mail, with_sender=False
        )
        progress(f"[{tag}] edition start …")
        start = time.perf_counter()
        created = service.create_edition("daily", datetime.now(UTC))
        assert created.edition_id, created.reason
        frozen = time.perf_counter() - start
        edition_id = created.edition_id
        peak = 0.0
        while True:
            edition = service.status(edition_id)
            assert edition is not None
            peak = max(peak, _rss_mb(_children(worker.pid)))
            if edition.status.value not in ("sending", "creating"):
                break
            if worker.poll() is not None:
                raise RuntimeError("mail worker died: " + log.read_text()[-2000:])
            time.sleep(0.25)
        elapsed = time.perf_counter() - start
        c = edition.counts
        progress(
            f"[{tag}] {edition.status.value}: {c['sent']:,} sent, {c['failed']} failed, "
            f"{c['uncertain']} uncertain in {elapsed:.1f}s (freeze {frozen:.1f}s), "
            f"peak child RSS {peak:.0f} MB"
        )
        if c["sent"] != n:
            raise RuntimeError(f"only {c['sent']} of {n} sent: {c}")
        seg = next(iter(service.editions.segments(edition_id)))
        size = len(service.message(edition, next(service.editions.iter_recipients(edition_id))))
        del seg
        return elapsed, peak, size
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def run(stack: Stack) -> list[Row]:
    sink_exe, source_exe = _postfix_tools()
    sink = Sink(sink_exe, stack.work_dir)
    try:
        _small_s, small_rss, _ = _run_edition(stack, sink, N_SMALL, "small")
        large_s, large_rss, size = _run_edition(stack, sink, N_LARGE, "large")
        rate = N_LARGE / large_s
        progress(f"smtp-source ceiling: {SESSIONS} sessions, {size:,}-byte messages …")
        ceiling = _ceiling(source_exe, sink.port, size, min(N_LARGE, 50_000))
        progress(f"ours {rate:,.0f} msg/s vs smtp-source {ceiling:,.0f} msg/s")
        assert stack.redis is not None
        admin = redis.Redis.from_url(stack.redis.url)
        admin.config_set("appendfsync", "always")
        try:
            durable_s, _, _ = _run_edition(stack, sink, N_DURABLE, "durable")
        finally:
            admin.config_set("appendfsync", "everysec")
            admin.close()
        durable_rate = N_DURABLE / durable_s
        progress(f"appendfsync always: {durable_rate:,.0f} msg/s (everysec {rate:,.0f})")
        dkim_s, _, signed_size = _run_edition(
            stack, sink, N_DKIM, "dkim", _dkim_env(stack.work_dir)
        )
        dkim_rate = N_DKIM / dkim_s
        progress(
            f"DKIM on: {dkim_rate:,.0f} msg/s ({signed_size:,} bytes a message; "
            f"unsigned {rate:,.0f}, smtp-source {ceiling:,.0f})"
        )
    finally:
        sink.stop()
    growth = (large_rss - small_rss) / small_rss * 100 if small_rss else 0.0
    return [
        ROWS[0].measured(rate, ceiling),
        ROWS[1].measured(rate / ceiling * 100),
        ROWS[2].measured(large_rss, small_rss),
        ROWS[3].measured(growth),
        ROWS[4].measured(durable_rate, rate),
        ROWS[5].measured(dkim_rate, ceiling),
        ROWS[6].measured(dkim_rate / ceiling * 100),
    ]


BENCH = Bench("Digest delivery (smtp-sink)", ROWS, run)


def main() -> Any:  # pragma: no cover - convenience
    from bench.run_one import main as run_one

    return run_one(["bench.digest_send"])


if __name__ == "__main__":
    sys.exit(main())
