"""Moving lists in and out as CSV, keeping consent timestamps (``subscribers import|export``).

Rows as ``export_csv`` writes them; consent timestamps are kept, never invented. Free-text
cells are neutralised against spreadsheet formulas on the way out and restored on the way in.
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
        for row in reader:
            report.rows += 1
            line = reader.line_num
            try:
                record, reason = self.row_to_record(row)
                outcome = self.store.import_record(record, reason)
            except (ValueError, KeyError) as exc:
                report.errors.append((line, str(exc)))
                report.outcomes["error"] += 1
            else:
                report.outcomes[outcome.value] += 1
            if progress is not None:
                progress(report.rows)
        return report

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
        seen: set[str] = set()
        for sub in self.store.iter_all():
            seen.add(sub.email.lower())
            sup = self.store.suppression(sub.email) if sub.status == UNSUBSCRIBED else None
            yield _row(sub, sup)
        for sup in self.store.iter_suppressed():
            if sup.email.lower() not in seen:
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
