"""A real Redis Cluster of three masters on loopback, and a Sentinel watching one master.

Built by hand, as an operator would: three ``redis-server --cluster-enabled yes``, each given
a third of the 16384 slots with ``CLUSTER ADDSLOTSRANGE``, joined with ``CLUSTER MEET``;
ready when every node reports ``cluster_state:ok`` and knows the others (polled, never
slept). No replicas: the tests are about slots, not failover. Starting it costs well under
a second.
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import redis

from syndication.embedded_redis import EmbeddedRedis, find_redis_server, free_port
from syndication.processes import die_with_parent
from tests.support import wait_for

SLOTS = 16384


def _info(port: int) -> dict[str, str]:
    with redis.Redis(port=port) as client:
        text = client.execute_command("CLUSTER", "INFO").decode()
    return dict(line.split(":", 1) for line in text.split() if ":" in line)


class LocalCluster:
    def __init__(self, masters: int = 3) -> None:
        # The bus port is given: the default (port + 10000) fails for ports above 55535.
        args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "5000", "--appendonly", "no"]  # fmt: skip
        self.bus_ports = [free_port() for _ in range(masters)]
        self.nodes = [EmbeddedRedis(args=[*args, "--cluster-port", str(p)]) for p in self.bus_ports]

    @property
    def url(self) -> str:
        """Any nodes will do (the client asks for the rest); two are listed."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:2])

    def start(self) -> LocalCluster:
        for node in self.nodes:
            node.start()
        share = SLOTS // len(self.nodes)
        for i, node in enumerate(self.nodes):
            last = SLOTS - 1 if i == len(self.nodes) - 1 else (i + 1) * share - 1
            with redis.Redis(port=node.port) as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", i * share, last)
        with redis.Redis(port=self.nodes[0].port) as first:
            for node, bus in zip(self.nodes[1:], self.bus_ports[1:], strict=True):
                first.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port, bus)
        wait_for(self._ready, timeout=60)
        return self

    def _ready(self) -> bool:
        for node in self.nodes:
            info = _info(node.port)
            if info.get("cluster_state") != "ok":
                return False
            if int(info.get("cluster_known_nodes", 0)) != len(self.nodes):
                return False
        return True

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()


class LocalSentinel:
    """One master and one ``redis-server <conf> --sentinel`` watching it as ``mymaster``;
    ready once the sentinel names the master (polled)."""

    SERVICE = "mymaster"

    def __init__(self, tmp: Path) -> None:
        self.master = EmbeddedRedis()
        self.port = free_port()
        self.conf = tmp / "sentinel.conf"  # Sentinel rewrites it: one of its own
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.SERVICE}"

    def start(self) -> LocalSentinel:
        self.master.start()
        self.conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.conf.parent}\n"
            f"sentinel monitor {self.SERVICE} 127.0.0.1 {self.master.port} 1\n"
        )
        self.proc = subprocess.Popen(
            [find_redis_server(), str(self.conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        wait_for(self._ready, timeout=60)
        return self

    def _ready(self) -> bool:
        try:
            with redis.Redis(port=self.port, socket_connect_timeout=0.5) as client:
                found = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.SERVICE)
        except redis.exceptions.ConnectionError:
            return False
        return bool(found) and int(found[1]) == self.master.port

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.master.stop()
