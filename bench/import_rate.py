"""``syndication import FOLDER --json`` over 1,000 JSON article files, end to end.

Timed as the operator runs it: a subprocess, so interpreter start-up and imports count
(the fixed part is printed separately: the same command on an empty folder).

Reference: the same 1,000 records (the files' bytes) written with plain ``SET``, one call
each, from this process to the same Redis. It is the ceiling for "one write per article
over one connection", so the ratio (import rate / SET rate) is the share of that ceiling
the import reaches; what it loses goes to parsing, sanitising, validating, hashing, the
WATCH/MULTI upsert and enqueueing one feed-rebuild task per article.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from bench.common import ROOT, Bench, Row, RowSpec, Stack, Target, article_data, progress

COUNT = 1_000
DRAIN_WAIT = 60.0  # seconds we wait, at most, for the worker to drain the rebuild tasks

IMPORT = RowSpec(
    "import 1,000 JSON articles",
    "articles/s",
    "articles/s (plain redis SET, one per call)",
    Target(">=", 200, "articles/s"),
)


def _write_files(folder: Path) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(days=3 * 365)
    records = []
    for n in range(COUNT):
        data = article_data("imp", n, start + timedelta(hours=n))
        raw = json.dumps(data, ensure_ascii=False, indent=2).encode()
        (folder / f"{data['id']}.json").write_bytes(raw)
        records.append(raw)
    return records


def _run_import(stack: Stack, folder: Path) -> tuple[float, dict[str, Any]]:
    """(wall seconds, the --json document); raises with the command's own words on failure."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [*stack.cli, "import", str(folder), "--json"],
        env={**os.environ, **stack.env},
        cwd=ROOT,
        capture_output=True,
        timeout=300,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    stderr = done.stderr.decode(errors="replace").strip()
    try:
        doc = json.loads(done.stdout)
    except json.JSONDecodeError:
        last = stderr.splitlines()[-1] if stderr else "(no output)"
        raise RuntimeError(f"`syndication import` exited {done.returncode}: {last}") from None
    if done.returncode != 0 or doc.get("failures"):
        failures = doc.get("failures") or []
        first = failures[0]["error"] if failures else (stderr.splitlines() or ["?"])[-1]
        raise RuntimeError(
            f"`syndication import` exited {done.returncode}, {len(failures)} failure(s): {first}"
        )
    return elapsed, doc


def _raw_set_rate(stack: Stack, records: list[bytes]) -> float:
    client = redis.Redis.from_url(stack.settings.need_redis_url())
    keys = [f"{stack.prefix}bench:raw:{n}" for n in range(len(records))]
    try:
        client.ping()
        t0 = time.perf_counter()
        for key, raw in zip(keys, records, strict=True):
            client.set(key, raw)
        elapsed = time.perf_counter() - t0
        client.delete(*keys)
        return len(records) / elapsed
    finally:
        client.close()


def _drain(stack: Stack) -> None:
    """Diagnostic: how many feed rebuilds the import queued and how long the worker takes
    to work them off (each one rebuilds the whole site feed)."""
    client = redis.Redis.from_url(stack.settings.need_redis_url())
    queue = f"{stack.prefix}celery:feeds"
    unacked = f"{stack.prefix}celery:unacked"
    try:
        queued = int(client.llen(queue))
        progress(f"  feed-rebuild tasks queued right after the import: {queued}")
        t0 = time.perf_counter()
        while client.llen(queue) or client.hlen(unacked):
            if time.perf_counter() - t0 > DRAIN_WAIT:
                left = int(client.llen(queue))
                progress(f"  worker still has {left} rebuilds queued after {DRAIN_WAIT:g}s")
                return
            time.sleep(0.1)
        if queued:
            took = time.perf_counter() - t0
            progress(f"  worker drained them in {took:.1f}s ({queued / took:.0f} rebuilds/s)")
    finally:
        client.close()


def run(stack: Stack) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="synd-bench-import-"))
    try:
        folder = work / "articles"
        folder.mkdir()
        empty = work / "empty"
        empty.mkdir()
        progress(f"import: writing {COUNT} JSON article files …")
        records = _write_files(folder)
        sizes = sorted(len(r) for r in records)
        progress(f"  file sizes {sizes[0]}–{sizes[-1]} bytes, {sum(sizes) / 1e6:.1f} MB in all")
        # The reference runs first, while the worker is idle: the import below leaves it
        # busy with the feed rebuilds it queued, which would slow the reference down.
        progress("import: reference, plain SET of the same records …")
        set_rate = _raw_set_rate(stack, records)
        progress(f"  {set_rate:.0f} SETs/s")
        fixed, _ = _run_import(stack, empty)
        progress(f"  `syndication import` on an empty folder: {fixed:.2f}s (fixed cost)")
        progress(f"import: `syndication import FOLDER --json` over {COUNT} files …")
        elapsed, doc = _run_import(stack, folder)
        created = int(doc.get("counts", {}).get("created", 0))
        if created != COUNT:
            raise RuntimeError(f"expected {COUNT} created, got counts {doc.get('counts')}")
        rate = COUNT / elapsed
        progress(
            f"  {elapsed:.2f}s wall, {rate:.0f} articles/s "
            f"({COUNT / max(elapsed - fixed, 1e-9):.0f}/s without the fixed cost)"
        )
        _drain(stack)
        return [IMPORT.measured(rate, set_rate)]
    finally:
        shutil.rmtree(work, ignore_errors=True)


BENCH = Bench("import rate", (IMPORT,), run)
