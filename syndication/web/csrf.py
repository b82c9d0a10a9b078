"""CSRF protection for the subscriber forms: a signed double-submit token.

Why both a cookie and a signed field: a signed token alone proves only that *we* issued
it, and anyone can fetch a fresh one from ``GET /subscribe`` and post it from their own
site. So the browser gets a random nonce in an ``HttpOnly``, ``SameSite=Lax`` cookie, and
the signup form carries ``tokens.sign(secret, "csrf", "subscribe:{sha256(nonce)}", now + TTL)``
(``syndication.tokens``: HMAC-SHA256, compared in constant time). A POST is accepted only
when the field's MAC is ours, it has not expired, it was issued for *this* form (the
signup form, or one subscriber's confirm / preferences / unsubscribe form), and it names
the nonce in the cookie this browser sent back (``hmac.compare_digest``). A cross-site
page can make the browser send the cookie but can neither read it nor mint a field for it.

The confirm, preferences and unsubscribe forms sit behind a link that carries a signed,
unguessable token: a forged cross-site POST would need that token, which already authorises
the action. Their field is bound to the form and the subscriber (``"confirm:{id}"``) with
the same short expiry but not to a cookie, so a reader whose browser blocks cookies can
still confirm and, above all, unsubscribe. Only the signup form, whose URL holds no secret,
needs the cookie.

The expiry is short (two hours): a form left open longer is shown again with a fresh
token and the fields as they were. Over https the cookie is ``__Host-`` prefixed and
``Secure`` (no subdomain can plant it).

Not covered, on purpose: the RFC 8058 one-click ``POST /unsubscribe/{t}`` (mail providers
post it with no cookie; the signed manage token in the URL is the authority) and the JSON
API ``POST /api/subscribers`` (no cookies, its own rate limits).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from starlette.responses import Response

from syndication import tokens

FIELD = "csrf_token"
PURPOSE = "csrf"
TTL = timedelta(hours=2)
_NONCE = re.compile(r"[A-Za-z0-9_-]{32,64}")


class CsrfFailure(enum.Enum):
    """Why a form was refused: each gets its own message on the 400 page."""

    NO_COOKIE = "no-cookie"  # the browser did not send the nonce cookie back
    EXPIRED = "expired"  # genuine, but older than TTL
    INVALID = "invalid"  # missing, tampered with, for another form or another browser


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Csrf:
    secret: str
    secure: bool = False
    ttl: timedelta = TTL

    @property
    def cookie(self) -> str:
        return "__Host-syndication-csrf" if self.secure else "syndication-csrf"

    def nonce(self, request: Request) -> tuple[str, bool]:
        """The browser's nonce, or a new one (``True``: set the cookie on the response)."""
        current = request.cookies.get(self.cookie, "")
        if _NONCE.fullmatch(current):
            return current, False
        return secrets.token_urlsafe(32), True

    def token(self, form: str, now: datetime, nonce: str | None = None) -> str:
        """The field for ``form``: bound to the cookie's ``nonce``, or (None) to no cookie."""
        binding = _digest(nonce) if nonce is not None else "-"
        return tokens.sign(self.secret, PURPOSE, f"{form}:{binding}", now + self.ttl)

    def check(
        self,
        request: Request,
        submitted: str,
        form: str,
        now: datetime,
        with_cookie: bool = True,
    ) -> CsrfFailure | None:
        """None when the submitted field is valid for ``form`` (and, ``with_cookie``, for
        the nonce this browser sent back)."""
        nonce = request.cookies.get(self.cookie, "")
        if not submitted:
            if with_cookie and not _NONCE.fullmatch(nonce):
                return CsrfFailure.NO_COOKIE
            return CsrfFailure.INVALID
        try:
            subject = tokens.verify(self.secret, submitted, PURPOSE, now)
        except tokens.TokenExpired:
            return CsrfFailure.EXPIRED
        except tokens.TokenError:
            return CsrfFailure.INVALID
        if with_cookie and not _NONCE.fullmatch(nonce):
            return CsrfFailure.NO_COOKIE
        expected = f"{form}:{_digest(nonce) if with_cookie else '-'}"
        if not hmac.compare_digest(subject.encode(), expected.encode()):
            return CsrfFailure.INVALID
        return None

    def set_cookie(self, response: Response, nonce: str) -> None:
        """A session cookie for the whole site: the token's own expiry is the short one."""
        response.set_cookie(
            self.cookie,
            nonce,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )
