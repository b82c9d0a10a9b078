"""Ingesting from files and polled sources: parse, normalise, then accept each article.

Both use cases end in ``ArticleService.accept``, which stores first and announces after,
and recognises a repeat by content hash; so importing or polling the same content twice
fires no event. A poll saves the source's validators only after its items were accepted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from syndication.clock import system_clock
from syndication.config import Publisher
from syndication.identity import NotOwner, for_feed_item, for_url
from syndication.ingest.files import expand_paths, load_path
from syndication.ingest.guard import DEADLINE_S, Resolver, policy_for, system_resolver
from syndication.ingest.normalise import IngestError
from syndication.ingest.poll import (
    KINDS,
    MAX_BYTES,
    detect_kind,
    fetch,
    parse_response,
    request_url,
)
from syndication.services.articles import ArticleService
from syndication.store.articles import Outcome
from syndication.store.poll_state import PollState, PollStateStore


@dataclass
class PollReport:
    """What one poll did: ``outcomes`` by article id; ``errors`` are skipped items."""

    url: str
    kind: str
    not_modified: bool = False
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "kind": self.kind,
            "not_modified": self.not_modified,
            "outcomes": {k: v.value for k, v in self.outcomes.items()},
            "errors": self.errors,
        }


@dataclass
class ImportReport:
    """What a file import did: ``outcomes`` by article id; ``errors`` one line per bad file."""

    files: int = 0
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "outcomes": {k: v.value for k, v in self.outcomes.items()},
            "errors": self.errors,
        }


@dataclass
class IngestService:
    articles: ArticleService
    publisher: Publisher
    poll_state: PollStateStore
    clock: Callable[[], datetime] = system_clock
    max_bytes: int = MAX_BYTES
    # A poll's total deadline when its source is not configured (a configured source has
    # its own ``deadline_s``); measured on ``monotonic``, DNS answers from ``resolve``.
    deadline_s: float = DEADLINE_S
    monotonic: Callable[[], float] = time.monotonic
    resolve: Resolver = system_resolver

    def import_file(self, path: Path, url: str | None = None) -> dict[str, Outcome]:
        """Accept every article in one file; raises ``IngestError`` naming the file."""
        errors: list[str] = []
        outcomes = self._import_file(path, url, errors)
        if errors:
            raise IngestError("; ".join(errors))
        return outcomes

    def _import_file(self, path: Path, url: str | None, errors: list[str]) -> dict[str, Outcome]:
        """Accept each article of one file as the publisher's, by its canonical URL (the
        file's ``id`` is only the preferred id of a new one); an article another source
        owns is refused into ``errors`` and the rest of the file goes on."""
        outcomes: dict[str, Outcome] = {}
        for article in load_path(path, self.publisher, url, now=self.clock()):
            try:
                written = self.articles.submit(article, for_url(article.url, article.id or None))
            except NotOwner as exc:
                errors.append(f"{path}: {article.url}: refused: {exc}")
                continue
            outcomes[written.article.id] = written.outcome
        return outcomes

    def import_paths(
        self,
        paths: Iterable[Path],
        url: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> ImportReport:
        """Import files and directories; a bad file is reported and the rest go on.

        ``progress(done, total)`` is called before the first file and after each one.
        """
        report = ImportReport()
        files = expand_paths(paths)
        if url is not None and len(files) != 1:
            raise IngestError("--url names the original of one file; give exactly one file")
        if progress:
            progress(0, len(files))
        for done, path in enumerate(files, 1):
            report.files += 1
            try:
                report.outcomes.update(self._import_file(path, url, report.errors))
            except IngestError as exc:
                report.errors.append(str(exc))
            if progress:
                progress(done, len(files))
        return report

    def poll(self, url: str, kind: str = "auto") -> PollReport:
        """Fetch ``url`` if it changed since the last poll and accept its items.

        Raises ``IngestError`` when the source cannot be fetched in time or is not a feed,
        ``Refused`` when it (or a redirect) leads where the source may not go (guard.py):
        nothing is stored then. Items that do not validate are skipped, listed in ``errors``.
        """
        if kind not in KINDS:
            raise IngestError(f"{url}: unknown source kind {kind!r} (use {', '.join(KINDS)})")
        state = self.poll_state.get(url)
        target = request_url(url, kind)
        fetched = fetch(
            target,
            policy_for(url, self.publisher, self.deadline_s),
            etag=state.etag if state else None,
            last_modified=state.last_modified if state else None,
            max_bytes=self.max_bytes,
            monotonic=self.monotonic,
            resolve=self.resolve,
        )
        if fetched.not_modified:
            self.poll_state.touch(url, self.clock())
            return PollReport(url, kind, not_modified=True)
        resolved = detect_kind(target, kind, fetched)
        parsed = parse_response(fetched, resolved, self.publisher, now=self.clock())
        report = PollReport(url, resolved, errors=parsed.errors)
        # The source is the URL as configured (not where redirects ended): its items are
        # its own (the publisher's for a source configured ``own``), named by their guid
        # (else link); another source's article is refused item by item and the poll goes on.
        own = any(s.own and s.url == url for s in self.publisher.sources)
        for article, source_id in zip(parsed.articles, parsed.source_ids, strict=True):
            identity = for_feed_item(url, article.url, source_id, own=own)
            try:
                written = self.articles.submit(article, identity)
            except NotOwner as exc:
                report.errors.append(f"{article.url}: refused: {exc}")
                continue
            report.outcomes[written.article.id] = written.outcome
        self.poll_state.save(
            PollState(url, fetched.etag, fetched.last_modified, checked_at=self.clock())
        )
        return report
