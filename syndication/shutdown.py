"""A process-wide drain flag: "finish what is in flight, hand the rest back, and stop".

Why a flag and not an exception or a kill: a send task that is killed mid-transaction leaves
a message whose delivery nobody knows (the ledger marks it uncertain when the lease runs
out), and its other claimed recipients wait for that lease. A sender that *sees* a request
to stop between two messages can mark the one it just sent, release the rest and return
within seconds. So whoever learns that the process is going away (the worker's shutdown
signal handlers, ``workers/lifecycle.py``) calls ``request``; the send loop asks
``requested()`` between messages, and its waits for Redis use ``wait`` so they end early.

``request`` runs inside signal handlers, so it takes no lock: it sets a variable and writes
one byte to a pipe that ``wait`` polls (a ``threading.Event`` could deadlock there, if the
signal lands while the main thread holds the event's own lock). The flag belongs to one
process: a forked child starts without it (the worker forwards it to its pool processes).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading

_reason: str | None = None
_pipe: tuple[int, int] | None = None  # (read, write), made by the first ``wait``
_pipe_lock = threading.Lock()  # taken by ``wait`` only, never by ``request``


def request(reason: str) -> None:
    """Ask this process to drain; the first reason is kept. Safe in a signal handler."""
    global _reason
    if _reason is None:
        _reason = reason
    pipe = _pipe
    if pipe is not None:
        with contextlib.suppress(OSError):  # full (already woken) or closed by reset()
            os.write(pipe[1], b"\0")


def requested() -> bool:
    """Has this process been asked to drain? (Cheap: call it between messages.)"""
    return _reason is not None


def reason() -> str | None:
    """Why the drain was asked for (the first ``request``), or None."""
    return _reason


def wait(timeout: float | None) -> bool:
    """Sleep up to ``timeout`` seconds (None: until asked), returning at once when a drain is
    requested; True if it is. Use it instead of ``time.sleep`` in a loop that waits for
    Redis or for the next tick, so a shutdown does not wait out the sleep."""
    read_end = _ensure_pipe()
    if _reason is not None:  # after the pipe exists: a request from now on writes to it
        return True
    poller = select.poll()
    poller.register(read_end, select.POLLIN)
    poller.poll(None if timeout is None else max(0, int(timeout * 1000)))
    return _reason is not None


def reset() -> None:
    """Forget the request (tests; and a forked child, which decides for itself)."""
    global _reason, _pipe
    with _pipe_lock:
        _reason = None
        pipe, _pipe = _pipe, None
    if pipe is not None:
        for fd in pipe:
            with contextlib.suppress(OSError):
                os.close(fd)


def _ensure_pipe() -> int:
    global _pipe
    pipe = _pipe
    if pipe is None:
        with _pipe_lock:
            if _pipe is None:
                read_end, write_end = os.pipe()
                os.set_blocking(write_end, False)  # ``request`` must never block
                _pipe = (read_end, write_end)
            pipe = _pipe
    return pipe[0]


def _after_fork_in_child() -> None:
    """A child does not share the parent's pipe (a request there must not wake waits
    here) nor its request; the pipe lock may have been held by a thread that is gone."""
    global _reason, _pipe, _pipe_lock
    _pipe_lock = threading.Lock()
    pipe, _pipe, _reason = _pipe, None, None
    if pipe is not None:
        for fd in pipe:
            with contextlib.suppress(OSError):
                os.close(fd)


os.register_at_fork(after_in_child=_after_fork_in_child)
