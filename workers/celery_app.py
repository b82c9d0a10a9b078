"""The Celery app, configured lazily from Settings.

``celery -A workers.celery_app worker`` reads the environment on first use;
``syndication worker``/``beat``/``demo`` and the tests call ``configure`` with explicit
Settings.
"""

from __future__ import annotations

from typing import Any

import kombu.pools
from celery import Celery

from syndication.config import Settings, load_settings
from syndication.redis_urls import kombu_broker
from workers.schedule import beat_schedule

QUEUES = ("feeds", "mail", "ingest", "hooks")
# Longest task we run is a poll or a feed rebuild (seconds); an unacked task is redelivered
# after this, so it stays far above any task's run time (FIELD-NOTES: Redis broker).
VISIBILITY_TIMEOUT = 3600

app = Celery(
    "syndication",
    include=[
        "workers.tasks",
        "workers.mail_tasks",
        "workers.confirm_tasks",
        "workers.partner_tasks",
        "workers.hook_tasks",
        "workers.observability",
        "workers.lifecycle",
    ],
)
_configured: Settings | None = None


def celery_config(settings: Settings) -> dict[str, Any]:
    # A Sentinel URL becomes kombu's ``sentinel://…;sentinel://…`` with ``master_name``.
    broker, transport = kombu_broker(settings.need_broker_url())
    return {
        "broker_url": broker,
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        # Reconnect to the broker however long Redis is away (Celery's default gives up after
        # 100 attempts and the worker exits); workers/lifecycle.py resumes the sends after.
        "broker_connection_max_retries": None,
        "broker_transport_options": {
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "global_keyprefix": f"{settings.key_prefix}celery:",
            **transport,
        },
        "task_default_queue": "ingest",
        "task_routes": {
            "feeds.*": {"queue": "feeds"},
            "mail.*": {"queue": "mail"},
            "ingest.*": {"queue": "ingest"},
            "partners.*": {"queue": "ingest"},
            "hooks.*": {"queue": "hooks"},
        },
        "timezone": settings.publisher.timezone,
        "enable_utc": True,
        "worker_hijack_root_logger": False,
        "beat_schedule": beat_schedule(settings),
    }


def configure(settings: Settings) -> Celery:
    """Point the app at ``settings`` (call before the first task is sent)."""
    global _configured
    if _configured is not None and _configured != settings:
        # Connection and producer pools keep the old broker options (key prefix!); drop them
        # so that sends go where the new settings say. Only tests reconfigure a process.
        kombu.pools.reset()  # type: ignore[no-untyped-call]
        app._pool = None
        app.amqp._producer_pool = None
    _configured = settings
    app.conf.update(celery_config(settings))
    return app


def current_settings() -> Settings:
    global _configured
    if _configured is None:
        _configured = load_settings()
    return _configured


app.add_defaults(lambda: celery_config(current_settings()))
