"""Opening Redis, and saying clearly where it could not be reached."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

# What the layers above name instead of importing redis (tests/test_layers.py).
Client = redis.Redis
RedisError = redis.exceptions.RedisError
ConnectionFailed = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class StoreUnavailable(Exception):
    """Redis did not answer; the message names where we looked (without the password)."""


def redacted(url: str) -> str:
    """``redis://:secret@host:6379/0`` → ``redis://host:6379/0``: URLs go into error lines."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or "localhost"
    port = parts.port or 6379
    return f"{parts.scheme}://{host}:{port}{parts.path or ''}"


def connect(url: str, *, check: bool = True) -> redis.Redis:
    """A client for ``url``; with ``check`` it pings so a wrong URL fails now, not later."""
    # A few quick retries ride out a Redis restart or failover; more would leave a web
    # request hanging for seconds when Redis is really gone (it gets a 503 instead).
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=3,
        socket_timeout=10,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
    )
    if check:
        try:
            client.ping()
        except ConnectionFailed as exc:
            raise StoreUnavailable(f"cannot reach Redis at {redacted(url)}: {exc}") from None
    return client


def ping(client: redis.Redis) -> float:
    """Milliseconds for one PING: the faces' reachability check goes through here, so no
    face calls the client itself (tests/test_layers.py)."""
    started = time.perf_counter()
    client.ping()
    return round((time.perf_counter() - started) * 1000, 2)


@dataclass(frozen=True)
class Persistence:
    """What Redis says about keeping its data: AOF on, RDB ``save`` rules, and whether
    CONFIG could be read at all (managed services often disable it)."""

    aof: bool
    save: str
    config_readable: bool


def persistence(client: redis.Redis) -> Persistence:
    """AOF and RDB settings, from CONFIG, or from INFO where CONFIG is disabled."""
    try:
        config = client.config_get("appendonly") | client.config_get("save")
    except RedisError:  # CONFIG disabled: INFO still says whether AOF is on
        info = client.info("persistence")
        return Persistence(bool(info.get("aof_enabled")), "", config_readable=False)
    return Persistence(config.get("appendonly") == "yes", (config.get("save") or "").strip(), True)
