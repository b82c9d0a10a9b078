"""The beat schedule, all of it in one place: what runs when, by task name.

It names tasks by string and imports no task module, so the Celery app
(``workers/celery_app.py``) can read it without importing the tasks that import the app.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery.schedules import crontab

from syndication.config import Settings

# The confirmation sweep (workers/confirm_tasks.py): queues due requests whose task was
# lost and marks attempts of dead workers uncertain.
CONFIRMATION_SWEEP_SECONDS = 60.0


def beat_schedule(settings: Settings) -> dict[str, Any]:
    """Poll each configured source on its interval; sweep the event outbox and the
    confirmation ledger and release due embargoes every minute; make the daily and weekly
    digests at the publisher's local time."""
    return (
        _digest_schedule(settings)
        | {
            "sweep confirmations": {
                "task": "mail.sweep_confirmations",
                "schedule": CONFIRMATION_SWEEP_SECONDS,
            },
        }
        | {
            "partner webhook sweep": {
                "task": "partners.sweep_changes",
                "schedule": timedelta(minutes=5),
            },
            "flush pending events": {
                "task": "ingest.flush_pending_events",
                "schedule": timedelta(minutes=1),
            },
            "event webhook sweep": {"task": "hooks.sweep", "schedule": timedelta(minutes=1)},
            # Embargoes end on the minute's run after their time (services/articles.py).
            "release embargoes": {
                "task": "articles.release_embargoes",
                "schedule": timedelta(minutes=1),
            },
        }
        | {
            f"poll {source.url}": {
                "task": "ingest.poll_source",
                "schedule": timedelta(minutes=source.interval_minutes),
                "args": [source.url, source.kind],
            }
            for source in settings.publisher.sources
        }
    )


def _digest_schedule(settings: Settings) -> dict[str, Any]:
    """Editions at the publisher's local time (the Celery app's timezone is the publisher's).

    ``settings.digest``: ``send_time`` (HH:MM) and ``weekly_day``
    (``SYNDICATION_DIGEST_SEND_TIME`` and ``_DIGEST_WEEKLY_DAY``).
    """
    send_time = settings.digest.send_time
    weekday = settings.digest.weekly_day
    hour, _, minute = send_time.partition(":")
    return {
        "daily digest": {
            "task": "mail.create_edition",
            "schedule": crontab(hour=int(hour), minute=int(minute or 0)),
            "args": ["daily"],
        },
        "weekly digest": {
            "task": "mail.create_edition",
            "schedule": crontab(hour=int(hour), minute=int(minute or 0), day_of_week=weekday[:3]),
            "args": ["weekly"],
        },
        "start approved drafts": {
            "task": "mail.start_due_drafts",
            "schedule": 60.0,
        },
        "recover stale sends": {
            "task": "mail.recover",
            "schedule": 60.0,
            "kwargs": {"recheck": False},
        },
    } | _retention_schedule(settings)


def _retention_schedule(settings: Settings) -> dict[str, Any]:
    """Daily compaction of finished editions (``SYNDICATION_EDITION_RETENTION``; none when
    it is ``never``), at a quiet local hour away from the digests' send time."""
    if settings.digest.retention_days <= 0:
        return {}
    hour = (int(settings.digest.send_time.partition(":")[0]) + 12) % 24
    return {
        "compact finished editions": {
            "task": "mail.compact_editions",
            "schedule": crontab(hour=hour, minute=23),
        },
    }
