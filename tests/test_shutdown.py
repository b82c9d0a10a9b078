"""The drain flag (syndication/shutdown.py): set from a signal handler, seen by waits in
other threads at once, and not inherited by a forked child."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

from syndication import shutdown


@pytest.fixture(autouse=True)
def clean_flag() -> Iterator[None]:
    shutdown.reset()
    yield
    shutdown.reset()


def test_request_sets_the_flag_and_keeps_the_first_reason() -> None:
    assert not shutdown.requested() and shutdown.reason() is None
    assert shutdown.wait(0) is False
    shutdown.request("first")
    shutdown.request("second")
    assert shutdown.requested() and shutdown.reason() == "first"
    assert shutdown.wait(0) is True
    shutdown.reset()
    assert not shutdown.requested() and shutdown.wait(0) is False


def test_a_request_from_a_signal_handler_ends_waits_in_other_threads() -> None:
    """The path a worker takes: the main thread's handler requests, sleeping threads wake
    (a wait of an hour ends; the test's own timeout is the deadline)."""
    woke: list[bool] = []
    waiting = threading.Barrier(4)

    def sleeper() -> None:
        waiting.wait()
        woke.append(shutdown.wait(3600))

    threads = [threading.Thread(target=sleeper) for _ in range(3)]
    for t in threads:
        t.start()
    waiting.wait()

    def handler(signum: int, _frame: FrameType | None) -> None:
        shutdown.request(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGUSR2, handler)
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        for t in threads:
            t.join(timeout=30)
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert woke == [True, True, True]
    assert shutdown.reason() == "SIGUSR2"


def test_a_forked_child_starts_without_the_request() -> None:
    shutdown.wait(0)  # the parent's pipe exists before the fork
    shutdown.request("parent")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's clean-up
        try:
            before = shutdown.requested()
            shutdown.request("child")
            os.write(write_end, f"{before} {shutdown.wait(0)}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    assert answer == "False True"
    assert shutdown.reason() == "parent"  # and the child's request stayed in the child
