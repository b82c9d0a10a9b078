"""``make scale``: what the service costs at 10,000 and at 100,000 readers (issue #14).

For each size N, a fresh throwaway stack (its own redis-server, a real ``syndication
worker`` with two prefork processes, postfix's ``smtp-sink`` on loopback):

1. N confirmed daily readers imported from a generated CSV through the service call that
   ``syndication subscribers import`` makes (``SubscriberTransfer.import_csv``): rows/s,
   and Redis ``INFO used_memory`` grown over the import / N (bytes per subscriber);
2. three daily editions (three consecutive days), each frozen by ``create_edition`` in this
   process, as ``syndication digest send`` does, and sent by the worker into the sink:
   freeze recipients/s, send msg/s (edition start → its ``finished_at``), ``used_memory``
   when it is done and after ``digest compact`` (``EditionRetention.compact``) dropped its
   sent entries, and what the edition costs per recipient before and after compaction;
3. the peak RSS of every worker process (parent and pool children: ``VmHWM``, and
   ``VmRSS`` sampled every 0.1 s during the sends), and how much this process grew while
   it froze an edition.

Then a table of the sizes side by side with the ratio (last / first), and two verdicts:
peak worker RSS flat (±10 %) from the first size to the last, and every compacted edition
at most 64 bytes a recipient (what it keeps grows by a small constant, not by the list).

    .venv/bin/python -m bench.scale                 # --sizes 10000,100000
    .venv/bin/python -m bench.scale --sizes 2000 --editions 1

Progress on stderr, the table on stdout. Exit status 0 when everything was measured, even
when a verdict is FAIL (the table says so); 1 when a run failed. ``BENCH_KEEP=1`` keeps the
logs and Redis data (kept anyway after a failure).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import random
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import redis

from bench.common import Stack, article_data, progress
from syndication.services.subscriptions.transfer import CSV_FIELDS

_T = TypeVar("_T")

SIZES = (10_000, 100_000)
EDITIONS = 3
WORKER_PROCESSES = 2  # one per core here
COMPACTED_LIMIT = 64.0  # bytes a recipient a compacted edition may keep
RSS_FLAT = 0.10  # peak worker RSS may move this much from the first size to the last
SAMPLE_S = 0.1
ARTICLES = 15  # per edition, as a newsroom's day
_TOPICS = ((), ("coca",), ("peru",), ("colombia", "mexico"))
_ARTICLE_TOPICS = ("Coca", "Peru", "Colombia", "Mexico")


@dataclass(frozen=True)
class EditionFigures:
    freeze_rate: float  # recipients/s frozen by create_edition
    send_rate: float  # msg/s, edition start → finished_at
    used_done: int  # INFO used_memory (bytes) once the edition is done
    used_compacted: int  # … and once it is compacted
    per_rcpt_done: float  # what the edition added, bytes per recipient, before compaction
    per_rcpt_compacted: float  # … what it still holds after compaction


@dataclass(frozen=True)
class SizeReport:
    n: int
    import_rate: float  # rows/s
    bytes_per_subscriber: float  # used_memory grown over the import / n
    editions: tuple[EditionFigures, ...]
    worker_rss: dict[str, float]  # process → peak RSS (MB)
    freeze_growth: float  # MB this process grew at most while freezing an edition

    def figures(self) -> list[tuple[str, str, float]]:
        """(figure, unit, value), in the order of the table."""
        rows = [
            ("subscriber import", "rows/s", self.import_rate),
            ("Redis bytes per subscriber", "B", self.bytes_per_subscriber),
        ]
        for k, e in enumerate(self.editions, 1):
            rows += [
                (f"edition {k}: freeze", "recipients/s", e.freeze_rate),
                (f"edition {k}: send", "msg/s", e.send_rate),
                (f"edition {k}: used_memory when done", "MB", e.used_done / 1e6),
                (f"edition {k}: used_memory compacted", "MB", e.used_compacted / 1e6),
                (f"edition {k}: bytes/recipient before compaction", "B", e.per_rcpt_done),
                (f"edition {k}: bytes/recipient compacted", "B", e.per_rcpt_compacted),
            ]
        rows += [(f"peak RSS, {name}", "MB", mb) for name, mb in self.worker_rss.items()]
        rows.append(("freezing process grew during a freeze", "MB", self.freeze_growth))
        return rows


# --- processes and memory ---------------------------------------------------------------


def _status_kb(pid: int, field: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (their parent pid in /proc), oldest pid first."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            out.append(int(entry.name))
    return sorted(out)


class RssSampler:
    """Samples VmRSS of a worker's parent and pool children on a thread; keeps each peak.

    ``peaks_mb`` names them ``worker parent``, ``pool child 1`` … (children by pid) and
    takes, for each, the larger of its sampled peak and the kernel's ``VmHWM``."""

    def __init__(self, parent: int) -> None:
        self.parent = parent
        self.peaks: dict[int, int] = {}  # pid → kB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample(hwm=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.sample()

    def sample(self, hwm: bool = False) -> None:
        for pid in [self.parent, *children(self.parent)]:
            kb = _status_kb(pid, "VmHWM" if hwm else "VmRSS")
            if kb is not None:
                self.peaks[pid] = max(self.peaks.get(pid, 0), kb)

    def peaks_mb(self) -> dict[str, float]:
        kids = sorted(p for p in self.peaks if p != self.parent)
        named = {"worker parent": self.peaks.get(self.parent, 0)}
        named |= {f"pool child {i}": self.peaks[p] for i, p in enumerate(kids, 1)}
        return {name: kb / 1024 for name, kb in named.items()}


def own_growth(fn: Callable[[], _T]) -> tuple[_T, float]:
    """``fn()`` and how many MB this process's RSS grew at most while it ran (sampled)."""
    pid = os.getpid()
    before = _status_kb(pid, "VmRSS") or 0
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _status_kb(pid, "VmRSS") or 0)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        result = fn()
    finally:
        done.set()
        thread.join()
    peak[0] = max(peak[0], _status_kb(pid, "VmRSS") or 0)
    return result, (peak[0] - before) / 1024


def used_memory(client: redis.Redis) -> int:
    """``INFO used_memory`` once Redis has freed what UNLINK left to its background thread."""
    info: dict[str, Any] = {}
    for _ in range(200):
        info = client.info("memory")
        if int(info.get("lazyfree_pending_objects", 0)) == 0:
            break
        time.sleep(0.05)
    return int(info["used_memory"])


# --- data -------------------------------------------------------------------------------


def write_csv(path: Path, n: int, seed: int = 0) -> None:
    """``n`` confirmed daily readers in English, four topic mixes, as an export has them."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for i in range(n):
            created = start + timedelta(seconds=rng.randrange(60_000_000))
            writer.writerow(
                {
                    "email": f"reader.{i:07d}.{rng.randrange(10**6)}@mail{i % 50}.example.org",
                    "status": "confirmed",
                    "frequency": "daily",
                    "topics": " ".join(_TOPICS[i % len(_TOPICS)]),
                    "language": "en",
                    "created_at": created.isoformat(),
                    "confirmed_at": (created + timedelta(minutes=5)).isoformat(),
                    "unsubscribed_at": "",
                    "consent_ip": f"192.0.2.{rng.randrange(256)}",
                    "consent_source": "signup form",
                    "suppressed_reason": "",
                }
            )


def edition_times(editions: int, now: datetime) -> list[datetime]:
    """One ``now`` a day, the last one now: each edition in its own daily period."""
    return [now - timedelta(days=editions - 1 - k) for k in range(editions)]


def store_articles(ctx: Any, times: Sequence[datetime]) -> None:
    """``ARTICLES`` articles published in the half hour … hour before each edition."""
    from syndication.models import Article

    now = datetime.now(UTC)
    for k, when in enumerate(times):
        for n in range(ARTICLES):
            data = article_data(f"scale{k}", n, published_at=when - timedelta(minutes=30 + n))
            data["topics"] = list(_ARTICLE_TOPICS[: 1 + n % 4])
            ctx.article_store.upsert(Article.model_validate(data), now)


# --- one size ---------------------------------------------------------------------------


def import_subscribers(ctx: Any, client: redis.Redis, path: Path, n: int) -> tuple[float, float]:
    """(rows/s, Redis bytes per subscriber): the CSV through ``subscribers import``'s call."""
    before = used_memory(client)
    t0 = time.perf_counter()
    with path.open(encoding="utf-8-sig", newline="") as fh:
        report = ctx.subscriber_transfer.import_csv(fh)
    took = time.perf_counter() - t0
    if report.errors or report.rows != n:
        raise RuntimeError(f"import of {n:,} rows: {report.rows:,} rows, {report.errors[:3]}")
    per_subscriber = (used_memory(client) - before) / n
    progress(f"  import: {n:,} rows in {took:.2f}s, {per_subscriber:.0f} bytes a subscriber")
    return n / took, per_subscriber


def wait_done(ctx: Any, stack: Stack, edition_id: str, n: int) -> Any:
    """The edition once nothing is left to send; raises if it is not all sent in time."""
    deadline = time.monotonic() + max(300.0, n / 20)
    while True:
        edition = ctx.digests.status(edition_id)
        if edition is not None and edition.status.value not in ("sending", "creating"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{edition_id} not done in time: {edition and edition.counts}")
        stack.check_alive()
        time.sleep(0.1)
    if edition.counts.get("sent") != n or edition.finished_at is None:
        raise RuntimeError(f"{edition_id} {edition.status.value}: {edition.counts}")
    return edition


def compact(ctx: Any, edition_id: str) -> None:
    """``digest compact EDITION --older-than 0``: the retention service on this edition."""
    reports = ctx.digests.compact(
        datetime.now(UTC), older_than=timedelta(0), edition_ids=[edition_id]
    )
    if [r.result for r in reports] != ["compacted"]:
        raise RuntimeError(f"{edition_id} not compacted: {reports}")


def one_edition(
    ctx: Any, stack: Stack, client: redis.Redis, when: datetime, n: int, base: int
) -> tuple[EditionFigures, float]:
    """Freeze, send and compact one edition; its figures and this process's freeze growth.
    ``base``: used_memory before it (after the import, or the previous compacted edition)."""
    t0 = time.time()
    created, growth = own_growth(lambda: ctx.digests.create_edition("daily", when))
    started = time.time()
    if created.edition_id is None or created.edition is None or created.edition.total != n:
        raise RuntimeError(f"edition not created for all {n:,}: {created}")
    edition = wait_done(ctx, stack, created.edition_id, n)
    send_s = edition.finished_at.timestamp() - started
    time.sleep(0.5)  # the senders' last writes (heartbeats out, run counts)
    done = used_memory(client)
    compact(ctx, created.edition_id)
    compacted = used_memory(client)
    figures = EditionFigures(
        freeze_rate=n / (started - t0),
        send_rate=n / send_s,
        used_done=done,
        used_compacted=compacted,
        per_rcpt_done=(done - base) / n,
        per_rcpt_compacted=(compacted - base) / n,
    )
    progress(
        f"  {created.edition_id}: froze {n:,} in {started - t0:.2f}s (+{growth:.1f} MB here), "
        f"sent in {send_s:.1f}s ({figures.send_rate:,.0f} msg/s); "
        f"{figures.per_rcpt_done:.0f} B/recipient, {figures.per_rcpt_compacted:.1f} compacted"
    )
    return figures, growth


@contextlib.contextmanager
def smtp_sink(work_dir: Path, port: int | None) -> Iterator[int]:
    """The port of an SMTP sink: ``port`` when given (the caller's server), else postfix's
    ``smtp-sink`` started here (installed non-interactively when missing)."""
    if port is not None:
        yield port
        return
    from bench.digest_send import Sink, _postfix_tools

    sink = Sink(_postfix_tools()[0], work_dir)
    try:
        yield sink.port
    finally:
        sink.stop()


def measure(n: int, editions: int = EDITIONS, smtp_port: int | None = None) -> SizeReport:
    """Every figure for ``n`` readers, on a stack of its own."""
    from syndication.cli.common import context

    progress(f"=== {n:,} readers ===")
    stack = Stack(worker_concurrency=WORKER_PROCESSES, serve_web=False, prefix="synd:")
    with smtp_sink(stack.work_dir, smtp_port) as port:
        stack.extra_env = {
            "SYNDICATION_SMTP_URL": f"smtp://127.0.0.1:{port}",
            # The first edition is dated two days back: not too old to send unattended.
            "SYNDICATION_MAIL_MAX_RESUME_AGE_HOURS": str(24 * (editions + 1)),
        }
        with stack:
            assert stack.worker is not None
            client = redis.Redis.from_url(stack.settings.need_redis_url())
            try:
                ctx = context(stack.settings)
                times = edition_times(editions, datetime.now(UTC))
                store_articles(ctx, times)
                path = stack.work_dir / "subscribers.csv"
                write_csv(path, n)
                import_rate, per_subscriber = import_subscribers(ctx, client, path, n)
                figures, growths = [], []
                base = used_memory(client)
                with RssSampler(stack.worker.proc.pid) as rss:
                    for when in times:
                        edition, growth = one_edition(ctx, stack, client, when, n, base)
                        figures.append(edition)
                        growths.append(growth)
                        base = edition.used_compacted
                        so_far = ", ".join(f"{k} {v:.1f}" for k, v in rss.peaks_mb().items())
                        progress(f"  sampled RSS peaks so far (MB): {so_far}")
            finally:
                client.close()
    peaks = rss.peaks_mb()
    progress("  peak RSS: " + ", ".join(f"{k} {v:.1f} MB" for k, v in peaks.items()))
    return SizeReport(n, import_rate, per_subscriber, tuple(figures), peaks, max(growths))


# --- the comparison ---------------------------------------------------------------------


def _fmt(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def table(reports: Sequence[SizeReport]) -> str:
    """The figures of every size side by side, and the ratio of the last to the first."""
    header = ["figure", "unit", *(f"{r.n:,}" for r in reports)]
    if len(reports) > 1:
        header.append(f"×({reports[-1].n:,}/{reports[0].n:,})")
    lines = [header]
    for i, (name, unit, first) in enumerate(reports[0].figures()):
        values = [r.figures()[i][2] for r in reports]
        line = [name, unit, *(_fmt(v) for v in values)]
        if len(reports) > 1:
            line.append(f"{values[-1] / first:.2f}" if first else "—")
        lines.append(line)
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    out = []
    for k, line in enumerate(lines):
        cells = [
            c.ljust(w) if j < 2 else c.rjust(w)
            for j, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def verdicts(reports: Sequence[SizeReport]) -> list[tuple[bool, str]]:
    """(passed, line) for the two promises: worker RSS flat, compacted editions small."""
    first, last = reports[0], reports[-1]
    moves = {
        name: last.worker_rss[name] / mb - 1
        for name, mb in first.worker_rss.items()
        if mb and name in last.worker_rss
    }
    worst = max(moves, key=lambda k: abs(moves[k]), default="")
    flat = bool(moves) and all(abs(m) <= RSS_FLAT for m in moves.values())
    rss_line = f"peak worker RSS flat (±{RSS_FLAT:.0%}) from {first.n:,} to {last.n:,}: " + (
        f"largest move {worst} {moves[worst]:+.1%}" if worst else "no processes measured"
    )
    kept = [e.per_rcpt_compacted for r in reports for e in r.editions]
    small = bool(kept) and max(kept) <= COMPACTED_LIMIT
    growth = ", ".join(
        f"{r.n:,}: " + " / ".join(f"{e.per_rcpt_compacted * r.n / 1e3:,.0f}" for e in r.editions)
        for r in reports
    )
    kept_line = (
        f"each compacted edition ≤ {COMPACTED_LIMIT:g} B a recipient: largest "
        f"{max(kept, default=0):.1f} B (KB kept per edition, {growth})"
    )
    return [(flat, rss_line), (small, kept_line)]


def report(reports: Sequence[SizeReport], machine: str) -> str:
    lines = [
        f"make scale, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine}",
        "",
        table(reports),
        "",
    ]
    lines += [f"{'PASS' if ok else 'FAIL'}  {line}" for ok, line in verdicts(reports)]
    return "\n".join(lines)


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in SIZES),
        help="readers, comma-separated (default 10000,100000)",
    )
    parser.add_argument(
        "--editions", type=int, default=EDITIONS, help="daily editions a size (default 3)"
    )
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    started = time.perf_counter()
    reports = []
    for n in sizes:
        try:
            reports.append(measure(n, args.editions))
        except Exception as exc:  # the sizes measured so far are still printed
            traceback.print_exc(file=sys.stderr)
            progress(f"{n:,} readers: FAILED: {exc!r}")
            break
    progress(f"done in {time.perf_counter() - started:.0f}s")
    if reports:
        print(report(reports, machine()))
    return 0 if len(reports) == len(sizes) else 1


if __name__ == "__main__":
    sys.exit(main())
