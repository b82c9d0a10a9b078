"""``syndication check``: each line OK, or what to fix.

Every check is a function of the Settings that returns a ``Check`` (ok / warn / fail with
one line of detail). Nothing here writes to Redis or sends mail: SMTP is connect, EHLO
(STARTTLS and login as configured) and QUIT; templates are rendered with sample data in
memory. ``warn`` is for what may be right elsewhere (workers on other machines, Redis
persistence configured outside CONFIG, mail switched off on purpose); ``fail`` is for
what stops the service from doing its job.
"""

from __future__ import annotations

import contextlib
import ipaddress
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from syndication.config import ConfigError, Settings
from syndication.store.connection import ConnectionFailed, redacted

OK, WARN, FAIL = "ok", "warn", "fail"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


class CheckFailed(Exception):
    """A check's own failure message: shown as it is."""


@dataclass(frozen=True)
class Check:
    check: str
    status: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status, "detail": self.detail}

    def line(self) -> str:
        return f"{self.status.upper():<4} {self.check}: {self.detail}"


def run_checks(settings: Settings, smtp_timeout: float = 10.0) -> list[Check]:
    out: list[Check] = []

    def add(name: str, fn: Callable[[], Check | str]) -> None:
        try:
            result = fn()
        except (ConfigError, CheckFailed) as exc:
            result = Check(name, FAIL, str(exc))
        except Exception as exc:  # a check that crashes is a failed check, named
            result = Check(name, FAIL, f"{type(exc).__name__}: {exc}")
        out.append(result if isinstance(result, Check) else Check(name, OK, result))

    client: list[Any] = []
    add("config", lambda: f"{settings.config_path} ({settings.publisher.name})")
    add("redis", lambda: _redis(settings, client))
    add("send durability", lambda: _durability(settings, client))
    add("secret key", lambda: f"set, {len(settings.need_secret_key())} characters")
    add("api token", lambda: f"set, {len(settings.need_api_token())} characters")
    add("public url", lambda: _public_url(settings))
    add("one-click unsubscribe", lambda: _one_click(settings))
    add("admin", lambda: _admin(settings))
    add("metrics", lambda: _metrics(settings))
    add("smtp", lambda: _smtp(settings, smtp_timeout))
    add("templates", lambda: _templates(settings))
    add("dkim", lambda: _dkim(settings))
    add("sender domains", lambda: _sender_domains(settings))
    add("workers", lambda: _workers(settings, client))
    return out


def _redis(settings: Settings, holder: list[Any]) -> Check:
    from syndication.store.connection import connect, persistence, ping

    url = settings.need_redis_url()
    where = redacted(url)
    try:
        client = connect(url, check=False)
        ping(client)
    except ConnectionFailed as exc:
        return Check(
            "redis", FAIL, f"cannot reach {where} ({exc}): start Redis or fix SYNDICATION_REDIS_URL"
        )
    holder.append(client)
    kept = persistence(client)
    if not kept.config_readable and not kept.aof:
        return Check(
            "redis",
            WARN,
            f"{where} reachable; cannot read CONFIG, and AOF is off: make sure the provider "
            "persists the data (snapshots or AOF)",
        )
    if kept.aof:
        return Check("redis", OK, f"{where} reachable, persistent (appendonly yes)")
    if kept.save:
        return Check(
            "redis",
            WARN,
            f"{where} reachable, RDB snapshots only ({kept.save}): writes since the "
            "last snapshot are lost in a crash; turn on AOF (appendonly yes)",
        )
    return Check(
        "redis",
        WARN,
        f"{where} reachable but NOT persistent (no AOF, no RDB save): a restart loses "
        "everything; set appendonly yes",
    )


def _durability(settings: Settings, holder: list[Any]) -> Check:
    """Whether a recipient's claim can be made durable before its SMTP transaction, so a
    Redis host crash never repeats a send (store/durability.py)."""
    from syndication.store.durability import resolve

    if not holder:
        return Check("send durability", WARN, "not checked: Redis is not reachable")
    wanted = settings.mail.durability
    try:
        durability = resolve(
            holder[0],
            wanted,
            replicas=settings.mail.durability_replicas,
            timeout_ms=settings.mail.durability_timeout_ms,
        )
    except ValueError as exc:
        raise CheckFailed(f"SYNDICATION_MAIL_DURABILITY={wanted}: {exc}") from None
    if durability.durable:
        return Check("send durability", OK, f"{durability.mode.value}: {durability.reason}")
    if wanted == "off":
        return Check(
            "send durability", WARN, "off (SYNDICATION_MAIL_DURABILITY=off): a Redis host "
            "crash can send the messages of its last second again",
        )  # fmt: skip
    return Check(
        "send durability",
        WARN,
        f"none available: {durability.reason}. Set appendfsync always on Redis (the "
        "README's operations section has the cost), add a replica, or use Redis ≥ 8.0",
    )


def _public_url(settings: Settings) -> Check:
    if settings.public_url == DEFAULT_PUBLIC_URL:
        return Check(
            "public url",
            WARN,
            f"{settings.public_url} is the default: set SYNDICATION_PUBLIC_URL to the address "
            "readers use (links in feeds and emails are built from it)",
        )
    return Check("public url", OK, settings.public_url)


def _metrics(settings: Settings) -> Check:
    """/metrics names partner ids: open is fine on loopback, worth a token elsewhere."""
    if settings.metrics_token:
        return Check("metrics", OK, "/metrics needs SYNDICATION_METRICS_TOKEN")
    host = urlsplit(settings.public_url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return Check("metrics", OK, f"open to anyone ({host} is loopback)")
    return Check(
        "metrics",
        WARN,
        "/metrics is open to anyone and lists partner ids: set SYNDICATION_METRICS_TOKEN "
        "(16+ characters) and give it to the Prometheus scraper",
    )


def _admin(settings: Settings) -> Check:
    """/admin needs a password; a hash beats a plain one (nothing to leak from the env)."""
    if settings.admin.password_hash:
        return Check("admin", OK, "password hash set")
    if settings.admin.password:
        return Check(
            "admin",
            WARN,
            "plain SYNDICATION_ADMIN_PASSWORD: prefer SYNDICATION_ADMIN_PASSWORD_HASH "
            "(syndication admin hash-password)",
        )
    return Check(
        "admin",
        WARN,
        "no password: /admin is off (set SYNDICATION_ADMIN_PASSWORD_HASH, made by "
        "syndication admin hash-password)",
    )


def _smtp(settings: Settings, timeout: float) -> Check:
    from syndication.deliver.smtp import SmtpTarget, open_session

    if not settings.smtp_url:
        return Check(
            "smtp",
            WARN,
            "not configured: no confirmations or digests can be sent "
            "(set SYNDICATION_SMTP_URL, e.g. smtp+starttls://user:password@mail.example.org:587)",
        )
    target = SmtpTarget.parse(settings.smtp_url)
    where = target.where
    steps: list[str] = []
    try:
        # The same session the senders open (deliver/smtp.py), then QUIT.
        with open_session(target, timeout, strict_ehlo=True, steps=steps) as conn:
            conn.quit()
    except smtplib.SMTPAuthenticationError as exc:
        return Check(
            "smtp",
            FAIL,
            f"{where}: login refused (SMTP {exc.smtp_code}): check the user and password in "
            "SYNDICATION_SMTP_URL",
        )
    except (OSError, smtplib.SMTPException) as exc:
        hint = (
            "is the mail server running, and are host and port right?"
            if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError)
            else "does the server speak the scheme in the URL (smtp, smtp+starttls, smtps)?"
        )
        done = f" after {', '.join(steps)}" if steps else ""
        return Check(
            "smtp",
            FAIL,
            f"cannot use {where}{done}: {type(exc).__name__}: {exc} — {hint} "
            "(SYNDICATION_SMTP_URL)",
        )
    return Check("smtp", OK, f"{where} ({', '.join(steps)}, QUIT)")


def _templates(settings: Settings) -> str:
    """Every template compiles; the emails render through the real code (MJML included)
    and every web page renders with sample values."""
    from jinja2 import ChainableUndefined

    from syndication.templating import environment

    env = environment()
    names = env.list_templates()
    for name in names:
        env.get_template(name)  # syntax errors, missing includes
    emails = _render_emails(settings)
    lenient = env.overlay(undefined=ChainableUndefined)
    sample = _web_sample(settings)
    # Admin pages take live objects (editions, partners) and are only compiled here; the
    # pages a reader sees render with sample values.
    web = [
        n
        for n in names
        if n.startswith("web/")
        and not n.startswith("web/admin/")
        and not n.rsplit("/", 1)[-1].startswith("_")
    ]
    for name in web:
        if name.endswith(".mjml"):
            continue  # rendered by the archive through the email pipeline
        try:
            lenient.get_template(name).render(sample)
        except Exception as exc:
            raise CheckFailed(f"{name}: {type(exc).__name__}: {exc}") from None
    return f"{len(names)} compile; {emails} email parts and {len(web)} web pages render"


def _render_emails(settings: Settings) -> int:
    from email.headerregistry import Address

    from syndication.deliver.confirmation import build_confirmation
    from syndication.render.attribution import attribution_footer, attribution_header
    from syndication.render.digest_email import DigestSegment, render_digest
    from syndication.store.subscribers import Subscriber

    publisher, base = settings.publisher, settings.public_url
    now = datetime.now(UTC)
    article = _sample_article(settings)
    sub = Subscriber("sample", "reader@example.org", "pending", "daily", (), "en", now, None, 1)
    steps: list[tuple[str, Callable[[], object]]] = [
        (
            "confirmation email (email/confirm/)",
            lambda: build_confirmation(
                sub, f"{base}/confirm/x", publisher, base, Address("N", "n", "example.org")
            ),
        )
    ]
    for language in dict.fromkeys([publisher.language, *publisher.languages]):
        segment = DigestSegment("check", "daily", language, (), (article,))
        steps.append(
            (
                f"digest email in {language} (email/digest/, MJML)",
                lambda s=segment: render_digest(s, publisher, base, now),  # type: ignore[misc]
            )
        )
    for render in (attribution_header, attribution_footer):
        for fmt in ("html", "text"):
            steps.append(
                (
                    f"{render.__name__} ({fmt})",
                    lambda r=render, f=fmt: r(article, publisher, fmt=f),  # type: ignore[misc]
                )
            )
    for label, step in steps:
        try:
            step()
        except Exception as exc:
            raise CheckFailed(f"{label}: {type(exc).__name__}: {exc}") from None
    return len(steps)


def _sample_article(settings: Settings) -> Any:
    from syndication.models import Article

    site = settings.publisher.site_url
    return Article.model_validate(
        {
            "url": f"{site}/news/sample-story/",
            "title": "Sample story",
            "summary": "A sample summary.",
            "body_html": "<p>Sample body.</p>",
            "authors": ["Sample Author"],
            "published_at": "2026-01-02T12:00:00+00:00",
            "language": settings.publisher.language,
            "section": "News",
            "topics": ["Sample"],
        }
    )


def _web_sample(settings: Settings) -> dict[str, Any]:
    from syndication.licences import LICENCES

    publisher, base = settings.publisher, settings.public_url
    return {
        "publisher": publisher,
        "language": publisher.language,
        "locale": publisher.language,
        "public_url": base,
        "licence": LICENCES[publisher.licence],
        "articles": [],
        "feeds": [],
        "subscribe_url": f"{base}/subscribe",
        "index_url": f"{base}/archive",
        "title": "Sample",
        "text": "Sample text.",
        "link": "",
        "link_text": "",
        "errors": {},
        "frequencies": [("daily", "Daily")],
        "topics": {},
        "languages": [publisher.language],
        "language_names": {},
        "chosen_frequency": "daily",
        "chosen_topics": [],
        "chosen_language": publisher.language,
        "page": None,
    }


def _dkim(settings: Settings) -> Check:
    from syndication.render.dns_records import aligned
    from syndication.services.digests import load_dkim_key

    key = load_dkim_key(settings)
    if key is None:
        return Check(
            "dkim",
            WARN,
            "not configured (messages are not DKIM-signed): Gmail, Yahoo and Microsoft "
            "require DKIM of bulk senders; set SYNDICATION_DKIM_SELECTOR, _DKIM_DOMAIN "
            "and _DKIM_KEY_FILE and publish the record below",
        )
    where = f"{key.selector}._domainkey.{key.domain}"
    from_domain = _from_domain(settings)
    if not aligned(key.domain, from_domain):
        return Check(
            "dkim",
            WARN,
            f"key loads ({where}), but d={key.domain} is not aligned with the From domain "
            f"{from_domain}: DMARC needs SPF or DKIM on the From domain (RFC 7489 §3.1)",
        )
    return Check("dkim", OK, f"key loads ({where}), aligned with From ({from_domain})")


def _mailbox_domain(address: str) -> str:
    from email.utils import parseaddr

    return parseaddr(address)[1].rpartition("@")[2].lower()


def _from_domain(settings: Settings) -> str:
    """The header From's domain: what DMARC aligns against (default: the public host)."""
    host = urlsplit(settings.public_url).hostname or "localhost"
    configured = settings.mail.from_address
    return (_mailbox_domain(configured) if configured else "") or host


def _envelope_domain(settings: Settings) -> str:
    """The MAIL FROM domain: what SPF checks (default: the public host, as the sender)."""
    configured = settings.mail.envelope_from
    return (_mailbox_domain(configured) if configured else "") or _from_domain(settings)


def _one_click(settings: Settings) -> Check:
    """RFC 8058 one-click unsubscribe: the List-Unsubscribe URL must be https."""
    scheme = urlsplit(settings.public_url).scheme
    if scheme == "https":
        return Check("one-click unsubscribe", OK, "List-Unsubscribe-Post over https (RFC 8058)")
    return Check(
        "one-click unsubscribe",
        WARN,
        f"SYNDICATION_PUBLIC_URL is {scheme}://: RFC 8058 one-click unsubscribe needs an "
        "https URL, and Gmail and Yahoo require it of bulk senders",
    )


def _sender_domains(settings: Settings) -> Check:
    """SPF's domain (MAIL FROM) aligned with From; DNS itself is not looked up here."""
    from syndication.render.dns_records import aligned

    from_domain, envelope = _from_domain(settings), _envelope_domain(settings)
    if not _is_public_name(from_domain):
        return Check(
            "sender domains",
            WARN,
            f"From domain {from_domain} is not a public domain name: set SYNDICATION_MAIL_FROM "
            "(or SYNDICATION_PUBLIC_URL) to the domain the mail is sent for",
        )
    if not aligned(envelope, from_domain):
        return Check(
            "sender domains",
            WARN,
            f"MAIL FROM domain {envelope} is not aligned with From {from_domain}: SPF then "
            "cannot pass DMARC, only DKIM can (SYNDICATION_MAIL_ENVELOPE_FROM)",
        )
    return Check(
        "sender domains",
        OK,
        f"From {from_domain}, MAIL FROM {envelope}: aligned (organisational domain guessed "
        "from the last two labels); DNS not looked up: publish the records below",
    )


def _is_public_name(domain: str) -> bool:
    try:
        ipaddress.ip_address(domain)
    except ValueError:
        return "." in domain and domain != "localhost" and not domain.endswith(".localhost")
    return False


def dns_records(settings: Settings) -> list[Any]:
    """The records to publish for this configuration: DKIM (when a key is configured),
    DMARC ``p=none`` and an SPF hint. Best effort: a key that does not load is reported
    by the ``dkim`` check, not here."""
    from syndication.deliver.smtp import SmtpTarget
    from syndication.render import dns_records as dns
    from syndication.services.dkim_keys import load_dkim_keys

    out: list[Any] = []
    try:
        keys = load_dkim_keys(settings)
    except ConfigError:
        keys = ()
    out.extend(dns.dkim_record(key) for key in keys)
    from_domain = _from_domain(settings)
    rua = settings.mail.dmarc_rua or f"dmarc-reports@{from_domain}"
    out.append(dns.dmarc_record(from_domain, rua))
    relay = None
    if settings.smtp_url:
        with contextlib.suppress(ValueError):
            relay = SmtpTarget.parse(settings.smtp_url).host
    out.append(
        dns.spf_record(
            _envelope_domain(settings), relay if relay and _is_public_name(relay) else None
        )
    )
    return out


def _workers(settings: Settings, holder: list[Any]) -> Check:
    from syndication.metrics import HEARTBEAT_TTL
    from syndication.store.metrics import Heartbeats

    if not holder:
        return Check("workers", WARN, "not checked: Redis is not reachable")
    beats = Heartbeats(holder[0], settings.key_prefix).read()
    fresh = sorted(node for node, b in beats.items() if b["fresh"])
    if not fresh:
        return Check(
            "workers",
            WARN,
            f"no worker heartbeat in the last {HEARTBEAT_TTL} s: start one (syndication worker) "
            "if none runs elsewhere; feeds, digests and polls wait for a worker",
        )
    return Check("workers", OK, f"{len(fresh)} alive ({', '.join(fresh)})")
