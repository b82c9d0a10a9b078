"""Subscriber lists in bulk: CSV import and export rates, and Redis bytes per subscriber.

Each size (10,000 and 100,000 rows) runs on its own key prefix in the stack's Redis, as
long as the default ``synd:`` (the key names are part of what a subscriber costs). The
machine is shared: compare the ratios, which are measured in the same run.

- import: ``SubscriberTransfer.import_csv`` over an in-memory CSV of typical rows (92 %
  confirmed, 6 % pending, 2 % unsubscribed; 1–3 topics, two languages, three frequencies,
  consent ip and source). Reference: the same records' hashes written with plain pipelined
  ``HSET``, 500 a round trip, from this process to the same Redis: the ceiling for "one
  write per row, batched", so the ratio is the share of it the import reaches while it also
  parses, validates, checks suppressions and keeps the indexes.
- export: ``export_csv`` of that list to an in-memory file. Reference: pipelined
  ``HGETALL`` of the same record keys, 500 a round trip.
- bytes: ``INFO memory`` ``used_memory`` after the import minus before, over N. Reference:
  the old format's 1,158 bytes (measured for issue #14 with the same data), so the ratio is
  what is left of it.
"""

from __future__ import annotations

import csv
import io
import random
import secrets
import time
from datetime import UTC, datetime, timedelta

import redis

from bench.common import Bench, Row, RowSpec, Stack, Target, progress
from syndication.services.subscriptions.transfer import CSV_FIELDS, SubscriberTransfer
from syndication.store.subscriber_record import encode
from syndication.store.subscribers import SubscriberStore

SIZES = (10_000, 100_000)
OLD_BYTES = 1_158  # format 1, same data: see the module docstring
_TOPICS = ("coca", "cocaine", "peru", "colombia", "mexico", "extortion", "illegal-mining")


def _specs(n: int) -> tuple[RowSpec, RowSpec, RowSpec]:
    return (
        RowSpec(
            f"subscriber import, {n:,} rows",
            "rows/s",
            "rows/s (pipelined HSET of the records)",
            Target(">=", 5_000, "rows/s"),
        ),
        RowSpec(
            f"subscriber export, {n:,} rows",
            "rows/s",
            "rows/s (pipelined HGETALL of the records)",
            Target(">=", 5_000, "rows/s"),
        ),
        RowSpec(
            f"Redis bytes per subscriber, {n:,}",
            "bytes",
            "bytes (format 1, same data)",
            Target("<=", 600, "bytes"),
        ),
    )


ROWS = tuple(spec for n in SIZES for spec in _specs(n))


def typical_csv(n: int, seed: int = 0) -> str:
    """``n`` rows as another provider's export would have them."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(n):
        created = start + timedelta(seconds=rng.randrange(60_000_000))
        r = rng.random()
        status = "confirmed" if r < 0.92 else "pending" if r < 0.98 else "unsubscribed"
        writer.writerow(
            {
                "email": f"reader.{i:06d}.{rng.randrange(10**6)}@mail{i % 50}.example.org",
                "status": status,
                "frequency": rng.choice(("daily", "weekly", "weekly", "instant")),
                "topics": " ".join(rng.sample(_TOPICS, rng.randint(1, 3))),
                "language": rng.choice(("en", "en", "es")),
                "created_at": created.isoformat(),
                "confirmed_at": (created + timedelta(minutes=5)).isoformat()
                if status == "confirmed"
                else "",
                "unsubscribed_at": (created + timedelta(days=30)).isoformat()
                if status == "unsubscribed"
                else "",
                "consent_ip": f"192.0.2.{rng.randrange(256)}",
                "consent_source": "signup form",
                "suppressed_reason": "",
            }
        )
    return out.getvalue()


def _reference_write(
    client: redis.Redis, prefix: str, transfer: SubscriberTransfer, text: str
) -> float:
    """Rows/s of plain pipelined HSETs of the same records (parsing done beforehand)."""
    records = [transfer.row_to_record(row)[0] for row in csv.DictReader(io.StringIO(text))]
    hashes = [(f"{prefix}ref:{i}", encode(r)) for i, r in enumerate(records)]
    t0 = time.perf_counter()
    for start in range(0, len(hashes), 500):
        with client.pipeline(transaction=False) as pipe:
            for key, mapping in hashes[start : start + 500]:
                pipe.hset(key, mapping=mapping)
            pipe.execute()
    return len(hashes) / (time.perf_counter() - t0)


def _reference_read(client: redis.Redis, prefix: str, n: int) -> float:
    keys = [f"{prefix}ref:{i}" for i in range(n)]
    t0 = time.perf_counter()
    for start in range(0, n, 500):
        with client.pipeline(transaction=False) as pipe:
            for key in keys[start : start + 500]:
                pipe.hgetall(key)
            pipe.execute()
    rate = n / (time.perf_counter() - t0)
    for start in range(0, n, 1000):
        client.delete(*keys[start : start + 1000])
    return rate


def _one_size(client: redis.Redis, stack: Stack, n: int) -> list[Row]:
    importing, exporting, size = _specs(n)
    # As long as the default "synd:": key names are part of what a subscriber costs.
    prefix = f"b{secrets.token_hex(1)}{len(str(n))}:"
    transfer = SubscriberTransfer(SubscriberStore(client, prefix), ("en", "es"))
    text = typical_csv(n)
    progress(f"subscribers: {n:,} rows, {len(text) / 1e6:.1f} MB of CSV")
    ref_write = _reference_write(client, prefix, transfer, text)
    ref_read = _reference_read(client, prefix, n)
    progress(f"  reference: {ref_write:,.0f} HSET/s, {ref_read:,.0f} HGETALL/s")
    before = int(client.info("memory")["used_memory"])
    t0 = time.perf_counter()
    report = transfer.import_csv(io.StringIO(text))
    took = time.perf_counter() - t0
    per_sub = (int(client.info("memory")["used_memory"]) - before) / n
    if report.errors:
        raise RuntimeError(f"import reported errors: {report.errors[:3]}")
    progress(f"  import {took:.2f}s: {dict(report.outcomes)}; {per_sub:.0f} bytes a row")
    t0 = time.perf_counter()
    exported = transfer.export_csv(io.StringIO())
    export_rate = exported / (time.perf_counter() - t0)
    progress(f"  export: {exported:,} rows at {export_rate:,.0f} rows/s")
    _drop(client, prefix)
    return [
        importing.measured(n / took, ref_write),
        exporting.measured(export_rate, ref_read),
        size.measured(per_sub, OLD_BYTES),
    ]


def _drop(client: redis.Redis, prefix: str) -> None:
    batch = [k for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    for start in range(0, len(batch), 1000):
        client.delete(*batch[start : start + 1000])


def run(stack: Stack) -> list[Row]:
    client = redis.Redis.from_url(stack.settings.need_redis_url())
    try:
        return [row for n in SIZES for row in _one_size(client, stack, n)]
    finally:
        client.close()


BENCH = Bench("subscriber lists in bulk", ROWS, run)
