"""A killed parent leaves no Redis behind (the demo and the test suite rely on it)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

from tests.support import wait_for

SCRIPT = """
import sys, time
from syndication.embedded_redis import EmbeddedRedis
server = EmbeddedRedis().start()
print(server.port, flush=True)
time.sleep(600)
"""


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_embedded_redis_dies_with_a_sigkilled_parent():
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    port = int(parent.stdout.readline())
    assert _listening(port)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    wait_for(lambda: not _listening(port), timeout=20)
