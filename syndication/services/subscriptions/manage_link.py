"""Manage without an old email: a reader types their address and gets their preferences link.

No enumeration: ``request`` validates and rate-limits (the signup's limits, on the same
counters, so the two forms together cannot mail-bomb anyone) and never reads the address's
state, so every valid address gets the same answer in the same time. ``send`` runs after
the response: it mails the link only to an address with a subscription to manage (pending,
confirmed, or unsubscribed by the reader); unknown addresses and addresses suppressed by a
bounce or a complaint get nothing. One SMTP attempt, no ledger: a reader who gets nothing
asks again (within the limits).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from syndication.clock import system_clock
from syndication.deliver.smtp import Outcome, Sender
from syndication.services.subscriptions.model import InvalidInput, Policy, check_limits
from syndication.store.ratelimit import RateLimiter
from syndication.store.subscribers import (
    InvalidEmail,
    Subscriber,
    SubscriberStore,
    normalise_email,
)

log = logging.getLogger(__name__)
TX_BUDGET = 60.0


class ManageLinkService:
    def __init__(
        self,
        store: SubscriberStore,
        limiter: RateLimiter,
        link: Callable[[Subscriber], str],
        build: Callable[[Subscriber, str, datetime], bytes],
        envelope_from: str,
        sender_factory: Callable[[], Sender] | None,
        policy: Policy | None = None,
        clock: Callable[[], datetime] = system_clock,
    ) -> None:
        self.store = store
        self.limiter = limiter
        self.link = link  # subscriber -> their preferences URL
        self.build = build  # (subscriber, URL, now) -> the message bytes
        self.envelope_from = envelope_from
        self.sender_factory = sender_factory
        self.policy = policy or Policy()
        self.clock = clock

    def request(self, email: str, ip: str = "") -> str:
        """The normalised address to ``send`` to after the response; InvalidInput or
        RateLimited. Reads nothing about the address (the answer cannot depend on it)."""
        try:
            address = normalise_email(email)
        except InvalidEmail:
            raise InvalidInput(
                {"email": "enter a valid email address, like name@example.org"}
            ) from None
        check_limits(self.limiter, self.policy, address, ip, self.clock())
        return address

    def send(self, address: str) -> str:
        """Mail the preferences link if there is a subscription to manage; what happened
        (for logs and tests: sent, nothing, blocked, failed, no-smtp), never for the reader."""
        sub = self.store.get_by_email(address)
        if sub is None:
            return "nothing"
        if self.store.is_blocked(sub.email):
            return "blocked"
        if self.sender_factory is None:
            return "no-smtp"
        now = self.clock()
        data = self.build(sub, self.link(sub), now)
        sender = self.sender_factory()
        try:
            result = sender.send(self.envelope_from, sub.email, data, TX_BUDGET)
        finally:
            sender.close()
        outcome = "sent" if result.outcome is Outcome.SENT else "failed"
        # The id and the server's code only: replies often echo the address.
        log.info("manage link for subscriber %s: %s %s", sub.id, outcome, result.code or "")
        return outcome
