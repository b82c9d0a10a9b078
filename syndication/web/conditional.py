"""HTTP validators and content coding for pre-built bytes (RFC 9110 §8.8, §12.5.3, §13)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

CODINGS = ("br", "gzip")


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _core(tag: str) -> str:
    """``W/"abc-gzip"`` → ``abc``: any coding of the same bytes is the same version."""
    tag = tag.strip().removeprefix("W/").strip('"')
    for coding in CODINGS:
        tag = tag.removesuffix(f"-{coding}")
    return tag


def not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, last_modified: datetime
) -> bool:
    """True when the client's copy is current. If-None-Match wins when present (weak
    comparison, as the RFC asks for it); a malformed If-Modified-Since is ignored."""
    if if_none_match is not None:
        tags = [t for t in if_none_match.split(",") if t.strip()]
        return any(t.strip() == "*" or _core(t) == _core(etag) for t in tags)
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return last_modified.replace(microsecond=0) <= since
    return False


def choose_coding(accept_encoding: str | None) -> str:
    """The best coding the client accepts: br, then gzip, else identity."""
    if not accept_encoding:
        return "identity"
    accepted: dict[str, float] = {}
    for part in accept_encoding.split(","):
        token, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        accepted[token.strip().lower()] = q
    star = accepted.get("*", 0.0)
    for coding in CODINGS:
        if accepted.get(coding, star) > 0:
            return coding
    return "identity"
