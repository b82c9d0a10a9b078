"""Per-message cost of a digest: personalise() a segment's template vs render from scratch.

In-process and pure (no stack needed). One segment of ``ITEMS`` realistic articles (from
``bench.common``) for the example publisher. The value is what a sender pays per recipient
on our path — ``personalise(template, recipient)``: the segment's message bytes joined
with the recipient's validated values. The reference is what it would pay rendering each
message whole — ``render_digest_from_scratch``: Jinja → MJML (mjml-python) → css-inline →
``EmailMessage`` → bytes. The issue's target: ≥ 20× cheaper, measured in the same run.

The runs alternate value and reference so drift in the machine's speed hits both alike;
personalise() is timed over batches of ``BATCH`` recipients (a single call is ~tens of
µs, near the timer's resolution) and reported per message; each row is the median.

Also reported, no target: the once-per-segment cost (render + build the template), the
HTML part's size for 15 articles (budget 90 KB, Gmail clips at 102 KB), and the cost of
DKIM signing each message with dkimpy (pure-Python RSA-2048), when dkimpy and openssl are
available.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import (
    CONFIG,
    Bench,
    Row,
    RowSpec,
    Stack,
    Target,
    article_data,
    percentile,
    progress,
)
from bench.common import summary_ms as ms
from syndication.config import load_publisher
from syndication.models import Article
from syndication.render.digest_email import (
    SIZE_BUDGET,
    DigestSegment,
    DkimKey,
    build_message_template,
    default_sender,
    make_recipient,
    personalise,
    render_digest,
    render_digest_from_scratch,
)

ITEMS = 10
RUNS = 150
BATCH = 200
WARMUP = 5
SPEEDUP = 20.0
PUBLIC = "https://news.example.org"
NOW = datetime(2026, 11, 3, 12, tzinfo=UTC)
REFERENCE_UNIT = "ms (render from scratch per message, median)"

PERSONALISE = RowSpec(f"email build: personalise(), {ITEMS} articles", "ms/message", REFERENCE_UNIT)
FACTOR = RowSpec(
    "email build: personalise() vs from scratch", "× cheaper", "", Target(">=", SPEEDUP, "×")
)
SEGMENT = RowSpec(f"email build: render + template per segment, {ITEMS} articles", "ms")
SIZE = RowSpec("email HTML part, 15 articles", "KB", "", Target("<", SIZE_BUDGET / 1000, "KB"))
DKIM = RowSpec("email build: personalise() + DKIM rsa-sha256 2048", "ms/message")


def segment(count: int) -> DigestSegment:
    start = datetime(2026, 11, 2, 6, tzinfo=UTC)
    items = tuple(
        Article.model_validate(article_data("email", n, start + timedelta(minutes=n)))
        for n in range(count)
    )
    return DigestSegment(f"daily-bench-{count}", "daily", "en", ("coca",), items)


def _dkim_key(tmp: Path) -> DkimKey | None:
    try:
        import dkim  # noqa: F401
    except ImportError:
        return None
    if not shutil.which("openssl"):
        return None
    key = tmp / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    return DkimKey("bench", "news.example.org", key.read_bytes())


def run(stack: Stack | None = None) -> list[Row]:
    publisher = load_publisher(CONFIG)
    sender = default_sender(publisher, PUBLIC)
    seg = segment(ITEMS)
    recipients = [
        make_recipient(
            f"reader{n}@example.com", f"s{n}", f"token{n:06d}.sig", seg.edition_id, PUBLIC
        )
        for n in range(BATCH)
    ]

    def build_template() -> object:
        rendered = render_digest(seg, publisher, PUBLIC, NOW)
        return build_message_template(rendered, seg, publisher, PUBLIC, sender, NOW)

    rendered = render_digest(seg, publisher, PUBLIC, NOW)
    template = build_message_template(rendered, seg, publisher, PUBLIC, sender, NOW)
    progress(
        f"email build: {ITEMS} articles, message {template.size / 1024:.0f} KB, "
        f"HTML {rendered.html_size / 1024:.0f} KB; {RUNS} runs × {BATCH} recipients"
    )
    for n in range(WARMUP):
        for rec in recipients:
            personalise(template, rec)
        render_digest_from_scratch(seg, publisher, PUBLIC, NOW, recipients[n], sender)
        build_template()

    clock = time.perf_counter
    values: list[float] = []
    references: list[float] = []
    segments: list[float] = []
    for n in range(RUNS):
        t0 = clock()
        for rec in recipients:
            personalise(template, rec)
        t1 = clock()
        render_digest_from_scratch(seg, publisher, PUBLIC, NOW, recipients[n % BATCH], sender)
        t2 = clock()
        if n % 5 == 0:
            build_template()
            segments.append(clock() - t2)
        values.append((t1 - t0) / BATCH)
        references.append(t2 - t1)
    value = percentile(values, 50) * 1000
    reference = percentile(references, 50) * 1000
    factor = reference / value
    micro = sorted(v * 1e6 for v in values)
    progress(
        f"  personalise   p50={percentile(micro, 50):.1f} p95={percentile(micro, 95):.1f} "
        f"max={micro[-1]:.1f} µs per message"
    )
    progress(f"  from scratch  {ms(references)}  → {factor:.0f}× cheaper")
    progress(f"  per segment   {ms(segments)}")
    rows = [
        PERSONALISE.measured(value, reference),
        FACTOR.measured(factor),
        SEGMENT.measured(percentile(segments, 50) * 1000),
    ]

    heavy = segment(15)
    size = render_digest(heavy, publisher, PUBLIC, NOW).html_size
    progress(f"  HTML part for 15 articles: {size:,} octets (worst case links)")
    rows.append(SIZE.measured(size / 1000))

    with tempfile.TemporaryDirectory(prefix="synd-dkim-") as tmp:
        key = _dkim_key(Path(tmp))
        if key is None:
            rows.append(DKIM.failed("dkimpy or openssl not installed"))
        else:
            signed: list[float] = []
            for rec in recipients[:50]:
                t0 = clock()
                personalise(template, rec, dkim=key)
                signed.append(clock() - t0)
            progress(f"  with DKIM     {ms(signed)}")
            rows.append(DKIM.measured(percentile(signed, 50) * 1000, reference))
    return rows


BENCH = Bench("email build cost", (PERSONALISE, FACTOR, SEGMENT, SIZE, DKIM), run)

if __name__ == "__main__":  # quick look without the stack: python -m bench.email_build
    for row in run():
        ref = f"  ref {row.reference:.3f} ms" if row.reference else ""
        print(f"{row.name:<52} {row.value or 0:9.4f} {row.unit}{ref}  ok={row.ok}")
