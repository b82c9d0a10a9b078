"""The app as uvicorn builds it in each worker process: settings from the environment."""

from __future__ import annotations

from fastapi import FastAPI

from syndication.config import load_settings
from syndication.context import Context
from syndication.web.app import create_app


def app_from_env() -> FastAPI:
    from workers.celery_app import configure
    from workers.events import CeleryEvents

    settings = load_settings()
    return create_app(Context(settings, CeleryEvents(configure(settings), settings)))
