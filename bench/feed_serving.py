"""Feed serving: ``GET /feeds/{name}.rss`` of a ~200 KB cached feed under wrk, against nginx.

The feed is built for the run: articles with ~8 KB bodies go into one topic feed of their
own (in-process, through ``ArticleService`` with recorded events, then ``rebuild_dirty``)
until its RSS is ~200 KB. Then wrk (2 threads, 8 connections, a few seconds) hammers
``syndication serve --workers 2`` with ``Accept-Encoding: identity``:

- 200s: reference is nginx serving the very same bytes from a file (sendfile, etag, no
  access log, the same Cache-Control and Vary headers); the ratio is our share of nginx's
  rate, target ≥ 1/3.
- 304s (``If-None-Match`` with the feed's ETag): reference is our own 200 rate from the same
  run; a 304 reads only the validators, so the target is ≥ 2× the 200 rate.

Both servers are up before the first run and each compared pair runs back to back (nginx
200, ours 200, ours 304, nginx 304), each after a 1 s unmeasured warm-up, so a slow patch
of a shared machine tends to hit both sides of a ratio alike.

Informational rows: nginx's 304 rate (reference: nginx's 200 rate, to compare with our own
304/200 ratio) and our 200 rate with ``--workers 1`` (reference: the 2-worker rate).

Both sides run on the same machine as wrk (2 cores here), so the rates include the load
generator's share of the CPU; they compare, they do not size production. nginx and wrk are
installed with apt when missing; every server started here is stopped on the way out.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.common import (
    Bench,
    Child,
    Row,
    RowSpec,
    Stack,
    Target,
    article_data,
    body_html,
    progress,
)
from bench.http_load import Nginx, WrkResult, ensure_tools, run_wrk
from syndication.embedded_redis import free_port

TARGET_BYTES = 200_000  # the feed document's size (identity), within a few per cent
BODY_BYTES = 8_000  # each article's body_html
FORMAT = "rss"
SECONDS = 6.0  # each measured wrk run
WARMUP_SECONDS = 1.0  # an unmeasured run first: workers up, connections and caches warm
THREADS, CONNECTIONS = 2, 8
IDENTITY = {"Accept-Encoding": "identity"}


@dataclass(frozen=True)
class RatioRow(Row):
    """A row whose target applies to its ratio (value / reference), not to its value."""

    @property
    def ok(self) -> bool:
        ratio = self.ratio
        if self.error is not None or ratio is None:
            return False
        return self.target is None or self.target.met(ratio)


@dataclass(frozen=True)
class RatioSpec(RowSpec):
    def measured(self, value: float, reference: float | None = None) -> Row:
        return RatioRow(self.name, value, self.unit, reference, self.reference_unit, self.target)


OK_200 = RatioSpec(
    "feed serving: 200 (req/s)",
    "req/s",
    "req/s (nginx, same bytes from a file)",
    Target(">=", 0.333, "× nginx"),
)
OK_304 = RatioSpec(
    "feed serving: 304 (req/s)",
    "req/s",
    "req/s (our own 200s, same run)",
    Target(">=", 2.0, "× our 200s"),
)
NGINX_304 = RowSpec("feed serving: nginx 304 (req/s)", "req/s", "req/s (nginx 200s)")
ONE_WORKER = RowSpec("feed serving: 200, --workers 1 (req/s)", "req/s", "req/s (--workers 2)")


# --- the feed -----------------------------------------------------------------------------


def _body(n: int) -> str:
    """~BODY_BYTES of article HTML, cut at a block boundary."""
    rng = random.Random(f"serving-{n}")
    blocks: list[str] = []
    size = 0
    while size < BODY_BYTES:
        for block in body_html(rng, n).split("\n"):
            blocks.append(block)
            size += len(block) + 1
            if size >= BODY_BYTES:
                break
    return "\n".join(blocks)


@dataclass(frozen=True)
class BuiltFeed:
    name: str  # e.g. topic/serving-bench-1a2b
    path: str  # /feeds/topic/serving-bench-1a2b.rss
    body: bytes
    etag: str
    articles: int


def _build_feed(stack: Stack) -> BuiltFeed:
    """Publish ~8 KB articles into a topic of their own until its RSS is ~TARGET_BYTES."""
    from syndication.context import Context
    from syndication.events import RecordingEvents
    from syndication.ingest.normalise import article_from_data
    from syndication.slugs import slugify

    settings = stack.settings
    client = redis.Redis.from_url(settings.need_redis_url())
    topic = f"Serving Bench {secrets.token_hex(2)}"
    name = f"topic/{slugify(topic)}"
    try:
        ctx = Context(settings, RecordingEvents(), client)
        # Old dates: these articles stay out of the front page of the site-wide feeds.
        start = datetime.now(UTC) - timedelta(days=3 * 365)
        published = 0
        size = 0
        doc = None
        while size < TARGET_BYTES * 0.98:
            if published >= settings.feed_items:
                raise RuntimeError(
                    f"{published} articles (feed_items) make a {size:,} B feed, "
                    f"short of {TARGET_BYTES:,} B"
                )
            # A few first to learn the size per article, then about as many more as reach
            # the target (at least one per round).
            per_article = size / published if published else TARGET_BYTES / 4
            more = max(1, int((TARGET_BYTES - size) / per_article))
            more = min(more, settings.feed_items - published)
            for n in range(published, published + more):
                data = article_data("serve", n, start + timedelta(hours=n))
                data |= {"topics": [topic], "body_html": _body(n)}
                ctx.articles.accept(article_from_data(data, settings.publisher))
            published += more
            changed = ctx.feeds.rebuild_dirty()
            if ctx.feeds.url(name, FORMAT) not in changed:
                # The worker claimed the dirty set first (a task of an earlier bench still
                # running): build this feed here, so its size counts every article.
                with ctx.article_store.rebuild_lock():
                    ctx.feeds.rebuild([name])
            doc = ctx.feed_cache.get(name, FORMAT)
            if doc is None:
                raise RuntimeError(f"feed {name}.{FORMAT} was not built")
            size = len(doc.body)
        assert doc is not None
        return BuiltFeed(name, f"/feeds/{name}.{FORMAT}", doc.body, doc.etag, published)
    finally:
        client.close()


# --- our server -----------------------------------------------------------------------------


def _serve(stack: Stack, workers: int, timeout: float = 60) -> tuple[Child, str]:
    """``syndication serve --workers N`` on a free port; returns once every worker is up."""
    port = free_port()
    child = stack._spawn(  # the stack's env and log folder
        f"serve-w{workers}",
        ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            child.check_alive()
            started = child.log.read_text(errors="replace").count("Application startup complete")
            if started >= workers:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/healthz/web", timeout=1).status_code == 200:
                        return child, base
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"serve --workers {workers} not ready in {timeout:g}s:\n{child.tail()}"
                )
            time.sleep(0.1)
    except BaseException:
        child.stop()
        raise


# --- measuring ------------------------------------------------------------------------------


def _check(url: str, headers: dict[str, str], status: int, body: bytes | None = None) -> str:
    """One request before the load: the status (and bytes) wrk's run will count; the ETag."""
    r = httpx.get(url, headers=headers, timeout=10)
    if r.status_code != status:
        raise RuntimeError(f"GET {url} with {headers}: {r.status_code}, expected {status}")
    if body is not None and r.content != body:
        raise RuntimeError(f"GET {url}: {len(r.content):,} B, not the feed's {len(body):,} B")
    if r.headers.get("content-encoding", "identity") != "identity":
        raise RuntimeError(f"GET {url}: Content-Encoding {r.headers['content-encoding']}")
    etag = r.headers.get("etag")
    if not etag:
        raise RuntimeError(f"GET {url}: no ETag")
    return etag


def _load(wrk: str, label: str, url: str, headers: dict[str, str]) -> WrkResult:
    args: dict[str, Any] = {"threads": THREADS, "connections": CONNECTIONS}
    run_wrk(wrk, url, headers, seconds=WARMUP_SECONDS, **args)
    result = run_wrk(wrk, url, headers, seconds=SECONDS, **args)
    progress(f"{label}: {result.describe()}")
    return result


def _measure_nginx_and_ours(
    stack: Stack, nginx: str, wrk: str, feed: BuiltFeed
) -> tuple[float, float, float, float]:
    """(nginx 200, ours 200, ours 304, nginx 304) rates, with ``serve --workers 2``.

    Both servers are up before the first run, and each pair that is compared runs back to
    back, so a slow patch of a shared machine hits both sides of a ratio alike."""
    with tempfile.TemporaryDirectory(prefix="bench-feed-") as tmp:
        root = Path(tmp)  # as root, nginx runs its workers as root too ("user root;")
        target = root / feed.path.lstrip("/")
        target.parent.mkdir(parents=True)
        target.write_bytes(feed.body)
        headers = {"Cache-Control": "public, max-age=60", "Vary": "Accept-Encoding"}
        child, base = _serve(stack, workers=2)
        try:
            with Nginx(nginx, root, headers=headers) as server:
                theirs, ours = server.base_url + feed.path, base + feed.path
                their_etag = _check(theirs, IDENTITY, 200, feed.body)
                _check(theirs, {**IDENTITY, "If-None-Match": their_etag}, 304)
                our_etag = _check(ours, IDENTITY, 200, feed.body)
                _check(ours, {**IDENTITY, "If-None-Match": our_etag}, 304)
                nginx_200 = _load(wrk, "nginx, 200", theirs, IDENTITY).rate
                ours_200 = _load(wrk, "ours --workers 2, 200", ours, IDENTITY).rate
                ours_304 = _load(
                    wrk, "ours --workers 2, 304", ours, {**IDENTITY, "If-None-Match": our_etag}
                ).rate
                nginx_304 = _load(
                    wrk, "nginx, 304", theirs, {**IDENTITY, "If-None-Match": their_etag}
                ).rate
            child.check_alive()
        finally:
            child.stop()
    return nginx_200, ours_200, ours_304, nginx_304


def _measure_one_worker(stack: Stack, wrk: str, feed: BuiltFeed) -> float:
    child, base = _serve(stack, workers=1)
    try:
        url = base + feed.path
        _check(url, IDENTITY, 200, feed.body)
        rate = _load(wrk, "ours --workers 1, 200", url, IDENTITY).rate
        child.check_alive()
        return rate
    finally:
        child.stop()


def run(stack: Stack) -> list[Row]:
    nginx, wrk = ensure_tools()
    feed = _build_feed(stack)
    progress(
        f"feed {feed.path}: {len(feed.body):,} B from {feed.articles} articles, ETag {feed.etag}"
    )
    nginx_200, ours_200, ours_304, nginx_304 = _measure_nginx_and_ours(stack, nginx, wrk, feed)
    one_200 = _measure_one_worker(stack, wrk, feed)
    return [
        OK_200.measured(ours_200, nginx_200),
        OK_304.measured(ours_304, ours_200),
        NGINX_304.measured(nginx_304, nginx_200),
        ONE_WORKER.measured(one_200, ours_200),
    ]


BENCH = Bench("feed serving", (OK_200, OK_304, NGINX_304, ONE_WORKER), run)
