"""Signed, URL-safe tokens for the links we mail: confirm, manage (preferences + unsubscribe).

A token is ``base64url(subject|expires).base64url(mac)``, where ``mac`` is the first 16 bytes
of HMAC-SHA256 over the purpose and the body, keyed with ``SYNDICATION_SECRET_KEY``. The
purpose is inside the MAC, not the token, so a manage link can never be used as a confirm
link (or the other way round). MACs are compared in constant time (``hmac.compare_digest``),
and the MAC is checked before anything in the body is trusted, so an edited expiry is
"invalid", not "expired".

Key rollover: ``verify`` also accepts tokens signed with an earlier key
(``SYNDICATION_SECRET_KEY_PREVIOUS``), so a rotated key does not break the unsubscribe links
in mail already delivered; new tokens are always signed with the current key.

Manage tokens do not expire (RFC 8058 links must keep working for the life of the mail)
but carry the subscriber's ``token_version``: bumping it revokes every link sent so far.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syndication.store.subscribers import Subscriber

CONFIRM = "confirm"
MANAGE = "manage"
CONFIRM_TTL = timedelta(hours=48)
_MAC_BYTES = 16  # 128 bits: far past guessing, and keeps the links short
_MAX_TOKEN = 512


class TokenError(Exception):
    """Base class: the token cannot be used."""


class TokenInvalid(TokenError):
    """Malformed, tampered with, signed with another key, or for another purpose."""


class TokenExpired(TokenError):
    """Genuine, but past its expiry."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """The bytes of ``text`` in its one canonical form (unpadded base64url, zero padding
    bits): the decoder alone would also take ``=``, characters outside the alphabet and
    other trailing bits, so one token would have many spellings (and log redaction, rate
    keys and replay checks would see different strings for the same link)."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


def _mac(secret: str, purpose: str, body: bytes) -> bytes:
    msg = purpose.encode() + b"\x00" + body
    return hmac.digest(secret.encode(), msg, "sha256")[:_MAC_BYTES]  # one C call: fast


def sign(secret: str, purpose: str, subject: str, expires_at: datetime | None) -> str:
    """A token for ``subject`` (which must not contain ``|``), valid until ``expires_at``."""
    if "|" in subject:
        raise ValueError("subject must not contain '|'")
    expiry = "" if expires_at is None else str(int(expires_at.timestamp()))
    body = f"{subject}|{expiry}".encode()
    return f"{_b64(body)}.{_b64(_mac(secret, purpose, body))}"


def verify(
    secret: str, token: str, purpose: str, now: datetime, previous: Sequence[str] = ()
) -> str:
    """The subject of a genuine, unexpired token for ``purpose``, signed with ``secret`` or
    one of the ``previous`` keys; raises TokenError."""
    if len(token) > _MAX_TOKEN or token.count(".") != 1:
        raise TokenInvalid("malformed token")
    body_part, mac_part = token.split(".")
    try:
        body = _unb64(body_part)
        given = _unb64(mac_part)
    except (binascii.Error, ValueError):
        raise TokenInvalid("malformed token") from None
    # Every key is tried (no early exit), each comparison in constant time.
    matched = False
    for key in (secret, *previous):
        matched |= hmac.compare_digest(given, _mac(key, purpose, body))
    if not matched:
        raise TokenInvalid("bad signature")
    try:
        subject, _, expiry = body.decode().rpartition("|")
    except UnicodeDecodeError:
        raise TokenInvalid("malformed token") from None
    if expiry and int(expiry) <= now.timestamp():
        raise TokenExpired("token expired")
    return subject


def confirm_token(
    secret: str, subscriber_id: str, now: datetime, ttl: timedelta = CONFIRM_TTL
) -> str:
    return sign(secret, CONFIRM, subscriber_id, now + ttl)


def manage_token(secret: str, subscriber: Subscriber) -> str:
    """The token for ``/unsubscribe/{t}`` and ``/preferences/{t}`` in every mail we send."""
    return manage_token_of(secret, subscriber.id, subscriber.token_version)


def manage_token_of(secret: str, subscriber_id: str, token_version: int) -> str:
    """``manage_token`` from the two fields it signs (freezing an edition has no record)."""
    return sign(secret, MANAGE, f"{subscriber_id}:{token_version}", None)


def parse_manage(
    secret: str, token: str, now: datetime, previous: Sequence[str] = ()
) -> tuple[str, int]:
    """``(subscriber_id, token_version)``; the caller compares the version with the store's."""
    subject = verify(secret, token, MANAGE, now, previous)
    sid, _, version = subject.rpartition(":")
    if not sid or not version.isdigit():
        raise TokenInvalid("malformed token")
    return sid, int(version)
