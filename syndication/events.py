"""How use cases announce background work without knowing about Celery.

The one protocol for every use case (articles, feeds, digests, confirmations, event
webhooks): ``workers.events.CeleryEvents`` implements it with Celery; ``RecordingEvents``
keeps the calls in a list, for code that runs the use cases without a broker (the import
benchmark's reference, the demo's inline runs, and unit tests of the services).
"""

from __future__ import annotations

from typing import Protocol


class Events(Protocol):
    def published(self, article_id: str) -> None: ...
    def updated(self, article_id: str) -> None: ...
    def withdrawn(self, article_id: str) -> None: ...

    def feeds_changed(self, urls: list[str]) -> None:
        """Feed documents whose bytes changed: WebSub hubs are told (``hub.mode=publish``)."""
        ...

    def send_edition(self, edition_id: str, countdown: float = 0.0, copies: int = 1) -> None:
        """Start (or continue) sending an edition: ``copies`` batch senders in parallel."""
        ...

    def rebuild_feeds(self) -> None:
        """Rebuild every feed in the background (the admin's button; ``feeds build`` is inline)."""
        ...

    def send_confirmation(self, request_id: str, countdown: float = 0.0, kick: str = "") -> None:
        """Attempt a confirmation email (``services/confirmations.py``) after ``countdown``
        seconds; ``kick`` is the request's chain token."""
        ...

    def webhook_events(self, event_ids: list[str]) -> None:
        """Event webhooks: fan these emitted events out to the endpoints that want them."""
        ...

    def deliver_webhook(
        self, endpoint_id: str, event_id: str, attempt: int = 1, countdown: float = 0.0
    ) -> None:
        """Event webhooks: attempt ``attempt`` of one event at one endpoint."""
        ...


class RecordingEvents:
    """Keeps every event as ``(kind, id)``, in order; ``editions`` keeps each
    ``send_edition`` request whole, ``(edition_id, countdown, copies)``, for callers that
    run ``send_batch`` themselves (tests, the CLI)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.editions: list[tuple[str, float, int]] = []

    def published(self, article_id: str) -> None:
        self.calls.append(("published", article_id))

    def updated(self, article_id: str) -> None:
        self.calls.append(("updated", article_id))

    def withdrawn(self, article_id: str) -> None:
        self.calls.append(("withdrawn", article_id))

    def feeds_changed(self, urls: list[str]) -> None:
        self.calls.extend(("feed_changed", url) for url in urls)

    def send_edition(self, edition_id: str, countdown: float = 0.0, copies: int = 1) -> None:
        self.calls.append(("send_edition", edition_id))
        self.editions.append((edition_id, countdown, copies))

    def rebuild_feeds(self) -> None:
        self.calls.append(("rebuild_feeds", ""))

    def send_confirmation(self, request_id: str, countdown: float = 0.0, kick: str = "") -> None:
        self.calls.append(("send_confirmation", request_id))

    def webhook_events(self, event_ids: list[str]) -> None:
        self.calls.extend(("webhook_event", event_id) for event_id in event_ids)

    def deliver_webhook(
        self, endpoint_id: str, event_id: str, attempt: int = 1, countdown: float = 0.0
    ) -> None:
        self.calls.append(("deliver_webhook", f"{endpoint_id} {event_id} {attempt}"))
