"""Reader-facing subscription use cases: signup (double opt-in), the signed links, confirm,
preferences and unsubscribe. See the package docstring for the rules they keep."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from syndication import tokens
from syndication.clock import system_clock
from syndication.services.subscriptions.model import (
    Confirmation,
    ConfirmationRequests,
    InvalidInput,
    LinkInvalid,
    Policy,
    SignupResult,
    check_limits,
)
from syndication.store.ratelimit import RateLimiter
from syndication.store.subscribers import (
    FREQUENCIES,
    ConfirmOutcome,
    InvalidEmail,
    SignupOutcome,
    Subscriber,
    SubscriberStore,
    normalise_email,
    valid_topic,
)

OWES_CONFIRMATION = (SignupOutcome.CREATED, SignupOutcome.REFRESHED, SignupOutcome.RETURNED)


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
        check_limits(self.limiter, p, address, ip, now)
        outcome, sub = self.store.signup(
            address, freq, chosen, lang, now, consent_ip=ip, consent_source=source
        )
        if outcome in OWES_CONFIRMATION and sub is not None:
            token = tokens.confirm_token(self.secret, sub.id, now, p.confirm_ttl)
            # A reader coming back is a new signup, never a double submit of the last one.
            fresh = outcome is SignupOutcome.RETURNED
            requested = self.confirmations.request(sub.id, now, fresh=fresh)
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
