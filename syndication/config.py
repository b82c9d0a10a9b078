"""The only reader of the environment.

Everything else receives a ``Settings`` (and the ``Publisher`` inside it). A bad or missing
setting is reported as one line naming the variable, before anything starts.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from syndication import redis_urls
from syndication.licences import normalise_licence
from syndication.slugs import slugify

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


#: Reader-facing text per language: ``{en = "…", es = "…"}``. A plain string is the
#: publisher's ``language`` (key ``*`` until the publisher resolves it).
LocalText = Annotated[
    dict[str, str], BeforeValidator(lambda v: {"*": v} if isinstance(v, str) else v)
]
_ANY = "*"
_TAG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")


def _resolve(
    text: dict[str, str], where: str, language: str, languages: list[str]
) -> dict[str, str]:
    """``*`` becomes ``language``; every key must be one of ``languages`` (a typo like
    ``sp`` would otherwise fall back to English for good) and every value non-blank."""
    out = dict(text)
    if _ANY in out:
        out.setdefault(language, out[_ANY])
        del out[_ANY]
    for code, value in out.items():
        if not _TAG.fullmatch(code) or code not in languages:
            raise ValueError(f"{where}: {code!r} is not one of languages {languages}")
        if not value.strip():
            raise ValueError(f"{where}.{code} is blank")
    return out


def _pick(text: dict[str, str], locale: str, fallback: str) -> str:
    """``text`` in ``locale`` (``es-MX`` takes ``es``), else ``fallback``."""
    return text.get(locale) or text.get(locale.split("-")[0]) or fallback


_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
# CSS font families unquoted (CSS Fonts §4.2 allows a name as a run of identifiers): no
# quotes, semicolons or braces, so a value is safe as it is in an attribute and in CSS.
_FONTS = re.compile(r"[A-Za-z][A-Za-z0-9 -]{0,60}(?:, ?[A-Za-z][A-Za-z0-9 -]{0,60}){0,7}")


def _rgb(colour: str) -> tuple[int, int, int]:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def mix(colour: str, other: str, share: float) -> str:
    """``colour`` moved ``share`` (0–1) of the way towards ``other``, as ``#rrggbb``."""
    a, b = _rgb(colour), _rgb(other)
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b, strict=True))


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance (0 black … 1 white)."""

    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _http_url_or_empty(value: str) -> str:
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ValueError("must be an absolute http(s) URL")
    return value


class Brand(_Toml):
    """The publisher's look, in one place: the digest, the confirmation and manage emails,
    the archive and the subscriber pages all read it. Values are checked here (hex colours,
    unquoted font names, an http(s) logo), so templates may put them in CSS unescaped."""

    logo_url: str = ""
    logo_width: int = Field(default=200, ge=16, le=552)
    logo_height: int = Field(default=0, ge=0, le=300)  # 0: unknown, keep its aspect
    primary: str = "#a3001b"  # links, buttons, the featured label
    accent: str = "#1f5f8b"  # highlights: the featured story's label
    text: str = "#1a1a1a"
    background: str = "#ffffff"  # behind the text: every text colour is set with it
    font: str = "Georgia, Times New Roman, serif"
    heading_font: str = "Georgia, Times New Roman, serif"

    @field_validator("primary", "accent", "text", "background")
    @classmethod
    def _colour(cls, value: str) -> str:
        if not _COLOUR.fullmatch(value):
            raise ValueError("must be a hex colour such as #a3001b")
        return value.lower()

    @field_validator("font", "heading_font")
    @classmethod
    def _font(cls, value: str) -> str:
        if not _FONTS.fullmatch(value.strip()):
            raise ValueError("must be font names separated by commas, without quotes")
        return value.strip()

    @field_validator("logo_url")
    @classmethod
    def _logo(cls, value: str) -> str:
        return _http_url_or_empty(value.strip())

    # Derived colours: templates never mix their own, so a brand change is one edit.
    @property
    def muted(self) -> str:
        """Secondary text (dates, credits): the text colour a third of the way to the page."""
        return mix(self.text, self.background, 0.35)

    @property
    def rule(self) -> str:
        return mix(self.text, self.background, 0.85)

    @property
    def frame(self) -> str:
        """Around the content column (the email's outer background)."""
        return mix(self.text, self.background, 0.94)

    @property
    def on_primary(self) -> str:
        """Text on a primary-coloured button: white or near-black, whichever reads better."""
        return "#ffffff" if luminance(self.primary) < 0.4 else "#1a1a1a"

    @property
    def dark_link(self) -> str:
        """Links on the dark-mode background (#161616): the primary, lightened."""
        return mix(self.primary, "#ffffff", 0.45)


class Publisher(_Toml):
    """The publisher's identity and terms, from ``syndication.toml``.

    Reader-facing text (``description``, ``topics`` and ``sections`` labels) is per
    language, so a Spanish page never shows the English value (see ``LocalText``).
    """

    name: str = Field(min_length=1)
    site_url: str
    licence: str = "CC-BY-NC-4.0"
    language: str = "en"
    languages: list[str] = Field(default_factory=lambda: ["en"])
    timezone: str = "UTC"
    postal_address: str = ""
    contact_email: str = ""
    description: LocalText = Field(default_factory=dict)
    #: Labels of topic and section slugs (``environmental-crime``) per language; a slug
    #: without one shows the name its articles gave it.
    topics: dict[str, LocalText] = Field(default_factory=dict)
    sections: dict[str, LocalText] = Field(default_factory=dict)
    logo_url: str = ""  # kept for old configs: ``brand.logo_url`` wins
    brand: Brand = Field(default_factory=Brand)
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

    @field_validator("logo_url")
    @classmethod
    def _logo_url(cls, value: str) -> str:
        return _http_url_or_empty(value.strip())

    @property
    def logo(self) -> str:
        """The logo's URL (http or https only, checked above), or ''."""
        return self.brand.logo_url or self.logo_url

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

    @model_validator(mode="after")
    def _local_texts(self) -> Publisher:
        langs = list(dict.fromkeys([self.language, *self.languages]))
        self.description = _resolve(self.description, "description", self.language, langs)
        for kind in ("topics", "sections"):
            labels: dict[str, dict[str, str]] = getattr(self, kind)
            for slug, text in labels.items():
                if slugify(slug) != slug:
                    raise ValueError(f"{kind}: {slug!r} is not a slug (try {slugify(slug)!r})")
                labels[slug] = _resolve(text, f"{kind}.{slug}", self.language, langs)
        return self

    @property
    def attribution_name(self) -> str:
        return self.attribution.name or self.name

    @property
    def address_line(self) -> str:
        """Name and postal address on one line for page and email footers, the name once:
        an address that starts with the name ("InSight Crime, Medellín") is the whole line."""
        name, postal = " ".join(self.name.split()), " ".join(self.postal_address.split())
        if not postal:
            return name
        return postal if postal.startswith(name) else f"{name}, {postal}"

    def describe(self, locale: str) -> str:
        """The description in ``locale``, else in the publisher's language."""
        return _pick(self.description, locale, self.description.get(self.language, ""))

    def topic_label(self, slug: str, locale: str, default: str = "") -> str:
        """A topic's label in ``locale``; ``default`` (its articles' name) else."""
        return _pick(self.topics.get(slug, {}), locale, default or slug)

    def section_label(self, section: str, locale: str) -> str:
        """An article's section (its own text) as ``sections`` names it in ``locale``."""
        return _pick(self.sections.get(slugify(section), {}), locale, section)


# -- Typed, nested settings ------------------------------------------------------------------
# Each group's defaults are written here once: the environment model below takes its defaults
# from these classes, and services/ read the groups (never ``getattr`` with a default).

DEFAULT_CONFIRM_RETRY = (60.0, 120.0, 300.0, 600.0, 1200.0, 2400.0, 3600.0, 7200.0, 14400.0)


@dataclass(frozen=True)
class MailConfig:
    """Sender identity, SMTP delivery and the send ledger (``SYNDICATION_MAIL_*``, ``SMTP_*``,
    ``DKIM_*``)."""

    from_address: str | None = None  # header From (default: "Publisher" <newsletter@host>)
    envelope_from: str | None = None  # MAIL FROM / bounce address
    unsubscribe_mailto: str | None = None
    smtp_timeout: float = 30.0
    connections: int = 2  # SMTP sessions (threads) per send task
    batch: int = 50  # recipients claimed at a time per session
    fanout: int = 2  # send tasks queued per edition
    rate_per_second: float = 0.0  # 0: unlimited
    rate_per_hour: float = 0.0
    # Per recipient domain (store/domain_pacing.py): messages a second for a domain or
    # provider group (gmail.com takes googlemail.com, outlook.com hotmail.com and live.com);
    # none by default. A throttling answer pauses the domain for the back-off (doubling up
    # to the max) and halves its rate until successes bring it back.
    domain_rates: tuple[tuple[str, float], ...] = ()
    domain_backoff_seconds: float = 2.0
    domain_backoff_max_seconds: float = 300.0
    lease_seconds: float = 300.0
    tx_budget_seconds: float = 120.0
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    max_attempts: int = 8
    uncertain_policy: str = "report"
    max_resume_age_hours: float = 48.0
    max_task_seconds: float = 600.0  # a send task hands over to a fresh one after this
    # Durable claims before DATA (issue #12): auto | waitaof | always | wait | off.
    durability: str = "auto"
    durable_window: int = 20
    durability_timeout_ms: int = 5000
    durability_replicas: int = 1
    heartbeat_seconds: float = 5.0
    # How long a sender waits for Redis to come back before its task gives up.
    redis_patience_seconds: float = 120.0
    # How often each worker runs the send recovery itself (0: only beat's mail.recover).
    recover_interval_seconds: float = 10.0
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_key_file: Path | None = None  # RSA (PEM); RFC 8463 §5: sign with RSA and Ed25519
    dkim_ed25519_selector: str | None = None
    dkim_ed25519_key_file: Path | None = None  # Ed25519 (PKCS#8 PEM or raw base64)
    # Where DMARC aggregate reports go, in the record ``syndication check`` prints
    # (default: dmarc-reports@ the From domain).
    dmarc_rua: str | None = None


@dataclass(frozen=True)
class DigestConfig:
    """When digests are made and what they hold (``SYNDICATION_DIGEST_*``)."""

    send_time: str = "07:00"  # HH:MM in the publisher's time zone
    weekly_day: str = "monday"
    max_articles: int = 15  # per segment (the HTML stays under the Gmail clip at 15)
    approval_minutes: int = 0  # scheduled editions wait as drafts this long
    # Finished editions are compacted this long after they finish (0: never): their sent
    # entries and frozen recipient list leave Redis, counts and failed/uncertain stay.
    retention_days: float = 7.0
    archive_dir: Path | None = None  # where compaction first writes the dropped entries
    # Story links go through a counted redirect (services/clicks.py); off: straight links.
    click_counts: bool = False


@dataclass(frozen=True)
class SubscribeConfig:
    """Signup limits and confirmation emails (``SYNDICATION_SUBSCRIBE_*``, ``CONFIRM_*``)."""

    ip_limit: int = 20
    ip_window_s: int = 3600
    address_limit: int = 3
    address_window_s: int = 3600
    confirm_token_hours: int = 48
    # The wait before each retry after a temporary SMTP failure (the last one repeats).
    confirm_retry_seconds: tuple[float, ...] = DEFAULT_CONFIRM_RETRY
    confirm_give_up_hours: float = 24.0
    confirm_alert_minutes: float = 30.0


@dataclass(frozen=True)
class PartnersConfig:
    """Partner feed pulls (``SYNDICATION_PARTNER_RATE_*``)."""

    rate_limit: int = 120
    rate_window_s: int = 60


@dataclass(frozen=True)
class WebhooksConfig:
    """Outgoing event webhooks (``SYNDICATION_WEBHOOKS_*``): one POST's time budget, the
    retry schedule, when a failing endpoint is switched off, and whether endpoints may be on
    loopback or private addresses (tests and intranets only: SSRF otherwise)."""

    timeout_seconds: float = 5.0  # the whole attempt: connect, send, answer
    max_attempts: int = 8  # with the defaults below the last is about 22 hours after the first
    retry_base_seconds: float = 60.0  # the first retry's wait; each next one is 4x longer
    retry_max_seconds: float = 8 * 3600.0
    disable_after: int = 20  # consecutive failed attempts before an endpoint is switched off
    allow_private: bool = False


@dataclass(frozen=True)
class AdminConfig:
    """/admin sign-in (``SYNDICATION_ADMIN_*``): a plain password or a pbkdf2 hash line."""

    password: str | None = None
    password_hash: str | None = None
    session_hours: float = 12.0


# (group, attribute) of each setting that goes from the environment to its group unchanged.
_NESTED: dict[str, tuple[str, str]] = {
    "mail_from": ("mail", "from_address"),
    "mail_envelope_from": ("mail", "envelope_from"),
    "unsubscribe_mailto": ("mail", "unsubscribe_mailto"),
    "smtp_timeout": ("mail", "smtp_timeout"),
    **{
        f"mail_{name}": ("mail", name)
        for name in (
            "connections", "batch", "fanout", "rate_per_second", "rate_per_hour",
            "domain_backoff_seconds", "domain_backoff_max_seconds",
            "lease_seconds", "tx_budget_seconds", "retry_base_seconds", "retry_max_seconds",
            "max_attempts", "uncertain_policy", "max_resume_age_hours", "max_task_seconds",
            "durability", "durable_window", "durability_timeout_ms", "durability_replicas",
            "heartbeat_seconds", "redis_patience_seconds", "recover_interval_seconds",
        )
    },
    "dkim_selector": ("mail", "dkim_selector"),
    "dkim_domain": ("mail", "dkim_domain"),
    "dkim_key_file": ("mail", "dkim_key_file"),
    "dkim_ed25519_selector": ("mail", "dkim_ed25519_selector"),
    "dkim_ed25519_key_file": ("mail", "dkim_ed25519_key_file"),
    "dmarc_rua": ("mail", "dmarc_rua"),
    "digest_send_time": ("digest", "send_time"),
    "digest_weekly_day": ("digest", "weekly_day"),
    "digest_max_articles": ("digest", "max_articles"),
    "digest_approval_minutes": ("digest", "approval_minutes"),
    "edition_retention": ("digest", "retention_days"),
    "edition_archive_dir": ("digest", "archive_dir"),
    "click_counts": ("digest", "click_counts"),
    "subscribe_ip_limit": ("subscribe", "ip_limit"),
    "subscribe_ip_window_s": ("subscribe", "ip_window_s"),
    "subscribe_address_limit": ("subscribe", "address_limit"),
    "subscribe_address_window_s": ("subscribe", "address_window_s"),
    "confirm_token_hours": ("subscribe", "confirm_token_hours"),
    "confirm_give_up_hours": ("subscribe", "confirm_give_up_hours"),
    "confirm_alert_minutes": ("subscribe", "confirm_alert_minutes"),
    "partner_rate_limit": ("partners", "rate_limit"),
    "partner_rate_window_s": ("partners", "rate_window_s"),
    "admin_session_hours": ("admin", "session_hours"),
    **{
        f"webhooks_{name}": ("webhooks", name)
        for name in (
            "timeout_seconds", "max_attempts", "retry_base_seconds", "retry_max_seconds",
            "disable_after", "allow_private",
        )
    },
}  # fmt: skip
_M, _D, _S, _P, _A = MailConfig, DigestConfig, SubscribeConfig, PartnersConfig, AdminConfig
_W = WebhooksConfig


class _Env(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    redis_url: str | None = None
    # Celery's broker when it must not be SYNDICATION_REDIS_URL (required with a Cluster).
    broker_url: str | None = None
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
    mail_from: str | None = _M.from_address
    mail_envelope_from: str | None = _M.envelope_from
    unsubscribe_mailto: str | None = _M.unsubscribe_mailto
    smtp_timeout: float = Field(default=_M.smtp_timeout, gt=0, le=600)
    mail_connections: int = Field(default=_M.connections, ge=1, le=64)
    mail_batch: int = Field(default=_M.batch, ge=1, le=10_000)
    mail_fanout: int = Field(default=_M.fanout, ge=1, le=64)
    mail_rate_per_second: float = Field(default=_M.rate_per_second, ge=0)
    mail_rate_per_hour: float = Field(default=_M.rate_per_hour, ge=0)
    # "gmail.com=20,outlook.com=10": messages a second per recipient domain (or group).
    mail_domain_rates: str = ""
    mail_domain_backoff_seconds: float = Field(default=_M.domain_backoff_seconds, gt=0, le=3600)
    mail_domain_backoff_max_seconds: float = Field(
        default=_M.domain_backoff_max_seconds, gt=0, le=24 * 3600
    )
    mail_lease_seconds: float = Field(default=_M.lease_seconds, ge=5)
    mail_tx_budget_seconds: float = Field(default=_M.tx_budget_seconds, ge=1)
    mail_retry_base_seconds: float = Field(default=_M.retry_base_seconds, ge=0)
    mail_retry_max_seconds: float = Field(default=_M.retry_max_seconds, ge=0)
    mail_max_attempts: int = Field(default=_M.max_attempts, ge=1, le=100)
    mail_uncertain_policy: str = _M.uncertain_policy
    mail_max_resume_age_hours: float = Field(default=_M.max_resume_age_hours, gt=0)
    mail_max_task_seconds: float = Field(default=_M.max_task_seconds, ge=10)
    # Durable claims before DATA (issue #12): auto | waitaof | always | wait | off.
    mail_durability: str = _M.durability
    mail_durable_window: int = Field(default=_M.durable_window, ge=1, le=1000)
    mail_durability_timeout_ms: int = Field(default=_M.durability_timeout_ms, ge=10, le=600_000)
    mail_durability_replicas: int = Field(default=_M.durability_replicas, ge=1, le=16)
    mail_heartbeat_seconds: float = Field(default=_M.heartbeat_seconds, gt=0, le=60)
    # How long a sender waits for Redis to come back before its task gives up (the worker's
    # recovery watchdog re-queues the edition when Redis is back).
    mail_redis_patience_seconds: float = Field(default=_M.redis_patience_seconds, gt=0, le=3600)
    # How often each worker runs the send recovery itself (0: only beat's mail.recover).
    mail_recover_interval_seconds: float = Field(default=_M.recover_interval_seconds, ge=0, le=3600)
    digest_send_time: str = _D.send_time
    digest_weekly_day: str = _D.weekly_day
    digest_max_articles: int = Field(default=_D.max_articles, ge=1, le=100)
    dkim_selector: str | None = _M.dkim_selector
    dkim_domain: str | None = _M.dkim_domain
    dkim_key_file: Path | None = _M.dkim_key_file
    # A second signature with an Ed25519 key (RFC 8463), same domain, its own selector.
    dkim_ed25519_selector: str | None = _M.dkim_ed25519_selector
    dkim_ed25519_key_file: Path | None = _M.dkim_ed25519_key_file
    dmarc_rua: str | None = _M.dmarc_rua
    confirm_token_hours: int = Field(default=_S.confirm_token_hours, ge=1, le=24 * 14)
    # Confirmation emails (services/confirmations.py): the wait before each retry after a
    # temporary SMTP failure, in seconds, comma-separated (the last one repeats); how long
    # after the signup to keep trying; when /healthz calls confirmations degraded.
    confirm_retry_seconds: str = ",".join(f"{s:g}" for s in DEFAULT_CONFIRM_RETRY)
    confirm_give_up_hours: float = Field(default=_S.confirm_give_up_hours, gt=0, le=24 * 7)
    confirm_alert_minutes: float = Field(default=_S.confirm_alert_minutes, gt=0)
    subscribe_ip_limit: int = Field(default=_S.ip_limit, ge=1)
    subscribe_ip_window_s: int = Field(default=_S.ip_window_s, ge=1)
    subscribe_address_limit: int = Field(default=_S.address_limit, ge=1)
    subscribe_address_window_s: int = Field(default=_S.address_window_s, ge=1)
    partner_rate_limit: int = Field(default=_P.rate_limit, ge=1)
    partner_rate_window_s: int = Field(default=_P.rate_window_s, ge=1)
    # /admin: the operators' password, given in plain (compared via a hash) or as a
    # pbkdf2_sha256$<iterations>$<salt>$<hash> line from `syndication admin hash-password`.
    admin_password: SecretStr | None = None
    admin_password_hash: SecretStr | None = None
    admin_session_hours: float = Field(default=_A.session_hours, gt=0, le=24 * 30)
    # Scheduled editions wait this long as drafts (editable in /admin) before they send.
    digest_approval_minutes: int = Field(default=_D.approval_minutes, ge=0, le=7 * 24 * 60)
    # Compaction of finished editions: "7d", "36h", "30" (days), "0" or "never" (off).
    edition_retention: float = _D.retention_days
    edition_archive_dir: Path | None = _D.archive_dir
    click_counts: bool = _D.click_counts  # SYNDICATION_CLICK_COUNTS (services/clicks.py)

    @field_validator("edition_retention", mode="before")
    @classmethod
    def _retention(cls, value: object) -> float:
        return parse_days(str(value))

    # Outgoing event webhooks (README, Event webhooks).
    webhooks_timeout_seconds: float = Field(default=_W.timeout_seconds, gt=0, le=120)
    webhooks_max_attempts: int = Field(default=_W.max_attempts, ge=1, le=20)
    webhooks_retry_base_seconds: float = Field(default=_W.retry_base_seconds, gt=0, le=3600)
    webhooks_retry_max_seconds: float = Field(default=_W.retry_max_seconds, gt=0, le=24 * 3600)
    webhooks_disable_after: int = Field(default=_W.disable_after, ge=1, le=10_000)
    webhooks_allow_private: bool = _W.allow_private

    @field_validator("mail_from", "mail_envelope_from", "unsubscribe_mailto", "dmarc_rua")
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

    @field_validator("mail_domain_rates")
    @classmethod
    def _domain_rates(cls, value: str) -> str:
        parse_domain_rates(value)
        return value

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
        rsa = (self.dkim_selector, self.dkim_key_file)
        ed25519 = (self.dkim_ed25519_selector, self.dkim_ed25519_key_file)
        if any(ed25519) and not (all(ed25519) and self.dkim_domain):
            raise ValueError(
                "SYNDICATION_DKIM_ED25519_SELECTOR and _DKIM_ED25519_KEY_FILE go together, "
                "with SYNDICATION_DKIM_DOMAIN"
            )
        if (any(rsa) and not (all(rsa) and self.dkim_domain)) or (
            self.dkim_domain and not any(rsa) and not any(ed25519)
        ):
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
        if value is not None:
            redis_urls.parse(value)
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, value: str | None) -> str | None:
        if value is not None and redis_urls.parse(value).cluster:
            raise ValueError(
                "Celery's Redis transport cannot use a Redis Cluster: give a plain Redis "
                "(redis://) or a Sentinel (redis+sentinel://) URL"
            )
        return value

    @model_validator(mode="after")
    def _cluster_broker(self) -> _Env:
        if self.redis_url and redis_urls.parse(self.redis_url).cluster and not self.broker_url:
            raise ValueError(
                f"{ENV_PREFIX}REDIS_URL is a Redis Cluster, which Celery cannot use as its "
                f"broker: set {ENV_PREFIX}BROKER_URL to a plain Redis or Sentinel URL"
            )
        return self

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
    previous_secret_keys: tuple[str, ...] = ()
    metrics_token: str | None = None
    mail: MailConfig = field(default_factory=MailConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    subscribe: SubscribeConfig = field(default_factory=SubscribeConfig)
    partners: PartnersConfig = field(default_factory=PartnersConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    broker_url: str | None = None  # None: the broker is redis_url

    # Read by web/admin/auth.py, which another branch is moving (issue #13): it reads
    # ``settings.admin`` after that, and these views go.
    @property
    def admin_password(self) -> str | None:
        return self.admin.password

    @property
    def admin_password_hash(self) -> str | None:
        return self.admin.password_hash

    @property
    def admin_session_hours(self) -> float:
        return self.admin.session_hours

    def need_redis_url(self) -> str:
        if not self.redis_url:
            raise ConfigError(
                f"{ENV_PREFIX}REDIS_URL is not set (e.g. redis://localhost:6379/0; "
                "'syndication demo' runs an embedded Redis)"
            )
        return self.redis_url

    def need_broker_url(self) -> str:
        """Celery's broker: ``broker_url``, else the store's Redis (never a Cluster)."""
        url = self.broker_url or self.need_redis_url()
        if redis_urls.parse(url).cluster:
            raise ConfigError(
                f"{ENV_PREFIX}REDIS_URL is a Redis Cluster, which Celery cannot use as its "
                f"broker: set {ENV_PREFIX}BROKER_URL to a plain Redis or Sentinel URL"
            )
        return url

    @property
    def https(self) -> bool:
        """The public URL is https: secure cookies, HSTS, and what one-click unsubscribe
        (RFC 8058) needs; the one place this is decided."""
        return self.public_url.lower().startswith("https://")

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


def parse_domain_rates(value: str) -> tuple[tuple[str, float], ...]:
    """``gmail.com=20, outlook.com=10`` → ((domain, messages a second), …)."""
    out: list[tuple[str, float]] = []
    for part in value.split(","):
        if not part.strip():
            continue
        domain, _, rate = part.partition("=")
        domain = domain.strip().lower()
        try:
            per_second = float(rate)
        except ValueError:
            per_second = -1.0
        if "." not in domain or not per_second >= 0:
            raise ValueError(
                "must be domain=messages-per-second pairs, e.g. gmail.com=20,yahoo.com=10"
            )
        out.append((domain, per_second))
    return tuple(out)


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


def parse_days(text: str) -> float:
    """Days from ``7d``, ``36h``, ``90m``, a plain number of days, or ``never``/``0`` (0)."""
    value = text.strip().lower()
    if value in ("never", "off", ""):
        return 0.0
    units = {"d": 1.0, "h": 1 / 24, "m": 1 / 1440}
    scale = units.get(value[-1], 0.0)
    number = value[:-1] if scale else value
    try:
        days = float(number) * (scale or 1.0)
    except ValueError:
        raise ValueError("must be a duration like 7d, 36h or 90m, or never") from None
    if not 0 <= days <= 3650 or days != days:
        raise ValueError("must be between 0 (never) and 3650 days")
    return days


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from the environment (or ``environ`` in tests)."""
    env = _read_env(environ)
    path = _config_path(env)
    return _settings(env, path, load_publisher(path))


def _read_env(environ: dict[str, str] | None) -> _Env:
    """The ``SYNDICATION_*`` variables, validated; a bad one is a ConfigError naming it."""
    try:
        if environ is None:
            return _Env()
        values = {
            k[len(ENV_PREFIX) :].lower(): v for k, v in environ.items() if k.startswith(ENV_PREFIX)
        }
        return _Env.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        message = err["msg"].removeprefix("Value error, ")
        if not err["loc"]:  # a rule across settings: its message names them
            raise ConfigError(message) from None
        name = ENV_PREFIX + str(err["loc"][0]).upper()
        raise ConfigError(f"{name}: {message}") from None


def _config_path(env: _Env) -> Path:
    """``SYNDICATION_CONFIG``, else ``syndication.toml`` in the working directory."""
    path = env.config
    if path is None and Path("syndication.toml").is_file():
        path = Path("syndication.toml")
    if path is None:
        raise ConfigError(
            f"{ENV_PREFIX}CONFIG is not set and there is no syndication.toml here "
            "(see examples/insightcrime.toml)"
        )
    return path


def _settings(env: _Env, path: Path, publisher: Publisher) -> Settings:
    """Settings from validated variables: secrets unwrapped, groups from ``_NESTED``."""
    values = env.model_dump()
    groups: dict[str, dict[str, Any]] = {}
    for name, (group, attr) in _NESTED.items():
        groups.setdefault(group, {})[attr] = values[name]
    secret = SecretStr.get_secret_value
    return Settings(
        redis_url=env.redis_url,
        broker_url=env.broker_url,
        public_url=env.public_url,
        secret_key=secret(env.secret_key) if env.secret_key else None,
        api_token=secret(env.api_token) if env.api_token else None,
        metrics_token=secret(env.metrics_token) if env.metrics_token else None,
        smtp_url=env.smtp_url,
        key_prefix=env.key_prefix,
        feed_items=env.feed_items,
        max_body_bytes=env.max_body_bytes,
        publisher=publisher,
        config_path=path,
        previous_secret_keys=tuple(
            secret(env.secret_key_previous).split(",") if env.secret_key_previous else ()
        ),
        mail=MailConfig(**groups["mail"], domain_rates=parse_domain_rates(env.mail_domain_rates)),
        digest=DigestConfig(**groups["digest"]),
        subscribe=SubscribeConfig(
            **groups["subscribe"],
            confirm_retry_seconds=tuple(float(s) for s in env.confirm_retry_seconds.split(",")),
        ),
        partners=PartnersConfig(**groups["partners"]),
        webhooks=WebhooksConfig(**groups["webhooks"]),
        admin=AdminConfig(
            **groups["admin"],
            password=secret(env.admin_password) if env.admin_password else None,
            password_hash=secret(env.admin_password_hash) if env.admin_password_hash else None,
        ),
    )
