"""Subscription use cases: double opt-in, preferences, unsubscribe, suppression, CSV moves.

Faces (web form, JSON API, CLI, webhook) call these and only format the result. Rules that
live here so no face can forget them:

- The answer to a signup never depends on whether the address is known (no enumeration):
  ``SignupResult.outcome`` is for logs and tests, faces show the same "check your inbox".
- A signup that owes a confirmation records a request in the confirmation ledger before it
  returns (``services/confirmations.py``: durable before the page says "on its way"); the
  task that sends it is queued by a separate call (``send``) that the web face runs after
  the response. A worker sends it, retrying over hours; a repeated signup within a couple
  of minutes (a double-submitted form) is answered by the same request, never a second mail.
- Rate limits per client IP (IPv6 per /64) and per address, so the form cannot be used to
  mail-bomb someone; both apply to every signup, known address or not.
- Only a manage token with the subscriber's current ``token_version`` may read or change a
  subscription; confirming needs an unexpired confirm token (48 h by default).
- The suppression list wins over everything: signup, confirm and import all check it.
"""

from __future__ import annotations

import csv
import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TextIO

from syndication import tokens
from syndication.clock import system_clock
from syndication.config import Settings, SubscribeConfig
from syndication.store.confirmations import Requested
from syndication.store.ratelimit import RateLimiter
from syndication.store.subscribers import (
    FREQUENCIES,
    STATUSES,
    UNSUBSCRIBED,
    ConfirmOutcome,
    InvalidEmail,
    SignupOutcome,
    Subscriber,
    SubscriberStore,
    Suppression,
    normalise_email,
    valid_language,
    valid_topic,
)

CSV_FIELDS = (
    "email",
    "status",
    "frequency",
    "topics",
    "language",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
    "consent_ip",
    "consent_source",
    "suppressed_reason",
)
SUPPRESSING_EVENTS = {"complaint", "unsubscribe", "spamreport"}


class ConfirmationRequests(Protocol):
    """The confirmation ledger as the signup sees it (``ConfirmationService``)."""

    def request(self, subscriber_id: str, now: datetime | None = None) -> Requested: ...

    def enqueue(self, requested: Requested) -> None: ...


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests; try again in {retry_after} s")
        self.retry_after = retry_after


class InvalidInput(ValueError):
    """Bad form or API input; ``fields`` says which field and why, for the form to show."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


class LinkInvalid(Exception):
    """A confirm/manage link that is tampered, revoked, for an unknown subscriber, or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


_SUBSCRIBE = SubscribeConfig()


@dataclass(frozen=True)
class Policy:
    confirm_ttl: timedelta = timedelta(hours=_SUBSCRIBE.confirm_token_hours)
    ip_limit: int = _SUBSCRIBE.ip_limit
    ip_window_s: int = _SUBSCRIBE.ip_window_s
    address_limit: int = _SUBSCRIBE.address_limit
    address_window_s: int = _SUBSCRIBE.address_window_s
    default_frequency: str = "weekly"

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        """The ``settings.subscribe`` limits and the confirmation link's lifetime."""
        sub = settings.subscribe
        return cls(
            confirm_ttl=timedelta(hours=sub.confirm_token_hours),
            ip_limit=sub.ip_limit,
            ip_window_s=sub.ip_window_s,
            address_limit=sub.address_limit,
            address_window_s=sub.address_window_s,
        )


@dataclass(frozen=True)
class Confirmation:
    """The confirmation a signup owes: ``request`` is its ledger entry (the worker signs its
    own link when it builds the mail; ``url`` is one signed at signup, for faces and tests)."""

    subscriber: Subscriber
    url: str
    request: Requested | None = None


@dataclass(frozen=True)
class SignupResult:
    outcome: SignupOutcome  # never shown to the client
    confirmation: Confirmation | None


@dataclass
class ImportReport:
    rows: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[int, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "outcomes": dict(sorted(self.outcomes.items())),
            "errors": [{"line": line, "error": msg} for line, msg in self.errors],
        }


def rate_key_for_ip(ip: str) -> str:
    """IPv6 clients usually own a /64: counting per address would let them rotate freely."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return f"ip:{ip}"
    if addr.version == 6:
        return f"ip:{ipaddress.ip_network(f'{addr}/64', strict=False)}"
    return f"ip:{addr}"


def split_topics(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t for t in re.split(r"[\s,;]+", text.strip().lower()) if t))


class SubscriptionService:
    def __init__(
        self,
        store: SubscriberStore,
        limiter: RateLimiter,
        confirmations: ConfirmationRequests,
        secret: str,
        public_url: str,
        languages: Iterable[str],
        topics: Callable[[], dict[str, str]] | None = None,
        policy: Policy | None = None,
        clock: Callable[[], datetime] = system_clock,
        previous_secrets: Sequence[str] = (),
    ) -> None:
        self.store = store
        self.previous_secrets = tuple(previous_secrets)  # still accepted on links, never signed
        self.limiter = limiter
        self.confirmations = confirmations
        self.secret = secret
        self.public_url = public_url.rstrip("/")
        self.languages = tuple(languages)
        self._topics = topics
        self.policy = policy or Policy()
        self.clock = clock

    # -- links ---------------------------------------------------------------------------

    def manage_token(self, subscriber: Subscriber) -> str:
        return tokens.manage_token(self.secret, subscriber)

    def preferences_url(self, subscriber: Subscriber) -> str:
        return f"{self.public_url}/preferences/{self.manage_token(subscriber)}"

    def unsubscribe_url(self, subscriber: Subscriber) -> str:
        return f"{self.public_url}/unsubscribe/{self.manage_token(subscriber)}"

    def available_topics(self) -> dict[str, str]:
        """Topic slug → title, for the forms (the topics articles have been filed under)."""
        return dict(sorted(self._topics().items())) if self._topics else {}

    # -- signup --------------------------------------------------------------------------

    def validate(
        self, email: str, frequency: str | None, topics: Iterable[str], language: str | None
    ) -> tuple[str, str, tuple[str, ...], str]:
        """Normalised ``(email, frequency, topics, language)`` or InvalidInput naming fields."""
        errors: dict[str, str] = {}
        try:
            address = normalise_email(email)
        except InvalidEmail:
            address = ""
            errors["email"] = "enter a valid email address, like name@example.org"
        freq = frequency or self.policy.default_frequency
        if freq not in FREQUENCIES:
            errors["frequency"] = f"choose one of: {', '.join(FREQUENCIES)}"
        chosen = tuple(dict.fromkeys(t.strip().lower() for t in topics if t.strip()))
        known = self.available_topics()
        bad = [t for t in chosen if not valid_topic(t) or (known and t not in known)]
        if bad:
            errors["topics"] = f"unknown topic: {bad[0][:60]}"
        lang = language or (self.languages[0] if self.languages else "en")
        if lang not in self.languages:
            errors["language"] = f"choose one of: {', '.join(self.languages)}"
        if errors:
            raise InvalidInput(errors)
        return address, freq, chosen, lang

    def subscribe(
        self,
        email: str,
        frequency: str | None = None,
        topics: Iterable[str] = (),
        language: str | None = None,
        *,
        ip: str = "",
        source: str = "web",
    ) -> SignupResult:
        """Create or refresh a pending subscription; the caller then ``send``s the result."""
        address, freq, chosen, lang = self.validate(email, frequency, topics, language)
        p = self.policy
        now = self.clock()  # the limiter's windows too: one "now" for the whole signup
        if ip:
            ok, retry = self.limiter.allow(
                rate_key_for_ip(ip), p.ip_limit, p.ip_window_s, now=now.timestamp()
            )
            if not ok:
                raise RateLimited(retry)
        ok, retry = self.limiter.allow(
            f"addr:{address.lower()}", p.address_limit, p.address_window_s, now=now.timestamp()
        )
        if not ok:
            raise RateLimited(retry)
        outcome, sub = self.store.signup(
            address, freq, chosen, lang, now, consent_ip=ip, consent_source=source
        )
        if outcome in (SignupOutcome.CREATED, SignupOutcome.REFRESHED) and sub is not None:
            token = tokens.confirm_token(self.secret, sub.id, now, p.confirm_ttl)
            requested = self.confirmations.request(sub.id, now)
            url = f"{self.public_url}/confirm/{token}"
            return SignupResult(outcome, Confirmation(sub, url, requested))
        return SignupResult(outcome, None)

    def send(self, result: SignupResult) -> None:
        """Queue the confirmation's first attempt, if the signup made a new request (the
        request is in the ledger already: if this fails, the worker's sweep queues it)."""
        if result.confirmation is not None and result.confirmation.request is not None:
            self.confirmations.enqueue(result.confirmation.request)

    # -- links: confirm, preferences, unsubscribe ----------------------------------------

    def pending_confirmation(self, token: str) -> Subscriber:
        """The subscriber a confirm link is for (to show the confirm button); LinkInvalid."""
        sid = self._verify(token, tokens.CONFIRM)
        sub = self.store.get(sid)
        if sub is None:
            raise LinkInvalid("this confirmation link is not valid")
        return sub

    def confirm(self, token: str) -> tuple[ConfirmOutcome, Subscriber | None]:
        sid = self._verify(token, tokens.CONFIRM)
        return self.store.confirm(sid, self.clock())

    def manage(self, token: str) -> Subscriber:
        """The subscriber a manage link belongs to, if the link is still current."""
        try:
            sid, version = tokens.parse_manage(
                self.secret, token, self.clock(), self.previous_secrets
            )
        except tokens.TokenError:
            raise LinkInvalid("this link is not valid") from None
        sub = self.store.get(sid)
        if sub is None or sub.token_version != version:
            raise LinkInvalid("this link is no longer valid")
        return sub

    def update_preferences(
        self,
        token: str,
        frequency: str | None,
        topics: Iterable[str],
        language: str | None,
    ) -> Subscriber:
        sub = self.manage(token)
        _, freq, chosen, lang = self.validate(sub.email, frequency, topics, language)
        updated = self.store.update(sub.id, self.clock(), freq, chosen, lang)
        if updated is None:
            raise LinkInvalid("this subscription has ended; sign up again to receive mail")
        return updated

    def unsubscribe(self, token: str) -> Subscriber:
        """RFC 8058 one-click and the page's button: idempotent, suppresses the address."""
        sub = self.manage(token)
        return self.store.unsubscribe(sub.id, self.clock()) or sub

    def revoke_links(self, subscriber_id: str) -> Subscriber | None:
        return self.store.revoke_tokens(subscriber_id, self.clock())

    def _verify(self, token: str, purpose: str) -> str:
        try:
            return tokens.verify(self.secret, token, purpose, self.clock(), self.previous_secrets)
        except tokens.TokenExpired:
            raise LinkInvalid("this link has expired", expired=True) from None
        except tokens.TokenError:
            raise LinkInvalid("this link is not valid") from None

    # -- suppression ---------------------------------------------------------------------

    def suppress(self, email: str, reason: str) -> None:
        self.store.suppress(email, reason, self.clock())

    def record_events(self, events: list[Any]) -> dict[str, int]:
        """Bounce/complaint events from a mail provider (generic JSON) into suppression.

        Each event: ``{"type": "bounce"|"complaint"|"unsubscribe", "email": …,
        "bounce_type": "hard"|"soft", "reason": …}``. Hard bounces (RFC 3463 5.x.x) and
        complaints suppress; soft bounces are transient and only counted.
        """
        report = Counter({"suppressed": 0, "ignored": 0, "invalid": 0})
        for event in events:
            if not isinstance(event, dict):
                report["invalid"] += 1
                continue
            kind = str(event.get("type", "")).lower()
            try:
                address = normalise_email(str(event.get("email", "")))
            except InvalidEmail:
                report["invalid"] += 1
                continue
            if kind == "bounce":
                if str(event.get("bounce_type", "hard")).lower() != "hard":
                    report["ignored"] += 1
                    continue
                reason = "hard bounce"
            elif kind in SUPPRESSING_EVENTS:
                reason = kind
            else:
                report["ignored"] += 1
                continue
            detail = str(event.get("reason", "")).replace("\r", " ").replace("\n", " ")[:150]
            self.suppress(address, f"{reason}: {detail}" if detail else reason)
            report["suppressed"] += 1
        return dict(report)

    # -- CSV -----------------------------------------------------------------------------

    def import_csv(
        self, stream: TextIO, progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Rows as ``export_csv`` writes them; consent timestamps are kept, never invented.

        A ``confirmed`` row needs ``confirmed_at`` (when the person gave consent); a row for
        a suppressed address is skipped; an ``unsubscribed`` row suppresses its address.
        """
        report = ImportReport()
        reader = csv.DictReader(stream)
        if reader.fieldnames is None or "email" not in [f.strip() for f in reader.fieldnames]:
            report.errors.append((1, "the header row must name an 'email' column"))
            return report
        for row in reader:
            report.rows += 1
            line = reader.line_num
            try:
                record, reason = self._row_to_record(row)
                outcome = self.store.import_record(record, reason)
            except (ValueError, KeyError) as exc:
                report.errors.append((line, str(exc)))
                report.outcomes["error"] += 1
            else:
                report.outcomes[outcome.value] += 1
            if progress is not None:
                progress(report.rows)
        return report

    def _row_to_record(self, row: dict[str | Any, str | Any]) -> tuple[Subscriber, str]:
        def cell(name: str) -> str:
            value = row.get(name)
            return value.strip() if isinstance(value, str) else ""

        try:
            address = normalise_email(cell("email"))
        except InvalidEmail:
            raise ValueError(f"not an email address: {cell('email')[:80]!r}") from None
        confirmed_at = _parse_time(cell("confirmed_at"), "confirmed_at")
        unsubscribed_at = _parse_time(cell("unsubscribed_at"), "unsubscribed_at")
        status = cell("status").lower() or ("confirmed" if confirmed_at else "pending")
        if status == "suppressed":
            status = UNSUBSCRIBED
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        if status == "confirmed" and confirmed_at is None:
            raise ValueError("a confirmed row needs confirmed_at (when consent was given)")
        created_at = _parse_time(cell("created_at"), "created_at") or confirmed_at
        if created_at is None:
            created_at = unsubscribed_at or self.clock()
        frequency = cell("frequency").lower() or self.policy.default_frequency
        language = cell("language") or (self.languages[0] if self.languages else "en")
        topics = split_topics(cell("topics"))
        if frequency not in FREQUENCIES:
            raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}")
        if not valid_language(language):
            raise ValueError(f"not a language code: {language[:20]!r}")
        for topic in topics:
            if not valid_topic(topic):
                raise ValueError(f"not a topic slug: {topic[:60]!r}")
        record = Subscriber(
            id="",
            email=address,
            status=status,
            frequency=frequency,
            topics=topics,
            language=language,
            created_at=created_at,
            confirmed_at=confirmed_at,
            token_version=1,
            consent_ip=cell("consent_ip")[:64],
            consent_source=_csv_unsafe(cell("consent_source"))[:200] or "import",
            unsubscribed_at=unsubscribed_at,
            updated_at=self.clock(),
        )
        return record, _csv_unsafe(cell("suppressed_reason")) or "unsubscribed (import)"

    def export_rows(self) -> Iterator[dict[str, str]]:
        """Every subscriber, then suppressed addresses that have no subscriber record."""
        seen: set[str] = set()
        for sub in self.store.iter_all():
            seen.add(sub.email.lower())
            sup = self.store.suppression(sub.email) if sub.status == UNSUBSCRIBED else None
            yield _row(sub, sup)
        for sup in self.store.iter_suppressed():
            if sup.email.lower() not in seen:
                yield {
                    **dict.fromkeys(CSV_FIELDS, ""),
                    "email": sup.email,
                    "status": UNSUBSCRIBED,
                    "unsubscribed_at": sup.at.isoformat(),
                    "suppressed_reason": sup.reason,
                }

    def export_csv(self, out: TextIO, progress: Callable[[int], None] | None = None) -> int:
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        n = 0
        for row in self.export_rows():
            writer.writerow({k: _csv_safe(v) if k in _FREE_TEXT else v for k, v in row.items()})
            n += 1
            if progress is not None:
                progress(n)
        return n


def _row(sub: Subscriber, sup: Suppression | None) -> dict[str, str]:
    def iso(value: datetime | None) -> str:
        return "" if value is None else value.isoformat()

    return {
        "email": sub.email,
        "status": sub.status,
        "frequency": sub.frequency,
        "topics": " ".join(sub.topics),
        "language": sub.language,
        "created_at": iso(sub.created_at),
        "confirmed_at": iso(sub.confirmed_at),
        "unsubscribed_at": iso(sub.unsubscribed_at),
        "consent_ip": sub.consent_ip,
        "consent_source": sub.consent_source,
        "suppressed_reason": sup.reason if sup else "",
    }


_FREE_TEXT = ("consent_source", "suppressed_reason")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in free-text cells; import undoes it."""
    return "'" + value if value[:1] in _FORMULA else value


def _csv_unsafe(value: str) -> str:
    return value[1:] if value[:1] == "'" and value[1:2] in _FORMULA else value


def _parse_time(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} is not an ISO 8601 time: {text[:40]!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_subscription_service(
    settings: Settings,
    client: Any,
    topics: Callable[[], dict[str, str]] | None = None,
    clock: Callable[[], datetime] = system_clock,
    confirmations: ConfirmationRequests | None = None,
    store: SubscriberStore | None = None,  # context.py's announces event webhooks
) -> SubscriptionService:
    """The wiring ``Context.subscriptions`` uses: store, limiter and the confirmation ledger
    (``Context.confirmations``; without one, requests are recorded and left to the sweep)."""
    policy = Policy.from_settings(settings)
    publisher = settings.publisher
    if confirmations is None:
        from syndication.events import RecordingEvents
        from syndication.services.confirmations import make_confirmation_service

        confirmations = make_confirmation_service(settings, client, RecordingEvents(), clock=clock)
    return SubscriptionService(
        store or SubscriberStore(client, settings.key_prefix),
        RateLimiter(client, settings.key_prefix),
        confirmations,
        settings.need_secret_key(),
        settings.public_url,
        publisher.languages or [publisher.language],
        topics=topics,
        policy=policy,
        previous_secrets=settings.previous_secret_keys,
        clock=clock,
    )


def topics_from_catalog(
    catalog: Callable[[], list[tuple[str, str, int]]],
) -> Callable[[], dict[str, str]]:
    """Topic slug → title from ``ArticleStore.feed_catalog``: the topics live articles
    carry (a topic whose articles were all withdrawn is not offered)."""

    def topics() -> dict[str, str]:
        return {
            name.removeprefix("topic/"): title
            for name, title, count in catalog()
            if name.startswith("topic/") and count
        }

    return topics
