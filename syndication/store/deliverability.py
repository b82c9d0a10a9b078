"""Rolling counts of what mailbox providers judge a sender by: messages sent, hard bounces
and complaints, per UTC day and per edition.

One small hash a day (``{prefix}deliv:day:2026-12-01``) and one per edition, each expiring
``TTL_DAYS`` after its last write, so the 30-day window Gmail and Yahoo look at can always
be summed and nothing grows without bound. A send run adds its totals once, at its end
(not a round trip per message).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import redis

TTL_DAYS = 35  # longer than the 30-day window, so its oldest day is still there
FIELDS = ("sent", "hard_bounces", "complaints")


class DeliverabilityCounts:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.prefix = prefix

    def _day(self, day: date) -> str:
        return f"{self.prefix}{{deliv}}:day:{day.isoformat()}"

    def _edition(self, edition_id: str) -> str:
        return f"{self.prefix}{{deliv}}:edition:{edition_id}"

    def add(self, day: date, counts: Mapping[str, int], edition_id: str | None = None) -> None:
        """Add ``counts`` (fields of ``FIELDS``) to ``day`` and, when given, the edition."""
        keys = [self._day(day)] + ([self._edition(edition_id)] if edition_id else [])
        pipe = self.r.pipeline(transaction=False)
        for key in keys:
            for name, n in counts.items():
                if n:
                    pipe.hincrby(key, name, n)
            pipe.expire(key, TTL_DAYS * 86_400)
        pipe.execute()

    def window(self, today: date, days: int = 30) -> dict[str, int]:
        """The sums over ``days`` UTC days ending with ``today``."""
        pipe = self.r.pipeline(transaction=False)
        for back in range(days):
            pipe.hmget(self._day(today - timedelta(days=back)), *FIELDS)
        totals = dict.fromkeys(FIELDS, 0)
        for values in pipe.execute():
            for name, value in zip(FIELDS, values, strict=True):
                totals[name] += int(value or 0)
        return totals

    def edition(self, edition_id: str) -> dict[str, int]:
        values = self.r.hmget(self._edition(edition_id), *FIELDS)
        return {name: int(v or 0) for name, v in zip(FIELDS, values, strict=True)}
