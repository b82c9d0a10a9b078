"""Fixtures for tests about tasks: a real ``syndication worker`` process on the test's Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.workers import MailWorker, WorkerProcess


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[WorkerProcess]:
    proc = WorkerProcess(env, tmp_path / "worker.log")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def workers() -> Iterator[list[MailWorker]]:
    """Mail workers a test starts (``start_mail_worker``); stopped at its end."""
    started: list[MailWorker] = []
    yield started
    for w in started:
        w.stop()
