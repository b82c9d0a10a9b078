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
personalise() with DKIM (OpenSSL through ``cryptography``, ``render/dkim.py``): RSA-2048
alone against dkimpy's pure-Python signing of the same message (the issue #14 baseline,
measured in the same run), and RSA-2048 + Ed25519 (RFC 8463 dual signing).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

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
    MessageTemplate,
    Recipient,
    build_message_template,
    default_sender,
    make_recipient,
    personalise,
    render_digest,
    render_digest_from_scratch,
)
from syndication.render.dkim import DkimKey

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
DKIM = RowSpec("email build: personalise() + DKIM rsa-sha256 2048", "ms/message", "ms dkimpy sign")
DKIM_DUAL = RowSpec(
    "email build: personalise() + DKIM rsa-sha256 + ed25519-sha256",
    "ms/message",
    "ms unsigned",
)
SIGNED_AT = datetime(2026, 11, 3, 12, tzinfo=UTC)


def _with_image(data: dict[str, object], n: int) -> dict[str, object]:
    """Every story with a lead image the digest may show (the size row counts them)."""
    image = {
        "url": f"https://insightcrime.org/wp-content/uploads/2026/11/story-{n:05d}-lead.jpg",
        "caption": "Police and soldiers inspect a boat at a river checkpoint near the border",
        "credit": "Photo: Agencia de Noticias Regional",
        "licence": "CC-BY-4.0",
    }
    return {**data, "image": image}


def segment(count: int) -> DigestSegment:
    start = datetime(2026, 11, 2, 6, tzinfo=UTC)
    items = tuple(
        Article.model_validate(
            _with_image(article_data("email", n, start + timedelta(minutes=n)), n)
        )
        for n in range(count)
    )
    return DigestSegment(
        f"daily-bench-{count}", "daily", "en", ("coca",), items, featured=items[0].id
    )


def _dkim_keys() -> tuple[DkimKey, DkimKey]:
    """A fresh RSA-2048 and Ed25519 key pair (what a deployment configures, PEM)."""
    pems = [
        k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        for k in (
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            ed25519.Ed25519PrivateKey.generate(),
        )
    ]
    return DkimKey("bench", "news.example.org", pems[0]), DkimKey("ed", "news.example.org", pems[1])


def _dkim_rows(template: MessageTemplate, recipients: list[Recipient]) -> list[Row]:
    """Our signing vs dkimpy's on the same messages, interleaved (same drift for both)."""
    import dkim  # the dev extra: the reference, never used to send

    rsa_key, ed_key = _dkim_keys()
    clock = time.perf_counter
    ours, dual, theirs, plain = [], [], [], []
    for rec in recipients[:100]:
        t0 = clock()
        personalise(template, rec, dkim=rsa_key, signed_at=SIGNED_AT)
        t1 = clock()
        personalise(template, rec, dkim=(rsa_key, ed_key), signed_at=SIGNED_AT)
        t2 = clock()
        message = personalise(template, rec)
        t3 = clock()
        dkim.sign(
            message,
            b"bench",
            b"news.example.org",
            rsa_key.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[h.lower().encode() for h in rsa_key.headers],
        )
        theirs.append(clock() - t3)
        ours.append(t1 - t0)
        dual.append(t2 - t1)
        plain.append(t3 - t2)
    progress(f"  DKIM rsa (ours)   {ms(ours)}")
    progress(f"  DKIM rsa+ed25519  {ms(dual)}")
    progress(f"  DKIM rsa (dkimpy) {ms(theirs)}")
    return [
        DKIM.measured(percentile(ours, 50) * 1000, percentile(theirs, 50) * 1000),
        DKIM_DUAL.measured(percentile(dual, 50) * 1000, percentile(plain, 50) * 1000),
    ]


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

    rows += _dkim_rows(template, recipients)
    return rows


BENCH = Bench("email build cost", (PERSONALISE, FACTOR, SEGMENT, SIZE, DKIM, DKIM_DUAL), run)

if __name__ == "__main__":  # quick look without the stack: python -m bench.email_build
    for row in run():
        ref = f"  ref {row.reference:.3f} ms" if row.reference else ""
        print(f"{row.name:<52} {row.value or 0:9.4f} {row.unit}{ref}  ok={row.ok}")
