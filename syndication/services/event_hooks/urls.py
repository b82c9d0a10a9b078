"""Which URLs an operator may register as an event webhook endpoint.

Checked when the endpoint is added (scheme, no credentials, no spaces or control
characters, a host; an IP literal or ``localhost`` must be public unless private addresses
are allowed) and again on every delivery, where ``ingest.guard`` resolves the name itself
and connects only to the addresses it checked: a public name that resolves to 127.0.0.1
or 169.254.169.254 (SSRF, DNS rebinding) is refused then, not sent to.
"""

from __future__ import annotations

import ipaddress

import httpx

from syndication.ingest.guard import INTRANET, PUBLIC, Policy, address_class, host_key

MAX_URL = 2048


class InvalidEndpoint(ValueError):
    """A URL or an event list we will not register; the message says why."""


def allowed_classes(allow_private: bool) -> frozenset[str]:
    """The non-public address classes deliveries may reach (``SYNDICATION_WEBHOOKS_ALLOW_
    PRIVATE``: loopback, private and link-local, for tests and intranets)."""
    return INTRANET if allow_private else frozenset()


def check_endpoint_url(url: str, allow_private: bool) -> str:
    """``url`` as it will be used, or InvalidEndpoint."""
    url = url.strip()
    if not url or len(url) > MAX_URL or any(c.isspace() or ord(c) < 32 or c == "\x7f" for c in url):
        raise InvalidEndpoint("the URL must be one absolute http(s) URL without spaces")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raise InvalidEndpoint("the URL must be one absolute http(s) URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise InvalidEndpoint("the URL must be an absolute http(s) URL with a host")
    if parsed.userinfo:
        raise InvalidEndpoint("the URL must not carry a user name or password")
    classes = allowed_classes(allow_private)
    host = parsed.raw_host.decode("ascii").lower()
    try:
        cls = address_class(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        cls = "loopback" if host == "localhost" or host.endswith(".localhost") else PUBLIC
    if cls != PUBLIC and cls not in classes:
        raise InvalidEndpoint(
            f"{host} is not a public address ({cls}): webhooks may reach public addresses only"
        )
    return str(parsed)


def delivery_policy(url: str, allow_private: bool, timeout_s: float) -> Policy:
    """Where one delivery may connect: this URL's own host and port, public addresses (and
    the intranet classes if allowed), all of it within ``timeout_s``."""
    return Policy(frozenset({host_key(httpx.URL(url))}), allowed_classes(allow_private), timeout_s)
