"""API authentication: a bearer token, or an HMAC-SHA256 signature of the body (CMS webhooks).

Both are compared in constant time; the token is compared as digests so that its length
does not leak either.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Syndication-Signature"


def sign(body: bytes, key: str) -> str:
    """The header value a CMS sends: ``sha256=<hex of HMAC-SHA256(key, body)>``."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def bearer_ok(header: str | None, token: str) -> bool:
    if not header or not header.lower().startswith("bearer "):
        return False
    given = header[7:].strip().encode()
    return hmac.compare_digest(
        hashlib.sha256(given).digest(), hashlib.sha256(token.encode()).digest()
    )


def signature_ok(header: str | None, body: bytes, key: str) -> bool:
    if not header:
        return False
    return hmac.compare_digest(header.strip().encode(), sign(body, key).encode())
