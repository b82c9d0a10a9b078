"""A poll's total deadline and its SSRF guard, over real HTTP servers on loopback.

The servers are ``http.server`` threads this module starts: one plays a configured source on
127.0.0.1 (with redirects on demand), a second one another service on another port, and
two misbehave (one trickles a byte and then stalls, one sends an endless body). Each
server records what it saw, so a refused redirect is shown to have reached nothing.
"""

from __future__ import annotations

import ipaddress
import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpcore
import httpx
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from syndication.config import PollSource, Publisher, load_publisher
from syndication.events import RecordingEvents
from syndication.ingest.guard import (
    PUBLIC,
    Deadline,
    GuardedBackend,
    Policy,
    Refused,
    address_class,
    policy_for,
    system_resolver,
)
from syndication.ingest.normalise import IngestError
from syndication.services.articles import ArticleService
from syndication.services.ingest import IngestService
from syndication.store.articles import ArticleStore
from syndication.store.poll_state import PollStateStore
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    b"<link>https://partner.example/</link><item><title>One</title>"
    b"<link>https://partner.example/one</link><guid>g-1</guid>"
    b"<description>&lt;p&gt;Body.&lt;/p&gt;</description>"
    b"<pubDate>Mon, 02 Mar 2026 15:00:00 +0000</pubDate></item></channel></rss>"
)


# -- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    """A loopback HTTP server: ``routes`` maps a path to (status, headers, body); ``seen``
    is every request as (path, Host header); ``closed`` is set when a client hung up on a
    misbehaving handler."""

    base: str = ""
    port: int = 0
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)
    closed: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes[path] = (status, {"Location": location}, b"")
        return self.base + path

    def feed(self, path: str) -> str:
        self.routes[path] = (200, {"Content-Type": "application/rss+xml"}, RSS)
        return self.base + path


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.seen.append((self.path, self.headers.get("Host", "")))
            if self.path == "/trickle":
                return self._trickle()
            if self.path == "/endless":
                return self._endless()
            status, headers, body = server.routes.get(self.path, (404, {}, b""))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _trickle(self) -> None:
            """One byte of the body, then nothing: blocks until the client hangs up."""
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"<")
            self.wfile.flush()
            try:
                hung_up = self.connection.recv(1) == b""  # returns when the peer closes
            except ConnectionResetError:  # closed with bytes unread: a reset
                hung_up = True
            if hung_up:
                server.closed.set()
            server.release.wait()

        def _endless(self) -> None:
            """A body that never ends, sent as fast as the client reads it."""
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.end_headers()
            try:
                while not server.release.is_set():
                    self.wfile.write(b" " * 65536)
            except OSError:
                server.closed.set()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _serve() -> Iterator[Server]:
    server = Server()
    http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.port = http.server_address[1]
    server.base = f"http://127.0.0.1:{server.port}"
    thread = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.release.set()  # teardown: let stalled handlers finish
    http.shutdown()
    http.server_close()
    thread.join(5)


@pytest.fixture
def source() -> Iterator[Server]:
    """The configured source, on 127.0.0.1."""
    yield from _serve()


@pytest.fixture
def other() -> Iterator[Server]:
    """Another loopback service (what an SSRF would reach), on another port."""
    yield from _serve()


@pytest.fixture(scope="module")
def publisher() -> Publisher:
    return load_publisher(ROOT / "examples" / "insightcrime.toml")


@dataclass
class Rig:
    service: IngestService
    events: RecordingEvents
    store: ArticleStore
    state: PollStateStore
    publisher: Publisher

    def configure(self, *sources: PollSource) -> None:
        self.service.publisher = self.publisher.model_copy(update={"sources": list(sources)})

    def refused(self, url: str, match: str) -> str:
        """Poll ``url``, expect a refusal; nothing may be stored."""
        with pytest.raises(Refused, match=match) as info:
            self.service.poll(url)
        message = str(info.value)
        assert message.startswith(f"{url}: refused: ") and "\n" not in message
        assert self.state.get(url) is None and self.events.calls == []
        return message


@pytest.fixture
def rig(redis_client: redis.Redis, prefix: str, publisher: Publisher) -> Rig:
    events = RecordingEvents()
    store = ArticleStore(redis_client, prefix)
    state = PollStateStore(redis_client, prefix)
    service = IngestService(
        ArticleService(store, events, clock=lambda: NOW), publisher, state, clock=lambda: NOW
    )
    return Rig(service, events, store, state, publisher)


# -- the deadline --------------------------------------------------------------------------


def test_a_trickling_server_is_given_up_at_the_deadline(rig: Rig, source: Server) -> None:
    """One byte, then silence: every read is cut to what is left of the deadline, so the
    poll ends with the deadline error (the wall clock is the subject here: 1 s of real
    waiting), closes the connection, and stores nothing."""
    url = source.base + "/trickle"
    rig.configure(PollSource(url=url, deadline_s=1))
    with pytest.raises(IngestError, match=r"gave up after 1 s \(deadline\)$") as info:
        rig.service.poll(url)
    assert str(info.value) == f"{url}: gave up after 1 s (deadline)"
    wait_for(source.closed.is_set)
    assert rig.state.get(url) is None and rig.events.calls == []


def test_a_fast_endless_body_stops_at_the_deadline(rig: Rig, source: Server) -> None:
    """Each read returns at once, so only the clock between chunks stops it: here a clock
    passed in that moves 10 ms per look, so the deadline comes after a known number of
    looks and not after any real time. The size cap is out of the way."""
    url = source.base + "/endless"
    rig.configure(PollSource(url=url, deadline_s=2))
    ticks = itertools.count()
    rig.service.monotonic = lambda: next(ticks) / 100
    rig.service.max_bytes = 1 << 40
    with pytest.raises(IngestError, match=r"gave up after 2 s \(deadline\)$"):
        rig.service.poll(url)
    wait_for(source.closed.is_set)
    assert rig.state.get(url) is None


def test_every_socket_wait_is_cut_to_what_is_left(source: Server) -> None:
    """The guarded connection itself, on a clock passed in: a read asked to wait 20 s
    waits 5 when 5 are left, and none once the deadline is spent (no real time passes)."""
    now = [0.0]
    deadline = Deadline(30, lambda: now[0])
    policy = Policy(frozenset({f"127.0.0.1:{source.port}"}), frozenset({"loopback"}))
    stream = GuardedBackend(policy, deadline, system_resolver).connect_tcp(
        "127.0.0.1", source.port, timeout=10
    )
    stream.write(b"GET /trickle HTTP/1.1\r\nHost: t\r\n\r\n", timeout=10)
    now[0] = 25.0
    assert stream.read(65536, timeout=20).startswith(b"HTTP/1.")
    assert stream.get_extra_info("socket").gettimeout() == 5
    now[0] = 30.0
    with pytest.raises(httpcore.ReadTimeout, match="deadline"):
        stream.read(65536, timeout=20)
    stream.close()
    wait_for(source.closed.is_set)


def test_the_guarded_connection_reaches_only_the_policys_hosts(
    source: Server, other: Server
) -> None:
    """Defence in depth below the redirect check: the backend itself refuses other hosts."""
    policy = Policy(frozenset({f"127.0.0.1:{source.port}"}), frozenset({"loopback"}))
    backend = GuardedBackend(policy, Deadline(30), system_resolver)
    with pytest.raises(Refused, match="not a host this source may reach"):
        backend.connect_tcp("127.0.0.1", other.port)
    with pytest.raises(Refused, match="TCP only"):
        backend.connect_unix_socket("/run/docker.sock")


def test_deadline_clamps_every_timeout_and_refuses_when_spent() -> None:
    now = [100.0]
    deadline = Deadline(30, lambda: now[0])
    assert deadline.clamp(20, TimeoutError) == 20 and deadline.clamp(None, TimeoutError) == 30
    now[0] = 125.0
    assert deadline.clamp(20, TimeoutError) == 5 and not deadline.expired()
    now[0] = 130.0
    assert deadline.expired()
    with pytest.raises(TimeoutError, match="deadline"):
        deadline.clamp(20, TimeoutError)


# -- redirects -----------------------------------------------------------------------------


def test_a_redirect_on_the_same_host_is_followed(rig: Rig, source: Server) -> None:
    rig.configure(PollSource(url=source.base + "/"))
    source.feed("/feed/")
    url = source.redirect("/old-feed", "/feed/", status=301)
    report = rig.service.poll(url)
    assert report.errors == [] and len(report.outcomes) == 1
    assert [path for path, _ in source.seen] == ["/old-feed", "/feed/"]


def test_a_redirect_to_another_port_is_refused_and_reaches_nothing(
    rig: Rig, source: Server, other: Server
) -> None:
    rig.configure(PollSource(url=source.base + "/"))
    target = other.feed("/feed/")
    url = source.redirect("/feed", target)
    message = rig.refused(url, "leaves the source's host")
    assert target in message and "redirect_hosts" in message
    assert other.seen == []


@pytest.mark.parametrize(
    "location",
    [
        "http://localhost:{port}/feed/",  # the same address by another name
        "http://127.0.0.2:{port}/feed/",  # another loopback address
        "http://[::1]:{port}/feed/",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://10.0.0.1/",
    ],
)
def test_a_redirect_to_another_host_is_refused_even_on_loopback(
    rig: Rig, source: Server, location: str
) -> None:
    """Strict: the source's own host and port only, not its address class."""
    rig.configure(PollSource(url=source.base + "/"))
    url = source.redirect("/feed", location.format(port=source.port))
    rig.refused(url, "leaves the source's host")
    assert [path for path, _ in source.seen] == ["/feed"]


def test_redirect_hosts_allow_another_host_with_the_sources_address_class(
    rig: Rig, source: Server, other: Server
) -> None:
    """A host listed under ``redirect_hosts`` is followed to; on loopback because the
    source itself is configured on loopback; the Host header is the name, not the IP."""
    host = f"localhost:{other.port}"
    rig.configure(PollSource(url=source.base + "/", redirect_hosts=[host]))
    other.feed("/feed/")
    url = source.redirect("/feed", f"http://{host}/feed/")
    report = rig.service.poll(url)
    assert report.errors == [] and len(report.outcomes) == 1
    assert other.seen == [("/feed/", host)]


def test_a_listed_redirect_host_of_a_public_source_may_not_be_private(
    rig: Rig, source: Server
) -> None:
    """A public-looking source (its name resolved here to 127.0.0.1 by the resolver passed
    in) may reach public addresses only, listed redirect hosts included."""
    rig.configure(PollSource(url="http://feeds.partner.example/", redirect_hosts=["localhost"]))
    rig.service.resolve = lambda host, port: ["127.0.0.1"]
    rig.refused(
        "http://feeds.partner.example/feed",
        "feeds.partner.example resolves to 127.0.0.1, loopback; this source may reach public",
    )


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("file:///etc/passwd", "is not http"),
        ("ftp://{host}/feed", "is not http"),
        ("http://user:secret@{host}/feed/", "carries credentials"),
    ],
)
def test_a_redirect_off_http_or_with_credentials_is_refused(
    rig: Rig, source: Server, location: str, reason: str
) -> None:
    rig.configure(PollSource(url=source.base + "/"))
    url = source.redirect("/feed", location.format(host=f"127.0.0.1:{source.port}"))
    rig.refused(url, reason)


def test_a_redirect_loop_ends_after_five_hops(rig: Rig, source: Server) -> None:
    rig.configure(PollSource(url=source.base + "/"))
    url = source.redirect("/a", "/b")
    source.redirect("/b", "/a")
    with pytest.raises(IngestError, match="more than 5 redirects"):
        rig.service.poll(url)
    assert len(source.seen) == 6


# -- the first request ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is link-local"),
        ("http://localhost:{port}/feed/", "localhost resolves to .*, loopback"),
        ("http://127.0.0.1:{port}/feed/", "127.0.0.1 is loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/feed/", "::ffff:.* loopback"),
        ("http://0.0.0.0:{port}/feed/", "0.0.0.0 is unspecified"),
        ("http://[fe80::1]/", "fe80::1 is link-local"),
        ("http://192.168.1.1/", "192.168.1.1 is private"),
    ],
)
def test_a_source_not_configured_may_reach_public_addresses_only(
    rig: Rig, source: Server, url: str, reason: str
) -> None:
    source.feed("/feed/")
    rig.refused(url.format(port=source.port), reason)
    assert source.seen == []


def test_a_public_looking_name_on_loopback_is_refused(rig: Rig, source: Server) -> None:
    source.feed("/feed/")
    rig.service.resolve = lambda host, port: ["203.0.113.7", "127.0.0.1"]
    rig.refused(f"http://news.partner.example:{source.port}/feed/", "203.0.113.7, reserved")
    rig.service.resolve = lambda host, port: ["127.0.0.1"]
    rig.refused(f"http://news.partner.example:{source.port}/feed/", "127.0.0.1, loopback")
    assert source.seen == []


def test_a_private_network_source_connects_to_the_address_it_checked(
    rig: Rig, source: Server
) -> None:
    """``private_network = true`` lets a named intranet source resolve to loopback. The
    name resolves (once, through the resolver passed in) to the address that is checked
    and connected to: ``.test`` names exist nowhere else, so the poll can only have
    reached the server through that address, and the server saw the name as Host."""
    url = f"http://feeds.intranet.test:{source.port}/feed/"
    source.feed("/feed/")
    rig.configure(PollSource(url=url, private_network=True))
    looked_up: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        looked_up.append((host, port))
        return ["127.0.0.1"]

    rig.service.resolve = resolve
    report = rig.service.poll(url)
    assert report.errors == [] and len(report.outcomes) == 1
    assert looked_up == [("feeds.intranet.test", source.port)]
    assert source.seen == [("/feed/", f"feeds.intranet.test:{source.port}")]


def test_policy_for_a_configured_source() -> None:
    publisher = load_publisher(ROOT / "examples" / "insightcrime.toml")
    configured = publisher.model_copy(
        update={
            "sources": [
                PollSource(
                    url="http://127.0.0.1:8080/feed",
                    redirect_hosts=["cdn.example", "Media.Example:8443"],
                    deadline_s=5,
                )
            ]
        }
    )
    policy = policy_for("http://127.0.0.1:8080/feed", configured)
    assert policy.hosts == {"127.0.0.1:8080", "cdn.example:80", "media.example:8443"}
    assert policy.private == {"loopback"} and policy.deadline_s == 5
    # Another path on the same host and port is the same source's host.
    assert policy_for("http://127.0.0.1:8080/other", configured).private == {"loopback"}
    assert policy_for("http://127.0.0.1:8081/feed", configured).private == frozenset()
    # http → https on the default ports is the same host.
    open_policy = Policy(frozenset({"news.example:80"}))
    open_policy.check_url(httpx.URL("https://news.example/feed"))
    with pytest.raises(Refused):
        open_policy.check_url(httpx.URL("https://news.example:8443/feed"))


@pytest.mark.parametrize("bad", ["http://x.example", "x.example/path", "a@x.example", "x:port"])
def test_redirect_hosts_are_hosts(bad: str) -> None:
    with pytest.raises(ValueError):
        PollSource(url="https://x.example/feed", redirect_hosts=[bad])


# -- the address classifier ----------------------------------------------------------------

V4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
V6 = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)


def _in(net: str) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    network = ipaddress.ip_network(net)
    first = int(network.network_address)
    return st.integers(first, first + network.num_addresses - 1).map(type(network.network_address))


CLASSES: list[tuple[str, str]] = [
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("100.64.0.0/10", "private"),
    ("fc00::/7", "private"),
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("0.0.0.0/8", "unspecified"),
    ("::/128", "unspecified"),
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CLASSES).flatmap(lambda c: st.tuples(_in(c[0]), st.just(c[1]))))
def test_every_address_of_a_refused_range_is_classed_so(case: tuple[object, str]) -> None:
    address, expected = case
    assert address_class(address) == expected  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(V4)
def test_an_ipv4_address_is_judged_the_same_in_every_ipv6_form(v4: ipaddress.IPv4Address) -> None:
    """Mapped (::ffff:a.b.c.d), 6to4 (2002:AABB:CCDD::) and NAT64 (64:ff9b::a.b.c.d) all
    reach the IPv4 address, so they are what it is."""
    forms = [
        ipaddress.IPv6Address((0xFFFF << 32) | int(v4)),
        ipaddress.IPv6Address((0x2002 << 112) | (int(v4) << 80)),
        ipaddress.IPv6Address((0x64FF9B << 96) | int(v4)),
    ]
    assert {address_class(f) for f in forms} == {address_class(v4)}


@settings(max_examples=500, deadline=None)
@given(st.one_of(V4, V6))
def test_public_means_global_to_the_standard_library_too(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    """Nothing the standard library knows as loopback, private, link-local, multicast,
    reserved or not global is ever public; an IPv6 address outside 2000::/3 is never."""
    cls = address_class(address)
    flags = [
        address.is_loopback,
        address.is_private,
        address.is_link_local,
        address.is_multicast,
        address.is_reserved,
        address.is_unspecified,
        not address.is_global,
    ]
    if any(flags) and not _embeds_v4(address):
        assert cls != PUBLIC
    global_unicast = ipaddress.ip_network("2000::/3")
    if isinstance(address, ipaddress.IPv6Address) and address not in global_unicast:
        assert cls != PUBLIC or _embeds_v4(address)


def _embeds_v4(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Mapped, 6to4 and NAT64 forms are judged by their IPv4 address (the property above)."""
    return isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped is not None
        or address.sixtofour is not None
        or address in ipaddress.ip_network("64:ff9b::/96")
    )


def test_known_public_addresses_are_public() -> None:
    for text in ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450::1"]:
        assert address_class(ipaddress.ip_address(text)) == PUBLIC, text
