"""A process-wide drain flag: a deploy's SIGTERM asks senders to stop between messages.

Why a flag and not an exception: a sender must finish the SMTP transaction it is in, record
its outcome, and hand back what it claimed but did not begin; only the sender knows where
those boundaries are, so it asks ``requested()`` at each of them. The worker's signal
plumbing (workers/lifecycle.py) sets it in every process that runs tasks.
"""

from __future__ import annotations

import threading

_flag = threading.Event()
_reason: list[str] = []


def request(reason: str = "shutdown") -> None:
    """Ask every sender in this process to stop at its next message boundary."""
    if not _flag.is_set():
        _reason[:] = [reason]
    _flag.set()


def requested() -> bool:
    return _flag.is_set()


def reason() -> str:
    return _reason[0] if _reason else ""


def wait(timeout: float | None = None) -> bool:
    """Sleep until a drain is requested or ``timeout`` passes; True when requested. Use
    instead of ``time.sleep`` in retry loops, so a drain is never slept through."""
    return _flag.wait(timeout)


def reset() -> None:
    """Clear the flag (tests, and a process that outlives one drain)."""
    _flag.clear()
    _reason.clear()
