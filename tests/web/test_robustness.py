"""Every web face under bad input, through the real app on a real Redis: no 5xx, no
traceback, one clear line; the security headers on every answer; ``/api/docs`` loads
nothing from outside; ``/metrics`` behind its optional token; partner keys never logged."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from urllib.parse import quote, quote_from_bytes

import lxml.html
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndication.config import AdminConfig
from syndication.context import Context
from syndication.logging_setup import RedactingFilter, redact_partner_keys
from syndication.models import Article
from syndication.signing import signed_headers
from syndication.web.app import create_app
from syndication.web.jsonbody import MAX_DEPTH, depth
from tests.support import article_data
from tests.support.clock import ManualClock

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BOUNDED = settings(
    max_examples=60,
    deadline=None,  # no wall-clock limits: a slow machine is not a failure
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def make_app(ctx: Context, **changed: object) -> FastAPI:
    """The real app on ``ctx`` with some settings changed, on the test's clock."""
    new = dataclasses.replace(ctx.settings, **changed)
    return create_app(Context(new, ctx.events, ctx.client, clock=ctx.clock))


@pytest.fixture
def client(context: Context) -> TestClient:
    context.articles.accept(Article.model_validate(article_data(1)))
    context.feeds.rebuild_dirty()
    # A 500 must reach the test as the client sees it, not as the exception.
    return TestClient(create_app(context), raise_server_exceptions=False)


def nested(levels: int, kind: str = "[") -> str:
    close = {"[": "]", "{": "}"}[kind]
    if kind == "{":
        return '{"a":' * levels + "1" + close * levels
    return kind * levels + close * levels


# -- the inputs seen to fail ------------------------------------------------------------


def test_the_reported_inputs_are_4xx_with_one_clear_line(client: TestClient):
    archive = client.get("/archive?start=%C2%B3")  # "³": str.isdigit() but not int()
    assert archive.status_code == 200 and "<html" in archive.text
    for path, body, headers in (
        ("/api/subscribers", nested(5000), {}),
        ("/api/articles", nested(1200), AUTH),
        ("/api/articles", nested(1200, "{"), AUTH),
    ):
        r = client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        assert r.json() == {
            "error": f"body is nested deeper than {MAX_DEPTH} levels",
            "code": "body_too_deep",
        }
    for query in ("offset=9223372036854775807", "offset=-1", "limit=0", "limit=9999999999999"):
        r = client.get(f"/api/articles?{query}", headers=AUTH)
        assert r.status_code == 422, (query, r.text)
        assert r.json()["code"] == "invalid_request"
    assert client.get("/api/articles?offset=1000000000", headers=AUTH).json()["articles"] == []


@BOUNDED
@given(levels=st.integers(1, 3000), kind=st.sampled_from("[{"))
def test_json_depth_is_bounded_on_every_json_endpoint(
    client: TestClient, clock: ManualClock, levels: int, kind: str
):
    body = nested(levels, kind).encode()
    # A signed request is accepted once: each example signs at a new second on the test's clock.
    now = int(clock.advance(seconds=1).timestamp())
    path = "/webhooks/email-events"
    signed = signed_headers("s" * 40, "POST", path, "", body, now)  # the webhook's key
    for path, headers in (
        ("/api/subscribers", {}),
        ("/api/articles", AUTH),
        ("/webhooks/email-events", signed),
    ):
        r = client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code < 500, (path, levels, r.text)
        too_deep = r.status_code == 400 and r.json()["code"] == "body_too_deep"
        assert too_deep == (levels > MAX_DEPTH), (path, levels, r.text)


def test_depth_counts_levels_without_recursing():
    assert depth(1) == 0 and depth([]) == 1 and depth({"a": [1, {"b": []}]}) == 4
    deep: list[object] = []
    for _ in range(100_000):  # far past the recursion limit: measured iteratively
        deep = [deep]
    assert depth(deep) == 100_001


# -- no 5xx for any query string on the public pages --------------------------------------

PUBLIC = (
    "/",
    "/feeds",
    "/feeds/all.rss",
    "/feeds/all/archive/1.atom",
    "/subscribe",
    "/archive",
    "/archive/daily-2026-11-26",
    "/republish/sample-story-1",
    "/pixel/abc.gif",
    "/healthz/web",
    "/api/docs",
    "/confirm/abc",
    "/unsubscribe/abc",
    "/preferences/abc",
)
NAMES = st.sampled_from(["start", "lang", "segment", "limit", "offset", "k", "page", "format"])
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["³", "٣", "-1", "9223372036854775807", "1e9", "0x10", " 1", "es", "en:"]),
)


@st.composite
def query_strings(draw: st.DrawFn) -> str:
    """Name=value pairs, each encoded as a client might, or raw percent-encoded bytes."""
    pairs = draw(st.lists(st.tuples(st.one_of(NAMES, st.text(max_size=10)), VALUES), max_size=4))
    parts = [f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in pairs]
    if draw(st.booleans()):
        parts.append(quote_from_bytes(draw(st.binary(max_size=20)), safe="=&"))
    return "&".join(parts)


@BOUNDED
@given(path=st.sampled_from(PUBLIC), query=query_strings(), language=st.text(max_size=30))
def test_no_query_string_gets_a_server_error(
    client: TestClient, path: str, query: str, language: str
):
    # Bytes as a client may send them (not ASCII), minus what cannot be in a header line.
    raw = language.encode("utf-8").replace(b"\r", b"").replace(b"\n", b"").replace(b"\0", b"")
    headers = {"Accept-Language": raw}
    r = client.get(f"{path}?{query}", headers=headers)
    assert r.status_code < 500 or (r.status_code == 503 and "healthz" in path), (path, query)
    assert "Traceback" not in r.text


SEGMENT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["{x}", "a:b", "..", "%", "daily-2026-11-26", "sample-story-1", "x" * 300]),
)
PATHS = st.sampled_from(
    ["/archive/", "/republish/", "/pixel/", "/feeds/", "/confirm/", "/unsubscribe/"]
)


@BOUNDED
@given(base=PATHS, segment=SEGMENT, authed=st.booleans())
def test_no_path_segment_gets_a_server_error(
    client: TestClient, base: str, segment: str, authed: bool
):
    suffix = ".gif" if base == "/pixel/" else ""
    r = client.get(f"{base}{quote(segment, safe='')}{suffix}")
    assert r.status_code < 500 or (base == "/feeds/" and r.status_code == 503), r.text
    api = client.get(f"/api/articles/{quote(segment, safe='')}", headers=AUTH if authed else {})
    assert api.status_code < 500, api.text


FORM_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "text/plain",
    ]
)


@BOUNDED
@given(
    path=st.sampled_from(["/subscribe", "/confirm/abc", "/unsubscribe/abc", "/preferences/abc"]),
    ctype=FORM_TYPES,
    body=st.one_of(
        st.binary(max_size=200),
        st.just(b"--xyz\r\nContent-Disposition: form-data; name=email\r\n\r\nx\r\n--xyz--"),
        st.just(b"List-Unsubscribe=One-Click"),
    ),
)
def test_no_form_body_gets_a_server_error(client: TestClient, path: str, ctype: str, body: bytes):
    r = client.post(path, content=body, headers={"Content-Type": ctype})
    assert r.status_code < 500, r.text


@BOUNDED
@given(body=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_no_subscriber_api_body_gets_a_server_error(client: TestClient, body: bytes):
    r = client.post("/api/subscribers", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code < 500, r.text
    assert set(r.json()) >= {"code"} and "Traceback" not in r.text


# -- whatever a route raises: a generic 500, logged once ---------------------------------


def test_an_unexpected_error_is_a_generic_500_and_is_logged(
    context: Context, caplog: pytest.LogCaptureFixture
):
    app = create_app(context)

    @app.get("/explode")  # a route with a bug, added to the real app
    async def explode() -> None:
        raise RuntimeError("internal detail 7f3a")

    client = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="syndication.web.security"):
        r = client.get("/explode")
        page = client.get("/explode", headers={"Accept": "text/html"})
    assert r.status_code == 500
    assert r.json() == {"error": "internal server error", "code": "internal_error"}
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    for answer in (r, page):
        assert "7f3a" not in answer.text and "Traceback" not in answer.text
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    logged = [rec for rec in caplog.records if rec.name == "syndication.web.security"]
    assert len(logged) == 2 and logged[0].exc_info is not None
    assert "GET /explode" in logged[0].getMessage()


# -- security headers -------------------------------------------------------------------


def test_every_answer_has_the_security_headers(client: TestClient):
    for path in (*PUBLIC, "/feeds/all.json", "/nope", "/api/articles", "/api/openapi.json"):
        r = client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert "frame-ancestors" in r.headers["content-security-policy"], path
        assert r.headers["referrer-policy"], path
        assert "strict-transport-security" not in r.headers  # the public URL is http
    feed = client.get("/feeds/all.rss")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/")
    assert feed.headers["content-security-policy"].startswith("default-src 'none'")


def test_token_pages_send_no_referrer_whatever_the_answer(client: TestClient):
    for path in ("/confirm/abc", "/unsubscribe/abc", "/preferences/abc", "/partners/x/feeds/a"):
        for r in (client.get(path), client.put(path)):  # a page, and a 404/405 from routing
            assert r.headers["referrer-policy"] == "no-referrer", (path, r.status_code)
    assert client.get("/subscribe").headers["referrer-policy"] == "no-referrer"  # its own
    assert client.get("/").headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_routes_keep_their_own_policies(context: Context):
    client = TestClient(
        make_app(context, admin=AdminConfig(password="correct horse battery staple"))
    )
    login = client.get("/admin/login")
    assert "script-src 'nonce-" in login.headers["content-security-policy"]
    assert login.headers["referrer-policy"] == "same-origin"
    context.articles.accept(Article.model_validate(article_data(1)))
    republish = client.get("/republish/sample-story-1")
    assert "frame-ancestors 'self'" in republish.headers["content-security-policy"]


def test_hsts_when_the_public_url_is_https(context: Context):
    client = TestClient(make_app(context, public_url="https://news.example.org"))
    for path in ("/", "/feeds", "/nope", "/healthz/web"):
        assert client.get(path).headers["strict-transport-security"] == "max-age=31536000"


# -- /api/docs ---------------------------------------------------------------------------


def test_api_docs_load_nothing_from_outside(client: TestClient):
    r = client.get("/api/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "/api/articles" in r.text and "/api/subscribers" in r.text
    tree = lxml.html.fromstring(r.text)
    assert tree.xpath("//script") == [] and tree.xpath("//link[@rel='stylesheet']") == []
    for attribute in tree.xpath("//@src | //@href | //@action"):
        assert not re.match(r"(?i)^\s*(?:[a-z][a-z0-9+.-]*:|//)", attribute), attribute
    for style in tree.xpath("//style/text()"):
        assert "url(" not in style and "@import" not in style
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert client.get("/api/openapi.json").json()["paths"]


# -- /metrics ----------------------------------------------------------------------------


def test_metrics_token_when_set(context: Context):
    metrics_token = "metrics-token-0123456789"
    guarded = TestClient(make_app(context, metrics_token=metrics_token))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": metrics_token}):
        r = guarded.get("/metrics", headers=headers)
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "partner_pulls_today" not in r.text
    ok = guarded.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
    assert ok.status_code == 200 and "workers_alive" in ok.text
    assert TestClient(create_app(context)).get("/metrics").status_code == 200  # unset: open


# -- partner keys in logs, every spelling ------------------------------------------------

KEYS = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", min_size=20)


@st.composite
def spelled(draw: st.DrawFn, word: str) -> str:
    """``word`` with each letter in either case, maybe percent-encoded."""
    out = []
    for c in word:
        c = draw(st.sampled_from([c.lower(), c.upper()]))
        out.append(f"%{ord(c):02{draw(st.sampled_from('xX'))}}" if draw(st.booleans()) else c)
    return "".join(out)


@st.composite
def key_urls(draw: st.DrawFn, key: str) -> str:
    slashes = st.lists(st.sampled_from(["/", "%2F", "%2f"]), min_size=1, max_size=3).map("".join)
    if draw(st.booleans()):
        return f"{draw(slashes)}{draw(spelled('partners'))}{draw(slashes)}{key}/feeds/all.rss"
    name = draw(st.sampled_from(["k", "key", "api_key", "apikey", "token", "access_token"]))
    sep = draw(st.sampled_from(["?", "?a=1&", "?a=1;"]))
    equals = draw(st.sampled_from(["=", "%3D", "%3d"]))
    return f"/partners/feeds/all.rss{sep}{draw(spelled(name))}{equals}{key}&b=2"


@settings(max_examples=300, deadline=None)
@given(data=st.data(), key=KEYS)
def test_partner_keys_are_redacted_in_every_spelling(data: st.DataObject, key: str):
    url = data.draw(key_urls(key))
    line = f'127.0.0.1:5000 - "GET {url} HTTP/1.1" 200'
    assert key not in redact_partner_keys(line), line
    assert key not in RedactingFilter().redact(line), line
    assert redact_partner_keys("GET /partners/feeds/all.rss?lang=es") == (
        "GET /partners/feeds/all.rss?lang=es"
    )


def test_json_error_lines_are_one_line(client: TestClient):
    r = client.post("/api/subscribers", content=b"{", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "\n" not in json.dumps(r.json()["error"])


def test_a_content_length_in_other_digits_is_a_400(client: TestClient):
    r = client.post(
        "/api/subscribers",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": "³".encode()},
    )
    assert r.status_code == 400 and r.json()["code"] == "bad_content_length"
