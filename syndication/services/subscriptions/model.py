"""What the subscription services share: their errors, the signup policy and results,
the confirmation ledger as a signup sees it, and small input helpers."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from syndication.config import Settings, SubscribeConfig
from syndication.store.confirmations import Requested
from syndication.store.ratelimit import RateLimiter
from syndication.store.subscribers import SignupOutcome, Subscriber


class ConfirmationRequests(Protocol):
    """The confirmation ledger as the signup sees it (``ConfirmationService``)."""

    def request(
        self, subscriber_id: str, now: datetime | None = None, fresh: bool = False
    ) -> Requested: ...

    def enqueue(self, requested: Requested) -> None: ...


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests; try again in {retry_after} s")
        self.retry_after = retry_after


class InvalidInput(ValueError):
    """Bad form or API input; ``fields`` says which field and why, for the form to show."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


class LinkInvalid(Exception):
    """A confirm/manage link that is tampered, revoked, for an unknown subscriber, or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


_SUBSCRIBE = SubscribeConfig()


@dataclass(frozen=True)
class Policy:
    confirm_ttl: timedelta = timedelta(hours=_SUBSCRIBE.confirm_token_hours)
    ip_limit: int = _SUBSCRIBE.ip_limit
    ip_window_s: int = _SUBSCRIBE.ip_window_s
    address_limit: int = _SUBSCRIBE.address_limit
    address_window_s: int = _SUBSCRIBE.address_window_s
    default_frequency: str = "weekly"

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        """The ``settings.subscribe`` limits and the confirmation link's lifetime."""
        sub = settings.subscribe
        return cls(
            confirm_ttl=timedelta(hours=sub.confirm_token_hours),
            ip_limit=sub.ip_limit,
            ip_window_s=sub.ip_window_s,
            address_limit=sub.address_limit,
            address_window_s=sub.address_window_s,
        )


@dataclass(frozen=True)
class Confirmation:
    """The confirmation a signup owes: ``request`` is its ledger entry (the worker signs its
    own link when it builds the mail; ``url`` is one signed at signup, for faces and tests)."""

    subscriber: Subscriber
    url: str
    request: Requested | None = None


@dataclass(frozen=True)
class SignupResult:
    outcome: SignupOutcome  # never shown to the client
    confirmation: Confirmation | None


def rate_key_for_ip(ip: str) -> str:
    """IPv6 clients usually own a /64: counting per address would let them rotate freely."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return f"ip:{ip}"
    if addr.version == 6:
        return f"ip:{ipaddress.ip_network(f'{addr}/64', strict=False)}"
    return f"ip:{addr}"


def check_limits(
    limiter: RateLimiter, policy: Policy, address: str, ip: str, now: datetime
) -> None:
    """The signup limits, per client IP (when known) and per address; RateLimited if over.
    Every request that can send mail to an address counts against both, whatever its state."""
    at = now.timestamp()
    if ip:
        ok, retry = limiter.allow(rate_key_for_ip(ip), policy.ip_limit, policy.ip_window_s, now=at)
        if not ok:
            raise RateLimited(retry)
    ok, retry = limiter.allow(
        f"addr:{address.lower()}", policy.address_limit, policy.address_window_s, now=at
    )
    if not ok:
        raise RateLimited(retry)


def split_topics(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t for t in re.split(r"[\s,;]+", text.strip().lower()) if t))


def topics_from_catalog(
    catalog: Callable[[], list[tuple[str, str, int]]],
) -> Callable[[], dict[str, str]]:
    """Topic slug → title from ``ArticleStore.feed_catalog``: the topics live articles
    carry (a topic whose articles were all withdrawn is not offered)."""

    def topics() -> dict[str, str]:
        return {
            name.removeprefix("topic/"): title
            for name, title, count in catalog()
            if name.startswith("topic/") and count
        }

    return topics
