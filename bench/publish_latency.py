"""Publish → all affected feeds: from sending ``POST /api/articles`` until every feed the
article belongs to (site-wide, its topics, authors, section and language; RSS, Atom and JSON
Feed each) serves it.

That path is the API (parse, sanitise, store), a Celery task through Redis, the worker's
rebuild (for each affected feed: read its newest articles, build three formats, store the
bytes) and the feed read. The rebuild writes feeds in sorted name order, RSS → Atom → JSON,
so the last affected feed's JSON document is the last to change: the bench polls that one,
then checks (untimed) that every other affected document lists the article too.

Reference: the same rebuild done in-process (``FeedService.rebuild``) on the same store, for
the same feed names at the same feed size. It is the work that no pipeline can avoid, so the
ratio says how many times that floor the whole path costs: ~1 means the queue, the worker
and the web app add nothing; a large ratio points at the plumbing, a large reference at
the feed build itself.
(A trivial Celery task's round trip would be the other candidate, but the worker only runs
our tasks and we may not add one; the ``celery control ping`` round trip is printed as a
diagnostic instead — it goes through the same broker, but not through the prefork pool.)
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import redis

from bench.common import Bench, Row, RowSpec, Stack, Target, article_data, percentile, progress
from bench.common import summary_ms as ms

WARMUP = 10
PUBLISHES = 200
POLL_INTERVAL = 0.002  # seconds between conditional GETs of the feed
APPEAR_TIMEOUT = 15.0  # a publish not in the feed after this is a failure, not a sample
REFERENCE_BUILDS = 30

MEDIAN = RowSpec("publish → all affected feeds (median)", "ms", "ms (in-process rebuild, median)")
P95 = RowSpec(
    "publish → all affected feeds (p95)",
    "ms",
    "ms (in-process rebuild, p95)",
    Target("<", 250, "ms"),
)


def _seed(stack: Stack, count: int) -> None:
    """Fill the feed to its steady-state size with older articles, so every measured
    publish rebuilds a full feed (``feed_items``, 50 by default) as it would in production.
    Written in-process with recorded events: no tasks, one explicit rebuild at the end."""
    from syndication.context import Context
    from syndication.events import RecordingEvents
    from syndication.ingest.normalise import article_from_data

    settings = stack.settings
    client = redis.Redis.from_url(settings.need_redis_url())
    try:
        ctx = Context(settings, RecordingEvents(), client)
        start = datetime.now(UTC) - timedelta(days=count + 1)
        for n in range(count):
            data = article_data("seed", n, start + timedelta(days=n))
            ctx.articles.accept(article_from_data(data, settings.publisher))
        ctx.feeds.rebuild_all()
    finally:
        client.close()


def affected(data: dict[str, object], settings: object) -> list[str]:
    """The feed names an article belongs to, in the order the rebuild writes them."""
    from syndication.feed_catalog import feed_titles
    from syndication.ingest.normalise import article_from_data

    article = article_from_data(data, settings.publisher)  # type: ignore[attr-defined]
    return sorted(feed_titles(article))


def _reference_builds(stack: Stack) -> list[float]:
    """In-process ``rebuild`` of a typical article's feeds on the same store; the bytes are
    unchanged, so nothing is written and the worker (idle by now) is not disturbed."""
    from syndication.context import Context
    from syndication.events import RecordingEvents

    settings = stack.settings
    client = redis.Redis.from_url(settings.need_redis_url())
    try:
        ctx = Context(settings, RecordingEvents(), client)
        names = affected(article_data("pub", 0, datetime.now(UTC)), settings)
        ctx.feeds.rebuild(names)  # warm imports and connections
        times = []
        for _ in range(REFERENCE_BUILDS):
            t0 = time.perf_counter()
            changed = ctx.feeds.rebuild(names)
            times.append(time.perf_counter() - t0)
            if changed:
                raise RuntimeError(f"reference rebuild changed feeds {changed}: not idle")
        return times
    finally:
        client.close()


def _control_ping(stack: Stack, count: int = 20) -> list[float]:
    """Round trip of ``celery inspect ping`` through the broker to the worker (diagnostic)."""
    from workers.celery_app import configure

    app = configure(stack.settings)
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        if not app.control.ping(timeout=1.0, limit=1):
            break  # no reply: skip the diagnostic rather than wait 1 s per try
        times.append(time.perf_counter() - t0)
    return times


_TASK_DONE = re.compile(rb"Task feeds\.rebuild_dirty\[[^\]]+\] succeeded in ([0-9.]+)s")


def _log_size(stack: Stack) -> int:
    assert stack.worker is not None
    return stack.worker.log.stat().st_size


def _worker_task_times(stack: Stack, offset: int) -> list[float]:
    """The rebuild task's own run time, as the worker logs it (diagnostic breakdown)."""
    assert stack.worker is not None
    with stack.worker.log.open("rb") as log:
        log.seek(offset)
        return [float(m.group(1)) for m in _TASK_DONE.finditer(log.read())]


class Publisher:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.http = httpx.Client(
            base_url=stack.base_url,
            headers={"Authorization": f"Bearer {stack.token}"},
            timeout=10,
        )
        self.etags: dict[str, str] = {}

    def close(self) -> None:
        self.http.close()

    def feed_once(self, path: str = "/feeds/all.rss") -> bytes | None:
        """One conditional GET: the body when it changed, None on 304 (or not built yet)."""
        etag = self.etags.get(path)
        response = self.http.get(path, headers={"If-None-Match": etag} if etag else {})
        if response.status_code in (304, 503):
            return None
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")
        self.etags[path] = response.headers.get("etag", "")
        return response.content

    def publish(self, n: int) -> tuple[float, float]:
        """(publish → visible, POST alone) in seconds for a new article ``n``."""
        data = article_data("pub", n, datetime.now(UTC))
        body = json.dumps(data).encode()
        names = affected(data, self.stack.settings)
        last = f"/feeds/{names[-1]}.json"
        marker = f':article/{data["id"]}"'.encode()  # the item id, a tag URI
        t0 = time.perf_counter()
        response = self.http.post(
            "/api/articles", content=body, headers={"Content-Type": "application/json"}
        )
        t_post = time.perf_counter() - t0
        if response.status_code != 201:
            raise RuntimeError(f"POST /api/articles: {response.status_code} {response.text[:300]}")
        deadline = t0 + APPEAR_TIMEOUT
        while True:
            feed = self.feed_once(last)
            now = time.perf_counter()
            if feed is not None and marker in feed:
                self._check_all(names, data["id"])
                return now - t0, t_post
            if now > deadline:
                self.stack.check_alive()
                raise RuntimeError(f"article {data['id']} not in {last} after {APPEAR_TIMEOUT:g}s")
            time.sleep(POLL_INTERVAL)

    def _check_all(self, names: list[str], article_id: str) -> None:
        """Untimed: every affected document lists the article once the last one does."""
        for name in names:
            for fmt, end in (("rss", "<"), ("atom", "<"), ("json", '"')):
                body = self.http.get(f"/feeds/{name}.{fmt}").content
                if f":article/{article_id}{end}".encode() not in body:
                    raise RuntimeError(f"{article_id} missing from /feeds/{name}.{fmt}")


def run(stack: Stack) -> list[Row]:
    feed_items = stack.settings.feed_items
    progress(f"publish→feed: seeding {feed_items} older articles (a full feed) …")
    _seed(stack, feed_items)
    publisher = Publisher(stack)
    try:
        publisher.feed_once()
        progress(f"publish→feed: {WARMUP} warm-up publishes …")
        for n in range(WARMUP):
            publisher.publish(n)
        progress(f"publish→feed: {PUBLISHES} measured publishes (poll every 2 ms, If-None-Match) …")
        latencies: list[float] = []
        posts: list[float] = []
        time.sleep(0.1)  # the last warm-up task still writes Atom and logs after RSS shows
        log_start = _log_size(stack)
        for i in range(PUBLISHES):
            latency, post = publisher.publish(WARMUP + i)
            latencies.append(latency)
            posts.append(post)
            if (i + 1) % 50 == 0:
                progress(f"  {i + 1}/{PUBLISHES}: {ms(latencies)}")
        time.sleep(0.3)  # let the last task finish its Atom write: measure the rest idle
        task_times = _worker_task_times(stack, log_start)
        publisher.feed_once()
        t0 = time.perf_counter()
        for _ in range(200):
            if publisher.feed_once() is not None:
                raise RuntimeError("the feed changed while idle")
        not_modified = (time.perf_counter() - t0) / 200
    finally:
        publisher.close()
    progress(f"publish→feed: reference, {REFERENCE_BUILDS} in-process rebuilds …")
    builds = _reference_builds(stack)
    pings = _control_ping(stack)
    progress(f"  publish → feed    {ms(latencies)}")
    progress(f"  POST alone        {ms(posts)}")
    if task_times:
        progress(f"  task in worker    {ms(task_times)} ({len(task_times)} tasks, from its log)")
    progress(f"  in-process build  {ms(builds)}")
    progress(f"  conditional GET (304) {not_modified * 1000:.2f} ms each")
    if pings:
        progress(f"  celery control ping {ms(pings)}")
    else:
        progress("  celery control ping: no reply (diagnostic only)")
    return [
        MEDIAN.measured(percentile(latencies, 50) * 1000, percentile(builds, 50) * 1000),
        P95.measured(percentile(latencies, 95) * 1000, percentile(builds, 95) * 1000),
    ]


BENCH = Bench("publish → feed latency", (MEDIAN, P95), run)
