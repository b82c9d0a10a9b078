"""Moving lists in and out as CSV, keeping consent timestamps (``subscribers import|export``).

Rows as ``export_csv`` writes them; consent timestamps are kept, never invented. Free-text
cells are neutralised against spreadsheet formulas on the way out and restored on the way in.

Both ways go in batches so a list of a million stays fast and flat in memory: the import
parses ``CHUNK`` rows and hands them to ``SubscriberBulk`` (one atomic script call, same
outcomes as row by row); the export reads ``CHUNK`` records a round trip.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from syndication.clock import system_clock
from syndication.services.subscriptions.model import split_topics
from syndication.store.subscriber_bulk import SubscriberBulk
from syndication.store.subscribers import (
    FREQUENCIES,
    STATUSES,
    UNSUBSCRIBED,
    InvalidEmail,
    Subscriber,
    SubscriberStore,
    Suppression,
    normalise_email,
    valid_language,
    valid_topic,
)

CSV_FIELDS = (
    "email",
    "status",
    "frequency",
    "topics",
    "language",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
    "consent_ip",
    "consent_source",
    "suppressed_reason",
)
_FREE_TEXT = ("consent_source", "suppressed_reason")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 500  # rows a script call; the progress bar moves this often


@dataclass
class ImportReport:
    rows: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[int, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "outcomes": dict(sorted(self.outcomes.items())),
            "errors": [{"line": line, "error": msg} for line, msg in self.errors],
        }


class SubscriberTransfer:
    def __init__(
        self,
        store: SubscriberStore,
        languages: Iterable[str],
        default_frequency: str = "weekly",
        clock: Callable[[], datetime] = system_clock,
    ) -> None:
        self.store = store
        self.languages = tuple(languages)
        self.default_frequency = default_frequency
        self.clock = clock
        self.bulk = SubscriberBulk(store)

    def import_csv(
        self, stream: TextIO, progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Rows as ``export_csv`` writes them; consent timestamps are kept, never invented.

        A ``confirmed`` row needs ``confirmed_at`` (when the person gave consent); a row for
        a suppressed address is skipped; an ``unsubscribed`` row suppresses its address.
        """
        report = ImportReport()
        reader = csv.DictReader(stream)
        if reader.fieldnames is None or "email" not in [f.strip() for f in reader.fieldnames]:
            report.errors.append((1, "the header row must name an 'email' column"))
            return report
        chunk: list[tuple[Subscriber, str]] = []
        for row in reader:
            report.rows += 1
            try:
                chunk.append(self.row_to_record(row))
            except (ValueError, KeyError) as exc:
                report.errors.append((reader.line_num, str(exc)))
                report.outcomes["error"] += 1
            if len(chunk) >= CHUNK:
                self._store_chunk(chunk, report, progress)
                chunk = []
        self._store_chunk(chunk, report, progress)
        return report

    def _store_chunk(
        self,
        chunk: list[tuple[Subscriber, str]],
        report: ImportReport,
        progress: Callable[[int], None] | None,
    ) -> None:
        report.outcomes.update(o.value for o in self.bulk.import_records(chunk))
        if progress is not None:
            progress(report.rows)

    def migrate(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Upgrade records stored in the old format (``SubscriberBulk.migrate``)."""
        return self.bulk.migrate(progress=progress)

    def row_to_record(self, row: dict[str | Any, str | Any]) -> tuple[Subscriber, str]:
        """One CSV row as a ``Subscriber`` and its suppression reason; ValueError says why not."""

        def cell(name: str) -> str:
            value = row.get(name)
            return value.strip() if isinstance(value, str) else ""

        try:
            address = normalise_email(cell("email"))
        except InvalidEmail:
            raise ValueError(f"not an email address: {cell('email')[:80]!r}") from None
        confirmed_at = _parse_time(cell("confirmed_at"), "confirmed_at")
        unsubscribed_at = _parse_time(cell("unsubscribed_at"), "unsubscribed_at")
        status = _status(cell("status").lower(), confirmed_at)
        created_at = _parse_time(cell("created_at"), "created_at") or confirmed_at
        frequency = cell("frequency").lower() or self.default_frequency
        language = cell("language") or (self.languages[0] if self.languages else "en")
        topics = split_topics(cell("topics"))
        _check_choices(frequency, language, topics)
        record = Subscriber(
            id="",
            email=address,
            status=status,
            frequency=frequency,
            topics=topics,
            language=language,
            created_at=created_at or unsubscribed_at or self.clock(),
            confirmed_at=confirmed_at,
            token_version=1,
            consent_ip=cell("consent_ip")[:64],
            consent_source=_csv_unsafe(cell("consent_source"))[:200] or "import",
            unsubscribed_at=unsubscribed_at,
            updated_at=self.clock(),
        )
        return record, _csv_unsafe(cell("suppressed_reason")) or "unsubscribed (import)"

    def export_rows(self) -> Iterator[dict[str, str]]:
        """Every subscriber, then suppressed addresses that have no subscriber record."""
        for sub, sup in self.store.iter_all(batch=CHUNK):
            yield _row(sub, sup if sub.status == UNSUBSCRIBED else None)
        for sup in self.store.iter_lone_suppressions(batch=CHUNK):
            yield {
                **dict.fromkeys(CSV_FIELDS, ""),
                "email": sup.email,
                "status": UNSUBSCRIBED,
                "unsubscribed_at": sup.at.isoformat(),
                "suppressed_reason": sup.reason,
            }

    def export_csv(self, out: TextIO, progress: Callable[[int], None] | None = None) -> int:
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        n = 0
        for row in self.export_rows():
            writer.writerow({k: _csv_safe(v) if k in _FREE_TEXT else v for k, v in row.items()})
            n += 1
            if progress is not None:
                progress(n)
        return n


def _status(text: str, confirmed_at: datetime | None) -> str:
    status = text or ("confirmed" if confirmed_at else "pending")
    if status == "suppressed":
        status = UNSUBSCRIBED
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    if status == "confirmed" and confirmed_at is None:
        raise ValueError("a confirmed row needs confirmed_at (when consent was given)")
    return status


def _check_choices(frequency: str, language: str, topics: tuple[str, ...]) -> None:
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}")
    if not valid_language(language):
        raise ValueError(f"not a language code: {language[:20]!r}")
    for topic in topics:
        if not valid_topic(topic):
            raise ValueError(f"not a topic slug: {topic[:60]!r}")


def _row(sub: Subscriber, sup: Suppression | None) -> dict[str, str]:
    def iso(value: datetime | None) -> str:
        return "" if value is None else value.isoformat()

    return {
        "email": sub.email,
        "status": sub.status,
        "frequency": sub.frequency,
        "topics": " ".join(sub.topics),
        "language": sub.language,
        "created_at": iso(sub.created_at),
        "confirmed_at": iso(sub.confirmed_at),
        "unsubscribed_at": iso(sub.unsubscribed_at),
        "consent_ip": sub.consent_ip,
        "consent_source": sub.consent_source,
        "suppressed_reason": sup.reason if sup else "",
    }


def _csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in free-text cells; import undoes it."""
    return "'" + value if value[:1] in _FORMULA else value


def _csv_unsafe(value: str) -> str:
    return value[1:] if value[:1] == "'" and value[1:2] in _FORMULA else value


def _parse_time(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} is not an ISO 8601 time: {text[:40]!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
