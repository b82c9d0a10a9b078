"""Opening Redis, and saying clearly where it could not be reached."""

from __future__ import annotations

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
