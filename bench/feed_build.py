"""Feed build time: a 50-item feed in RSS, Atom and JSON Feed vs RSS written with lxml.

In-process and pure (no stack needed): the builders from ``syndication.render.feeds`` on 50
realistic articles (5–8 KB bodies from ``bench.common``, each with a lead image carrying a
caption, credit and licence), newest first, as the feed service passes them.

Reference: the same 50 articles written as RSS 2.0 with ``lxml.etree`` directly and
nothing else — channel (title, link, description, atom:link self, language,
lastBuildDate) and per item title, link, guid, pubDate, description, content:encoded (the
body), dc:creator and category — as a tree, serialised with ``tostring`` (UTF-8, XML
declaration, not indented: our RSS is not indented either). It is the floor for "an RSS
document of this size from Python", so the ratio says what our builder adds on top: text
cleaning, the attribution footer, licences, the lead image (enclosure + Media RSS: ~60%
more elements per item than the reference), archive and hub links — and, for Atom, a
pretty-printed tree (no longer feedgen).

The runs alternate builder and reference (value, reference, value, …) so drift in the
machine's speed hits both alike; each row is the median of ``RUNS``. The harness's
``Target`` compares the value, so the RSS row's "≤ 1.5× the reference" is written as a
bound in ms computed from the reference measured in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from lxml import etree

from bench.common import Bench, Row, RowSpec, Stack, Target, article_data, percentile, progress
from bench.common import summary_ms as ms
from syndication.models import Article
from syndication.render.feeds import BUILDERS, FeedLinks, FeedSpec, feed_updated, item_id

ITEMS = 50
RUNS = 200
WARMUP = 10
RSS_RATIO = 1.5
REFERENCE_UNIT = "ms (same RSS with lxml directly, median)"

RSS = RowSpec(
    "feed build: RSS, 50 items", "ms", REFERENCE_UNIT, Target("<=", RSS_RATIO, "× reference")
)
ATOM = RowSpec("feed build: Atom, 50 items", "ms", REFERENCE_UNIT)
JSON = RowSpec("feed build: JSON Feed, 50 items", "ms", REFERENCE_UNIT)

BASE = "http://127.0.0.1:8000/feeds"
SPEC = FeedSpec(
    name="all",
    title="InSight Crime",
    description="Investigation and analysis of organized crime in Latin America",
    site_url="https://insightcrime.org",
    language="en",
    publisher="InSight Crime",
    licence="CC-BY-NC-4.0",
    links=FeedLinks(
        self_url=f"{BASE}/all.rss",
        alternates={fmt: f"{BASE}/all.{fmt}" for fmt in ("rss", "atom", "json")},
        html_url="https://insightcrime.org/",
        hubs=("https://pubsubhubbub.appspot.com/",),
        prev_archive=f"{BASE}/all.rss?page=2",
    ),
)

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
DC_NS = "http://purl.org/dc/elements/1.1/"


def articles(count: int = ITEMS) -> list[Article]:
    """``count`` realistic articles, newest first, each with a lead image."""
    start = datetime(2026, 11, 1, 12, tzinfo=UTC)
    result = []
    for n in range(count):
        data = article_data("feed", n, start + timedelta(hours=n))
        data["image"] = {
            "url": f"https://insightcrime.org/wp-content/uploads/2026/11/lead-{n}.jpg",
            "caption": f"Security forces at a checkpoint near the border ({n}).",
            "credit": "Photo: Agencia Andina",
            "licence": "CC-BY-4.0",
        }
        result.append(Article.model_validate(data))
    return result[::-1]


def lxml_rss(spec: FeedSpec, items: Sequence[Article]) -> bytes:
    """The reference: the same RSS elements written with lxml.etree, nothing more."""
    nsmap = {"atom": ATOM_NS, "content": CONTENT_NS, "dc": DC_NS}
    rss = etree.Element("rss", version="2.0", nsmap=nsmap)
    channel = etree.SubElement(rss, "channel")
    etree.SubElement(channel, "title").text = spec.title
    etree.SubElement(channel, "link").text = spec.links.html_url
    etree.SubElement(channel, "description").text = spec.description
    etree.SubElement(
        channel,
        f"{{{ATOM_NS}}}link",
        href=spec.links.self_url,
        rel="self",
        type="application/rss+xml",
    )
    etree.SubElement(channel, "language").text = spec.language
    etree.SubElement(channel, "lastBuildDate").text = format_datetime(feed_updated(items))
    for article in items:
        item = etree.SubElement(channel, "item")
        etree.SubElement(item, "title").text = article.title
        etree.SubElement(item, "link").text = article.url
        guid = etree.SubElement(item, "guid", isPermaLink="false")
        guid.text = item_id(article, spec.site_url)
        etree.SubElement(item, "pubDate").text = format_datetime(article.published_at)
        etree.SubElement(item, "description").text = article.summary
        etree.SubElement(item, f"{{{CONTENT_NS}}}encoded").text = article.body_html
        for author in article.authors:
            etree.SubElement(item, f"{{{DC_NS}}}creator").text = author
        for topic in article.topics:
            etree.SubElement(item, "category").text = topic
    document: bytes = etree.tostring(rss, encoding="utf-8", xml_declaration=True)
    return document


Build = Callable[[FeedSpec, Sequence[Article]], bytes]


def measure(
    build: Build, items: Sequence[Article], runs: int = RUNS
) -> tuple[list[float], list[float]]:
    """(builder seconds, reference seconds), alternating the two, after a warm-up."""
    for _ in range(WARMUP):
        build(SPEC, items)
        lxml_rss(SPEC, items)
    values: list[float] = []
    references: list[float] = []
    clock = time.perf_counter
    for _ in range(runs):
        t0 = clock()
        build(SPEC, items)
        t1 = clock()
        lxml_rss(SPEC, items)
        t2 = clock()
        values.append(t1 - t0)
        references.append(t2 - t1)
    return values, references


def run(stack: Stack | None = None) -> list[Row]:
    items = articles()
    size = len(BUILDERS["rss"][1](SPEC, items))
    progress(f"feed build: {ITEMS} articles, RSS document {size / 1024:.0f} KB; {RUNS} runs each")
    rows: list[Row] = []
    for spec, fmt in ((RSS, "rss"), (ATOM, "atom"), (JSON, "json")):
        values, references = measure(BUILDERS[fmt][1], items)
        value = percentile(values, 50) * 1000
        reference = percentile(references, 50) * 1000
        progress(f"  {fmt:<4} builder {ms(values)}")
        progress(f"  {fmt:<4} lxml    {ms(references)}  ratio {value / reference:.2f}×")
        row = spec.measured(value, reference)
        if spec is RSS:  # the target is a ratio: as a bound on the value, from this run
            bound = Target("<=", round(RSS_RATIO * reference, 3), f"ms ({RSS_RATIO:g}× ref)")
            row = Row(row.name, value, row.unit, reference, row.reference_unit, bound)
        rows.append(row)
    return rows


BENCH = Bench("feed build time", (RSS, ATOM, JSON), run)

if __name__ == "__main__":  # quick look without the stack: python -m bench.feed_build
    for row in run():
        ratio = row.ratio or 0.0
        print(f"{row.name:<34} {row.value:7.2f} ms  ref {row.reference:6.2f} ms  {ratio:.2f}×")
