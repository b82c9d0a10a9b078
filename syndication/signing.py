"""How we sign with HMAC-SHA256 (RFC 2104): outbound partner webhooks, and requests.

Pure functions with no web dependency, so a service (the partner webhooks) and a client or
test (signed CMS requests) sign without importing a web face. ``web/auth.py`` verifies
inbound requests with the same ``signing_string``.

Outgoing event webhooks (``services/event_hooks``) sign ``"{timestamp}." + body`` with the
endpoint's secret (``sign_event``), sent in the same two headers: a receiver needs neither
our path nor our query, only the bytes it got.

A request signature covers ``"{timestamp}\\n{METHOD}\\n{path}\\n{query}\\n{sha256 hex of
body}"``, sent as ``X-Syndication-Timestamp: <unix seconds>`` and
``X-Syndication-Signature: v1=<hex>`` (Stripe's and Standard Webhooks' scheme). The path and
query are canonical (AWS SigV4-style: RFC 3986 percent-encoding, query pairs sorted), so a
client signs what it means, not how its HTTP library spells it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, unquote

SIGNATURE_HEADER = "X-Syndication-Signature"
TIMESTAMP_HEADER = "X-Syndication-Timestamp"
SCHEME = "v1"

Query = str | Mapping[str, str] | Iterable[tuple[str, str]]


def sign(body: bytes, key: str) -> str:
    """``sha256=<hex of HMAC-SHA256(key, body)>``: the body-only signature of our *outbound*
    partner webhooks (``services.partners.webhooks``). Never accepted inbound any more."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def sign_event(secret: str, body: bytes, timestamp: int) -> str:
    """``v1=<hex HMAC-SHA256(secret, "{timestamp}." + body)>``: an event webhook's
    ``X-Syndication-Signature``; the timestamp goes in ``X-Syndication-Timestamp``."""
    message = f"{int(timestamp)}.".encode() + body
    return f"{SCHEME}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def canonical_path(path: str) -> str:
    """The path as sent on the wire, decoded once and re-encoded per RFC 3986 (only
    unreserved characters and ``/`` stay as they are): ``/a%7eb`` and ``/a~b`` sign alike."""
    return quote(unquote(path), safe="/")


def canonical_query(query: Query) -> str:
    """The query (raw string without ``?``, a mapping or pairs) as sorted ``k=v`` pairs joined
    by ``&``, each side percent-encoded per RFC 3986; parsed as Starlette parses it (``+`` is
    a space), so pairs the app sees alike sign alike and any other change shows."""
    if isinstance(query, str):
        pairs = parse_qsl(query, keep_blank_values=True)
    elif isinstance(query, Mapping):
        pairs = [(str(k), str(v)) for k, v in query.items()]
    else:
        pairs = [(str(k), str(v)) for k, v in query]
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(pairs))


def signing_string(method: str, path: str, query: Query, body: bytes, timestamp: int) -> bytes:
    """What the HMAC covers, one field per line (no field can hold a line break)."""
    fields = (
        str(int(timestamp)),
        method.upper(),
        canonical_path(path),
        canonical_query(query),
        hashlib.sha256(body).hexdigest(),
    )
    return "\n".join(fields).encode()


def sign_request(
    secret: str, method: str, path: str, query: Query, body: bytes, timestamp: int
) -> str:
    """The ``X-Syndication-Signature`` value for this request: ``v1=<hex HMAC-SHA256>``."""
    message = signing_string(method, path, query, body, timestamp)
    return f"{SCHEME}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, method: str, path: str, query: Query, body: bytes, timestamp: int
) -> dict[str, str]:
    """Both headers a client adds to a signed request."""
    return {
        TIMESTAMP_HEADER: str(int(timestamp)),
        SIGNATURE_HEADER: sign_request(secret, method, path, query, body, timestamp),
    }
