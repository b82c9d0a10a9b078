"""Small charts as SVG built on the server: no JavaScript, no CDN, nothing fetched.

Pure: a ``Chart`` (labels, series, an optional threshold line) in, SVG text out. Every piece
of text that reaches the SVG (title, description, labels, series names) is escaped here; the
numbers are formatted by us. The SVG carries ``role="img"`` with ``<title>`` and ``<desc>``,
and the page shows the same numbers as a table (``Chart.rows``): the chart is a picture of
the table, never the only copy of the data. The viewBox scales to the container's width,
so a chart never makes a page scroll sideways.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28
#: Colour-blind-safe defaults (Okabe–Ito), used in order when a series names none.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]  # None: not known for that label (a gap)
    colour: str = ""


@dataclass(frozen=True)
class Chart:
    """``kind`` is ``bars`` (stacked when several series) or ``lines``."""

    id: str
    title: str
    desc: str
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    kind: str = "bars"
    unit: str = ""  # "%" formats values as percentages
    threshold: float | None = None
    threshold_label: str = ""
    #: One more column for the table only (e.g. a share), one cell per label.
    extra_name: str = ""
    extra: tuple[str, ...] = ()

    def fmt(self, value: float | None) -> str:
        if value is None:
            return "–"
        if self.unit == "%":
            return f"{value:.2f} %"
        return f"{value:,.0f}"

    @property
    def rows(self) -> list[tuple[str, list[str]]]:
        """The table: one row per label, one cell per series."""
        return [
            (label, [self.fmt(s.values[i]) for s in self.series] + list(self.extra[i : i + 1]))
            for i, label in enumerate(self.labels)
        ]

    @property
    def columns(self) -> list[str]:
        return [s.name for s in self.series] + ([self.extra_name] if self.extra_name else [])

    @property
    def empty(self) -> bool:
        return not any(v for s in self.series for v in s.values)


def _colour(series: Series, index: int) -> str:
    return series.colour or PALETTE[index % len(PALETTE)]


def _nice_max(value: float) -> float:
    """The axis top: 1, 2, 2.5 or 5 times a power of ten, at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _top(chart: Chart) -> float:
    if chart.kind == "bars":
        peak = max(
            (sum(s.values[i] or 0 for s in chart.series) for i in range(len(chart.labels))),
            default=0.0,
        )
    else:
        peak = max((v or 0 for s in chart.series for v in s.values), default=0.0)
    if chart.threshold is not None:
        peak = max(peak, chart.threshold * 1.25)
    if chart.unit != "%":
        peak = max(peak, 4)  # whole numbers: four grid steps of at least one
    return _nice_max(peak)


def _axes(chart: Chart, top: float) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    out = []
    for step in range(5):
        value = top * step / 4
        y = TOP + plot_h - plot_h * step / 4
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(chart.fmt(value))}</text>"
        )
    n = len(chart.labels)
    every = max(1, math.ceil(n / MAX_X_LABELS))
    for i, label in enumerate(chart.labels):
        if (n - 1 - i) % every == 0:  # counted from the newest, so it always has a label
            out.append(
                f'<text x="{_x_centre(i, n):.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    return out


def _x_centre(i: int, n: int) -> float:
    band = (WIDTH - LEFT - RIGHT) / max(n, 1)
    return LEFT + band * (i + 0.5)


def _y(value: float, top: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return TOP + plot_h - plot_h * (value / top)


def _bars(chart: Chart, top: float) -> list[str]:
    n = len(chart.labels)
    band = (WIDTH - LEFT - RIGHT) / max(n, 1)
    width = max(band * 0.7, 1.0)
    out = []
    for i in range(n):
        base = 0.0
        for index, series in enumerate(chart.series):
            value = series.values[i] or 0
            if value <= 0:
                continue
            y0, y1 = _y(base, top), _y(base + value, top)
            out.append(
                f'<rect x="{_x_centre(i, n) - width / 2:.1f}" y="{y1:.1f}" width="{width:.1f}" '
                f'height="{y0 - y1:.1f}" fill="{_colour(series, index)}"/>'
            )
            base += value
    return out


def _lines(chart: Chart, top: float) -> list[str]:
    n = len(chart.labels)
    out = []
    for index, series in enumerate(chart.series):
        colour = _colour(series, index)
        runs: list[list[str]] = [[]]
        for i, value in enumerate(series.values):
            if value is None:
                runs.append([])
                continue
            x, y = _x_centre(i, n), _y(value, top)
            runs[-1].append(f"{x:.1f},{y:.1f}")
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>')
        for run in runs:
            if len(run) > 1:
                out.append(
                    f'<polyline points="{" ".join(run)}" fill="none" '
                    f'stroke="{colour}" stroke-width="2"/>'
                )
    return out


def _threshold(chart: Chart, top: float) -> list[str]:
    if chart.threshold is None:
        return []
    y = _y(chart.threshold, top)
    return [
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="limit"/>'
        f'<text x="{WIDTH - RIGHT}" y="{y - 4:.1f}" text-anchor="end" class="limit-label">'
        f"{escape(chart.threshold_label)}</text>"
    ]


def svg(chart: Chart) -> str:
    """The chart as an inline ``<svg>`` element (every text escaped)."""
    top = _top(chart)
    body = _axes(chart, top)
    body += _bars(chart, top) if chart.kind == "bars" else _lines(chart, top)
    body += _threshold(chart, top)
    ident = escape(chart.id)
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{ident}-t {ident}-d" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{ident}-t">{escape(chart.title)}</title>'
        f'<desc id="{ident}-d">{escape(chart.desc)}</desc>' + "".join(body) + "</svg>"
    )


def legend(chart: Chart) -> Sequence[tuple[str, str]]:
    """(name, colour) per series, for the key under the chart."""
    return [(s.name, _colour(s, i)) for i, s in enumerate(chart.series)]
