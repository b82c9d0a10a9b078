"""Real ``syndication worker`` processes (Celery prefork) for tests about tasks."""

from __future__ import annotations

import os
import re
from pathlib import Path

from syndication.processes import die_with_parent


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


class MailWorker(WorkerProcess):
    """A worker on the mail queue that can tell how many messages it reported sent."""

    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 1) -> None:
        super().__init__(env, log, concurrency, queues="mail")

    def sent(self) -> int:
        return sum(int(n) for n in re.findall(r"batch: \{[^}]*'sent': (\d+)", self.text()))
