"""Daily snapshots of the counters the admin charts draw: one small hash per day.

The metric counters (``store/metrics.py``) only ever grow, and the subscriber and
suppression counts are levels: neither keeps a history. A snapshot copies their values into
``{prefix}daily:{YYYY-MM-DD}`` (HSET: a later snapshot the same day replaces the earlier
one), with a TTL of ``KEEP_DAYS`` so the history is bounded without a sweeper; the
admin reads a day's activity as the difference between the last snapshots of two days.
``_at`` holds when the day's hash was last written (epoch seconds), so a caller can
throttle its snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import redis

KEEP_DAYS = 400
AT = "_at"


class DailySnapshots:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def key(self, day: date) -> str:
        return f"{self.prefix}{{daily}}:{day.isoformat()}"

    def write(self, day: date, values: Mapping[str, int], at: float) -> None:
        """Replace the day's values (fields not given are kept) and renew its TTL."""
        key = self.key(day)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={**{k: int(v) for k, v in values.items()}, AT: at})
            pipe.expire(key, timedelta(days=KEEP_DAYS))
            pipe.execute()

    def written_at(self, day: date) -> float | None:
        raw = self.client.hget(self.key(day), AT)
        return None if raw is None else float(raw)

    def read(self, days: Sequence[date]) -> dict[date, dict[str, int]]:
        """The snapshots of ``days`` that exist (one pipelined HGETALL each)."""
        with self.client.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(self.key(day))
            raw = pipe.execute()
        out: dict[date, dict[str, int]] = {}
        for day, values in zip(days, raw, strict=True):
            if values:
                out[day] = {
                    k.decode(): int(float(v)) for k, v in values.items() if k.decode() != AT
                }
        return out
