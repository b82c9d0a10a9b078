"""The one source of "now" for the services: a callable, so a test or a replay passes its own.

Services and web faces take a ``Clock`` (``Context.clock``) instead of calling
``datetime.now`` themselves; that keeps their output a function of their input and lets the
test suite run on a fixed date, whatever the machine's calendar says.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The machine's time, timezone-aware in UTC (never a naive datetime)."""
    return datetime.now(UTC)
