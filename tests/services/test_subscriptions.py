"""The subscription service counts its signup limits in its own clock (``Context.clock``)."""

from __future__ import annotations

import pytest

from syndication.context import Context
from syndication.services.subscriptions import Policy, RateLimited
from tests.support.clock import START, ManualClock

IP = "203.0.113.7"


def test_signup_limit_and_retry_after_follow_the_services_clock(
    context: Context, clock: ManualClock
) -> None:
    service = context.subscriptions
    service.policy = Policy(ip_limit=2, ip_window_s=60)
    assert START.timestamp() % 60 == 0  # the clock starts a window: the numbers are exact
    for n in range(2):
        assert service.subscribe(f"r{n}@example.org", "daily", ip=IP).confirmation is not None
    with pytest.raises(RateLimited) as refused:
        service.subscribe("r2@example.org", "daily", ip=IP)
    # The window ends in 60 s; the last one still weighs fully at its edge, so 61.
    assert refused.value.retry_after == 61
    clock.advance(seconds=60)
    with pytest.raises(RateLimited):
        service.subscribe("r2@example.org", "daily", ip=IP)
    clock.advance(seconds=1)
    assert service.subscribe("r2@example.org", "daily", ip=IP).confirmation is not None
    signed_up = service.store.get_by_email("r2@example.org")
    assert signed_up is not None and signed_up.created_at == clock()
