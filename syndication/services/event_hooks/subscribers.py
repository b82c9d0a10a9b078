"""The subscriber store the subscription service is given (context.py): the same store,
announcing ``subscriber.*`` events after the writes that make them true.

Announcing at the store's edge sees each fact once whichever way in it came (the confirm
page, one-click unsubscribe, the mail provider's bounce webhook), without a line in the
subscription service. A hard bounce is told from other suppressions by its reason, which
``SubscriptionService.record_events`` writes as ``hard bounce`` (a complaint or an
unsubscribe event is a subscriber leaving: ``subscriber.unsubscribed``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syndication.services.event_hooks.announce import Announce
from syndication.store.subscribers import (
    UNSUBSCRIBED,
    ConfirmOutcome,
    Subscriber,
    SubscriberStore,
)

BOUNCE_REASON = "hard bounce"


class AnnouncingSubscribers(SubscriberStore):
    def __init__(self, client: Any, prefix: str, announce: Announce) -> None:
        super().__init__(client, prefix)
        self.announce = announce

    def confirm(
        self, subscriber_id: str, now: datetime
    ) -> tuple[ConfirmOutcome, Subscriber | None]:
        outcome, sub = super().confirm(subscriber_id, now)
        if outcome is ConfirmOutcome.CONFIRMED and sub is not None:
            self.announce.subscriber("subscriber.confirmed", sub.email)
        return outcome, sub

    def unsubscribe(
        self, subscriber_id: str, now: datetime, reason: str = "unsubscribed"
    ) -> Subscriber | None:
        sub = super().unsubscribe(subscriber_id, now, reason)
        if sub is not None and sub.status == UNSUBSCRIBED:
            self.announce.subscriber("subscriber.unsubscribed", sub.email)
        return sub

    def suppress(self, email: str, reason: str, now: datetime) -> None:
        was = self.get_by_email(email)
        super().suppress(email, reason, now)
        if reason.startswith(BOUNCE_REASON):
            self.announce.subscriber("subscriber.bounced", email, reason)
        elif was is not None and was.status != UNSUBSCRIBED:
            self.announce.subscriber("subscriber.unsubscribed", email)
