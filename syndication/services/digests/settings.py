"""Delivery settings of digest editions, mapped from ``Settings``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from syndication.config import DigestConfig, MailConfig, Settings
from syndication.store.editions import Policy

#: The longest countdown a send task asks for: far below the broker's visibility timeout,
#: or the task would be delivered twice.
MAX_COUNTDOWN = 600.0


_MAIL, _DIGEST = MailConfig(), DigestConfig()


@dataclass(frozen=True)
class MailSettings:
    """Delivery settings of the digest services, from ``settings.mail`` and
    ``settings.digest`` (``from_settings``); the defaults are config.py's."""

    connections: int = _MAIL.connections  # SMTP sessions (threads) per send task
    batch: int = _MAIL.batch  # recipients claimed at a time per session
    fanout: int = _MAIL.fanout  # send tasks queued per edition
    smtp_timeout: float = _MAIL.smtp_timeout
    rate_per_second: float = _MAIL.rate_per_second  # 0: unlimited
    rate_per_hour: float = _MAIL.rate_per_hour
    domain_rates: tuple[tuple[str, float], ...] = _MAIL.domain_rates  # per recipient domain
    domain_backoff_s: float = _MAIL.domain_backoff_seconds  # a throttled domain's first pause
    domain_backoff_max_s: float = _MAIL.domain_backoff_max_seconds
    max_task_seconds: float = _MAIL.max_task_seconds  # a send task then hands over
    max_articles: int = _DIGEST.max_articles  # per segment (under the Gmail clip at 15)
    max_resume_age: timedelta = timedelta(hours=_MAIL.max_resume_age_hours)
    redis_patience: float = _MAIL.redis_patience_seconds  # claims wait this long for Redis
    durability: str = _MAIL.durability  # store/durability.py: how begins are made durable
    durable_window: int = _MAIL.durable_window  # entries begun per durability wait
    durability_timeout_ms: int = _MAIL.durability_timeout_ms
    durability_replicas: int = _MAIL.durability_replicas
    heartbeat_s: float = _MAIL.heartbeat_seconds  # a dead sender lapses after 3 of them
    policy: Policy = field(default_factory=lambda: policy_of(_MAIL))
    mail_from: str | None = None  # header From (default: "Publisher" <newsletter@host>)
    envelope_from: str | None = None  # MAIL FROM / bounce address
    approval_window: timedelta = timedelta(minutes=_DIGEST.approval_minutes)
    retention: timedelta = timedelta(days=_DIGEST.retention_days)  # 0: never compacted
    archive_dir: Path | None = _DIGEST.archive_dir  # compaction archives dropped entries

    @classmethod
    def from_settings(cls, settings: Settings) -> MailSettings:
        mail, digest = settings.mail, settings.digest
        return cls(
            connections=mail.connections,
            batch=mail.batch,
            fanout=mail.fanout,
            smtp_timeout=mail.smtp_timeout,
            rate_per_second=mail.rate_per_second,
            rate_per_hour=mail.rate_per_hour,
            domain_rates=mail.domain_rates,
            domain_backoff_s=mail.domain_backoff_seconds,
            domain_backoff_max_s=mail.domain_backoff_max_seconds,
            max_task_seconds=mail.max_task_seconds,
            max_articles=digest.max_articles,
            max_resume_age=timedelta(hours=mail.max_resume_age_hours),
            redis_patience=mail.redis_patience_seconds,
            durability=mail.durability,
            durable_window=mail.durable_window,
            durability_timeout_ms=mail.durability_timeout_ms,
            durability_replicas=mail.durability_replicas,
            heartbeat_s=mail.heartbeat_seconds,
            policy=policy_of(mail),
            mail_from=mail.from_address,
            envelope_from=mail.envelope_from,
            approval_window=timedelta(minutes=digest.approval_minutes),
            retention=timedelta(days=digest.retention_days),
            archive_dir=digest.archive_dir,
        )


def policy_of(mail: MailConfig) -> Policy:
    """The send ledger's policy (store/editions.py) from the mail settings."""
    return Policy(
        lease_s=mail.lease_seconds,
        tx_budget_s=mail.tx_budget_seconds,
        retry_base_s=mail.retry_base_seconds,
        retry_max_s=mail.retry_max_seconds,
        max_attempts=mail.max_attempts,
        uncertain=mail.uncertain_policy,
    )
