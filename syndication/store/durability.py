"""How a sender makes its claim durable before the SMTP transaction (issue #12, DESIGN.md).

A recipient's ledger entry is *begun* (recorded as in flight) before the sender opens DATA.
If Redis then loses that write (a host crash with ``appendfsync everysec`` drops up to a
second of acknowledged writes), the entry comes back as never begun and is sent again: a
duplicate the ledger cannot see. So the begin must be on disk, or on a replica, before the
message goes out. Redis offers three ways, and this module picks one per connection:

- ``waitaof``: ``WAITAOF 1 0 timeout`` after the begin, on the same connection, so senders
  begin a *window* of entries per wait. Only trusted on Redis ≥ 8.0: before that, under
  ``appendfsync everysec`` it answers "fsynced" on the next timer tick without any fsync
  (upstream redis#13793, measured here: docs/ledger-durability.md), and under ``always``
  it adds nothing to ``always``.
- ``always``: the server fsyncs every write before it answers (``appendfsync always``);
  nothing to wait for.
- ``wait``: ``WAIT n timeout``: the begin reached ``n`` replicas (which survive the primary's
  host; they may still lose it all in a data-centre power cut).
- ``off``: nothing; a host crash can repeat the messages of its last second. ``auto``
  (default) takes the first of ``waitaof``, ``always``, ``wait`` the server supports and
  falls back to ``off`` with a warning, so the embedded demo Redis still sends.

What each guarantees, with the measured cost, is in the README's operations section.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis

from syndication.store.connection import is_cluster


class DurabilityMode(StrEnum):
    AUTO = "auto"
    WAITAOF = "waitaof"
    ALWAYS = "always"
    WAIT = "wait"
    OFF = "off"


MODES = tuple(m.value for m in DurabilityMode)
WAITAOF_TRUSTED = (8, 0)  # the first release whose WAITAOF waits for a real fsync


@dataclass(frozen=True)
class Durability:
    """The resolved way one sender makes its begins durable, and why it was chosen."""

    mode: DurabilityMode
    replicas: int = 1
    timeout_ms: int = 5000
    reason: str = ""

    @property
    def durable(self) -> bool:
        return self.mode is not DurabilityMode.OFF

    def command(self) -> tuple[Any, ...] | None:
        """The command to pipeline after a begin on the same connection, if any."""
        if self.mode is DurabilityMode.WAITAOF:
            return ("WAITAOF", 1, 0, self.timeout_ms)
        if self.mode is DurabilityMode.WAIT:
            return ("WAIT", self.replicas, self.timeout_ms)
        return None

    def confirmed(self, reply: Any) -> bool:
        """Did the reply to ``command()`` confirm the begin is durable?"""
        if self.mode is DurabilityMode.WAITAOF:
            return bool(reply) and int(reply[0]) >= 1
        if self.mode is DurabilityMode.WAIT:
            return int(reply) >= self.replicas
        return True


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def server_facts(client: redis.Redis) -> dict[str, Any]:
    """Version, AOF state, fsync policy and connected replicas, from INFO (and CONFIG GET
    when the server allows it: managed Redis often renames CONFIG). On a Cluster, what
    every primary offers (the oldest version, AOF only if on all …): an edition's slot may
    be on any of them."""
    if is_cluster(client):
        return _cluster_facts(client)
    return _node_facts(client)


def _cluster_facts(client: Any) -> dict[str, Any]:
    nodes = [_node_facts(client.get_redis_connection(n)) for n in client.get_primaries()]
    fsyncs = {f["appendfsync"] for f in nodes}
    return {
        "version": min((f["version"] for f in nodes), key=_version),
        "aof": all(f["aof"] for f in nodes),
        "appendfsync": fsyncs.pop() if len(fsyncs) == 1 else "mixed",
        "replicas": min(f["replicas"] for f in nodes),
        "cluster": True,
    }


def _node_facts(client: redis.Redis) -> dict[str, Any]:
    server = client.info("server")
    persistence = client.info("persistence")
    replication = client.info("replication")
    fsync = ""
    try:
        got = client.config_get("appendfsync")
        fsync = str(got.get("appendfsync", ""))
    except redis.exceptions.ResponseError:
        fsync = ""
    return {
        "version": str(server.get("redis_version", "0")),
        "aof": bool(int(persistence.get("aof_enabled", 0))),
        "appendfsync": fsync,
        "replicas": int(replication.get("connected_slaves", 0)),
    }


def _waits(mode: DurabilityMode, facts: dict[str, Any]) -> bool:
    """Whether WAITAOF/WAIT can be used: they must follow the write on its own connection,
    and a Cluster pipeline sends a keyless command to any node, so not on a Cluster."""
    if not facts.get("cluster"):
        return True
    if mode in (DurabilityMode.WAITAOF, DurabilityMode.WAIT):
        raise ValueError(
            f"mail_durability={mode.value} is not available on Redis Cluster: "
            "use always (appendfsync always on every primary) or off"
        )
    return False


def resolve(
    client: redis.Redis, wanted: str = "auto", replicas: int = 1, timeout_ms: int = 5000
) -> Durability:
    """The durability ``wanted`` (a ``DurabilityMode`` value) checked against the server.

    An explicit mode the server cannot give raises ``ValueError`` naming what is missing, so
    an operator who asked for durable sends never silently gets none; ``auto`` picks the
    best the server offers and says why in ``reason``.
    """
    mode = DurabilityMode(wanted)
    if mode is DurabilityMode.OFF:
        return Durability(DurabilityMode.OFF, reason="turned off (mail_durability=off)")
    facts = server_facts(client)
    waits = _waits(mode, facts)
    version = _version(facts["version"])
    has_waitaof = waits and version >= WAITAOF_TRUSTED and facts["aof"]
    always = facts["aof"] and facts["appendfsync"] == "always"
    has_replicas = waits and facts["replicas"] >= replicas
    if mode is DurabilityMode.WAITAOF and not has_waitaof:
        raise ValueError(
            "mail_durability=waitaof needs Redis ≥ 8.0 with appendonly yes: before 8.0 "
            "WAITAOF can confirm writes that were never fsynced (redis#13793) "
            f"(server: {facts['version']}, AOF {'on' if facts['aof'] else 'off'})"
        )
    if mode is DurabilityMode.ALWAYS and not always:
        raise ValueError(
            "mail_durability=always needs appendonly yes and appendfsync always "
            f"(server: AOF {'on' if facts['aof'] else 'off'}, "
            f"appendfsync {facts['appendfsync'] or 'unknown'})"
        )
    if mode is DurabilityMode.WAIT and not has_replicas:
        raise ValueError(
            f"mail_durability=wait needs {replicas} connected replica(s) "
            f"(server has {facts['replicas']})"
        )
    if mode is DurabilityMode.AUTO:
        if always:
            mode = DurabilityMode.ALWAYS
        elif has_waitaof:
            mode = DurabilityMode.WAITAOF
        elif has_replicas:
            mode = DurabilityMode.WAIT
        else:
            return Durability(
                DurabilityMode.OFF,
                reason=(
                    f"Redis {facts['version']} with AOF {'on' if facts['aof'] else 'off'} "
                    f"(appendfsync {facts['appendfsync'] or 'unknown'}) and no replica offers "
                    "no durable write: a host crash can repeat its last second of sends"
                ),
            )
    reasons = {
        DurabilityMode.ALWAYS: "appendfsync always: every write is on disk before Redis answers",
        DurabilityMode.WAITAOF: (
            f"WAITAOF on Redis {facts['version']} (appendfsync {facts['appendfsync'] or '?'})"
        ),
        DurabilityMode.WAIT: f"WAIT for {replicas} replica(s)",
    }
    return Durability(mode, replicas=replicas, timeout_ms=timeout_ms, reason=reasons[mode])
