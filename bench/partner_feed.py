"""Partner feed build time vs the public feed build time, for the same 50 items.

On the 50 articles of ``bench/feed_build.py`` (5–8 KB bodies, a lead image each), stored
in a real Redis of their own (``EmbeddedRedis``) as the service stores them. Both sides
start from Redis and end in the same builder (``BUILDERS[fmt]``), so each ratio is "what
a partner feed costs on top of the public one":

- public: the 50 newest articles read from Redis (``ArticleStore.latest``) and built;
- partner: ``PartnerFeeds.feed`` for a non-commercial partner with the pixel on — ids
  and articles from Redis, the partner's pulled/withdrawn bookkeeping, the 50 copies, the
  pixel and correction notes, the same builder.

Rows, per format:

- cold process (target ≤ 2×): every copy already stored by ``prepare_copies`` (what the
  ``partners.prepare_copies`` task does at publish time); each run uses a fresh service
  (an empty in-process memo, as a new web process has) that reads them back in one
  pipelined round trip. A fresh service is made before the clock starts: its one-off setup
  (fingerprinting the terms and templates) is per process, not per feed.
- warm (target ≤ 2×): one service across runs, every copy memoised (the usual poll).
- stored copies, builder basis (no target, for information): the same cold read of the
  stored copies (fresh service, ``copies``) plus the pixel and the builder, against the
  builder alone on the same 50 articles already in memory: the ratio without the article
  reads both sides share, i.e. the strictest reading of "2× the public build".
- every copy made, nothing stored (no target, for information): the articles read as the
  public side reads them, each through ``partner_copy`` afresh, the pixel, the builder.
  What a partner feed would cost without stored copies.

Runs alternate partner and public builds so drift hits both alike; each value is the
median of ``RUNS``, and the target is written as a bound in ms from the public median of
the same run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime

import redis

from bench.common import CONFIG, Bench, Row, RowSpec, Stack, Target, percentile, progress
from bench.common import summary_ms as ms
from bench.feed_build import SPEC, articles
from syndication.config import load_publisher
from syndication.embedded_redis import EmbeddedRedis
from syndication.render.feeds import BUILDERS
from syndication.render.partner_copy import PartnerItem, PartnerTerms, partner_copy
from syndication.services.partners import Partners, assemble_partners, pixel_img
from syndication.store.articles import ArticleStore
from syndication.store.partners import PartnerCopyStore, PartnerStore

ITEMS = 50
RUNS = 100
WARMUP = 5
RATIO = 2.0
REFERENCE_UNIT = "ms (public feed from Redis, same 50 items, median)"
FORMATS = ("rss", "atom", "json")
PREFIX = "bench-partner:"
PUBLIC_URL = "https://syndication.example"
SECRET = "bench-secret-" + "x" * 32
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)

COLD_ROWS = tuple(
    RowSpec(
        f"partner feed build (cold process, stored copies): {fmt}, 50 items",
        "ms",
        REFERENCE_UNIT,
        Target("<=", RATIO, "×"),
    )
    for fmt in FORMATS
)
WARM_ROWS = tuple(
    RowSpec(f"partner feed build: {fmt}, 50 items", "ms", REFERENCE_UNIT, Target("<=", RATIO, "×"))
    for fmt in FORMATS
)
BUILDER_ROWS = tuple(
    RowSpec(
        f"partner feed build (stored copies, builder basis): {fmt}, 50 items",
        "ms",
        "ms (public builder alone, articles in memory, median)",
    )
    for fmt in FORMATS
)
MADE_ROWS = tuple(
    RowSpec(
        f"partner feed build (every copy made, none stored): {fmt}, 50 items", "ms", REFERENCE_UNIT
    )
    for fmt in FORMATS
)


def measure(
    public: Callable[[], bytes], partner: Callable[[], bytes], before: Callable[[], None]
) -> tuple[list[float], list[float]]:
    """Partner and public timings, alternating; ``before`` runs off the clock each time."""
    for _ in range(WARMUP):
        before()
        public()
        partner()
    values: list[float] = []
    references: list[float] = []
    clock = time.perf_counter
    for _ in range(RUNS):
        before()
        t0 = clock()
        partner()
        t1 = clock()
        public()
        t2 = clock()
        values.append(t1 - t0)
        references.append(t2 - t1)
    return values, references


def run(stack: Stack | None = None) -> list[Row]:
    with EmbeddedRedis() as server:
        client = redis.Redis.from_url(server.url)
        try:
            return _run(client)
        finally:
            client.close()


def _run(client: redis.Redis) -> list[Row]:
    publisher = load_publisher(CONFIG)
    store = ArticleStore(client, PREFIX)
    partners = PartnerStore(client, PREFIX)
    copies = PartnerCopyStore(client, PREFIX)
    for article in articles(ITEMS):
        store.upsert(article, NOW)

    def service() -> Partners:
        return assemble_partners(
            partners, store, copies, publisher, PUBLIC_URL, SECRET, items=ITEMS
        )

    setup = service()
    partner, _ = setup.keys.add("Bench outlet", now=NOW)
    for article_id in store.latest_ids(ITEMS):
        setup.copies.prepare_copies(article_id)  # what the partners.prepare_copies task runs
    items = store.latest(ITEMS)
    stored = store.get_many(store.latest_ids(ITEMS))
    assert len(items) == ITEMS == len(stored)
    check = service()
    doc = check.feeds.feed(partner, "all", "rss", NOW)
    assert doc is not None and len(doc.versions) == ITEMS, "every bench article is CC BY-NC"
    assert check.copies.copy_counts == {"stored": ITEMS}, check.copies.copy_counts

    spec = dataclasses.replace(SPEC, name="partners/all", attributed=True)
    terms = PartnerTerms.of(commercial=False)
    pixel = setup.pixel.url(partner.id, items[0].id)
    progress(f"partner feed build: {ITEMS} articles, {RUNS} runs per format and row")
    rows: list[Row] = []
    for n, fmt in enumerate(FORMATS):
        build = BUILDERS[fmt][1]
        fresh: list[Partners] = [service()]
        warm = service()

        def public(fmt: str = fmt) -> bytes:
            return BUILDERS[fmt][1](SPEC, store.latest(ITEMS))

        def cold(fmt: str = fmt, fresh: list[Partners] = fresh) -> bytes:
            found = fresh[0].feeds.feed(partner, "all", fmt, NOW)
            assert found is not None
            return found.body

        def new_service(fresh: list[Partners] = fresh) -> None:
            fresh[0] = service()

        def memoised(fmt: str = fmt, warm: Partners = warm) -> bytes:
            found = warm.feeds.feed(partner, "all", fmt, NOW)
            assert found is not None
            return found.body

        def builder_public(build: Callable[..., bytes] = build) -> bytes:
            return build(SPEC, items)

        def builder_partner(
            build: Callable[..., bytes] = build, fresh: list[Partners] = fresh
        ) -> bytes:
            out = []
            for copy in fresh[0].copies.copies(stored, False):
                if isinstance(copy, PartnerItem):
                    body = copy.article.body_html + pixel_img(pixel)
                    out.append(copy.article.model_copy(update={"body_html": body}))
            return build(spec, out)

        def made(build: Callable[..., bytes] = build) -> bytes:
            out = []
            for article in store.latest(ITEMS):
                copy = partner_copy(article, terms, publisher)
                if isinstance(copy, PartnerItem):
                    body = copy.article.body_html + pixel_img(pixel)
                    out.append(copy.article.model_copy(update={"body_html": body}))
            return build(spec, out)

        for row_spec, partner_build, public_build, before in (
            (COLD_ROWS[n], cold, public, new_service),
            (WARM_ROWS[n], memoised, public, lambda: None),
            (BUILDER_ROWS[n], builder_partner, builder_public, new_service),
            (MADE_ROWS[n], made, public, lambda: None),
        ):
            values, references = measure(public_build, partner_build, before)
            value = percentile(values, 50) * 1000
            reference = percentile(references, 50) * 1000
            progress(f"  {fmt:<4} {row_spec.name.partition(':')[0]}")
            progress(f"  {fmt:<4} partner {ms(values)}")
            progress(f"  {fmt:<4} public  {ms(references)}  ratio {value / reference:.2f}×")
            row = row_spec.measured(value, reference)
            if row_spec.target is not None:
                bound = Target("<=", round(RATIO * reference, 3), f"ms ({RATIO:g}× public)")
                row = Row(row.name, value, row.unit, reference, row.reference_unit, bound)
            rows.append(row)
        # The cold runs really read every copy and made none.
        assert fresh[0].copies.copy_counts == {"stored": ITEMS}, fresh[0].copies.copy_counts
    return rows


BENCH = Bench("partner feed build time", (*COLD_ROWS, *WARM_ROWS, *BUILDER_ROWS, *MADE_ROWS), run)

if __name__ == "__main__":  # quick look without the stack: python -m bench.partner_feed
    for row in run():
        ratio = row.ratio or 0.0
        target = f"  target {row.target}  {'ok' if row.ok else 'MISSED'}" if row.target else ""
        print(
            f"{row.name:<68} {row.value:7.2f} ms  public {row.reference:6.2f} ms  "
            f"{ratio:.2f}×{target}"
        )
