"""Outgoing event webhooks: operators register endpoints; facts become signed POSTs.

- ``endpoints``: add, list, switch on/off, rotate the secret, remove (``Endpoints``);
- ``outbox``: ``emit`` writes an event once and queues its fan-out (no network call to
  any endpoint where the fact happens); ``fan_out`` and ``sweep`` run as tasks;
- ``delivery``: one signed POST through the SSRF guard, retries with back-off, the capped
  attempt log, switching off an endpoint that keeps failing;
- ``announce``: each fact (article, subscriber, edition, partner pull) as an event;
  ``subscribers``: the subscriber store that announces ``subscriber.*``;
- ``urls``: which URLs may be registered and reached.

README, "Event webhooks", documents the payload and how to verify a signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syndication.config import Settings
from syndication.services.event_hooks.announce import Announce
from syndication.services.event_hooks.delivery import (
    EVENT_HEADER,
    ID_HEADER,
    Answer,
    Delivery,
    backoff,
)
from syndication.services.event_hooks.endpoints import (
    EVENT_TYPES,
    TEST_EVENT,
    EndpointNotFound,
    Endpoints,
    EndpointView,
    parse_events,
)
from syndication.services.event_hooks.outbox import Emit, HookEvents, Outbox, event_id
from syndication.services.event_hooks.subscribers import AnnouncingSubscribers
from syndication.services.event_hooks.urls import InvalidEndpoint, check_endpoint_url
from syndication.store.articles import ArticleStore
from syndication.store.editions import EditionStore
from syndication.store.event_hooks import Attempt, Endpoint, EventHookStore
from syndication.store.partners import PartnerStore
from syndication.store.subscribers import SubscriberStore

__all__ = [
    "EVENT_HEADER",
    "EVENT_TYPES",
    "ID_HEADER",
    "TEST_EVENT",
    "Announce",
    "AnnouncingSubscribers",
    "Answer",
    "Attempt",
    "Delivery",
    "Emit",
    "Endpoint",
    "EndpointNotFound",
    "EndpointView",
    "Endpoints",
    "EventHooks",
    "HookEvents",
    "InvalidEndpoint",
    "Outbox",
    "backoff",
    "check_endpoint_url",
    "event_id",
    "make_event_hooks",
    "parse_events",
]


@dataclass(frozen=True)
class EventHooks:
    endpoints: Endpoints
    outbox: Outbox
    delivery: Delivery
    announce: Announce

    def subscriber_store(self, client: Any, prefix: str) -> AnnouncingSubscribers:
        """The subscriber store for the subscription service: it announces subscriber.*"""
        return AnnouncingSubscribers(client, prefix, self.announce)


def make_event_hooks(
    settings: Settings,
    client: Any,
    events: HookEvents,
    articles: ArticleStore,
    clock: Callable[[], datetime],
    on_outcome: Callable[[str], None] | None = None,
) -> EventHooks:
    prefix = settings.key_prefix
    config = settings.webhooks
    store = EventHookStore(client, prefix)
    endpoints = Endpoints(store, settings.secret_key, config.allow_private)
    outbox = Outbox(store, endpoints, events, clock)
    delivery = Delivery(store, endpoints, events, config, on_outcome=on_outcome)
    announce = Announce(
        outbox,
        articles,
        SubscriberStore(client, prefix),
        EditionStore(client, prefix),
        PartnerStore(client, prefix),
    )
    return EventHooks(endpoints, outbox, delivery, announce)
