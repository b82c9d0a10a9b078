"""WebSub publisher side: tell a hub that a topic (feed URL) has new content.

The WebSub recommendation leaves the publish call to each hub; the de-facto form that hubs
accept is a form POST of ``hub.mode=publish`` and ``hub.url`` (we send ``hub.topic`` too).
"""

from __future__ import annotations

import httpx

USER_AGENT = "syndication/0.1 (WebSub publisher)"


class HubTemporaryError(Exception):
    """Network trouble, 429 or 5xx: worth retrying later."""


class HubRejected(Exception):
    """A 4xx other than 429: the hub will not take this ping; retrying will not help."""


def ping(client: httpx.Client, hub: str, topic: str) -> int:
    """POST the publish notification; returns the hub's status code (2xx)."""
    try:
        resp = client.post(
            hub,
            data={"hub.mode": "publish", "hub.url": topic, "hub.topic": topic},
            headers={"User-Agent": USER_AGENT},
        )
    except httpx.HTTPError as exc:
        raise HubTemporaryError(f"{hub}: {exc}") from exc
    if resp.status_code == 429 or resp.status_code >= 500:
        raise HubTemporaryError(f"{hub} answered {resp.status_code}")
    if resp.status_code >= 400:
        raise HubRejected(f"{hub} answered {resp.status_code}: {resp.text[:200]}")
    return resp.status_code
