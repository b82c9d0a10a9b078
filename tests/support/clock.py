"""A clock a test holds in its hand: fixed until the test moves it.

The services take a ``Clock`` (``syndication.clock``); tests give them this one, so what
they assert does not depend on the day the suite runs. ``START`` is a fixed instant shortly
after the sample articles' publish dates (``article_data``: November 2026).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class ManualClock:
    """Callable like ``syndication.clock.system_clock``; ``advance`` moves it forward."""

    def __init__(self, start: datetime = START) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock tells aware times: give start a tzinfo")
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move the clock on by ``delta`` (or ``timedelta(**parts)``); returns the new now."""
        step = delta if delta is not None else timedelta(**parts)
        if step < timedelta(0):
            raise ValueError("time does not run backwards here")
        self.now += step
        return self.now

    def __repr__(self) -> str:
        return f"ManualClock({self.now.isoformat()})"
