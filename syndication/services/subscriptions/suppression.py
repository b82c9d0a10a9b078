"""The suppression list as a use case: provider events in, the operator's lifts out.

A hard bounce or a complaint suppresses an address until an operator lifts it (CLI
``subscribers unsuppress``, ``/admin/subscribers``); a reader's own unsubscribe is lifted
by the reader's next confirmed signup (``store/subscribers.py``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from syndication.clock import system_clock
from syndication.store.subscribers import (
    InvalidEmail,
    SubscriberStore,
    Suppression,
    normalise_email,
)

SUPPRESSING_EVENTS = {"complaint", "unsubscribe", "spamreport"}
_EDITION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_:-]{0,99}")


class SuppressionService:
    def __init__(
        self,
        store: SubscriberStore,
        clock: Callable[[], datetime] = system_clock,
        on_complaint: Callable[[str | None], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        # Complaints feed the 30-day complaint rate (services/deliverability.py), per
        # edition when the event names the message.
        self.on_complaint = on_complaint

    def suppress(self, email: str, reason: str) -> None:
        self.store.suppress(email, reason, self.clock())

    def lookup(self, email: str) -> Suppression | None:
        """The suppression of ``email`` (its reason and date), if any; None for no address."""
        try:
            return self.store.suppression(normalise_email(email))
        except InvalidEmail:
            return None

    def lift(self, email: str) -> Suppression | None:
        """Operator only: lift a suppression (a bounce, a complaint, an unsubscribe) and say
        what it was. The address gets nothing until its owner signs up and confirms again."""
        found = self.lookup(email)
        if found is None or not self.store.unsuppress(found.email):
            return None
        return found

    def record_events(self, events: list[Any]) -> dict[str, int]:
        """Bounce/complaint events from a mail provider (generic JSON) into suppression.

        Each event: ``{"type": "bounce"|"complaint"|"unsubscribe", "email": …,
        "bounce_type": "hard"|"soft", "reason": …}``. Hard bounces (RFC 3463 5.x.x) and
        complaints suppress; soft bounces are transient and only counted.
        """
        report = Counter({"suppressed": 0, "ignored": 0, "invalid": 0})
        for event in events:
            if not isinstance(event, dict):
                report["invalid"] += 1
                continue
            try:
                address = normalise_email(str(event.get("email", "")))
            except InvalidEmail:
                report["invalid"] += 1
                continue
            reason = _reason(event)
            if reason is None:
                report["ignored"] += 1
                continue
            self.suppress(address, reason)
            report["suppressed"] += 1
            if self.on_complaint is not None and reason.startswith(("complaint", "spamreport")):
                self.on_complaint(edition_of(event))
        return dict(report)


def edition_of(event: dict[str, Any]) -> str | None:
    """The edition a provider event is about: its ``edition`` field, else the edition part
    of our Message-ID ``<edition.subscriber@host>`` (``message_id`` or ``Message-ID``)."""
    edition = event.get("edition")
    if not isinstance(edition, str):
        raw = event.get("message_id", event.get("Message-ID"))
        local, at, _host = str(raw or "").strip().strip("<>").partition("@")
        edition, dot, _subscriber = local.rpartition(".")
        edition = edition if at and dot else ""
    # Provider input names a Redis key: only an id of the shape editions have.
    return edition if _EDITION_ID.fullmatch(edition) else None


def _reason(event: dict[str, Any]) -> str | None:
    """The suppression reason an event carries, or None for one that suppresses nothing."""
    kind = str(event.get("type", "")).lower()
    if kind == "bounce":
        if str(event.get("bounce_type", "hard")).lower() != "hard":
            return None
        reason = "hard bounce"
    elif kind in SUPPRESSING_EVENTS:
        reason = kind
    else:
        return None
    detail = str(event.get("reason", "")).replace("\r", " ").replace("\n", " ")[:150]
    return f"{reason}: {detail}" if detail else reason


__all__ = ["SUPPRESSING_EVENTS", "Suppression", "SuppressionService"]
