"""Fixtures for tests about tasks: a real ``syndication worker`` process on the test's Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.workers import WorkerProcess


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[WorkerProcess]:
    proc = WorkerProcess(env, tmp_path / "worker.log")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()
