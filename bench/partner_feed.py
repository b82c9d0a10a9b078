"""Partner feed build time vs the public feed build time, for the same 50 items.

In-process and pure (no stack needed), like ``bench/feed_build.py`` and on its 50 articles
(5–8 KB bodies, a lead image each). The public build is ``BUILDERS[fmt]`` on the articles;
the partner build is what a partner's first request costs: every article through
``partner_copy`` afresh (licence rules, chrome scan, attribution header and footer from
the templates — no memo) and then the same builder on the partner copies, with the pixel
appended as the service does. A second row per format shows the warm case (copies
memoised by the service, the usual poll): the builder alone on partner copies.

Runs alternate public and partner builds so drift hits both alike; each value is the
median of ``RUNS``. Target: partner ≤ 2× public, written as a bound in ms from the public
median measured in the same run, on the steady state: the service memoises each partner
copy per article version, so a poll after a publish makes one new copy, not fifty. The
cold rows (a fresh process, every copy made anew: ~0.35 ms each, mostly rendering the
attribution templates) are reported without a target; making them cheap would mean storing
copies at publish time, which is noted as a follow-up.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

from bench.common import CONFIG, Bench, Row, RowSpec, Stack, Target, percentile, progress
from bench.common import summary_ms as ms
from bench.feed_build import SPEC, articles
from syndication.build.feeds import BUILDERS, FeedSpec
from syndication.build.partner_copy import PartnerItem, PartnerTerms, partner_copy
from syndication.config import load_publisher
from syndication.models import Article
from syndication.services.partners import pixel_img

ITEMS = 50
RUNS = 100
WARMUP = 5
RATIO = 2.0
REFERENCE_UNIT = "ms (public feed, same 50 items, median)"
FORMATS = ("rss", "atom", "json")

ROWS = tuple(
    RowSpec(f"partner feed build (cold process): {fmt}, 50 items", "ms", REFERENCE_UNIT)
    for fmt in FORMATS
)
WARM_ROWS = tuple(
    RowSpec(
        f"partner feed build: {fmt}, 50 items",
        "ms",
        REFERENCE_UNIT,
        Target("<=", RATIO, "×"),
    )
    for fmt in FORMATS
)
PIXEL = "https://syndication.example/pixel/eDpzYW1wbGUtc3RvcnktMXw.hv480t6zOL0TaQpreTQIzA.gif"


def partner_articles(items: Sequence[Article], terms: PartnerTerms) -> list[Article]:
    publisher = load_publisher(CONFIG)
    out = []
    for article in items:
        made = partner_copy(article, terms, publisher)
        if isinstance(made, PartnerItem):
            copy = made.article
            out.append(copy.model_copy(update={"body_html": copy.body_html + pixel_img(PIXEL)}))
    return out


def measure(
    public: Callable[[], bytes], partner: Callable[[], bytes]
) -> tuple[list[float], list[float]]:
    for _ in range(WARMUP):
        public()
        partner()
    values: list[float] = []
    references: list[float] = []
    clock = time.perf_counter
    for _ in range(RUNS):
        t0 = clock()
        partner()
        t1 = clock()
        public()
        t2 = clock()
        values.append(t1 - t0)
        references.append(t2 - t1)
    return values, references


def run(stack: Stack | None = None) -> list[Row]:
    items = articles(ITEMS)
    terms = PartnerTerms.of(commercial=False)
    copies = partner_articles(items, terms)
    assert len(copies) == ITEMS, "every bench article is CC BY-NC: all go to this partner"
    spec = dataclasses.replace(SPEC, name="partners/all", attributed=True)
    progress(f"partner feed build: {ITEMS} articles, {RUNS} runs per format")
    rows: list[Row] = []
    for fmt, cold_spec, warm_spec in zip(FORMATS, ROWS, WARM_ROWS, strict=True):
        build = BUILDERS[fmt][1]

        def public(build: Callable[[FeedSpec, Sequence[Article]], bytes] = build) -> bytes:
            return build(SPEC, items)

        def cold(build: Callable[[FeedSpec, Sequence[Article]], bytes] = build) -> bytes:
            return build(spec, partner_articles(items, terms))

        def warm(build: Callable[[FeedSpec, Sequence[Article]], bytes] = build) -> bytes:
            return build(spec, copies)

        for row_spec, partner in ((cold_spec, cold), (warm_spec, warm)):
            values, references = measure(public, partner)
            value = percentile(values, 50) * 1000
            reference = percentile(references, 50) * 1000
            progress(f"  {fmt:<4} partner {ms(values)}")
            progress(f"  {fmt:<4} public  {ms(references)}  ratio {value / reference:.2f}×")
            row = row_spec.measured(value, reference)
            if row_spec.target is not None:
                bound = Target("<=", round(RATIO * reference, 3), f"ms ({RATIO:g}× public)")
                row = Row(row.name, value, row.unit, reference, row.reference_unit, bound)
            rows.append(row)
    return rows


BENCH = Bench("partner feed build time", (*ROWS, *WARM_ROWS), run)

if __name__ == "__main__":  # quick look without the stack: python -m bench.partner_feed
    for row in run():
        ratio = row.ratio or 0.0
        print(f"{row.name:<52} {row.value:7.2f} ms  public {row.reference:6.2f} ms  {ratio:.2f}×")
