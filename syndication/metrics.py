"""The metric families, and their Prometheus text exposition.

The counters live in Redis, so every web and worker process adds to the same numbers:
``syndication/store/metrics.py`` records and reads them (and the worker heartbeats).

Rendering follows the Prometheus text exposition format 0.0.4 (HELP/TYPE lines, label
values with ``\\``, ``"`` and newlines escaped, histograms as cumulative ``_bucket``
series with ``le="+Inf"``, ``_sum`` and ``_count``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SEP = "|"
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
HEARTBEAT_TTL = 30  # seconds a worker heartbeat stays fresh
HEARTBEAT_EVERY = 10.0  # seconds between beats (TTL/3: two missed beats still fresh)


@dataclass(frozen=True)
class Family:
    name: str  # without the ``syndication_`` namespace
    help: str
    kind: str  # counter | histogram
    labels: tuple[str, ...] = ()

    @property
    def metric(self) -> str:
        return f"syndication_{self.name}"


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "articles_ingested_total", "Articles accepted, by outcome.", "counter", ("outcome",)
        ),
        Family("feed_documents_built_total", "Feed documents whose bytes changed.", "counter"),
        Family(
            "feed_items_skipped_total",
            "Stored articles left out of a feed rebuild (per feed), by stage: read or build.",
            "counter",
            ("stage",),
        ),
        Family("feed_requests_total", "Feed requests, by HTTP status.", "counter", ("status",)),
        Family(
            "feed_requests_by_feed_total",
            "Requests answered 200 or 304 per feed (all formats).",
            "counter",
            ("feed",),
        ),
        Family(
            "feed_not_modified_by_feed_total",
            "304 answers per feed (all formats).",
            "counter",
            ("feed",),
        ),
        Family(
            "partner_requests_total",
            "Partner feed requests, by HTTP status.",
            "counter",
            ("status",),
        ),
        Family("emails_total", "Digest emails, by outcome.", "counter", ("outcome",)),
        Family(
            "digest_clicks_total",
            "Digest story clicks: counted, discarded (a scanner's), canary (scanner hits).",
            "counter",
            ("outcome",),
        ),
        Family(
            "confirmation_emails_total", "Confirmation emails, by outcome.", "counter", ("outcome",)
        ),
        Family(
            "webhook_deliveries_total",
            "Event webhook delivery attempts, by outcome (delivered, retry, failed, refused).",
            "counter",
            ("outcome",),
        ),
        Family(
            "task_runs_total", "Celery task runs, by task and state.", "counter", ("task", "state")
        ),
        Family("task_duration_seconds", "Celery task run time.", "histogram", ("task",)),
    )
}


def field_of(family: Family, labels: Sequence[str]) -> str:
    if len(labels) != len(family.labels):
        raise ValueError(f"{family.name} takes labels {family.labels}, got {tuple(labels)}")
    return SEP.join(str(v).replace(SEP, "/") for v in labels)


def bucket_of(seconds: float) -> str:
    for bound in BUCKETS:
        if seconds <= bound:
            return repr(bound)
    return "+Inf"


# -- exposition ---------------------------------------------------------------------------
def escape_label(value: str) -> str:
    """Label values: backslash, double quote and line feed escaped (exposition format)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(value)


def render(
    stored: dict[str, dict[str, float]],
    gauges: Sequence[tuple[str, str, dict[tuple[tuple[str, str], ...], float]]] = (),
) -> str:
    """The text exposition of ``stored`` (from ``Metrics.read``) and extra ``gauges``
    ((name, help, {label pairs: value})) computed at scrape time."""
    out: list[str] = []
    for name, family in FAMILIES.items():
        values = stored.get(name, {})
        out.append(f"# HELP {family.metric} {escape_help(family.help)}")
        out.append(f"# TYPE {family.metric} {family.kind}")
        if family.kind == "counter":
            if not family.labels and not values:
                out.append(f"{family.metric} 0")
            for field, value in sorted(values.items()):
                labelled = zip(
                    family.labels, field.split(SEP) if family.labels else [], strict=True
                )
                out.append(f"{family.metric}{_labels(labelled)} {_number(value)}")
        else:
            out.extend(_histogram(family, values))
    for name, help_text, series in gauges:
        metric = f"syndication_{name}"
        out.append(f"# HELP {metric} {escape_help(help_text)}")
        out.append(f"# TYPE {metric} gauge")
        for pairs, value in sorted(series.items()):
            out.append(f"{metric}{_labels(pairs)} {_number(value)}")
    return "\n".join(out) + "\n"


def _histogram(family: Family, values: dict[str, float]) -> list[str]:
    per: dict[str, dict[str, float]] = {}
    for field, value in values.items():
        base, _, suffix = field.rpartition(SEP)
        per.setdefault(base, {})[suffix] = value
    lines: list[str] = []
    for base in sorted(per):
        got = per[base]
        pairs = list(zip(family.labels, base.split(SEP), strict=True))
        running = 0.0
        for bound in (*(repr(b) for b in BUCKETS), "+Inf"):
            running += got.get(f"le={bound}", 0.0)
            le = _labels([*pairs, ("le", bound)])
            lines.append(f"{family.metric}_bucket{le} {_number(running)}")
        lines.append(f"{family.metric}_sum{_labels(pairs)} {_number(got.get('sum', 0.0))}")
        lines.append(f"{family.metric}_count{_labels(pairs)} {_number(got.get('count', 0.0))}")
    return lines


def parse_exposition(text: str) -> dict[str, float]:
    """``{'name{a="b"}': value}`` from exposition text: enough to read our own output back
    (tests, ``syndication check``); comments skipped, escapes undone."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        samples[series] = float(value)
    return samples
