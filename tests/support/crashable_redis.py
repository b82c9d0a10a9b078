"""A redis-server whose SIGKILL is a host crash: for tests of what survives power loss.

    shim = build_aofcrash(tmp_dir)                        # None: no C compiler (skip)
    exe = find_redis_server(min_version=(7, 2))           # syndication.embedded_redis
    with CrashableRedis(tmp_path / "redis", executable=exe, appendfsync="everysec",
                        shim=shim) as server:
        client = server.client()
        ... write ...
        server.crash()      # SIGKILL: with the shim, what was never fsynced is gone
        server.restart()    # same port, same data dir: Redis loads the AOF that is left
        ... check ...

Without the shim, SIGKILL only kills the process: the kernel keeps every byte Redis wrote,
so nothing acknowledged is lost and the test proves nothing about a host crash.
``tests/tools/aofcrash.c`` holds Redis's AOF writes in the process until it fsyncs them.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import IO

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from syndication.embedded_redis import EmbeddedRedis, redis_server_version
from tests.support import TESTS

AOFCRASH_SOURCE = TESTS / "tools" / "aofcrash.c"


def build_aofcrash(out_dir: Path | None = None) -> Path | None:
    """Compile tests/tools/aofcrash.c once (cached by its hash in ``out_dir``, default the
    temp dir); None when there is no C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    source = AOFCRASH_SOURCE.read_bytes()
    tag = hashlib.sha256(source).hexdigest()[:16]
    folder = out_dir or Path(tempfile.gettempdir())
    out = folder / f"aofcrash-{tag}.so"
    if not out.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkstemp(prefix=out.name, suffix=".tmp", dir=folder)[1])
        subprocess.run(
            [cc, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(partial), str(AOFCRASH_SOURCE),
             "-ldl", "-lpthread"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        partial.replace(out)  # atomic, so concurrent sessions never load half a library
    return out


class CrashableRedis(EmbeddedRedis):
    """redis-server with AOF on, ``appendfsync`` as chosen, and optionally the aofcrash shim.

    ``crash()`` SIGKILLs it; ``restart()`` starts it again on the same port and data dir.
    ``version()`` is the binary's (7, 4, 1). ``shim_messages()`` is what the shim printed
    (``aofcrash: dropped …`` when an AOF fd was closed with bytes never fsynced)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        executable: str,
        appendfsync: str = "everysec",
        shim: Path | None = None,
        args: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        self.version_tuple = redis_server_version(executable)
        # Redis 7 keeps the multi-part AOF in `appenddirname`; 6.x writes appendonly.aof
        # (and the rewrite's temp files) in the data dir itself.
        aof_dir = data_dir / "appendonlydir" if self.version_tuple >= (7, 0, 0) else data_dir
        env = {"LD_PRELOAD": str(shim), "AOFCRASH_DIR": str(aof_dir.resolve())} if shim else {}
        super().__init__(
            data_dir,
            port,
            executable=executable,
            args=["--appendfsync", appendfsync, *args],
            env=env,
        )
        self.shim = shim
        self._stderr_file: IO[bytes] | None = None

    def _stderr(self) -> int | IO[bytes]:
        if self._stderr_file is not None:
            self._stderr_file.close()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stderr_file = (self.data_dir / "stderr.log").open("ab")
        return self._stderr_file

    def version(self) -> tuple[int, int, int]:
        return self.version_tuple

    def client(self, **kwargs: object) -> redis.Redis:
        """A client that does not retry (redis-py's default retries a lost connection with
        backoff: a test must see the crash, not wait it out or write around it)."""
        options: dict[str, object] = {"retry": Retry(NoBackoff(), 0), **kwargs}
        return redis.Redis(port=self.port, **options)  # type: ignore[arg-type]

    def crash(self) -> None:
        """SIGKILL, and wait until the process is gone: with the shim, a host crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def restart(self) -> None:
        """Start again on the same port and data dir; a running server is stopped cleanly
        first (SIGTERM: Redis fsyncs on the way out), a crashed one is just started."""
        if self.proc is not None:
            self.stop(cleanup=False)
        self.start()

    def shim_messages(self) -> list[str]:
        log = self.data_dir / "stderr.log"
        if not log.exists():
            return []
        return [line for line in log.read_text(errors="replace").splitlines() if "aofcrash" in line]

    def stop(self, *, cleanup: bool = True) -> None:
        super().stop(cleanup=cleanup)
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None

    def __enter__(self) -> CrashableRedis:
        self.start()
        return self
