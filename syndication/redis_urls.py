"""Redis URLs as the operator writes them, read without importing redis.

Three shapes: one server (``redis://``, ``rediss://``, ``unix://``), a Redis Cluster
(``redis+cluster://host:port[,host:port…]``, any nodes: the client learns the rest) and a
Sentinel-watched master (``redis+sentinel://host:port[,host:port…]/service[/db]``). Config,
the store's connection and the Celery broker all read them here, so they agree on what a
URL means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

SINGLE_SCHEMES = ("redis", "rediss", "unix")
CLUSTER = "redis+cluster"
SENTINEL = "redis+sentinel"
SCHEMES = (*SINGLE_SCHEMES, CLUSTER, SENTINEL)
DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True)
class RedisUrl:
    """One parsed URL: ``kind`` is ``single``, ``cluster`` or ``sentinel``."""

    url: str
    kind: str
    nodes: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None

    @property
    def cluster(self) -> bool:
        return self.kind == "cluster"

    @property
    def sentinel(self) -> bool:
        return self.kind == "sentinel"


def parse(url: str) -> RedisUrl:
    """The URL's parts; ``ValueError`` names what is wrong with it."""
    scheme = url.partition("://")[0].lower()
    if scheme not in SCHEMES:
        raise ValueError(
            "must be a redis://, rediss://, unix://, redis+cluster:// or redis+sentinel:// URL"
        )
    if scheme in SINGLE_SCHEMES:
        return RedisUrl(url, "single")
    rest = url.partition("://")[2]
    netloc, _, path = rest.partition("/")
    auth, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = auth.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    default_port = DEFAULT_SENTINEL_PORT if scheme == SENTINEL else 6379
    nodes = tuple(_node(item, default_port) for item in hosts.split(",") if item)
    if not nodes:
        raise ValueError(f"{scheme}:// needs at least one host:port")
    if scheme == CLUSTER:
        return RedisUrl(url, "cluster", nodes, username=username, password=password)
    service, _, db = path.split("?")[0].partition("/")
    if not service:
        raise ValueError(
            "redis+sentinel:// needs the master's service name: "
            "redis+sentinel://host:26379/mymaster"
        )
    if db and not db.isdigit():
        raise ValueError("redis+sentinel://…/service/DB: DB must be a number")
    return RedisUrl(url, "sentinel", nodes, service, int(db or 0), username, password)


def _node(item: str, default_port: int) -> tuple[str, int]:
    host, colon, port = item.strip().rpartition(":")
    if not colon:
        return item.strip(), default_port
    if not port.isdigit():
        raise ValueError(f"bad port in {item!r}")
    return host.strip("[]"), int(port)


def redacted(url: str) -> str:
    """``redis://:secret@host:6379/0`` → ``redis://host:6379/0``: URLs go into error lines."""
    try:
        parsed = parse(url)
    except ValueError:
        return url.partition("://")[0] + "://…"
    if parsed.kind != "single":
        hosts = ",".join(f"{h}:{p}" for h, p in parsed.nodes)
        tail = f"/{parsed.service}" if parsed.sentinel else ""
        return f"{url.partition('://')[0]}://{hosts}{tail}"
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or "localhost"
    port = parts.port or 6379
    return f"{parts.scheme}://{host}:{port}{parts.path or ''}"


def kombu_broker(url: str) -> tuple[str, dict[str, Any]]:
    """The Celery broker URL and extra transport options for ``url``.

    kombu's Redis transport speaks to one server or to Sentinel (its ``sentinel://`` URLs
    with the ``master_name`` option), never to a Redis Cluster: its queues are lists and
    sorted sets spread over keys it names itself, and it runs multi-key commands on them."""
    parsed = parse(url)
    if parsed.cluster:
        raise ValueError("Celery cannot use a Redis Cluster as its broker")
    if not parsed.sentinel:
        return url, {}
    userinfo, at, _ = url.partition("://")[2].partition("/")[0].rpartition("@")
    auth = f"{userinfo}{at}"  # as written (still %-quoted)
    hosts = ";".join(f"sentinel://{auth}{h}:{p}/{parsed.db}" for h, p in parsed.nodes)
    return hosts, {"master_name": parsed.service}
