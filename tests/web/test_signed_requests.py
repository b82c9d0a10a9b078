"""Signed requests (``syndication.web.auth``, v1) on ``/api/articles`` and the email-events
webhook, through the real app on a real Redis and the test's clock: a signature authorises
exactly one method, path, query, timestamp and body, once, within five minutes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndication.context import Context
from syndication.web.app import create_app
from syndication.web.auth import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOLERANCE_S,
    SignatureRefused,
    canonical_query,
    sign,
    sign_request,
    signed_headers,
    verify_request,
)
from tests.support import article_data
from tests.support.clock import ManualClock

TOKEN = "test-token-0123456789"  # conftest's SYNDICATION_API_TOKEN
SECRET = "s" * 40  # conftest's SYNDICATION_SECRET_KEY: the email-events webhook's key
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WEBHOOK = "/webhooks/email-events"
BOUNDED = settings(
    max_examples=40,
    deadline=None,  # no wall-clock limits: a slow machine is not a failure
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def client(context: Context) -> TestClient:
    return TestClient(create_app(context))


def now_s(clock: ManualClock) -> int:
    return int(clock().timestamp())


def code(resp) -> str:  # type: ignore[no-untyped-def]
    return str(resp.json().get("code"))


def stored(client: TestClient) -> str:
    """Store the sample article with the bearer token; its id."""
    resp = client.post("/api/articles", json=article_data(), headers=AUTH)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


# -- the signature binds the whole request ------------------------------------------------


def test_a_get_signature_neither_withdraws_nor_lists_other_pages(client, clock):
    article = stored(client)
    now = now_s(clock)
    listing = signed_headers(TOKEN, "GET", "/api/articles", "", b"", now)
    # Before: one constant (the empty body's HMAC) did all of this.
    assert code(client.delete(f"/api/articles/{article}", headers=listing)) == "signature_invalid"
    assert code(client.get(f"/api/articles/{article}", headers=listing)) == "signature_invalid"
    assert code(client.get("/api/articles?offset=1", headers=listing)) == "signature_invalid"
    assert client.get(f"/api/articles/{article}", headers=AUTH).json()["state"] == "published"
    assert client.get("/api/articles", headers=listing).json()["total"] == 1


def test_delete_needs_its_own_signature_and_is_accepted_once(client, clock):
    article = stored(client)
    path = f"/api/articles/{article}"
    other = signed_headers(TOKEN, "DELETE", "/api/articles/another-story", "", b"", now_s(clock))
    assert code(client.delete(path, headers=other)) == "signature_invalid"
    good = signed_headers(TOKEN, "DELETE", path, "", b"", now_s(clock))
    first = client.delete(path, headers=good)
    assert first.status_code == 200 and first.json()["outcome"] == "withdrawn"
    replay = client.delete(path, headers=good)
    assert replay.status_code == 401 and code(replay) == "signature_replayed"
    assert replay.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_replayed_post_is_refused_and_remembered_only_for_its_window(
    client, clock, redis_client: redis.Redis, prefix: str
):
    body = json.dumps(article_data()).encode()
    headers = {
        **signed_headers(TOKEN, "POST", "/api/articles", "", body, now_s(clock)),
        "Content-Type": "application/json",
    }
    assert client.post("/api/articles", content=body, headers=headers).status_code == 201
    again = client.post("/api/articles", content=body, headers=headers)
    assert again.status_code == 401 and code(again) == "signature_replayed"
    # The same request signed a second later is a new request (and an idempotent one).
    clock.advance(seconds=1)
    fresh = signed_headers(TOKEN, "POST", "/api/articles", "", body, now_s(clock))
    assert client.post("/api/articles", content=body, headers=fresh).json()["outcome"] == (
        "unchanged"
    )
    keys = list(redis_client.scan_iter(match=f"{prefix}{{once}}:signed:api:*"))
    assert len(keys) == 2
    assert all(0 < redis_client.ttl(k) <= TOLERANCE_S + 1 for k in keys)


def test_tampered_body_or_query_is_refused(client, clock):
    body = json.dumps(article_data()).encode()
    headers = signed_headers(TOKEN, "POST", "/api/articles", "", body, now_s(clock))
    other_body = body.replace(b"Sample story", b"Forged story")
    assert code(client.post("/api/articles", content=other_body, headers=headers)) == (
        "signature_invalid"
    )
    assert code(client.post("/api/articles?x=1", content=body, headers=headers)) == (
        "signature_invalid"
    )
    page = signed_headers(TOKEN, "GET", "/api/articles", "limit=5", b"", now_s(clock))
    assert code(client.get("/api/articles?limit=200", headers=page)) == "signature_invalid"
    assert code(client.get("/api/articles?limit=5&offset=0", headers=page)) == "signature_invalid"
    assert client.get("/api/articles?limit=5", headers=page).json()["limit"] == 5


def test_query_order_and_spelling_do_not_matter_only_its_pairs(client, clock):
    """Canonical query (auth.canonical_query): what the app reads is what is signed."""
    pairs = {"offset": "0", "limit": "7"}
    headers = signed_headers(TOKEN, "GET", "/api/articles", pairs, b"", now_s(clock))
    resp = client.get("/api/articles?limit=%37&offset=0", headers=headers)
    assert resp.status_code == 200 and resp.json()["limit"] == 7


def test_stale_and_future_timestamps_are_refused(client, clock):
    signed_at = now_s(clock)
    late = signed_headers(TOKEN, "GET", "/api/articles", "", b"", signed_at)
    clock.advance(seconds=TOLERANCE_S + 1)
    resp = client.get("/api/articles", headers=late)
    assert resp.status_code == 401 and code(resp) == "timestamp_stale"
    assert resp.json()["server_time"] == now_s(clock)
    ahead = signed_headers(TOKEN, "GET", "/api/articles", "", b"", now_s(clock) + TOLERANCE_S + 1)
    assert code(client.get("/api/articles", headers=ahead)) == "timestamp_stale"
    for edge in (now_s(clock) - TOLERANCE_S, now_s(clock) + TOLERANCE_S):
        headers = signed_headers(TOKEN, "GET", "/api/articles", "", b"", edge)
        assert client.get("/api/articles", headers=headers).status_code == 200, edge


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({SIGNATURE_HEADER: sign(b"", TOKEN)}, "signature_outdated"),
        ({SIGNATURE_HEADER: "v1=abc", TIMESTAMP_HEADER: "1796126400"}, "signature_malformed"),
        ({SIGNATURE_HEADER: "v1=" + "0" * 64}, "timestamp_missing"),
        (
            {SIGNATURE_HEADER: "v1=" + "0" * 64, TIMESTAMP_HEADER: "1796126400.5"},
            "timestamp_invalid",
        ),
        ({SIGNATURE_HEADER: "v1=" + "0" * 64, TIMESTAMP_HEADER: "١٧٩٦١٢٦٤٠٠"}, "timestamp_invalid"),
        ({SIGNATURE_HEADER: "v1=" + "0" * 64, TIMESTAMP_HEADER: "-1"}, "timestamp_invalid"),
        ({}, "unauthorized"),
    ],
)
def test_each_failure_has_its_own_code(client, headers, expected):
    encoded = {k: v.encode() for k, v in headers.items()}  # non-ASCII digits too
    resp = client.get("/api/articles", headers=encoded)
    assert resp.status_code == 401 and code(resp) == expected, resp.text
    assert resp.json()["error"]


def test_the_old_body_only_signature_names_the_new_scheme(client):
    body = json.dumps(article_data()).encode()
    resp = client.post("/api/articles", content=body, headers={SIGNATURE_HEADER: sign(body, TOKEN)})
    assert resp.status_code == 401 and code(resp) == "signature_outdated"
    assert "v1=" in resp.json()["error"] and TIMESTAMP_HEADER in resp.json()["error"]
    spanish = client.post(
        "/api/articles",
        content=body,
        headers={SIGNATURE_HEADER: sign(body, TOKEN), "Accept-Language": "es"},
    )
    assert code(spanish) == "signature_outdated" and spanish.json()["error"] != resp.json()["error"]


@BOUNDED
@given(
    pairs=st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=8)), max_size=4),
    article_id=st.text(min_size=1, max_size=12).filter(lambda s: "/" not in s and s.strip(".")),
)
def test_what_a_client_signs_is_what_the_server_checks(
    client: TestClient, clock: ManualClock, pairs: list[tuple[str, str]], article_id: str
):
    """Any query and path a client sends (its HTTP library encodes them) verifies with the
    signature made from the same pairs and the percent-encoded path."""
    now = int(clock.advance(seconds=1).timestamp())  # a new request each example
    headers = signed_headers(TOKEN, "GET", "/api/articles", pairs, b"", now)
    assert client.get("/api/articles", params=pairs, headers=headers).status_code == 200
    path = "/api/articles/" + quote(article_id, safe="")
    headers = signed_headers(TOKEN, "GET", path, "", b"", now)
    resp = client.get(path, headers=headers)
    assert resp.status_code == 404 and code(resp) == "article_not_found", resp.text


# -- any change to what was signed invalidates it (no HTTP: the verifier alone) ----------

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
START = 1_796_126_400  # 2026-12-01 12:00 UTC, tests.support.clock.START


def verifies(sig: str, stamp: int, method: str, path: str, query: str, body: bytes) -> bool:
    try:
        verify_request(
            sig,
            str(stamp),
            method=method,
            path=path,
            query=query,
            body=body,
            keys=(TOKEN,),
            now=START,
        )
    except SignatureRefused:
        return False
    return True


request_parts = st.fixed_dictionaries(
    {
        "method": st.sampled_from(METHODS),
        "path": st.text(min_size=0, max_size=20).map(lambda s: "/api/" + quote(s, safe="/")),
        "query": st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=3),
        "body": st.binary(max_size=40),
        "stamp": st.integers(START - TOLERANCE_S, START + TOLERANCE_S),
    }
)


@settings(max_examples=300, deadline=None)
@given(
    parts=request_parts,
    change=st.sampled_from(("method", "path", "query", "stamp", "body")),
    data=st.data(),
)
def test_any_change_to_method_path_query_timestamp_or_body_invalidates(parts, change, data):
    query = canonical_query(parts["query"])
    sig = sign_request(TOKEN, parts["method"], parts["path"], query, parts["body"], parts["stamp"])
    assert verifies(sig, parts["stamp"], parts["method"], parts["path"], query, parts["body"])
    changed = dict(parts, query=query)
    if change == "method":
        changed["method"] = data.draw(st.sampled_from([m for m in METHODS if m != parts["method"]]))
    elif change == "path":
        changed["path"] = parts["path"] + data.draw(st.sampled_from(["x", "/", "%20", "~"]))
    elif change == "query":
        extra = data.draw(st.tuples(st.text(max_size=6), st.text(max_size=6)))
        changed["query"] = canonical_query([*parts["query"], extra])
    elif change == "stamp":
        step = data.draw(st.integers(1, TOLERANCE_S).map(lambda n: n if n % 2 else -n))
        changed["stamp"] = parts["stamp"] + step
    else:
        changed["body"] = parts["body"] + data.draw(st.binary(min_size=1, max_size=4))
    assert not verifies(
        sig,
        changed["stamp"],
        changed["method"],
        changed["path"],
        changed["query"],
        changed["body"],
    ), change


# -- the email-events webhook ------------------------------------------------------------

EVENTS = json.dumps({"events": [{"type": "delivered", "email": "a@example.org"}]}).encode()


def test_email_events_need_a_fresh_signed_request(client, clock):
    assert code(client.post(WEBHOOK, content=EVENTS)) == "signature_missing"
    outdated = client.post(
        WEBHOOK, content=EVENTS, headers={SIGNATURE_HEADER: sign(EVENTS, SECRET)}
    )
    assert outdated.status_code == 401 and code(outdated) == "signature_outdated"
    good = signed_headers(SECRET, "POST", WEBHOOK, "", EVENTS, now_s(clock))
    resp = client.post(WEBHOOK, content=EVENTS, headers=good)
    assert resp.status_code == 200 and resp.json()["ignored"] == 1
    assert code(client.post(WEBHOOK, content=EVENTS, headers=good)) == "signature_replayed"
    elsewhere = signed_headers(SECRET, "POST", WEBHOOK, "a=1", EVENTS, now_s(clock))
    assert code(client.post(WEBHOOK, content=EVENTS, headers=elsewhere)) == "signature_invalid"
    clock.advance(seconds=TOLERANCE_S + 1)
    late = signed_headers(SECRET, "POST", WEBHOOK, "", EVENTS, now_s(clock) - TOLERANCE_S - 1)
    assert code(client.post(WEBHOOK, content=EVENTS, headers=late)) == "timestamp_stale"


def test_email_events_signed_with_the_previous_key_verify_during_a_rollover(context, clock):
    new_key = "n" * 40
    rotated = dataclasses.replace(
        context.settings, secret_key=new_key, previous_secret_keys=(SECRET,)
    )
    client = TestClient(create_app(Context(rotated, context.events, context.client, clock=clock)))
    for key in (SECRET, new_key):
        clock.advance(seconds=1)
        headers = signed_headers(key, "POST", WEBHOOK, "", EVENTS, now_s(clock))
        assert client.post(WEBHOOK, content=EVENTS, headers=headers).status_code == 200, key
    # One request signed with both keys (the provider's own rollover) is still one request.
    clock.advance(seconds=1)
    both = [sign_request(k, "POST", WEBHOOK, "", EVENTS, now_s(clock)) for k in (new_key, SECRET)]
    stamp = {TIMESTAMP_HEADER: str(now_s(clock))}
    assert (
        client.post(
            WEBHOOK, content=EVENTS, headers={**stamp, SIGNATURE_HEADER: ", ".join(both)}
        ).status_code
        == 200
    )
    replay_old = {**stamp, SIGNATURE_HEADER: both[1]}
    assert code(client.post(WEBHOOK, content=EVENTS, headers=replay_old)) == "signature_replayed"
    dropped = dataclasses.replace(rotated, previous_secret_keys=())
    after = TestClient(create_app(Context(dropped, context.events, context.client, clock=clock)))
    clock.advance(seconds=1)
    old = signed_headers(SECRET, "POST", WEBHOOK, "", EVENTS, now_s(clock))
    assert code(after.post(WEBHOOK, content=EVENTS, headers=old)) == "signature_invalid"


def test_the_readme_snippet_signs_as_the_server_checks():
    """The standard-library snippet in the README (what a CMS copies) agrees with auth.py."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    snippet = next(b for b in readme.split("```python\n")[1:] if "def sign(secret" in b)
    namespace: dict[str, Any] = {}
    exec(snippet.split("```", 1)[0], namespace)  # noqa: S102 (our own README's code)
    query = "offset=20&limit=5&q=caf%C3%A9+con+leche"
    # The snippet reads the wall clock; only its own timestamp is used to check it.
    headers = namespace["sign"](TOKEN, "delete", "/api/articles/caf%C3%A9", query, b"{}")
    stamp = int(headers[TIMESTAMP_HEADER])
    expected = sign_request(TOKEN, "DELETE", "/api/articles/café", query, b"{}", stamp)
    assert headers[SIGNATURE_HEADER] == expected
