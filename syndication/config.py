"""The only reader of the environment.

Everything else receives a ``Settings`` (and the ``Publisher`` inside it). A bad or missing
setting is reported as one line naming the variable, before anything starts.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from syndication.licences import normalise_licence

ENV_PREFIX = "SYNDICATION_"


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line that names it."""


class _Toml(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttributionTerms(_Toml):
    """How the publisher wants to be credited (the CC licence's attribution clause)."""

    name: str = ""
    byline: str = "by {authors}, {publisher}"
    terms: str = ""
    contact: str = ""
    note: str = ""


class PollSource(_Toml):
    url: str
    kind: str = "auto"
    interval_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # The publisher's own site (its WordPress, its feed): its items are the publisher's, as
    # those of the API and file import (syndication/identity.py); any other source owns
    # its items alone and may touch no one else's.
    own: bool = False
    # A poll gives up after this long in all (connect, every read, every redirect): a
    # server trickling a byte at a time defeats per-read timeouts.
    deadline_s: float = Field(default=30, gt=0, le=600)
    # Redirects are followed to the source's own host (and port) only, and to these
    # ("host" for the default port, or "host:port").
    redirect_hosts: list[str] = Field(default_factory=list)
    # The source's host name is on a private network (intranet): its addresses may be
    # loopback, private or link-local. A source given as such an IP address (or as
    # localhost) needs no flag; any other source may reach public addresses only.
    private_network: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL")
        return value

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in ("auto", "feed", "wordpress"):
            raise ValueError("must be auto, feed or wordpress")
        return value

    @field_validator("redirect_hosts")
    @classmethod
    def _redirect_hosts(cls, values: list[str]) -> list[str]:
        hosts = []
        for value in values:
            parts = urlsplit("//" + value.strip())
            try:
                parts.port  # noqa: B018 - raises on a bad port
            except ValueError:
                raise ValueError(f"{value!r}: bad port") from None
            if not parts.hostname or parts.path or parts.query or "@" in parts.netloc:
                raise ValueError(f"{value!r} is not a host or host:port")
            hosts.append(parts.netloc.lower())
        return hosts


class Publisher(_Toml):
    """The publisher's identity and terms, from ``syndication.toml``."""

    name: str = Field(min_length=1)
    site_url: str
    licence: str = "CC-BY-NC-4.0"
    language: str = "en"
    languages: list[str] = Field(default_factory=lambda: ["en"])
    timezone: str = "UTC"
    postal_address: str = ""
    contact_email: str = ""
    description: str = ""
    logo_url: str = ""
    attribution: AttributionTerms = Field(default_factory=AttributionTerms)
    sources: list[PollSource] = Field(default_factory=list)
    websub_hubs: list[str] = Field(default_factory=list)

    @field_validator("websub_hubs")
    @classmethod
    def _hubs(cls, values: list[str]) -> list[str]:
        for value in values:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"{value!r} is not an absolute http(s) URL")
        return values

    @field_validator("licence")
    @classmethod
    def _licence(cls, value: str) -> str:
        return normalise_licence(value)

    @field_validator("site_url")
    @classmethod
    def _site_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def attribution_name(self) -> str:
        return self.attribution.name or self.name


class _Env(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = None
    # Earlier secret keys, comma-separated: links signed with them keep working (rollover).
    secret_key_previous: SecretStr | None = None
    api_token: SecretStr | None = None
    # When set, GET /metrics needs "Authorization: Bearer <this>" (it names partner ids).
    metrics_token: SecretStr | None = None
    smtp_url: str | None = None
    config: Path | None = None
    key_prefix: str = "synd:"
    feed_items: int = Field(default=50, ge=1, le=1000)
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # Mail: sender identity, delivery and the digest schedule (see README, Configuration).
    mail_from: str | None = None
    mail_envelope_from: str | None = None
    unsubscribe_mailto: str | None = None
    smtp_timeout: float = Field(default=30, gt=0, le=600)
    mail_connections: int = Field(default=2, ge=1, le=64)
    mail_batch: int = Field(default=50, ge=1, le=10_000)
    mail_fanout: int = Field(default=2, ge=1, le=64)
    mail_rate_per_second: float = Field(default=0, ge=0)
    mail_rate_per_hour: float = Field(default=0, ge=0)
    mail_lease_seconds: float = Field(default=300, ge=5)
    mail_tx_budget_seconds: float = Field(default=120, ge=1)
    mail_retry_base_seconds: float = Field(default=30, ge=0)
    mail_retry_max_seconds: float = Field(default=3600, ge=0)
    mail_max_attempts: int = Field(default=8, ge=1, le=100)
    mail_uncertain_policy: str = "report"
    mail_max_resume_age_hours: float = Field(default=48, gt=0)
    mail_max_task_seconds: float = Field(default=600, ge=10)
    # Durable claims before DATA (issue #12): auto | waitaof | always | wait | off.
    mail_durability: str = "auto"
    mail_durable_window: int = Field(default=20, ge=1, le=1000)
    mail_durability_timeout_ms: int = Field(default=5000, ge=10, le=600_000)
    mail_durability_replicas: int = Field(default=1, ge=1, le=16)
    mail_heartbeat_seconds: float = Field(default=5, gt=0, le=60)
    # How long a sender waits for Redis to come back before its task gives up (the worker's
    # recovery watchdog re-queues the edition when Redis is back).
    mail_redis_patience_seconds: float = Field(default=120, gt=0, le=3600)
    # How often each worker runs the send recovery itself (0: only beat's mail.recover).
    mail_recover_interval_seconds: float = Field(default=10, ge=0, le=3600)
    digest_send_time: str = "07:00"
    digest_weekly_day: str = "monday"
    digest_max_articles: int = Field(default=15, ge=1, le=100)
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_key_file: Path | None = None
    confirm_token_hours: int = Field(default=48, ge=1, le=24 * 14)
    # Confirmation emails (services/confirmations.py): the wait before each retry after a
    # temporary SMTP failure, in seconds, comma-separated (the last one repeats); how long
    # after the signup to keep trying; when /healthz calls confirmations degraded.
    confirm_retry_seconds: str = "60,120,300,600,1200,2400,3600,7200,14400"
    confirm_give_up_hours: float = Field(default=24, gt=0, le=24 * 7)
    confirm_alert_minutes: float = Field(default=30, gt=0)
    subscribe_ip_limit: int = Field(default=20, ge=1)
    subscribe_ip_window_s: int = Field(default=3600, ge=1)
    subscribe_address_limit: int = Field(default=3, ge=1)
    subscribe_address_window_s: int = Field(default=3600, ge=1)
    partner_rate_limit: int = Field(default=120, ge=1)
    partner_rate_window_s: int = Field(default=60, ge=1)
    # /admin: the operators' password, given in plain (compared via a hash) or as a
    # pbkdf2_sha256$<iterations>$<salt>$<hash> line from `syndication admin hash-password`.
    admin_password: SecretStr | None = None
    admin_password_hash: SecretStr | None = None
    admin_session_hours: float = Field(default=12, gt=0, le=24 * 30)
    # Scheduled editions wait this long as drafts (editable in /admin) before they send.
    digest_approval_minutes: int = Field(default=0, ge=0, le=7 * 24 * 60)

    @field_validator("mail_from", "mail_envelope_from", "unsubscribe_mailto")
    @classmethod
    def _no_newlines(cls, value: str | None) -> str | None:
        if value is not None and ("\r" in value or "\n" in value):
            raise ValueError("must be one line (no CR or LF)")
        return value

    @field_validator("confirm_retry_seconds")
    @classmethod
    def _retry_seconds(cls, value: str) -> str:
        try:
            steps = [float(part) for part in value.split(",") if part.strip()]
        except ValueError:
            steps = []
        if not steps or any(not 0 < s <= 24 * 3600 for s in steps):
            raise ValueError("must be seconds, comma-separated, each above 0 and at most 86400")
        return ",".join(repr(s) for s in steps)

    @field_validator("mail_uncertain_policy")
    @classmethod
    def _uncertain(cls, value: str) -> str:
        if value not in ("report", "resend"):
            raise ValueError("must be report or resend")
        return value

    @field_validator("mail_durability")
    @classmethod
    def _durability(cls, value: str) -> str:
        from syndication.store.durability import MODES

        if value not in MODES:
            raise ValueError(f"must be one of {', '.join(MODES)}")
        return value

    @field_validator("digest_send_time")
    @classmethod
    def _send_time(cls, value: str) -> str:
        hour, _, minute = value.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError("must be HH:MM in the publisher's time zone")
        return f"{int(hour):02d}:{int(minute):02d}"

    @field_validator("digest_weekly_day")
    @classmethod
    def _weekday(cls, value: str) -> str:
        days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        if value.lower() not in days:
            raise ValueError("must be a day of the week, e.g. monday")
        return value.lower()

    @model_validator(mode="after")
    def _dkim(self) -> _Env:
        parts = (self.dkim_selector, self.dkim_domain, self.dkim_key_file)
        if any(parts) and not all(parts):
            raise ValueError(
                "SYNDICATION_DKIM_SELECTOR, _DKIM_DOMAIN and _DKIM_KEY_FILE go together"
            )
        if self.mail_tx_budget_seconds >= self.mail_lease_seconds:
            raise ValueError(
                "SYNDICATION_MAIL_TX_BUDGET_SECONDS must be below SYNDICATION_MAIL_LEASE_SECONDS"
            )
        return self

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("smtp", "smtps", "smtp+starttls"):
            raise ValueError("must be an smtp://, smtp+starttls:// or smtps:// URL")
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (try: openssl rand -hex 32)")
        return value

    @field_validator("secret_key_previous")
    @classmethod
    def _previous(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            keys = [k.strip() for k in value.get_secret_value().split(",") if k.strip()]
            if any(len(k) < 32 for k in keys):
                raise ValueError("each key must be at least 32 characters (comma-separated)")
            return SecretStr(",".join(keys)) if keys else None
        return value

    @field_validator("api_token", "metrics_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("admin_password")
    @classmethod
    def _admin_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None  # empty (e.g. an unset variable passed through docker compose)
        if value is not None and len(value.get_secret_value()) < 12:
            raise ValueError("must be at least 12 characters")
        return value

    @field_validator("admin_password_hash")
    @classmethod
    def _admin_hash(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        if value is not None and not re.fullmatch(
            r"pbkdf2_sha256\$\d{4,7}\$[A-Za-z0-9_-]{16,64}\$[A-Za-z0-9_-]{43}",
            value.get_secret_value(),
        ):
            raise ValueError(
                "must be a line from `syndication admin hash-password` "
                "(pbkdf2_sha256$<iterations>$<salt>$<hash>)"
            )
        return value

    @field_validator("key_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or any(c.isspace() or c in "{}" for c in value):
            raise ValueError("must be non-empty, without spaces or braces")
        return value


@dataclass(frozen=True)
class Settings:
    """Validated settings; ``need_*`` raise ConfigError for what a command cannot run without."""

    redis_url: str | None
    public_url: str
    secret_key: str | None
    api_token: str | None
    smtp_url: str | None
    key_prefix: str
    feed_items: int
    max_body_bytes: int
    publisher: Publisher
    config_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    mail_from: str | None = None
    mail_envelope_from: str | None = None
    unsubscribe_mailto: str | None = None
    smtp_timeout: float = 30
    mail_connections: int = 2
    mail_batch: int = 50
    mail_fanout: int = 2
    mail_rate_per_second: float = 0
    mail_rate_per_hour: float = 0
    mail_lease_seconds: float = 300
    mail_tx_budget_seconds: float = 120
    mail_retry_base_seconds: float = 30
    mail_retry_max_seconds: float = 3600
    mail_max_attempts: int = 8
    mail_uncertain_policy: str = "report"
    mail_max_resume_age_hours: float = 48
    mail_max_task_seconds: float = 600
    mail_durability: str = "auto"
    mail_durable_window: int = 20
    mail_durability_timeout_ms: int = 5000
    mail_durability_replicas: int = 1
    mail_heartbeat_seconds: float = 5
    mail_redis_patience_seconds: float = 120
    mail_recover_interval_seconds: float = 10
    digest_send_time: str = "07:00"
    digest_weekly_day: str = "monday"
    digest_max_articles: int = 15
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_key_file: Path | None = None
    confirm_token_hours: int = 48
    confirm_retry_seconds: tuple[float, ...] = (
        60.0, 120.0, 300.0, 600.0, 1200.0, 2400.0, 3600.0, 7200.0, 14400.0,
    )  # fmt: skip
    confirm_give_up_hours: float = 24
    confirm_alert_minutes: float = 30
    subscribe_ip_limit: int = 20
    subscribe_ip_window_s: int = 3600
    subscribe_address_limit: int = 3
    subscribe_address_window_s: int = 3600
    partner_rate_limit: int = 120
    partner_rate_window_s: int = 60
    admin_password: str | None = None
    admin_password_hash: str | None = None
    admin_session_hours: float = 12
    previous_secret_keys: tuple[str, ...] = ()
    digest_approval_minutes: int = 0
    metrics_token: str | None = None

    def need_redis_url(self) -> str:
        if not self.redis_url:
            raise ConfigError(
                f"{ENV_PREFIX}REDIS_URL is not set (e.g. redis://localhost:6379/0; "
                "'syndication demo' runs an embedded Redis)"
            )
        return self.redis_url

    def need_secret_key(self) -> str:
        if not self.secret_key:
            raise ConfigError(
                f"{ENV_PREFIX}SECRET_KEY is not set (32+ characters; try: openssl rand -hex 32)"
            )
        return self.secret_key

    def need_api_token(self) -> str:
        if not self.api_token:
            raise ConfigError(f"{ENV_PREFIX}API_TOKEN is not set (16+ characters)")
        return self.api_token

    def need_smtp_url(self) -> str:
        if not self.smtp_url:
            raise ConfigError(f"{ENV_PREFIX}SMTP_URL is not set (e.g. smtp://localhost:25)")
        return self.smtp_url


def load_publisher(path: Path) -> Publisher:
    """Read ``syndication.toml``; errors name the file and the key."""
    var = f"{ENV_PREFIX}CONFIG"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{var}: no such file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{var}: cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{var}: {path} is not valid TOML: {exc}") from None
    try:
        return Publisher.model_validate(raw.get("publisher", raw))
    except ValidationError as exc:
        raise ConfigError(f"{var}: {path}: {_first_error(exc, 'publisher.')}") from None


def _first_error(exc: ValidationError, prefix: str = "") -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{prefix}{loc}: {err['msg']}"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from the environment (or ``environ`` in tests)."""
    try:
        if environ is None:
            env = _Env()
        else:
            values = {
                k[len(ENV_PREFIX) :].lower(): v
                for k, v in environ.items()
                if k.startswith(ENV_PREFIX)
            }
            env = _Env.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        message = err["msg"].removeprefix("Value error, ")
        if not err["loc"]:  # a rule across settings: its message names them
            raise ConfigError(message) from None
        name = ENV_PREFIX + str(err["loc"][0]).upper()
        raise ConfigError(f"{name}: {message}") from None

    path = env.config
    if path is None and Path("syndication.toml").is_file():
        path = Path("syndication.toml")
    if path is None:
        raise ConfigError(
            f"{ENV_PREFIX}CONFIG is not set and there is no syndication.toml here "
            "(see examples/insightcrime.toml)"
        )
    publisher = load_publisher(path)
    return Settings(
        redis_url=env.redis_url,
        public_url=env.public_url,
        secret_key=env.secret_key.get_secret_value() if env.secret_key else None,
        api_token=env.api_token.get_secret_value() if env.api_token else None,
        metrics_token=env.metrics_token.get_secret_value() if env.metrics_token else None,
        smtp_url=env.smtp_url,
        key_prefix=env.key_prefix,
        feed_items=env.feed_items,
        max_body_bytes=env.max_body_bytes,
        publisher=publisher,
        config_path=path,
        admin_password=env.admin_password.get_secret_value() if env.admin_password else None,
        previous_secret_keys=tuple(
            env.secret_key_previous.get_secret_value().split(",") if env.secret_key_previous else ()
        ),
        admin_password_hash=(
            env.admin_password_hash.get_secret_value() if env.admin_password_hash else None
        ),
        confirm_retry_seconds=tuple(float(s) for s in env.confirm_retry_seconds.split(",")),
        **{name: getattr(env, name) for name in _PASSED_THROUGH},
    )


# Settings that go from the environment to Settings unchanged (validated by _Env).
_PASSED_THROUGH = (
    "mail_from", "mail_envelope_from", "unsubscribe_mailto", "smtp_timeout",
    "mail_connections", "mail_batch", "mail_fanout", "mail_rate_per_second",
    "mail_rate_per_hour", "mail_lease_seconds", "mail_tx_budget_seconds",
    "mail_retry_base_seconds", "mail_retry_max_seconds", "mail_max_attempts",
    "mail_uncertain_policy", "mail_max_resume_age_hours", "mail_max_task_seconds",
    "mail_durability", "mail_durable_window", "mail_durability_timeout_ms",
    "mail_durability_replicas", "mail_heartbeat_seconds", "mail_redis_patience_seconds",
    "mail_recover_interval_seconds",
    "digest_send_time", "digest_weekly_day", "digest_max_articles", "dkim_selector",
    "dkim_domain", "dkim_key_file", "confirm_token_hours", "confirm_give_up_hours",
    "confirm_alert_minutes", "subscribe_ip_limit",
    "subscribe_ip_window_s", "subscribe_address_limit", "subscribe_address_window_s",
    "partner_rate_limit", "partner_rate_window_s", "admin_session_hours",
    "digest_approval_minutes",
)  # fmt: skip
