"""API authentication: a bearer token, or a signed request (CMS and mail-provider webhooks).

A signature covers the whole request, not only its body: a body-only signature of the empty
body of a GET or DELETE was one constant that listed and withdrew any article (issue 11).
The scheme follows Stripe's and Standard Webhooks' signing: HMAC-SHA256 (RFC 2104) keyed
with the shared secret over ``"{timestamp}\\n{METHOD}\\n{path}\\n{query}\\n{sha256 hex of
body}"``, sent as ``X-Syndication-Timestamp: <unix seconds>`` and
``X-Syndication-Signature: v1=<hex>``. The path and query are canonical (AWS SigV4-style:
RFC 3986 percent-encoding, query pairs sorted), so a client signs what it means, not how its
HTTP library spells it. ``syndication.signing`` signs; this module verifies. The server
refuses timestamps more than ``TOLERANCE_S`` from its clock and, with
``syndication.store.once``, a signed request seen before.

Secrets, tokens and signatures are compared in constant time; the token is compared as
digests so that its length does not leak either.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from syndication.i18n import N_

# Signing lives in the lower layer (``syndication.signing``); these names stay importable
# from here for the faces and the tests that verify and sign requests.
from syndication.signing import (
    SCHEME,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Query,
    canonical_path,
    canonical_query,
    sign,
    sign_request,
    signed_headers,
    signing_string,
)

__all__ = [
    "REPLAYED",
    "SCHEME",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE_S",
    "Query",
    "SignatureRefused",
    "Verified",
    "bearer_ok",
    "canonical_path",
    "canonical_query",
    "sign",
    "sign_request",
    "signed_headers",
    "signing_string",
    "verify_request",
]

#: How far a request's timestamp may be from the server's clock, either way (Stripe's default).
TOLERANCE_S = 300

_HEX64 = re.compile(r"[0-9a-f]{64}")
_WRONG = N_(
    "wrong signature: %(header)s does not match this request's method, path, query,"
    " timestamp and body"
)
REPLAYED = N_("this signed request was already accepted: sign each request anew")


def bearer_ok(header: str | None, token: str) -> bool:
    if not header or not header.lower().startswith("bearer "):
        return False
    given = header[7:].strip().encode()
    return hmac.compare_digest(
        hashlib.sha256(given).digest(), hashlib.sha256(token.encode()).digest()
    )


class SignatureRefused(Exception):
    """Why a signed request is refused: ``code`` is stable, ``message`` a gettext msgid
    filled from ``params``; ``extra`` fields go into the answer as they are."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        self.code = code
        self.message = message
        self.params: dict[str, Any] = {
            "header": SIGNATURE_HEADER,
            "timestamp": TIMESTAMP_HEADER,
            "tolerance": TOLERANCE_S,
        }
        self.extra = extra
        super().__init__(code)


@dataclass(frozen=True)
class Verified:
    """A good signature: ``digest`` names the request (the same for a replay of it, whatever
    key signed it); it must be remembered for ``remember_s`` seconds, until it goes stale."""

    digest: str
    remember_s: int


def _given(header: str) -> list[str]:
    """The ``v1`` signatures in a header (comma-separated, so a client may send one per key
    during its own rotation, as Standard Webhooks allows)."""
    entries = [e.strip() for e in header.split(",") if e.strip()]
    v1 = [e.removeprefix(f"{SCHEME}=").lower() for e in entries if e.startswith(f"{SCHEME}=")]
    if not v1 and any(e.lower().startswith("sha256=") for e in entries):
        raise SignatureRefused(
            "signature_outdated",
            N_(
                "%(header)s: the body-only sha256= signature is no longer accepted; sign the"
                " method, path, query, %(timestamp)s and body (v1=, see the README)"
            ),
        )
    if not v1 or not all(_HEX64.fullmatch(s) for s in v1):
        raise SignatureRefused(
            "signature_malformed",
            N_("%(header)s must be v1=<64 hex digits of HMAC-SHA256>"),
        )
    return v1


def verify_request(
    signature: str | None,
    timestamp: str | None,
    *,
    method: str,
    path: str,
    query: Query,
    body: bytes,
    keys: Sequence[str],
    now: float,
) -> Verified:
    """Check a signed request against each of ``keys`` (the current secret first, then any
    previous one still accepted); raises ``SignatureRefused``. The replay check is the
    caller's (it needs the store): remember ``Verified.digest``."""
    if not signature:
        raise SignatureRefused(
            "signature_missing",
            N_("missing %(header)s and %(timestamp)s: sign the request (see the README)"),
        )
    given = _given(signature)
    if timestamp is None or not timestamp.strip():
        raise SignatureRefused(
            "timestamp_missing",
            N_("a signed request needs %(timestamp)s: the Unix time in seconds it was signed"),
        )
    stamp = timestamp.strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise SignatureRefused(
            "timestamp_invalid", N_("%(timestamp)s must be the Unix time in whole seconds")
        )
    when = int(stamp)
    message = signing_string(method, path, query, body, when)
    expected = [hmac.new(k.encode(), message, hashlib.sha256).hexdigest() for k in keys if k]
    matches = [hmac.compare_digest(e, g) for e in expected for g in given]  # no short cut
    if not any(matches):
        raise SignatureRefused("signature_invalid", _WRONG)
    if abs(now - when) > TOLERANCE_S:
        raise SignatureRefused(
            "timestamp_stale",
            N_(
                "%(timestamp)s is more than %(tolerance)s seconds from the server's clock:"
                " sign the request again just before sending it"
            ),
            server_time=int(now),
        )
    remember = max(1, int(when + TOLERANCE_S - now) + 1)
    return Verified(hashlib.sha256(message).hexdigest(), remember)
