"""Lifecycle control of editions that are sending: pause, resume, cancel, resend the
uncertain, recover after dead senders, and report.

``recover`` turns expired leases into ``uncertain`` (or back to pending when never begun),
and re-queues sending for editions that have work and no live sender.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from syndication.events import Events
from syndication.services.digests.results import RecoverReport, ResendReport, require_edition
from syndication.services.digests.settings import MailSettings
from syndication.store.editions import Edition, EditionStatus, EditionStore, EntryState

log = logging.getLogger(__name__)

#: Seconds during which one recovery pass's kick keeps others from queueing the same senders.
KICK_TTL = 30


class EditionControl:
    """What an operator (or the recovery watchdog) does to an edition past its creation."""

    def __init__(self, *, editions: EditionStore, events: Events, mail: MailSettings) -> None:
        self.editions = editions
        self.events = events
        self.mail = mail

    def recover(self, now: datetime) -> list[RecoverReport]:
        """Expire dead workers' leases and re-queue editions that have work but no sender."""
        out = []
        for edition_id in self.editions.ids_with_status(
            EditionStatus.SENDING, EditionStatus.PAUSED
        ):
            report = self._recover_one(edition_id, now)
            if report is not None:
                out.append(report)
        return out

    def _recover_one(self, edition_id: str, now: datetime) -> RecoverReport | None:
        rec = self.editions.recover(edition_id)
        edition = self.editions.get(edition_id)
        if edition is None:
            return None
        stale = now - edition.created_at > self.mail.max_resume_age
        kicked = False
        if rec.uncertain:
            log.warning(
                "uncertain deliveries",
                extra={"edition": edition_id, "uncertain": rec.uncertain},
            )
        if (
            edition.status is EditionStatus.SENDING
            and edition.counts.get("pending", 0) > 0
            and self.editions.live_senders(edition_id) == 0
        ):
            if stale:
                # Too old to go out unattended: an operator decides (digest resume).
                self.editions.set_status(
                    edition_id, EditionStatus.PAUSED, (EditionStatus.SENDING,), now
                )
            elif self.editions.take_kick(edition_id, KICK_TTL):
                self.events.send_edition(edition_id, 0.0, self.mail.fanout)
                kicked = True
        left = edition.counts.get("pending", 0) + edition.counts.get("sending", 0)
        active = edition.status is EditionStatus.SENDING and left > 0 and not stale
        return RecoverReport(
            edition_id, rec.uncertain, rec.requeued, kicked, stale, rec.next_deadline_in, active
        )

    def pause(self, edition_id: str, now: datetime) -> tuple[str, str]:
        """Senders stop before their next transaction (``begin`` refuses) and hand back."""
        return self.editions.set_status(
            edition_id, EditionStatus.PAUSED, (EditionStatus.SENDING, EditionStatus.DRAFT), now
        )

    def resume(self, edition_id: str, now: datetime) -> tuple[str, str]:
        """Paused or draft → sending (done if nothing is left), and queue the senders."""
        old, new = self.editions.set_status(
            edition_id, EditionStatus.SENDING, (EditionStatus.PAUSED, EditionStatus.DRAFT), now
        )
        if new == EditionStatus.SENDING.value:
            self.events.send_edition(edition_id, 0.0, self.mail.fanout)
        return old, new

    def cancel(self, edition_id: str, now: datetime) -> tuple[str, str]:
        """No further transactions: entries already sent stay sent, every unsent one ends
        ``cancelled`` (those a sender holds when it hands them back)."""
        old, new, n = self.editions.cancel(
            edition_id, (EditionStatus.SENDING, EditionStatus.PAUSED, EditionStatus.DRAFT)
        )
        if new:
            log.info("edition cancelled", extra={"edition": edition_id, "cancelled": n})
        return old, new

    def resend_uncertain(
        self, edition_id: str, subscriber_ids: Sequence[str] | None, now: datetime, by: str = ""
    ) -> ResendReport:
        """Send again the uncertain entries an operator chose (None: all of them).

        An uncertain message may already be in the reader's mailbox (the connection dropped
        after DATA, or a sender died mid-transaction), so this is never automatic: the
        operator takes the risk of a duplicate, and the entry's detail says who did. Ids that
        are not uncertain are skipped and listed. A finished edition reopens for them.
        """
        edition = require_edition(self.editions, edition_id)
        uncertain = set(self.editions.members(edition_id, EntryState.UNCERTAIN))
        wanted = (
            sorted(uncertain) if subscriber_ids is None else list(dict.fromkeys(subscriber_ids))
        )
        chosen = [i for i in wanted if i in uncertain]
        skipped = [i for i in wanted if i not in uncertain]
        who = " ".join(by.split())[:200] or "an operator"
        detail = f"resent by {who} at {now.isoformat(timespec='seconds')} (was uncertain)"
        status, moved = self.editions.resend(edition_id, chosen, detail)
        if moved and status == EditionStatus.SENDING.value:
            self.events.send_edition(edition_id, 0.0, self.mail.fanout)
        log.warning(
            "uncertain entries resent by an operator",
            extra={"edition": edition_id, "resent": moved, "by": who},
        )
        if not moved and chosen:
            status = status or edition.status.value
        return ResendReport(edition_id, moved, skipped, status)

    def status(self, edition_id: str) -> Edition | None:
        return self.editions.get(edition_id)

    def report(self, edition_id: str, limit: int = 1000) -> dict[str, Any]:
        """Status plus who failed, is uncertain or may have been sent twice (``repeated``:
        Redis lost the record of a delivery), and why. Cancelled entries are only counted."""
        edition = self.editions.get(edition_id)
        if edition is None:
            raise LookupError(edition_id)
        failed = self.editions.members(edition_id, EntryState.FAILED)[:limit]
        uncertain = self.editions.members(edition_id, EntryState.UNCERTAIN)[:limit]
        repeated = self.editions.repeated(edition_id)[:limit]
        return edition.to_json() | {
            "failed": self.editions.details(edition_id, failed),
            "uncertain": self.editions.details(edition_id, uncertain),
            "repeated": self.editions.details(edition_id, repeated),
        }
