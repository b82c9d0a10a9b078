"""Retention: compact editions finished longer ago than ``SYNDICATION_EDITION_RETENTION``.

An edition's per-recipient ledger is what a send needs; once the send is over, operators
need its numbers and the entries that went wrong. ``compact`` keeps those and drops the
rest (store/edition_compaction.py says what exactly and why it is safe against a resend
running meanwhile). With an archive folder, the dropped entries are first written to
``<edition>-<time>.jsonl.gz`` there (one JSON object a line, no manage tokens), fsynced
before anything is dropped; if the edition changed in between, nothing is dropped and
that archive is removed again.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from syndication.store.edition_compaction import Compacted, EditionCompactor
from syndication.store.editions import Edition, EditionStatus, EditionStore

log = logging.getLogger(__name__)

FINISHED = (EditionStatus.DONE, EditionStatus.CANCELLED)


@dataclass(frozen=True)
class CompactReport:
    edition_id: str
    result: str  # compacted, or why not (recent, busy, changed, status:…)
    dropped: int = 0
    archive: str | None = None  # the archive file written, when one was kept

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class EditionRetention:
    """Which finished editions are due for compaction, and compacting them."""

    def __init__(
        self, *, editions: EditionStore, retention: timedelta, archive_dir: Path | None
    ) -> None:
        self.editions = editions
        self.compactor = EditionCompactor(editions)
        self.retention = retention  # timedelta(0): never compacted by the schedule
        self.archive_dir = archive_dir

    def due(self, now: datetime, older_than: timedelta) -> list[Edition]:
        """Finished editions whose end is ``older_than`` ago, not compacted since it."""
        cutoff = now - older_than
        out = []
        for offset in range(0, self.editions.count(), 500):
            for edition_id in self.editions.ids(500, newest_first=False, offset=offset):
                edition = self.editions.get(edition_id)
                if edition is None or edition.status not in FINISHED:
                    continue
                if edition.finished_at is None or edition.finished_at > cutoff:
                    continue
                if edition.compacted_at is None or edition.compacted_at < edition.finished_at:
                    out.append(edition)
        return out

    def scheduled(self, now: datetime) -> list[CompactReport]:
        """What beat runs daily: every due edition, archived where the settings say;
        nothing when retention is off."""
        if self.retention <= timedelta(0):
            return []
        return self.compact(now, older_than=self.retention, archive_dir=self.archive_dir)

    def compact(
        self,
        now: datetime,
        *,
        older_than: timedelta | None = None,
        archive_dir: Path | None = None,
        edition_ids: list[str] | None = None,
    ) -> list[CompactReport]:
        """Compact the due editions (or the ``edition_ids`` named, if due); one report each."""
        age = self.retention if older_than is None else older_than
        due = self.due(now, age)
        if edition_ids is not None:
            due = [e for e in due if e.id in set(edition_ids)]
        return [self._one(edition, now, now - age, archive_dir) for edition in due]

    def _one(
        self, edition: Edition, now: datetime, cutoff: datetime, archive_dir: Path | None
    ) -> CompactReport:
        archive: Path | None = None
        expected: int | None = None
        if archive_dir is not None:
            expected = edition.counts.get("sent", 0) + edition.counts.get("cancelled", 0)
            archive = self._archive(edition, now, archive_dir)
        done: Compacted = self.compactor.compact(edition.id, cutoff, now, archived=expected)
        if not done.done and archive is not None:
            archive.unlink(missing_ok=True)
            archive = None
        log.info(
            "edition compaction",
            extra={"edition": edition.id, "result": done.result, "dropped": done.dropped},
        )
        kept = str(archive) if archive else None
        return CompactReport(edition.id, done.result, done.dropped, kept)

    def _archive(self, edition: Edition, now: datetime, folder: Path) -> Path:
        """The entries about to be dropped, gzipped JSON lines, on disk before the drop."""
        folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", edition.id)
        stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = folder / f"{safe}-{stamp}.jsonl.gz"
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb") as out:
                for entry in self.compactor.entries_to_drop(edition.id):
                    line = {"edition": edition.id, **entry.to_json()}
                    out.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
            raw.flush()
            os.fsync(raw.fileno())
        tmp.replace(path)
        return path
