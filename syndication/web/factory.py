"""The app as uvicorn builds it in each worker process: settings from the environment."""

from __future__ import annotations

from syndication.config import load_settings
from syndication.context import Context
from syndication.web.app import create_app
from syndication.web.feed_front import ASGIApp, FeedFront
from syndication.web.ops import MeteredRequests


def app_from_env() -> ASGIApp:
    """The FastAPI app behind ``FeedFront``, which serves current feed documents from this
    worker's memory (the bulk of the traffic) and hands everything else to FastAPI."""
    from workers.celery_app import configure
    from workers.events import CeleryEvents

    settings = load_settings()
    ctx = Context(settings, CeleryEvents(configure(settings), settings))
    # Counting sits outside the fast path, so feed requests are counted whichever layer answers.
    return MeteredRequests(FeedFront(create_app(ctx), ctx), ctx)
