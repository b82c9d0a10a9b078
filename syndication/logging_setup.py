"""Structured logs: one JSON object per line, with the ids code passes in ``extra=``, and
never a secret.

Every record goes through ``RedactingFilter`` on the handler (so records from any library
are covered, uvicorn's access log and Celery's included) before it is formatted:

- the configured secrets (API token, secret key, Redis and SMTP passwords) wherever they
  appear, as ``[redacted]``;
- ``Authorization``/``Bearer`` credentials, and ``key=``/``token=``/``password=`` values;
- partner keys in paths (``/partners/{key}/…`` → ``/partners/[redacted]/…``, in any case,
  with repeated or percent-encoded slashes and letters) and in ``k``/``key``/``api_key``/
  ``token`` query parameters (their names in any case or percent-encoded), and signed
  tokens in subscriber links (``/confirm/…``, ``/unsubscribe/…``, ``/preferences/…``);
- passwords in URLs (``scheme://user:secret@host`` → ``scheme://user:[redacted]@host``);
- email addresses, as ``email:<12 hex>``: an HMAC of the lower-cased address under the
  secret key, so one subscriber's lines can still be followed without the address (and
  without a plain hash that a list of addresses would reverse).

The filter replaces ``msg`` with the formatted, redacted message (and drops ``args``: a key
can be split between the format string and an argument), and redacts string extras; the
exception text is redacted by the formatter. So it pairs with formatters that do not unpack
``args`` (ours; not uvicorn's AccessFormatter, which ``uvicorn_log_config`` replaces).

Use: ``configure_logging(settings)`` in ``serve``/``worker``/``beat`` (the worker's and
beat's Celery logging is routed here by ``install_for_celery``), and
``uvicorn_log_config(settings)`` for ``uvicorn.run(log_config=…)``, which every uvicorn
worker process applies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

from syndication.config import Settings

REDACTED = "[redacted]"
# Attributes every LogRecord has: anything else on a record came from ``extra=``.
_STANDARD = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName", "color_message"}


def _spelled(word: str) -> str:
    """A regex for ``word`` as a URL may spell it: any case, any character percent-encoded."""
    return "".join(f"(?:{re.escape(c)}|%{ord(c.lower()):02x}|%{ord(c.upper()):02x})" for c in word)


_SLASHES = "(?:/|%2f)+"
_END = r"(?:/|%2f|[\s?#\"';&]|$)"
# A partner key in a path, every form a client can send: ``/partners/KEY``, ``//partners//KEY``,
# ``/Partners/KEY``, ``/%70artners%2FKEY`` … (``/partners/feeds/…``, the bearer form, holds none).
PARTNER_KEY_IN_PATH = re.compile(
    rf"(?i)({_SLASHES}{_spelled('partners')}{_SLASHES})(?!{_spelled('feeds')}{_END})"
    r"[^/\s?#\"']+"
)
_SECRET_PARAMS = ("api_key", "apikey", "api-key", "access_token", "password", "secret", "token")
# A secret in a query parameter, its name in any case or percent-encoded (``?k=``, ``?K%3D``).
SECRET_IN_QUERY = re.compile(
    r"(?i)((?:[?&;]|%3f|%26)(?:"
    + "|".join(_spelled(name) for name in (*_SECRET_PARAMS, "key", "k"))
    + r")(?:=|%3d))[^&;\s#\"']*"
)


def redact_partner_keys(text: str, mark: str = REDACTED) -> str:
    """Partner keys (and other secrets sent as query parameters) in URLs, as ``mark``."""
    text = PARTNER_KEY_IN_PATH.sub(rf"\g<1>{mark}", text)
    return SECRET_IN_QUERY.sub(rf"\g<1>{mark}", text)


_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\s,}]+"), rf"\1{REDACTED}"),
    (PARTNER_KEY_IN_PATH, rf"\g<1>{REDACTED}"),
    (
        re.compile(r"(?i)(/+(?:confirm|unsubscribe|preferences)/+)[^/\s?#\"']+"),
        rf"\1{REDACTED}",
    ),
    (SECRET_IN_QUERY, rf"\g<1>{REDACTED}"),
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s\"']*:)[^@/\s\"']+@"), rf"\1{REDACTED}@"),
]
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def secrets_of(settings: Settings) -> list[str]:
    """Values from ``settings`` that must never reach a log line."""
    found = [
        value
        for value in (
            settings.api_token,
            settings.metrics_token,
            settings.secret_key,
            settings.admin.password,
            settings.admin.password_hash,
            *settings.previous_secret_keys,
        )
        if value
    ]
    for url in (settings.redis_url, settings.broker_url, settings.smtp_url):
        password = urlsplit(url).password if url else None
        if password:
            found += [password, unquote(password)]
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


class RedactingFilter(logging.Filter):
    """Rewrites records so that no secret, key, token or email address is left in them."""

    def __init__(self, secrets: Iterable[str] = (), email_key: str = "") -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]
        self.email_key = email_key.encode()

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return _EMAIL.sub(self._email, text) if "@" in text else text

    def _email(self, match: re.Match[str]) -> str:
        digest = hmac.new(self.email_key, match.group(0).lower().encode(), hashlib.sha256)
        return f"email:{digest.hexdigest()[:12]}"

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, (bytes, bytearray)):
            return self.redact(bytes(value).decode("utf-8", "replace"))
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        if isinstance(value, (list, tuple)):
            return type(value)(self._value(v) for v in value)
        if isinstance(value, dict):
            return {k: self._value(v) for k, v in value.items()}
        return self.redact(str(value))

    def filter(self, record: logging.LogRecord) -> bool:
        # The whole message, formatted: a key can be split between the format string
        # ("/partners/%s/…") and an argument, and neither part alone looks like a key.
        record.msg = self.redact(record.getMessage())
        record.args = None
        for name, value in list(vars(record).items()):
            if name not in _STANDARD:
                setattr(record, name, self._value(value))
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", …extra ids…, "exc"}`` on one line."""

    def __init__(self, redactor: RedactingFilter | None = None) -> None:
        super().__init__()
        self.redactor = redactor or RedactingFilter()

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in out:
                out[name] = value
        if record.exc_info:
            out["exc"] = self.redactor.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = self.redactor.redact(record.exc_text)
        if record.stack_info:
            out["stack"] = self.redactor.redact(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def make_handler(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """A stream handler with the redacting filter and the JSON formatter."""
    redactor = RedactingFilter(secrets_of(settings), settings.secret_key or "")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(redactor)
    handler.setFormatter(JsonFormatter(redactor))
    return handler


def configure_logging(
    settings: Settings, level: str | int = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """Route every logger to one JSON, redacting handler on the root (replacing others)."""
    handler = make_handler(settings, stream)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    return handler


def install_for_celery(settings: Settings, level: str = "INFO") -> None:
    """Celery configures logging itself unless someone answers ``setup_logging``; we do."""
    from celery.signals import setup_logging

    def setup(**_: Any) -> None:
        configure_logging(settings, level)

    setup_logging.connect(setup, weak=False)


def uvicorn_log_config(settings: Settings, level: str = "INFO") -> dict[str, Any]:
    """``log_config`` for uvicorn: its loggers and ours through the same redacting JSON
    handler (dictConfig, so each uvicorn worker process builds it again)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "redact": {
                "()": RedactingFilter,
                "secrets": secrets_of(settings),
                "email_key": settings.secret_key or "",
            }
        },
        "formatters": {
            "json": {
                "()": _formatter_from_config,
                "secrets": secrets_of(settings),
                "email_key": settings.secret_key or "",
            }
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["redact"],
                "formatter": "json",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": level}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def _formatter_from_config(secrets: list[str], email_key: str) -> JsonFormatter:
    return JsonFormatter(RedactingFilter(secrets, email_key))
