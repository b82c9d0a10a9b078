"""One-time tokens: a value that may be used once, e.g. a form that must not act twice.

``claim`` is one ``SET NX`` with a TTL: of any number of tries with the same token (a
reload, the Back button, two tabs, two web processes) exactly one gets True. The token is
stored as a SHA-256 digest, so Redis never holds it in clear. Key:
``{prefix}{once}:<purpose>:<digest>``; ``purpose`` names the use (``admin:rotate-once``), so two
uses never spend each other's tokens.
"""

from __future__ import annotations

import hashlib
import re

import redis

_PURPOSE = re.compile(r"[a-z0-9][a-z0-9-]*(?::[a-z0-9][a-z0-9-]*)*")


class OnceStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.prefix = prefix

    def claim(self, purpose: str, token: str, ttl_s: int) -> bool:
        """Whether ``token`` is used for ``purpose`` for the first time (it is spent now).

        The memory lasts ``ttl_s`` seconds: choose it longer than a repeat can arrive."""
        if not _PURPOSE.fullmatch(purpose):
            raise ValueError(f"purpose must be lower-case words joined by ':' or '-': {purpose!r}")
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        return bool(self.r.set(self._key(purpose, token), "1", nx=True, ex=ttl_s))

    def release(self, purpose: str, token: str) -> None:
        """Forget a claim whose use did not happen (the next ``claim`` gets True again)."""
        self.r.delete(self._key(purpose, token))

    def _key(self, purpose: str, token: str) -> str:
        digest = hashlib.sha256(token.encode()).hexdigest()[:40]
        return f"{self.prefix}{{once}}:{purpose}:{digest}"
