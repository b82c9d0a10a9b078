"""What every task module shares: the typed task decorator and the per-process Context.

Tasks stay thin (ids in, one service call): they take their services from ``context()``,
the one ``Context`` of this worker process (syndication/context.py builds every service),
never wiring their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from celery.signals import worker_ready

from syndication.context import Context
from syndication.store.connection import ConnectionFailed
from workers.celery_app import app, current_settings
from workers.events import CeleryEvents

#: Redis hiccups and network errors: retried with backoff; anything else is permanent.
TEMPORARY = (*ConnectionFailed, OSError)
_F = TypeVar("_F", bound=Callable[..., Any])
_context: Context | None = None
_pid: int | None = None


def task(**options: Any) -> Callable[[_F], _F]:
    """``app.task`` with a type: Celery's decorator is untyped, the task bodies are not."""
    return cast(Callable[[_F], _F], app.task(**options))


def on_worker_ready(fn: _F) -> _F:
    """Run ``fn`` when the worker is ready (a strong reference: the signal keeps it)."""
    worker_ready.connect(fn, weak=False)
    return fn


def new_context() -> Context:
    """A Context on this process's settings whose events go to Celery (its own Redis client)."""
    settings = current_settings()
    return Context(settings, CeleryEvents(app, settings))


def context() -> Context:
    """One Context per worker process, made after the fork (redis-py reconnects per pid);
    its threads share it. A process forked after one was made makes its own."""
    global _context, _pid
    if _context is None or _pid != os.getpid():
        _context, _pid = new_context(), os.getpid()
    return _context
