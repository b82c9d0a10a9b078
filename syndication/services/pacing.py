"""A send session's view of the per-domain pacer (store/domain_pacing.py).

The session asks ``wait(group)`` before it begins a recipient: 0 means go (a token was
taken), more means put the recipient aside for later in the run. Only groups with a rate
of their own, or slowed by a throttling answer somewhere in the fleet, cost a Redis call;
the set of slowed groups is read again at most once a second, and a pause the session
learned is remembered (up to a second) so a backlog for a paused domain is set aside
without a round trip per recipient.
"""

from __future__ import annotations

import time

from syndication.deliver.smtp import Outcome, SendResult
from syndication.store.domain_pacing import DomainPacer

REFRESH_S = 1.0  # how stale the session's view of the slowed groups may be


class DomainGate:
    """Per-session cache in front of a fleet-wide ``DomainPacer``."""

    def __init__(self, pacer: DomainPacer) -> None:
        self.pacer = pacer
        self._tokens: dict[str, int] = {}
        # group → (ask Redis again after, the wait it said, when it said it): monotonic
        self._paused: dict[str, tuple[float, float, float]] = {}
        self._slowed: set[str] = set()
        self._halted: dict[str, float] = {}  # group → monotonic end of a throttle it saw
        self._read_at = -REFRESH_S

    def group(self, email: str) -> str:
        return self.pacer.group_of(email)

    def _refresh(self, now: float) -> None:
        if now - self._read_at >= REFRESH_S:
            self._slowed = self.pacer.slowed()
            self._read_at = now

    def paused(self, group: str) -> bool:
        """The session saw the group throttle within the last second (no Redis): what it
        began for the group since is better handed back than offered."""
        return self._halted.get(group, 0.0) > time.monotonic()

    def _pause(self, group: str, wait: float, now: float) -> None:
        self._paused[group] = (now + min(wait, REFRESH_S), wait, now)

    def wait(self, group: str) -> float:
        """0: send to ``group`` now (one token taken); else seconds until it may be tried."""
        now = time.monotonic()
        recheck, said, said_at = self._paused.get(group, (0.0, 0.0, 0.0))
        if recheck > now:
            return max(said - (now - said_at), recheck - now)
        self._refresh(now)
        if not self.pacer.limited(group) and group not in self._slowed:
            return 0.0
        if self._tokens.get(group, 0) > 0:
            self._tokens[group] -= 1
            return 0.0
        taken, wait = self.pacer.try_take(group, self.pacer.chunk(group))
        if taken:
            self._tokens[group] = taken - 1
            return 0.0
        self._pause(group, wait, now)
        return wait

    def observe(self, group: str, result: SendResult) -> None:
        """Slow the group down on a throttling answer; let it recover on a success."""
        if result.throttled:
            pause = self.pacer.throttled(group)
            self._slowed.add(group)
            self._tokens.pop(group, None)
            now = time.monotonic()
            self._pause(group, pause, now)
            self._halted[group] = now + min(pause, REFRESH_S)
        elif (
            result.outcome is Outcome.SENT
            and group in self._slowed
            and self.pacer.succeeded(group) >= 1.0
        ):
            self._slowed.discard(group)
