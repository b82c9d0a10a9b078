"""How the digest services ask for background sending, without importing Celery."""

from __future__ import annotations

from typing import Protocol


class DigestEvents(Protocol):
    """How the service asks for background sending (workers/mail_tasks.py: Celery)."""

    def send_edition(self, edition_id: str, countdown: float = 0.0, copies: int = 1) -> None: ...


class RecordingDigestEvents:
    """Keeps the requests, for callers that run ``send_batch`` themselves (tests, CLI)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, int]] = []

    def send_edition(self, edition_id: str, countdown: float = 0.0, copies: int = 1) -> None:
        self.calls.append((edition_id, countdown, copies))
