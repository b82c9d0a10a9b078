"""Hard-bounce and complaint rates against the line Gmail draws for bulk senders.

Gmail's sender guidelines ask for a user-reported spam rate below 0.3 % and advise keeping
it below 0.1 %; Yahoo's are the same. We hold hard bounces to the same lines: a list that
bounces is a list that was not kept clean, and providers read both. ``level`` is what the
admin's banner shows: ``ok``, ``warning`` above 0.1 %, ``danger`` above 0.3 %.

Counts come from the send runs (sent, hard bounces: services/digests/dispatch.py) and from
complaint reports (``record_complaint``; the email-events webhook is to call it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syndication.clock import Clock, system_clock
from syndication.store.deliverability import DeliverabilityCounts

ADVISED = 0.001  # 0.1 %: the level Gmail advises staying under
LIMIT = 0.003  # 0.3 %: the line Gmail enforces
WINDOW_DAYS = 30


def _level(rate: float) -> str:
    return "danger" if rate > LIMIT else "warning" if rate > ADVISED else "ok"


@dataclass(frozen=True)
class Rates:
    """Counts and rates of one edition or of the last ``WINDOW_DAYS`` days."""

    sent: int
    hard_bounces: int
    complaints: int

    @property
    def hard_bounce_rate(self) -> float:
        attempted = self.sent + self.hard_bounces
        return self.hard_bounces / attempted if attempted else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complaints / self.sent if self.sent else 0.0

    @property
    def level(self) -> str:
        """The worse of the two rates' levels."""
        levels = (_level(self.hard_bounce_rate), _level(self.complaint_rate))
        return "danger" if "danger" in levels else "warning" if "warning" in levels else "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "hard_bounces": self.hard_bounces,
            "complaints": self.complaints,
            "hard_bounce_rate": self.hard_bounce_rate,
            "complaint_rate": self.complaint_rate,
            "level": self.level,
        }


class Deliverability:
    def __init__(self, counts: DeliverabilityCounts, clock: Clock = system_clock) -> None:
        self.counts = counts
        self.clock = clock

    def record_run(self, edition_id: str, sent: int, hard_bounces: int) -> None:
        """A send run's totals, on today's (UTC) count and the edition's."""
        if sent or hard_bounces:
            day = self.clock().date()
            self.counts.add(day, {"sent": sent, "hard_bounces": hard_bounces}, edition_id)

    def record_complaint(self, edition_id: str | None = None) -> None:
        """A reader marked a message as spam (a feedback-loop report)."""
        self.counts.add(self.clock().date(), {"complaints": 1}, edition_id)

    def last_days(self) -> Rates:
        return Rates(**self.counts.window(self.clock().date(), WINDOW_DAYS))

    def edition(self, edition_id: str) -> Rates:
        return Rates(**self.counts.edition(edition_id))
