"""The operator's side of event webhooks: add, list, switch on and off, rotate, remove.

A secret is shown once, in the answer to ``add`` and ``rotate``, and never again: it is
not stored anywhere, but derived from ``SYNDICATION_SECRET_KEY`` and a per-endpoint nonce
(the partner webhooks do the same), so a copy of Redis signs nothing. Rotating draws a new
nonce; rotating ``SYNDICATION_SECRET_KEY`` changes every endpoint's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from syndication.services.event_hooks.urls import InvalidEndpoint, check_endpoint_url
from syndication.store.event_hooks import Attempt, Endpoint, EventHookStore

PURPOSE = "event-webhook"
EVENT_TYPES = (
    "subscriber.confirmed",
    "subscriber.unsubscribed",
    "subscriber.bounced",
    "edition.sent",
    "article.published",
    "article.withdrawn",
    "partner.republished",
)
TEST_EVENT = "webhook.test"  # sent by "send a test event" to one endpoint, whatever it wants
MAX_DESCRIPTION = 200


class EndpointNotFound(LookupError):
    pass


@dataclass(frozen=True)
class EndpointView:
    """An endpoint with its latest attempts, newest first (the admin page's row)."""

    endpoint: Endpoint
    attempts: list[Attempt]


def parse_events(values: Iterable[str]) -> tuple[str, ...]:
    """Event types from ``--events``/the form; ``*``, ``all`` or nothing means every event."""
    chosen: list[str] = []
    for value in values:
        for name in value.replace(",", " ").split():
            if name in ("*", "all"):
                return ()
            if name not in EVENT_TYPES:
                known = ", ".join(EVENT_TYPES)
                raise InvalidEndpoint(f"unknown event {name[:40]!r}: one of {known}")
            if name not in chosen:
                chosen.append(name)
    return tuple(chosen)


class Endpoints:
    def __init__(self, store: EventHookStore, secret_key: str | None, allow_private: bool) -> None:
        self.store = store
        self.secret_key = secret_key
        self.allow_private = allow_private

    def secret(self, endpoint: Endpoint) -> str:
        """The endpoint's signing secret (derived; see the module docstring)."""
        if not self.secret_key:
            raise InvalidEndpoint("SYNDICATION_SECRET_KEY is needed to sign webhooks")
        msg = f"{PURPOSE}:{endpoint.id}:{endpoint.nonce}".encode()
        return "whsec_" + hmac.new(self.secret_key.encode(), msg, hashlib.sha256).hexdigest()

    def add(
        self, url: str, events: Iterable[str], now: datetime, description: str = ""
    ) -> tuple[Endpoint, str]:
        """A new, enabled endpoint and its secret (shown this once)."""
        if not self.secret_key:
            raise InvalidEndpoint("SYNDICATION_SECRET_KEY is needed to sign webhooks")
        endpoint = Endpoint(
            id="wh_" + secrets.token_hex(6),
            url=check_endpoint_url(url, self.allow_private),
            events=parse_events(events),
            enabled=True,
            created_at=now,
            nonce=secrets.token_hex(16),
            description=" ".join(description.split())[:MAX_DESCRIPTION],
        )
        self.store.add(endpoint)
        return endpoint, self.secret(endpoint)

    def get(self, endpoint_id: str) -> Endpoint:
        endpoint = self.store.get(endpoint_id) if endpoint_id.startswith("wh_") else None
        if endpoint is None:
            raise EndpointNotFound(endpoint_id)
        return endpoint

    def all(self) -> list[Endpoint]:
        return self.store.all()

    def views(self, attempts: int = 20) -> list[EndpointView]:
        return [EndpointView(e, self.store.attempts(e.id, attempts)) for e in self.store.all()]

    def remove(self, endpoint_id: str) -> None:
        if not self.store.remove(self.get(endpoint_id).id):
            raise EndpointNotFound(endpoint_id)

    def enable(self, endpoint_id: str) -> Endpoint:
        """Back on, failures forgotten (the operator says the receiver is fixed)."""
        return self._update(endpoint_id, enabled="1", disabled_reason="", failures="0")

    def disable(self, endpoint_id: str, reason: str = "switched off by an operator") -> Endpoint:
        return self._update(endpoint_id, enabled="0", disabled_reason=reason[:300])

    def rotate(self, endpoint_id: str) -> tuple[Endpoint, str]:
        """A new secret; the old one stops verifying with the next delivery."""
        endpoint = self._update(endpoint_id, nonce=secrets.token_hex(16))
        return endpoint, self.secret(endpoint)

    def _update(self, endpoint_id: str, **fields: str) -> Endpoint:
        endpoint = self.store.update(self.get(endpoint_id).id, **fields)
        if endpoint is None:
            raise EndpointNotFound(endpoint_id)
        return endpoint
