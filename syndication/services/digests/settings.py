"""Delivery settings of digest editions, mapped from ``Settings``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from syndication.config import Settings
from syndication.store.editions import Policy

#: The longest countdown a send task asks for: far below the broker's visibility timeout,
#: or the task would be delivered twice.
MAX_COUNTDOWN = 600.0


@dataclass(frozen=True)
class MailSettings:
    """Delivery settings. Read from ``Settings`` attributes named ``mail_*`` when config.py
    has them (see the issue note), else these defaults."""

    connections: int = 2  # SMTP sessions (threads) per send task
    batch: int = 50  # recipients claimed at a time per session
    fanout: int = 2  # send tasks queued per edition
    smtp_timeout: float = 30.0
    rate_per_second: float = 0.0  # 0: unlimited
    rate_per_hour: float = 0.0
    max_task_seconds: float = 600.0  # a send task hands over to a fresh one after this
    max_articles: int = 15  # per segment (the HTML stays under the Gmail clip at 15)
    max_resume_age: timedelta = timedelta(hours=48)
    redis_patience: float = 120.0  # how long claims and begins wait for Redis to come back
    durability: str = "auto"  # store/durability.py: how begins are made durable before DATA
    durable_window: int = 20  # entries begun per durability wait (WAITAOF/WAIT only)
    durability_timeout_ms: int = 5000
    durability_replicas: int = 1
    heartbeat_s: float = 5.0  # live-sender heartbeat; a dead sender lapses after 3 of them
    policy: Policy = field(default_factory=Policy)
    mail_from: str | None = None  # header From (default: "Publisher" <newsletter@host>)
    envelope_from: str | None = None  # MAIL FROM / bounce address
    approval_window: timedelta = timedelta(0)  # scheduled editions wait as drafts this long

    @classmethod
    def from_settings(cls, settings: Settings) -> MailSettings:
        def get(name: str, default: Any) -> Any:
            value = getattr(settings, name, None)
            if value is None:
                value = settings.extra.get(name)
            return default if value is None else value

        base = cls()
        policy = Policy(
            lease_s=float(get("mail_lease_seconds", base.policy.lease_s)),
            tx_budget_s=float(get("mail_tx_budget_seconds", base.policy.tx_budget_s)),
            retry_base_s=float(get("mail_retry_base_seconds", base.policy.retry_base_s)),
            retry_max_s=float(get("mail_retry_max_seconds", base.policy.retry_max_s)),
            max_attempts=int(get("mail_max_attempts", base.policy.max_attempts)),
            uncertain=str(get("mail_uncertain_policy", base.policy.uncertain)),
        )
        return cls(
            connections=int(get("mail_connections", base.connections)),
            batch=int(get("mail_batch", base.batch)),
            fanout=int(get("mail_fanout", base.fanout)),
            smtp_timeout=float(get("smtp_timeout", base.smtp_timeout)),
            rate_per_second=float(get("mail_rate_per_second", base.rate_per_second)),
            rate_per_hour=float(get("mail_rate_per_hour", base.rate_per_hour)),
            max_task_seconds=float(get("mail_max_task_seconds", base.max_task_seconds)),
            max_articles=int(get("digest_max_articles", base.max_articles)),
            max_resume_age=timedelta(
                hours=float(
                    get("mail_max_resume_age_hours", base.max_resume_age / timedelta(hours=1))
                )
            ),
            redis_patience=float(get("mail_redis_patience_seconds", base.redis_patience)),
            durability=str(get("mail_durability", base.durability)),
            durable_window=int(get("mail_durable_window", base.durable_window)),
            durability_timeout_ms=int(
                get("mail_durability_timeout_ms", base.durability_timeout_ms)
            ),
            durability_replicas=int(get("mail_durability_replicas", base.durability_replicas)),
            heartbeat_s=float(get("mail_heartbeat_seconds", base.heartbeat_s)),
            policy=policy,
            mail_from=get("mail_from", None),
            envelope_from=get("mail_envelope_from", None),
            approval_window=timedelta(minutes=float(get("digest_approval_minutes", 0))),
        )
