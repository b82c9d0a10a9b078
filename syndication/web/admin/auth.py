"""Operator sign-in for ``/admin``: the password check, revocable sessions, CSRF, throttling.

- Password: ``SYNDICATION_ADMIN_PASSWORD_HASH`` (a ``pbkdf2_sha256$<iterations>$<salt>$<hash>``
  line from ``syndication admin hash-password``; salt and hash URL-safe base64 without
  padding) is preferred; else ``SYNDICATION_ADMIN_PASSWORD`` in plain. A submitted password
  is run through PBKDF2 and compared with ``hmac.compare_digest``; against a plain password
  both sides are HMAC'd first, so the comparison's time depends on neither's length or text.
- Session: a random id (256 bits) in a cookie signed with ``SYNDICATION_SECRET_KEY``
  (``syndication.tokens``: HMAC, expiry inside the MAC), ``HttpOnly``, ``SameSite=Strict``.
  Over https it is ``__Host-`` prefixed and ``Secure``, which forces ``Path=/``; over plain
  http (development) it is scoped to ``Path=/admin``. The id also has a server-side record
  (``store/admin_sessions.py``: under a SHA-256 digest, with the session's TTL), so signing
  out — or changing the password, which changes the credential fingerprint stored with it —
  really ends the session.
- CSRF: every admin POST carries ``HMAC(secret, "admin-csrf" + session id)``, checked in
  constant time. The login form has no session yet, so it uses the site's double-submit
  cookie (``web/csrf.py``).
- Throttling: every login POST counts against the client IP in the shared sliding-window
  limiter (``syndication.store.ratelimit``): LOGIN_LIMIT per LOGIN_WINDOW_S, before any hashing,
  so a guesser can burn neither guesses nor CPU.

The sign-in pages that use all this are ``login.py``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import Request
from starlette.responses import Response

from syndication import tokens
from syndication.config import ENV_PREFIX
from syndication.store.admin_sessions import SessionRecord
from syndication.web.csrf import Csrf

if TYPE_CHECKING:
    from syndication.config import Settings
    from syndication.store.admin_sessions import AdminSessionStore
    from syndication.store.ratelimit import RateLimiter

SCHEME = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
SALT_BYTES = 16
HASH_BYTES = 32
MAX_PASSWORD = 1024
SESSION_PURPOSE = "admin-session"
CSRF_PURPOSE = b"admin-csrf\x00"
LOGIN_FORM = "admin-login"
LOGIN_LIMIT = 10
LOGIN_WINDOW_S = 15 * 60
_HASH_LINE = re.compile(
    rf"{SCHEME}\$(?P<n>\d{{4,7}})\$(?P<salt>[A-Za-z0-9_-]{{16,64}})\$(?P<hash>[A-Za-z0-9_-]{{43}})"
)
_SID = re.compile(r"[A-Za-z0-9_-]{43}")
# Keys the plain-password comparison's HMACs: only equal inputs give equal digests.
_COMPARE_KEY = secrets.token_bytes(32)


# -- passwords -----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """``pbkdf2_sha256$<iterations>$<salt>$<hash>`` for ``SYNDICATION_ADMIN_PASSWORD_HASH``."""
    if not 1000 <= iterations <= 9_999_999:
        raise ValueError("iterations must be between 1000 and 9999999")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, HASH_BYTES)
    return f"{SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password_hash(password: str, line: str) -> bool:
    """Whether ``password`` matches a ``hash_password`` line (constant-time comparison)."""
    match = _HASH_LINE.fullmatch(line)
    if match is None or len(password) > MAX_PASSWORD:
        return False
    try:
        salt, expected = _unb64(match["salt"]), _unb64(match["hash"])
    except (binascii.Error, ValueError):
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, int(match["n"]), len(expected))
    return hmac.compare_digest(got, expected)


def verify_plain_password(password: str, configured: str) -> bool:
    """Compare HMAC digests, so time depends on neither password's length nor content."""
    if len(password) > MAX_PASSWORD:
        return False
    given = hmac.new(_COMPARE_KEY, password.encode(), hashlib.sha256).digest()
    wanted = hmac.new(_COMPARE_KEY, configured.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(given, wanted)


# -- sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """A signed-in operator: ``id`` is the random secret behind the cookie."""

    id: str
    created_at: datetime
    expires_at: datetime


class AdminAuth:
    """Password check, sessions (cookie + Redis record) and CSRF tokens for ``/admin``."""

    def __init__(
        self,
        settings: Settings,
        sessions: AdminSessionStore,
        limiter: RateLimiter,
        *,
        login_limit: int = LOGIN_LIMIT,
        login_window_s: int = LOGIN_WINDOW_S,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.limiter = limiter
        self.login_limit = login_limit
        self.login_window_s = login_window_s
        self.secure = settings.https
        self.hours = float(settings.admin_session_hours)

    # -- configuration -----------------------------------------------------------------
    @property
    def secret(self) -> str:
        return self.settings.secret_key or ""

    @property
    def enabled(self) -> bool:
        """Signing in needs a password (plain or hashed) and a secret key to sign cookies."""
        has_password = bool(self.settings.admin_password or self.settings.admin_password_hash)
        return has_password and bool(self.secret)

    def disabled_reason(self) -> str:
        if not (self.settings.admin_password or self.settings.admin_password_hash):
            return (
                f"No admin password is configured, so nobody can sign in. Set "
                f"{ENV_PREFIX}ADMIN_PASSWORD_HASH to a line printed by "
                f"`syndication admin hash-password` (or {ENV_PREFIX}ADMIN_PASSWORD, at "
                "least 12 characters) and restart the web app."
            )
        return (
            f"{ENV_PREFIX}SECRET_KEY is not set, so sessions cannot be signed. Set it (32+ "
            "characters; try: openssl rand -hex 32) and restart the web app."
        )

    def _credential(self) -> str:
        """Fingerprint of the configured password: a new password ends every session."""
        configured = self.settings.admin_password_hash or self.settings.admin_password or ""
        msg = b"admin-credential\x00" + configured.encode()
        return hmac.new(self.secret.encode(), msg, hashlib.sha256).hexdigest()[:32]

    def check_password(self, submitted: str) -> bool:
        """Constant-time check (PBKDF2 against the hash, else HMACs against the plain one)."""
        if self.settings.admin_password_hash:
            return verify_password_hash(submitted, self.settings.admin_password_hash)
        if self.settings.admin_password:
            return verify_plain_password(submitted, self.settings.admin_password)
        return False

    def allow_attempt(self, ip: str, now: datetime) -> tuple[bool, int]:
        """Count one login attempt from ``ip`` at ``now``: ``(allowed, retry_after_seconds)``."""
        return self.limiter.allow(
            f"admin-login:{ip}", self.login_limit, self.login_window_s, now=now.timestamp()
        )

    # -- cookies -----------------------------------------------------------------------
    @property
    def session_cookie(self) -> str:
        return "__Host-syndication-admin" if self.secure else "syndication-admin"

    @property
    def flash_cookie(self) -> str:
        return "__Host-syndication-admin-flash" if self.secure else "syndication-admin-flash"

    @property
    def cookie_path(self) -> str:
        return "/" if self.secure else "/admin"  # __Host- requires Path=/

    def set_cookie(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=self.cookie_path,
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def delete_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(
            name, path=self.cookie_path, secure=self.secure, httponly=True, samesite="strict"
        )

    @property
    def login_csrf(self) -> Csrf:
        return Csrf(self.secret, self.secure)

    # -- sessions ----------------------------------------------------------------------
    @property
    def ttl(self) -> timedelta:
        return timedelta(hours=self.hours)

    def start(self, ip: str, now: datetime) -> tuple[Session, str]:
        """A new session and its cookie value (a fresh id every sign-in: no fixation)."""
        sid = secrets.token_urlsafe(32)
        session = Session(sid, now, now + self.ttl)
        self.sessions.save(sid, SessionRecord(now, self._credential(), ip), self.ttl)
        return session, tokens.sign(self.secret, SESSION_PURPOSE, sid, session.expires_at)

    def session(self, request: Request, now: datetime) -> Session | None:
        """The request's live session: a genuine, unexpired cookie whose id is still in
        stored with the current credential's fingerprint; else None."""
        if not self.enabled:
            return None
        raw = request.cookies.get(self.session_cookie, "")
        if not raw:
            return None
        try:
            sid = tokens.verify(self.secret, raw, SESSION_PURPOSE, now)
        except tokens.TokenError:
            return None
        if not _SID.fullmatch(sid):
            return None
        record = self.sessions.load(sid)
        if record is None:
            return None
        if not hmac.compare_digest(record.credential.encode(), self._credential().encode()):
            return None
        return Session(sid, record.created, record.created + self.ttl)

    def end(self, session: Session) -> None:
        """Sign out: the server forgets the id, so the cookie is worthless even if kept."""
        self.sessions.delete(session.id)

    # -- CSRF --------------------------------------------------------------------------
    def csrf_token(self, session: Session) -> str:
        mac = hmac.new(self.secret.encode(), CSRF_PURPOSE + session.id.encode(), hashlib.sha256)
        return _b64(mac.digest())

    def csrf_ok(self, session: Session, submitted: str) -> bool:
        if not submitted or len(submitted) > 100:
            return False
        return hmac.compare_digest(submitted.encode(), self.csrf_token(session).encode())
