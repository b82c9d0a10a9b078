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

One class per concern, each built by ``syndication/context.py``: ``SubscriptionService``
(signup, links, confirm, preferences, unsubscribe), ``SuppressionService`` (provider events,
the operator's lifts) and ``SubscriberTransfer`` (CSV import and export).
"""

from __future__ import annotations

from syndication.services.subscriptions.model import (
    Confirmation,
    ConfirmationRequests,
    InvalidInput,
    LinkInvalid,
    Policy,
    RateLimited,
    SignupResult,
    check_limits,
    rate_key_for_ip,
    split_topics,
    topics_from_catalog,
)
from syndication.services.subscriptions.service import SubscriptionService
from syndication.services.subscriptions.suppression import SuppressionService
from syndication.services.subscriptions.transfer import (
    CSV_FIELDS,
    ImportReport,
    SubscriberTransfer,
)

__all__ = [
    "CSV_FIELDS",
    "Confirmation",
    "ConfirmationRequests",
    "ImportReport",
    "InvalidInput",
    "LinkInvalid",
    "Policy",
    "RateLimited",
    "SignupResult",
    "SubscriberTransfer",
    "SubscriptionService",
    "SuppressionService",
    "check_limits",
    "rate_key_for_ip",
    "split_topics",
    "topics_from_catalog",
]
