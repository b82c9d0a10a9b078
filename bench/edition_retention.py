"""Freezing an edition, and what an edition costs in Redis before and after compaction
(issue #14).

Freeze rows: ``create_edition`` (as a draft, so nothing is sent) over N confirmed daily
subscribers: reading them, choosing each one's segment and writing the frozen list and the
ledger. Reference, same run, same subscribers: reading them alone (``MailingList``, what
the freeze reads through), the ceiling the freeze cannot pass. The full-record read
(``SubscriberStore.iter_active``, what the freeze read before) is printed beside it. The
write alone (``add_recipients`` of the same N records, prebuilt) is its own row.

Memory rows, on the 10,000-reader edition after every entry went through the ledger as
``sent`` (claim, begin, mark: what a real send leaves): ``MEMORY USAGE`` over the edition's
keys per recipient, and Redis ``INFO used_memory`` before and after compaction.

    .venv/bin/python -m bench.run_one bench.edition_retention
    RETENTION_BENCH_N=20000 …   (the large list; default 100,000)
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import redis

from bench.common import Bench, Row, RowSpec, Stack, Target, add_subscribers, article_data, progress
from syndication.config import load_settings
from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.store.edition_compaction import EditionCompactor
from syndication.store.editions import EditionStatus, EditionStore, Mark
from syndication.store.subscriber_mailing import MailingList

N_LARGE = int(os.environ.get("RETENTION_BENCH_N", "100000"))
N_SMALL = max(1, N_LARGE // 10)
READ = "recipients/s (subscriber read alone)"
FREEZE_SMALL = RowSpec(
    f"edition freeze, recipients/s ({N_SMALL:,})", "recipients/s", READ, Target(">=", 50_000, "/s")
)
FREEZE_LARGE = RowSpec(
    f"edition freeze, recipients/s ({N_LARGE:,})", "recipients/s", READ, Target(">=", 50_000, "/s")
)
WRITE_LARGE = RowSpec(
    f"edition freeze, ledger write alone ({N_LARGE:,})",
    "recipients/s",
    "recipients/s (whole freeze)",
    Target(">=", 50_000, "/s"),
)
BEFORE = RowSpec("Redis bytes per recipient before compaction (sent edition)", "B/recipient")
AFTER = RowSpec(
    "compacted edition, bytes/recipient",
    "B/recipient",
    "B/recipient before",
    Target("<=", 64, "B/recipient"),
)
USED = RowSpec(
    "compaction, INFO used_memory freed per recipient", "B/recipient", "B/recipient (MEMORY USAGE)"
)
ROWS = (FREEZE_SMALL, FREEZE_LARGE, WRITE_LARGE, BEFORE, AFTER, USED)


def _context(stack: Stack, client: redis.Redis, prefix: str) -> Context:
    from syndication.models import Article
    from syndication.store.articles import ArticleStore

    settings = load_settings({**stack.env, "SYNDICATION_KEY_PREFIX": prefix})
    now = datetime.now(UTC)
    articles = ArticleStore(client, prefix)
    for n, topic in enumerate(("Coca", "Peru", "Colombia", "Mexico")):
        data = article_data("ret", n, now - timedelta(hours=n + 1)) | {"topics": [topic]}
        articles.upsert(Article.model_validate(data), now)
    return Context(settings, RecordingEvents(), client, clock=lambda: datetime.now(UTC))


def _freeze(stack: Stack, client: redis.Redis, n: int) -> tuple[float, float, EditionStore, str]:
    """(freeze rate, read rate, the store, the edition id) over ``n`` fresh subscribers."""
    prefix = f"{stack.prefix}ret{n}:"
    progress(f"  {n:,} subscribers …")
    add_subscribers(client, prefix, n)
    ctx = _context(stack, client, prefix)
    digests = ctx.digests
    t0 = time.perf_counter()
    read = sum(1 for _ in MailingList(digests.subscribers).iter_mailable("daily"))
    read_rate = read / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    full = sum(1 for _ in digests.subscribers.iter_active("daily"))
    progress(f"  full-record read (iter_active): {full / (time.perf_counter() - t0):,.0f}/s")
    t0 = time.perf_counter()
    created = digests.create_edition("daily", datetime.now(UTC), start=False)
    took = time.perf_counter() - t0
    assert created.edition is not None and created.edition_id is not None, created.reason
    total = created.edition.total
    if total != n:
        raise RuntimeError(f"froze {total:,} of {n:,} subscribers")
    progress(f"  froze {n:,} in {took:.2f}s ({n / took:,.0f}/s); read alone {read_rate:,.0f}/s")
    return n / took, read_rate, digests.editions, created.edition_id


def _write_alone(editions: EditionStore, source: str, n: int) -> float:
    """The same frozen records written into a fresh edition: the ledger write's own rate."""
    records = list(editions.iter_recipients(source))
    eid = f"{source}-copy"
    edition = editions.get(source)
    assert edition is not None
    editions.init(eid, "daily", "copy", [], edition.policy, datetime.now(UTC))
    t0 = time.perf_counter()
    for i in range(0, len(records), 5000):
        editions.add_recipients(eid, records[i : i + 5000], {})
    return n / (time.perf_counter() - t0)


def _edition_bytes(client: redis.Redis, editions: EditionStore, eid: str) -> int:
    pattern = editions.key(eid, "*").replace("{", "\\{").replace("}", "\\}")
    return sum(int(client.memory_usage(k, samples=0) or 0) for k in client.scan_iter(pattern))


def _send_through_ledger(editions: EditionStore, eid: str) -> None:
    """Every entry claimed, begun and marked sent, as senders leave a finished edition."""
    editions.set_status(eid, EditionStatus.SENDING, (EditionStatus.DRAFT,), datetime.now(UTC))
    while True:
        claim = editions.claim(eid, 1000, "bench")
        if not claim.recipients:
            return
        for r in claim.recipients:
            editions.advance(eid, "bench", begin=[r.subscriber_id])
            editions.advance(eid, "bench", (r.subscriber_id, Mark.SENT, ""))


def _memory(client: redis.Redis, editions: EditionStore, eid: str, n: int) -> list[Row]:
    _send_through_ledger(editions, eid)
    before = _edition_bytes(client, editions, eid)
    used_before = int(client.info("memory")["used_memory"])
    edition = editions.get(eid)
    assert edition is not None and edition.finished_at is not None, "not finished"
    done = EditionCompactor(editions).compact(eid, edition.finished_at, datetime.now(UTC))
    if not done.done:
        raise RuntimeError(f"compaction refused: {done.result}")
    after = _edition_bytes(client, editions, eid)
    # UNLINK frees in the background: wait until used_memory stops falling
    freed = 0
    for _ in range(50):
        freed = used_before - int(client.info("memory")["used_memory"])
        if freed >= before - after - 4096:
            break
        time.sleep(0.1)
    progress(f"  {n:,} recipients: {before / n:.1f} B each, {after / n:.2f} after compaction")
    return [
        BEFORE.measured(before / n),
        AFTER.measured(after / n, before / n),
        USED.measured(freed / n, (before - after) / n),
    ]


def run(stack: Stack) -> list[Row]:
    client = redis.Redis.from_url(stack.settings.need_redis_url())
    try:
        small, small_read, editions, small_id = _freeze(stack, client, N_SMALL)
        large, large_read, large_store, large_id = _freeze(stack, client, N_LARGE)
        write = _write_alone(large_store, large_id, N_LARGE)
        progress(f"  ledger write alone: {write:,.0f}/s")
        rows = [
            FREEZE_SMALL.measured(small, small_read),
            FREEZE_LARGE.measured(large, large_read),
            WRITE_LARGE.measured(write, large),
        ]
        rows += _memory(client, editions, small_id, N_SMALL)
        return rows
    finally:
        client.close()


BENCH = Bench("edition freeze and retention", ROWS, run)
