"""Where a poll may connect, and for how long: the SSRF guard and the total deadline.

A polled source is someone else's server, and a redirect or a DNS answer is theirs too. So
every connection a poll makes goes through ``GuardedBackend`` (an httpcore network
backend): it resolves the host itself, refuses the connection unless every address is
allowed, then connects to exactly the address it checked (no second lookup, so DNS
rebinding cannot swap it; TLS still verifies the certificate against the host name). The
same backend clamps every connect, TLS handshake, read and write to what is left of the
poll's ``Deadline``, because httpx's timeouts are per operation and a server sending one
byte every few seconds never trips them.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from syndication.config import PollSource, Publisher
from syndication.ingest.normalise import IngestError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
DEADLINE_S = 30.0
PUBLIC = "public"
# What an operator may opt a source into with ``private_network = true``.
INTRANET = frozenset({"loopback", "private", "link-local"})

_V4 = [
    (ipaddress.ip_network(net), cls)
    for net, cls in [
        ("0.0.0.0/8", "unspecified"),  # "this network"; 0.0.0.0 reaches the local host
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "private"),  # carrier-grade NAT (RFC 6598)
        ("169.254.0.0/16", "link-local"),  # includes cloud metadata, 169.254.169.254
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),  # and 255.255.255.255
        ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
        ("192.0.2.0/24", "reserved"),  # documentation
        ("198.51.100.0/24", "reserved"),
        ("203.0.113.0/24", "reserved"),
        ("198.18.0.0/15", "reserved"),  # benchmarking
        ("192.88.99.0/24", "reserved"),  # old 6to4 relay anycast
    ]
]
_V6 = [
    (ipaddress.ip_network(net), cls)
    for net, cls in [
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fc00::/7", "private"),  # unique local (ULA)
        ("fec0::/10", "private"),  # old site-local
        ("64:ff9b:1::/48", "private"),  # local-use NAT64
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
        ("100::/64", "reserved"),  # discard
        ("2001::/23", "reserved"),  # IETF assignments, Teredo among them
        ("2001:db8::/32", "reserved"),  # documentation
    ]
]
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPAT = ipaddress.ip_network("::/96")


def address_class(address: IPAddress) -> str:
    """``public``, or why not: loopback, private, link-local, multicast, unspecified,
    reserved. An IPv6 form that carries an IPv4 address (mapped, 6to4, NAT64) is judged by
    the IPv4 address, so ``::ffff:127.0.0.1`` is loopback."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_class(embedded)
        for net, cls in _V6:
            if address in net:
                return cls
        if address in _COMPAT or address not in _GLOBAL_UNICAST:
            return "reserved"
    else:
        for net, cls in _V4:
            if address in net:
                return cls
    # Belt and braces: whatever the standard library knows to be not global is not public.
    return PUBLIC if address.is_global and not address.is_multicast else "reserved"


def host_key(url: httpx.URL) -> str:
    """``host:port`` (port made explicit), the unit a redirect may or may not go to."""
    return f"{url.raw_host.decode('ascii').lower()}:{url.port or _default_port(url.scheme)}"


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


@dataclass(frozen=True)
class Policy:
    """Where one poll may go.

    ``hosts``: the source's own ``host:port`` and its configured ``redirect_hosts``;
    ``private``: the non-public address classes they may resolve to (only for a source
    configured on such an address); ``deadline_s``: the whole poll, all hops.
    """

    hosts: frozenset[str]
    private: frozenset[str] = frozenset()
    deadline_s: float = DEADLINE_S

    def check_url(self, url: httpx.URL) -> None:
        """Refuse a hop (the first request or a redirect) that leaves the allowed hosts."""
        if url.scheme not in ("http", "https"):
            raise Refused(f"{url} is not http(s)")
        if url.userinfo:
            raise Refused(f"{url} carries credentials")
        if not url.raw_host:
            raise Refused(f"{url} has no host")
        if host_key(url) not in self.hosts and not self._upgrade(url):
            raise Refused(
                f"redirect to {url} leaves the source's host"
                " (list the host under redirect_hosts to allow it)"
            )

    def _upgrade(self, url: httpx.URL) -> bool:
        """http://host/ → https://host/ (default ports both) is the same host."""
        return url.scheme == "https" and url.port is None and f"{_host(url)}:80" in self.hosts

    def check_addresses(self, host: str, addresses: Iterable[IPAddress]) -> None:
        """Every address must be public or of a class the source is configured on."""
        for address in addresses:
            cls = address_class(address)
            if cls != PUBLIC and cls not in self.private:
                shown = f"{host} resolves to {address}," if host != str(address) else f"{host} is"
                allowed = " and ".join(["public", *sorted(self.private)])
                raise Refused(f"{shown} {cls}; this source may reach {allowed} addresses only")


def _host(url: httpx.URL) -> str:
    return url.raw_host.decode("ascii").lower()


class Refused(IngestError):
    """The poll would reach a host or an address it may not: nothing was fetched there."""


def policy_for(url: str, publisher: Publisher, deadline_s: float = DEADLINE_S) -> Policy:
    """The policy for polling ``url``: from its ``[[publisher.sources]]`` entry (the same
    URL, else the same host and port), else the default (its own host, public only)."""
    try:
        parsed = httpx.URL(url)
        key = host_key(parsed)
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise IngestError(f"{url}: not a URL: {exc}") from None
    configured = _configured(url, key, publisher.sources)
    if configured is None:
        return Policy(frozenset({key}), deadline_s=deadline_s)
    hosts = {key}
    for entry in configured.redirect_hosts:
        hosts.add(host_key(httpx.URL(f"{parsed.scheme}://{entry}/")))
    classes = _configured_classes(_host(parsed), configured)
    return Policy(frozenset(hosts), classes, configured.deadline_s)


def _configured(url: str, key: str, sources: Iterable[PollSource]) -> PollSource | None:
    sources = list(sources)
    for source in sources:
        if source.url == url:
            return source
    for source in sources:
        try:
            if host_key(httpx.URL(source.url)) == key:
                return source
        except (httpx.InvalidURL, UnicodeError, ValueError):
            continue
    return None


def _configured_classes(host: str, source: PollSource) -> frozenset[str]:
    """The non-public classes a configured source is on: its IP literal's, loopback for
    ``localhost`` (RFC 6761), the intranet classes with ``private_network``."""
    classes: set[str] = set(INTRANET) if source.private_network else set()
    try:
        classes.add(address_class(ipaddress.ip_address(host.strip("[]"))))
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            classes.add("loopback")
    return frozenset(classes - {PUBLIC})


@dataclass
class Deadline:
    """The poll's total time budget on a monotonic ``clock`` (injectable for tests)."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    start: float = field(init=False)

    def __post_init__(self) -> None:
        self.start = self.clock()

    def remaining(self) -> float:
        return self.seconds - (self.clock() - self.start)

    def expired(self) -> bool:
        return self.remaining() <= 0

    def clamp(self, timeout: float | None, error: type[Exception]) -> float:
        """``timeout`` cut to what is left; ``error`` (an httpcore timeout) if nothing is."""
        left = self.remaining()
        if left <= 0:
            raise error("deadline")
        return left if timeout is None else min(timeout, left)


def system_resolver(host: str, port: int) -> list[str]:
    """The system's addresses for ``host`` (getaddrinfo), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class GuardedBackend(httpcore.NetworkBackend):
    """Connects only to checked addresses, within the deadline (see the module docstring)."""

    def __init__(self, policy: Policy, deadline: Deadline, resolve: Resolver) -> None:
        self.policy = policy
        self.deadline = deadline
        self.resolve = resolve
        self.inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        key = f"{host.lower()}:{port}"
        upgrade = port == 443 and f"{host.lower()}:80" in self.policy.hosts
        if key not in self.policy.hosts and not upgrade:
            raise Refused(f"{key} is not a host this source may reach")
        addresses = self._addresses(host, port)
        self.policy.check_addresses(host, addresses)
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:
            try:
                stream = self.inner.connect_tcp(
                    str(address),
                    port,
                    timeout=self.deadline.clamp(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                error = exc
                continue
            return DeadlineStream(stream, self.deadline)
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise Refused("a poll connects over TCP only")

    def _addresses(self, host: str, port: int) -> list[IPAddress]:
        """``host``'s addresses, unique, looked up once, within the deadline (getaddrinfo
        has no timeout of its own: it runs in a thread that is left behind if it hangs)."""
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        answer: dict[str, Any] = {}
        done = threading.Event()

        def lookup() -> None:
            try:
                answer["addresses"] = self.resolve(host, port)
            except (OSError, UnicodeError) as exc:
                answer["error"] = exc
            finally:
                done.set()

        threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
        if not done.wait(max(self.deadline.remaining(), 0)):
            raise httpcore.ConnectTimeout(f"resolving {host}")
        if "error" in answer:
            raise httpcore.ConnectError(f"cannot resolve {host}: {answer['error']}")
        unique: list[IPAddress] = []
        for text in answer["addresses"]:
            address = ipaddress.ip_address(text)
            if address not in unique:
                unique.append(address)
        if not unique:
            raise httpcore.ConnectError(f"no address for {host}")
        return unique


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation waits at most what is left of the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: Deadline) -> None:
        self.stream = stream
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self.deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self.deadline.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = self.stream.start_tls(
            ssl_context, server_hostname, self.deadline.clamp(timeout, httpcore.ConnectTimeout)
        )
        return DeadlineStream(tls, self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport (request/response and error mapping) on a guarded pool.

    httpx takes no network backend, so the pool is replaced after ``__init__``; the tests
    that poll through it (a refused name, a checked address) fail if httpx changes this.
    """

    def __init__(self, backend: GuardedBackend) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=backend,
            max_connections=4,
        )
