"""Child processes that never outlive the process that started them."""

from __future__ import annotations

import signal


def die_with_parent() -> None:
    """``preexec_fn`` for Popen: if the parent dies, even by SIGKILL, the kernel sends the
    child SIGTERM, so a killed demo or test run leaves no Redis, worker or web behind.
    Linux only; elsewhere it does nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
