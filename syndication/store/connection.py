"""Opening Redis (one server, a Cluster or a Sentinel-watched master), and saying clearly
where it could not be reached."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from syndication.redis_urls import RedisUrl, parse
from syndication.redis_urls import redacted as redacted

# What the layers above name instead of importing redis (tests/test_layers.py).
Client = redis.Redis
RedisError = redis.exceptions.RedisError
ConnectionFailed = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class StoreUnavailable(Exception):
    """Redis did not answer; the message names where we looked (without the password)."""


class ClusterClient(RedisCluster):  # type: ignore[misc]
    """A RedisCluster whose ``pipeline()`` is a MULTI/EXEC transaction unless told otherwise,
    as redis.Redis's is: the stores' ``pipeline()`` + WATCH code then runs unchanged (and
    Redis refuses, with CROSSSLOT, a transaction whose keys are not in one slot)."""

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        return super().pipeline(transaction=transaction, shard_hint=shard_hint)


def is_cluster(client: Any) -> bool:
    return isinstance(client, RedisCluster)


def _options() -> dict[str, Any]:
    # A few quick retries ride out a Redis restart or failover; more would leave a web
    # request hanging for seconds when Redis is really gone (it gets a 503 instead).
    return {
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
        "health_check_interval": 30,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
    }


def _client(url: str, parsed: RedisUrl) -> Any:
    auth = {"username": parsed.username, "password": parsed.password}
    if parsed.cluster:
        nodes = [ClusterNode(host, port) for host, port in parsed.nodes]
        return ClusterClient(startup_nodes=nodes, **auth, **_options())
    if parsed.sentinel:
        sentinel = Sentinel(list(parsed.nodes), socket_connect_timeout=3, socket_timeout=3)
        return sentinel.master_for(parsed.service, db=parsed.db, **auth, **_options())
    return redis.Redis.from_url(url, **_options())


def connect(url: str, *, check: bool = True) -> Any:
    """A client for ``url``; with ``check`` it pings so a wrong URL fails now, not later.

    A cluster client is built by asking a node for the slot map, so it always checks."""
    try:
        client = _client(url, parse(url))
        if check:
            client.ping()
    except (*ConnectionFailed, redis.exceptions.RedisClusterException) as exc:
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


_listener_turn = 0


def async_pubsub_client(url: str, **options: Any) -> Any:
    """An asyncio client to SUBSCRIBE on (web/feed_front.py's listener).

    On a Cluster a classic PUBLISH reaches subscribers on every node, so the listener
    talks to one listed node, the next one on each reconnect (a node that went away is
    then passed over); with Sentinel, to the current master."""
    global _listener_turn
    import redis.asyncio as aioredis
    from redis.asyncio.sentinel import Sentinel as AsyncSentinel

    parsed = parse(url)
    auth = {"username": parsed.username, "password": parsed.password}
    if parsed.cluster:
        host, port = parsed.nodes[_listener_turn % len(parsed.nodes)]
        _listener_turn += 1
        return aioredis.Redis(host=host, port=port, **auth, **options)
    if parsed.sentinel:
        sentinel = AsyncSentinel(list(parsed.nodes), socket_connect_timeout=3, socket_timeout=3)
        return sentinel.master_for(parsed.service, db=parsed.db, **auth, **options)
    return aioredis.Redis.from_url(url, **options)
