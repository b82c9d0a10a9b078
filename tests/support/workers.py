"""Real ``syndication worker`` processes (Celery prefork) for tests about tasks."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path
from typing import Any

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

    def records(self) -> list[dict[str, Any]]:
        """The worker's log records (one JSON object a line, ``syndication.logging_setup``);
        a line still being written is left for the next read."""
        out = []
        for line in self.text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return out

    def _task_ends(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(outcome, task name, task id, Celery's fields) for each task run that ended:
        ``succeeded`` or ``raised`` (a retry is not an end: the same id runs again)."""
        out = []
        for record in self.records():
            data = record.get("data")
            if record.get("logger") != "celery.app.trace" or not isinstance(data, dict):
                continue
            message = str(record.get("message", ""))
            head = f"Task {data.get('name')}[{data.get('id')}] "
            if message.startswith(head + "succeeded in "):
                out.append(("succeeded", str(data["name"]), str(data["id"]), data))
            elif message.startswith(head + "raised"):
                out.append(("raised", str(data["name"]), str(data["id"]), data))
        return out

    def task_results(self, name: str) -> list[Any]:
        """What each run of task ``name`` that succeeded returned, in the order they ended."""
        return [
            ast.literal_eval(data["return_value"])
            for outcome, task, _, data in self._task_ends()
            if outcome == "succeeded" and task == name
        ]

    def task_result(self, task_id: str, timeout: float = 60) -> Any:
        """Wait until the task ``task_id`` has finished on this worker; what it returned.

        The Celery app keeps no results (``task_ignore_result``, no result backend), so the
        worker's own log line "Task name[id] succeeded in …: <result>" is the event a test
        waits for. A task that raised, or a worker that exited, fails the wait at once."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            for outcome, _, tid, data in self._task_ends():
                if tid != task_id:
                    continue
                if outcome != "succeeded":
                    raise AssertionError(f"task {task_id} raised {data.get('exc')}:\n{self.text()}")
                return ast.literal_eval(data["return_value"])
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited before task {task_id} ended:\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"task {task_id} did not end within {timeout}s:\n{self.text()}"
                )
            time.sleep(0.05)

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


def start_mail_worker(
    workers: list[MailWorker], env: dict[str, str], tmp_path: Path, smtp: Any, **settings: str
) -> MailWorker:
    """A mail worker sending through ``smtp`` (a ``ScriptedSmtp``), added to ``workers``
    (the ``mail_workers`` fixture stops them); ``settings`` are extra SYNDICATION_*
    variables, given by their lower-case names."""
    extra = {f"SYNDICATION_{k.upper()}": v for k, v in settings.items()}
    log = tmp_path / f"worker{len(workers)}.log"
    w = MailWorker({**env, "SYNDICATION_SMTP_URL": smtp.url, **extra}, log)
    workers.append(w)
    w.wait_ready()
    return w
