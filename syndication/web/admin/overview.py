"""``/admin``: headline counts for every area, the latest edition, and charts.

The charts are SVG drawn on the server (``render/charts.py``), each with its numbers in a
table. Their history comes from the daily snapshots (``services/daily_stats.py``), which
opening this page refreshes (at most every ten minutes); sends per edition come from the
editions' own counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from syndication.render.charts import Chart, Series, legend, svg
from syndication.services.daily_stats import Day
from syndication.services.deliverability import Rates
from syndication.store.editions import Edition
from syndication.web.admin.kit import AdminKit

EDITIONS_SCANNED = 500  # editions whose status is counted (newest first)
CHART_DAYS = 30
CHART_EDITIONS = 12
#: Gmail, Yahoo and Microsoft refuse bulk senders whose complaint rate passes 0.3 %.
COMPLAINT_LIMIT = 0.3


@dataclass(frozen=True)
class Overview:
    articles: dict[str, int]
    subscribers: dict[str, Any]
    editions: dict[str, int]
    editions_total: int
    feeds: int
    partners: dict[str, int]
    latest_edition: Edition | None
    deliverability: Rates | None = None  # the last 30 days' bounce and complaint rates
    charts: tuple[Chart, ...] = ()


def article_counts(kit: AdminKit) -> dict[str, int]:
    store = kit.ctx.article_store
    published = store.count()
    total = store.count_all()
    return {"published": published, "withdrawn": max(0, total - published), "total": total}


def collect(kit: AdminKit) -> Overview:
    ctx = kit.ctx
    editions = ctx.edition_store
    partners = ctx.partners.store.all()
    latest_ids = editions.ids(1)
    return Overview(
        articles=article_counts(kit),
        subscribers=ctx.subscriber_store.counts(),
        editions=editions.status_counts(EDITIONS_SCANNED),
        editions_total=editions.count(),
        feeds=len(ctx.article_store.feed_catalog()),
        partners={
            "active": sum(1 for p in partners if p.active),
            "revoked": sum(1 for p in partners if not p.active),
            "total": len(partners),
        },
        latest_edition=editions.get(latest_ids[0]) if latest_ids else None,
        deliverability=ctx.deliverability.last_days(),
        charts=charts(kit),
    )


def charts(kit: AdminKit) -> tuple[Chart, ...]:
    stats = kit.ctx.daily_stats
    now = kit.now()
    stats.snapshot(now)
    days = stats.series(now.date(), CHART_DAYS)
    return (
        subscribers_chart(days),
        sends_chart(kit),
        rates_chart(days),
        feeds_chart(days),
        partners_chart(kit, days),
    )


def _labels(days: list[Day]) -> tuple[str, ...]:
    return tuple(d.day.strftime("%m-%d") for d in days)


def _values(days: list[Day], name: str) -> tuple[float | None, ...]:
    return tuple(d.values.get(name) for d in days)


def subscribers_chart(days: list[Day]) -> Chart:
    return Chart(
        id="ch-subscribers",
        title="Subscribers by state",
        desc=f"Subscribers at the end of each of the last {len(days)} days, by state.",
        labels=_labels(days),
        series=tuple(
            Series(state.capitalize(), _values(days, f"subscribers_{state}"), colour)
            for state, colour in (
                ("confirmed", "#009e73"),
                ("pending", "#e69f00"),
                ("unsubscribed", "#7f7f7f"),
            )
        ),
        kind="lines",
    )


def sends_chart(kit: AdminKit) -> Chart:
    store = kit.ctx.edition_store
    editions = [e for e in (store.get(i) for i in store.ids(CHART_EDITIONS)) if e is not None]
    editions.reverse()  # oldest first, as time runs
    return Chart(
        id="ch-sends",
        title="Recipients per edition",
        desc=f"Sent, failed and uncertain recipients of the last {len(editions)} editions.",
        labels=tuple(f"{e.frequency[0].upper()} {e.period}" for e in editions),
        series=tuple(
            Series(state.capitalize(), tuple(float(e.counts.get(state, 0)) for e in editions), c)
            for state, c in (("sent", "#0072b2"), ("failed", "#d55e00"), ("uncertain", "#e69f00"))
        ),
    )


def _rate(day: Day, name: str) -> float | None:
    sent, count = day.values.get("emails_sent"), day.values.get(name)
    if not sent or count is None:
        return None
    return 100 * count / sent


def rates_chart(days: list[Day]) -> Chart:
    return Chart(
        id="ch-rates",
        title="Bounce and complaint rates",
        desc=(
            "Hard bounces and complaints per day as a share of the digest emails sent that "
            f"day, against the {COMPLAINT_LIMIT} % complaint limit of Gmail, Yahoo and "
            "Microsoft. Counted from the suppression list."
        ),
        labels=_labels(days),
        series=(
            Series("Bounces", tuple(_rate(d, "bounces") for d in days), "#d55e00"),
            Series("Complaints", tuple(_rate(d, "complaints") for d in days), "#cc79a7"),
        ),
        kind="lines",
        unit="%",
        threshold=COMPLAINT_LIMIT,
        threshold_label=f"{COMPLAINT_LIMIT} % limit",
    )


def feeds_chart(days: list[Day]) -> Chart:
    fresh = tuple(
        None if r is None or n is None else float(r - n)
        for r, n in zip(
            _values(days, "feed_requests"), _values(days, "feed_not_modified"), strict=True
        )
    )
    return Chart(
        id="ch-feeds",
        title="Feed requests per day",
        desc="Feed requests answered with the feed (200) or Not Modified (304), per day.",
        labels=_labels(days),
        series=(
            Series("200 (full feed)", fresh, "#0072b2"),
            Series("304 (not modified)", _values(days, "feed_not_modified"), "#56b4e9"),
        ),
        extra_name="304 share",
        extra=tuple(
            "–" if not r or n is None else f"{100 * n / r:.0f} %"
            for r, n in zip(
                _values(days, "feed_requests"), _values(days, "feed_not_modified"), strict=True
            )
        ),
    )


def partners_chart(kit: AdminKit, days: list[Day]) -> Chart:
    """From the partner store's own per-day pull counters (kept 400 days), not snapshots."""
    store = kit.ctx.partners.store
    pulls = tuple(float(sum(store.pulls(d.day).values())) for d in days)
    return Chart(
        id="ch-partners",
        title="Partner pulls per day",
        desc="Partner feed requests per day, all partners together.",
        labels=_labels(days),
        series=(Series("Pulls", pulls, "#009e73"),),
    )


def make_router(kit: AdminKit) -> APIRouter:
    router = kit.router(dependencies=[Depends(kit.require)])

    @router.get("/admin")
    async def overview(request: Request) -> Response:
        data = await run_in_threadpool(collect, kit)
        return kit.page(
            request,
            "overview.html",
            title="Overview",
            active="overview",
            o=data,
            svg=svg,
            legend=legend,
        )

    return router
