"""FeedFront: feed documents from memory answer exactly as the FastAPI route, and stay fresh.

Equivalence: the same requests to the bare app and to the front give the same status, the
same raw header list and the same raw bytes, while the front's map is empty and once it is
full. Freshness: a rebuild is served on the first request after its message; a lost
subscription empties the map; no entry outlives MAX_AGE; memory stays under its cap.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from syndication.config import load_settings
from syndication.context import Context
from syndication.embedded_redis import EmbeddedRedis
from syndication.events import RecordingEvents
from syndication.models import Article
from syndication.store.feeds import strong_etag
from syndication.web.app import create_app
from syndication.web.feed_front import FeedFront
from tests.support import EXAMPLE_CONFIG, article_data, wait_for
from tests.support.clock import ManualClock

RSS = "/feeds/topic/coca.rss"
Headers = list[tuple[str, str | None]]  # None: send no such header (not even httpx's own)


@dataclass
class Stack:
    ctx: Context
    app: FastAPI
    front: FeedFront
    bare: TestClient
    fast: TestClient


def _context(
    env: dict[str, str], redis_client: redis.Redis, clock: ManualClock, tmp_path, **extra: str
) -> Context:
    toml = tmp_path / "s.toml"
    toml.write_text(
        EXAMPLE_CONFIG.read_text().replace(
            "websub_hubs = []", 'websub_hubs = ["https://hub.example.net/"]'
        )
    )
    settings = load_settings({**env, "SYNDICATION_CONFIG": str(toml), **extra})
    return Context(settings, RecordingEvents(), redis_client, clock=clock)


@contextmanager
def _stack(ctx: Context, **options: Any) -> Iterator[Stack]:
    app = create_app(ctx)
    front = FeedFront(app, ctx, **options)
    with TestClient(app) as bare, TestClient(front) as fast:
        yield Stack(ctx, app, front, bare, fast)


@pytest.fixture
def ctx(env, redis_client, clock, tmp_path) -> Context:
    # One item per feed document, so topic/coca (two articles) has archive pages.
    ctx = _context(env, redis_client, clock, tmp_path, SYNDICATION_FEED_ITEMS="1")
    for n, topics in ((1, ["Coca"]), (2, ["Coca", "Mining"])):
        ctx.articles.accept(Article.model_validate(article_data(n, topics=topics)))
    ctx.feeds.rebuild_dirty()
    return ctx


@pytest.fixture
def stack(ctx: Context) -> Iterator[Stack]:
    with _stack(ctx) as s:
        yield s


def _live(stack: Stack) -> None:
    """Wait for the subscription (serving before it is confirmed goes to the app)."""
    stack.fast.get("/feeds/all.rss")  # the listener starts on the first feed request
    wait_for(lambda: stack.front.live, timeout=10)


def _raw(client: TestClient, method: str, path: str, headers: Headers) -> tuple[int, list, bytes]:
    """Status, the raw header list and the raw (undecoded) bytes."""
    request = client.build_request(method, path)
    names = {name.lower() for name, _ in headers}  # httpx's defaults (Accept-Encoding …) too
    kept = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in names]
    request.headers = httpx.Headers(kept + [(k, v) for k, v in headers if v is not None])
    response = client.send(request, stream=True)
    try:
        return response.status_code, response.headers.raw, b"".join(response.iter_raw())
    finally:
        response.close()


def _etag(client: TestClient, path: str = RSS, coding: str = "identity") -> str:
    return client.get(path, headers={"Accept-Encoding": coding}).headers["etag"]


def _cases(etag: str) -> list[tuple[str, str, Headers]]:
    gzip_etag = etag[:-1] + '-gzip"'
    future, past = "Fri, 01 Jan 2100 00:00:00 GMT", "Mon, 01 Jan 2001 00:00:00 GMT"
    identity: Headers = [("Accept-Encoding", "identity")]
    return [
        *(("GET", RSS, [("Accept-Encoding", ae)]) for ae in ("identity", "gzip", "br", "gzip, br")),
        ("GET", RSS, [("Accept-Encoding", None)]),
        ("GET", RSS, [("Accept-Encoding", "gzip;q=0, identity")]),
        ("GET", RSS, [*identity, ("If-None-Match", etag)]),
        ("GET", RSS, [*identity, ("If-None-Match", f"W/{etag}")]),
        ("GET", RSS, [("Accept-Encoding", "gzip"), ("If-None-Match", gzip_etag)]),
        ("GET", RSS, [("Accept-Encoding", "br"), ("If-None-Match", gzip_etag)]),
        ("GET", RSS, [("Accept-Encoding", "br"), ("If-None-Match", f'"nope", {etag}')]),
        ("GET", RSS, [*identity, ("If-None-Match", '"nope"')]),
        ("GET", RSS, [*identity, ("If-None-Match", "*")]),
        ("GET", RSS, [*identity, ("If-None-Match", "garbage")]),
        # Repeated headers: the first one counts, as Starlette reads them.
        ("GET", RSS, [*identity, ("If-None-Match", '"nope"'), ("If-None-Match", etag)]),
        ("GET", RSS, [*identity, ("If-Modified-Since", future)]),
        ("GET", RSS, [*identity, ("If-Modified-Since", past)]),
        ("GET", RSS, [*identity, ("If-Modified-Since", "yesterday")]),
        ("GET", RSS, [*identity, ("If-None-Match", '"nope"'), ("If-Modified-Since", future)]),
        ("HEAD", RSS, identity),
        ("HEAD", RSS, [("Accept-Encoding", "br")]),
        ("HEAD", RSS, [*identity, ("If-None-Match", etag)]),
        ("GET", RSS + "?utm_source=x", identity),
        ("GET", "/feeds/topic/coca.atom", [("Accept-Encoding", "gzip")]),
        ("GET", "/feeds/topic/coca.json", identity),
        ("GET", "/feeds/all.rss", [("Accept-Encoding", "br")]),
        ("GET", "/feeds/topic/mining.json", identity),  # its key deleted: 503
        ("POST", RSS, identity),
        ("GET", "/feeds/topic/no-such-topic.rss", identity),
        ("GET", "/feeds/topic/Coca.rss", identity),
        ("GET", "/feeds/all.xml", identity),
        ("GET", "/feeds/bad", identity),
        ("GET", "/feeds/topic/coca/archive/1.rss", identity),
        ("GET", "/feeds/topic/coca/archive/1.rss", [("Accept-Encoding", "gzip")]),
        ("GET", "/feeds/topic/coca/archive/9.rss", identity),
        ("GET", "/feeds", identity),
        ("GET", "/api/articles", identity),  # another route: passed through
    ]


def test_the_front_answers_exactly_as_the_route(stack: Stack):
    ctx = stack.ctx
    ctx.client.delete(ctx.feed_cache.keys.feed("topic/mining", "json"))  # known, unbuilt
    _live(stack)
    cases = _cases(_etag(stack.bare))
    statuses = set()
    for round_ in ("empty", "filled"):
        hits = stack.front.hits
        for method, path, headers in cases:
            if round_ == "empty":
                stack.front.invalidate()
            else:
                _raw(stack.fast, method, path, headers)  # fill (a no-op if kept already)
            want = _raw(stack.bare, method, path, headers)
            got = _raw(stack.fast, method, path, headers)
            assert got == want, (round_, method, path, headers)
            assert (b"x-content-type-options", b"nosniff") in got[1]  # from memory too
            statuses.add(want[0])
        if round_ == "filled":
            assert stack.front.hits - hits >= 20  # the front itself answered
    assert {200, 304, 401, 404, 405, 503} <= statuses
    assert stack.front.entries  # and it kept what it served


def test_redis_errors_are_the_apps_answer(env, redis_client, clock, tmp_path):
    from syndication.embedded_redis import free_port

    gone = f"redis://127.0.0.1:{free_port()}/0"
    ctx = _context(env, redis_client, clock, tmp_path, SYNDICATION_REDIS_URL=gone)
    ctx.client = redis.Redis.from_url(gone)
    with _stack(ctx) as s:
        for path in (RSS, "/feeds/all.json", "/healthz"):
            want = _raw(s.bare, "GET", path, [])
            assert want[0] == 503
            assert _raw(s.fast, "GET", path, []) == want
        assert not s.front.live and not s.front.entries


def _publish(ctx: Context, n: int) -> None:
    ctx.articles.accept(Article.model_validate(article_data(n, topics=["Coca"])))
    ctx.feeds.rebuild_dirty()


def test_a_rebuild_is_served_on_the_first_request_after_its_message(stack: Stack):
    _live(stack)
    for coding in ("identity", "gzip", "br"):
        _etag(stack.fast, coding=coding)
    _etag(stack.fast, "/feeds/topic/mining.rss")
    old = _etag(stack.fast)
    assert stack.front.hits  # served from memory
    heard = stack.front.invalidations
    _publish(stack.ctx, 3)
    wait_for(lambda: stack.front.invalidations > heard, timeout=5)
    new = _etag(stack.bare)
    assert new != old
    for coding in ("identity", "gzip", "br"):
        assert _etag(stack.fast, coding=coding) == _etag(stack.bare, coding=coding)
    # Only the changed documents were dropped: topic/mining (not in article 3) is kept.
    assert ("topic/mining", "rss", "identity") in stack.front.entries


def _overwrite(ctx: Context, name: str, fmt: str) -> str:
    """New bytes for a document behind the front's back: no message is published."""
    key = ctx.feed_cache.keys.feed(name, fmt)
    body = ctx.client.hget(key, "identity") + b"\n"
    etag = strong_etag(body)
    ctx.client.hset(key, mapping={"identity": body, "etag": etag})
    ctx.client.hdel(key, "gzip", "br")
    return etag


def test_a_lost_subscription_empties_the_map(stack: Stack):
    _live(stack)
    old = _etag(stack.fast)
    assert _etag(stack.fast) == old and stack.front.entries
    new = _overwrite(stack.ctx, "topic/coca", "rss")  # never announced …
    assert _etag(stack.fast) == old  # … so the front still has the old one
    listener = [c for c in stack.ctx.client.client_list() if c["name"] == stack.front.client_name]
    assert len(listener) == 1
    stack.ctx.client.client_kill_filter(_id=listener[0]["id"])
    wait_for(lambda: not stack.front.entries and not stack.front.live, timeout=5)
    assert _etag(stack.fast) == new  # not live: the app answers
    wait_for(lambda: stack.front.live, timeout=10)  # resubscribed (and emptied again)
    assert _etag(stack.fast) == new
    assert _etag(stack.fast) == new and stack.front.entries


def test_a_silent_connection_is_given_up(ctx: Context, redis_server: EmbeddedRedis):
    pid = redis_server.proc.pid  # type: ignore[union-attr]
    with _stack(ctx, ping_seconds=0.1, dead_seconds=0.5) as s:
        _live(s)
        _etag(s.fast)
        assert s.front.entries
        # Silence that lasts until the front gives up, not for a fixed time (a CLIENT PAUSE
        # could run out first on a slow machine): a stopped redis-server leaves the PINGs
        # unanswered; it goes on once the front has emptied its map and stopped serving.
        os.kill(pid, signal.SIGSTOP)
        try:
            wait_for(lambda: not s.front.live and not s.front.entries)
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda: s.front.live, timeout=10)


def test_a_fill_that_raced_an_invalidation_is_served_not_kept(ctx: Context):
    app = create_app(ctx)
    front: FeedFront

    async def meddling(scope, receive, send) -> None:
        if scope.get("path") == RSS:
            front.invalidate(b"topic/coca.rss")  # as if the message came during the read
        await app(scope, receive, send)

    front = FeedFront(meddling, ctx)
    with TestClient(app) as bare, TestClient(front) as fast:
        fast.get("/feeds/all.rss")
        wait_for(lambda: front.live, timeout=10)
        headers = {"Accept-Encoding": "identity"}
        fast.get("/feeds/all.rss", headers=headers)
        assert fast.get(RSS, headers=headers).content == bare.get(RSS, headers=headers).content
        assert ("topic/coca", "rss", "identity") not in front.entries
        assert ("all", "rss", "identity") in front.entries


def test_no_entry_is_served_older_than_max_age(ctx: Context):
    now = [1000.0]
    with _stack(ctx, clock=lambda: now[0]) as s:
        _live(s)
        old = _etag(s.fast)
        new = _overwrite(ctx, "topic/coca", "rss")
        now[0] += 59
        assert _etag(s.fast) == old  # within MAX_AGE: kept (no message came)
        misses = s.front.misses
        now[0] += 2
        assert _etag(s.fast) == new and s.front.misses == misses + 1


def test_memory_is_capped_least_recently_served_first(stack: Stack):
    _live(stack)
    paths = {"a": RSS, "b": "/feeds/topic/coca.atom", "c": "/feeds/all.json"}
    sizes = {}
    for label, path in paths.items():
        stack.fast.get(path, headers={"Accept-Encoding": "identity"})
        entry = stack.front.entries[next(reversed(stack.front.entries))]
        sizes[label] = entry.size
    stack.front.invalidate()
    stack.front.max_bytes = sum(sizes.values()) - 1
    for label in ("a", "b", "a", "c"):
        stack.fast.get(paths[label], headers={"Accept-Encoding": "identity"})
    kept = {key[:2] for key in stack.front.entries}
    assert kept == {("topic/coca", "rss"), ("all", "json")}  # b was the least recent
    assert stack.front.bytes == sizes["a"] + sizes["c"] <= stack.front.max_bytes
    stack.front.invalidate()
    stack.front.max_bytes = sizes["a"] - 1  # too big to keep at all: served, not kept
    response = stack.fast.get(RSS, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200 and not stack.front.entries


def test_put_announces_the_document_it_replaced(context):
    pubsub = context.client.pubsub()
    pubsub.subscribe(context.feed_cache.changes)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    modified = datetime(2026, 11, 3, tzinfo=UTC)
    assert context.feed_cache.put("all", "rss", b"<rss/>", "application/rss+xml", modified)
    message = pubsub.get_message(timeout=2)
    assert message["type"] == "message" and message["data"] == b"all.rss"
    assert not context.feed_cache.put("all", "rss", b"<rss/>", "application/rss+xml", modified)
    # Unchanged bytes: nothing to announce. Proved by a marker published after the put, not
    # by a quiet spell: Redis delivers a channel's messages in order, so had the put
    # announced anything, that would arrive before the marker.
    context.client.publish(context.feed_cache.changes, b"marker")
    message = pubsub.get_message(timeout=10)
    assert message is not None and message["data"] == b"marker", message
    pubsub.close()
