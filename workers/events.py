"""``Events`` implemented with Celery: each event enqueues the tasks that react to it."""

from __future__ import annotations

from celery import Celery


class CeleryEvents:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def _rebuild(self, article_id: str) -> None:
        self.app.send_task("feeds.rebuild_for_article", args=[article_id])

    def published(self, article_id: str) -> None:
        self._rebuild(article_id)

    def updated(self, article_id: str) -> None:
        self._rebuild(article_id)

    def withdrawn(self, article_id: str) -> None:
        self._rebuild(article_id)
