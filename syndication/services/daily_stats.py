"""The admin's history: a daily snapshot of the counters, and per-day series from it.

Metric counters only grow and subscriber counts are levels: neither keeps a history
(partner pulls need none: the partner store counts them per day). ``snapshot`` copies them
into the day's hash (``store/daily.py``, 400 days' TTL); it runs on the fly when the admin
overview is opened, at most every ``EVERY`` (the suppression count is a scan), and a beat
task may call it too. ``series`` turns snapshots into days: levels as they were at the
day's last snapshot, counters as the growth since the previous snapshot (a day with none,
or a counter that went back — Redis emptied — is unknown).

Seam for deliverability: bounces and complaints are counted from the suppression list's
reasons (``SubscriberStore.suppression_kinds``), the only record of them today. When the
deliverability counters land, pass ``deliverability`` a function returning their
cumulative ``{"bounces": n, "complaints": n}`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from syndication.store.daily import DailySnapshots
from syndication.store.metrics import Metrics
from syndication.store.subscribers import STATUSES, SubscriberStore

EVERY = timedelta(minutes=10)
#: Counters that only grow: a day's value is the difference between snapshots.
COUNTERS = (
    "feed_requests",
    "feed_not_modified",
    "emails_sent",
    "emails_failed",
    "emails_uncertain",
    "bounces",
    "complaints",
)
LEVELS = tuple(f"subscribers_{s}" for s in STATUSES)


@dataclass(frozen=True)
class Day:
    day: date
    values: dict[str, int | None]


class DailyStats:
    def __init__(
        self,
        snapshots: DailySnapshots,
        metrics: Metrics,
        subscribers: SubscriberStore,
        deliverability: Callable[[], dict[str, int]] | None = None,
    ) -> None:
        self.snapshots = snapshots
        self.metrics = metrics
        self.subscribers = subscribers
        self.deliverability = deliverability or self._from_suppressions

    def _from_suppressions(self) -> dict[str, int]:
        kinds = self.subscribers.suppression_kinds()
        return {"bounces": kinds["bounce"], "complaints": kinds["complaint"]}

    def current(self) -> dict[str, int]:
        """The counters and levels now."""
        read = self.metrics.read()
        emails = read.get("emails_total", {})
        counts = self.subscribers.counts()["by_status"]
        return {
            "feed_requests": int(sum(read.get("feed_requests_by_feed_total", {}).values())),
            "feed_not_modified": int(sum(read.get("feed_not_modified_by_feed_total", {}).values())),
            "emails_sent": int(emails.get("sent", 0)),
            "emails_failed": int(emails.get("failed", 0)),
            "emails_uncertain": int(emails.get("uncertain", 0)),
            **self.deliverability(),
            **{f"subscribers_{s}": int(counts.get(s, 0)) for s in STATUSES},
        }

    def snapshot(self, now: datetime, force: bool = False) -> bool:
        """Write today's snapshot unless one was written less than ``EVERY`` ago."""
        day = now.date()
        at = self.snapshots.written_at(day)
        if not force and at is not None and now.timestamp() - at < EVERY.total_seconds():
            return False
        self.snapshots.write(day, self.current(), now.timestamp())
        return True

    def series(self, today: date, days: int = 30) -> list[Day]:
        """The last ``days`` days, oldest first (a day before the first snapshot is read
        so the first day's growth is known)."""
        span = [today - timedelta(days=n) for n in range(days, -1, -1)]
        stored = self.snapshots.read(span)
        out: list[Day] = []
        previous: dict[str, int] | None = stored.get(span[0])
        for day in span[1:]:
            snap = stored.get(day)
            values: dict[str, int | None] = dict.fromkeys(COUNTERS + LEVELS)
            if snap is not None:
                for name in LEVELS:
                    values[name] = snap.get(name)
                for name in COUNTERS:
                    values[name] = _growth(previous, snap, name)
                previous = snap
            out.append(Day(day, values))
        return out


def _growth(before: dict[str, int] | None, after: dict[str, int], name: str) -> int | None:
    if before is None or name not in before or name not in after:
        return None
    grown = after[name] - before[name]
    return grown if grown >= 0 else None
