"""The fleet's sending rate: ``SendRateLimiter`` in ``syndication/store/ratelimit.py``.

Only a name kept for the digest services while they are split into a package (issue #13);
new code imports ``syndication.store.ratelimit.SendRateLimiter``.
"""

from __future__ import annotations

from syndication.store.ratelimit import SendRateLimiter as RateLimiter

__all__ = ["RateLimiter"]
