"""Freezing an edition's recipients: every mailable reader with the segment they get.

The freeze reads readers in batches (``MailingList``: one script call a batch) and writes
them to the ledger in chunks (``EditionStore.add_recipients``: one script call a slice).
Both are mostly Redis time, and Redis runs on another core than this process, so a second
thread writes chunk *k* while this one reads and prepares chunk *k + 1*: the Python work
hides behind the server's instead of adding to it. The queue between them holds one chunk,
so memory stays flat (two chunks at most); chunks are written in order, so each chunk's new
segments are stored with or before the first recipients that name them. An error in the
writer stops the freeze at the next hand-over and is raised here; as before, a freeze that
stops half-way leaves an edition in ``creating`` that the next ``create_edition`` call
completes (every write is idempotent).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from syndication.models import Article
from syndication.render.digest_selection import SegmentSpec, segment_articles
from syndication.store.editions import encode_entry, entry_line
from syndication.store.subscriber_mailing import MailingList

#: Recipients handed to the writer at a time (a few ``ADD_SLICE`` scripts): memory stays flat.
FREEZE_CHUNK = 5000

Write = Callable[[list[str], dict[str, str]], object]  # (id TAB entry lines, new segments)


class _Writer:
    """Runs ``write(lines, segments)`` on its own thread, one chunk queued at most."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._queue: queue.Queue[tuple[list[str], dict[str, str]] | None]
        self._queue = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="freeze-writer", daemon=True)
        self._thread.start()

    def put(self, chunk: list[str], segments: dict[str, str]) -> None:
        self._raise()
        self._queue.put((chunk, segments))

    def close(self) -> None:
        """Wait for every queued chunk; raise the writer's error, if it had one."""
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:  # after an error, drain without writing
                try:
                    self._write(*item)
                except BaseException as exc:
                    self._error = exc


def freeze(
    readers: MailingList,
    frequency: str,
    articles: list[Article],
    max_articles: int,
    write: Write,
    chunk_size: int = FREEZE_CHUNK,
) -> None:
    """Every mailable reader of ``frequency`` whose segment has articles, written through
    ``write`` in chunks; each distinct (language, topics) is matched to its segment once."""
    segments: dict[tuple[str, str], str | None] = {}  # → segment id, None: nothing for them
    chunk: list[str] = []  # id TAB entry (EditionStore.add_lines)
    new_segments: dict[str, str] = {}
    writer = _Writer(write)
    try:
        for reader in readers.iter_mailable(frequency):
            key = (reader.language, reader.topics)
            if key not in segments:
                spec = _segment(articles, reader.language, reader.topics, max_articles)
                segments[key] = None if spec is None else spec.id
                if spec is not None:
                    new_segments[spec.id] = spec.to_json()
            segment = segments[key]
            if segment is None:
                continue
            entry = encode_entry(reader.email, segment, reader.token_version)
            chunk.append(entry_line(reader.id, entry))
            if len(chunk) >= chunk_size:
                writer.put(chunk, new_segments)
                chunk, new_segments = [], {}
        if chunk or new_segments:
            writer.put(chunk, new_segments)
    finally:
        writer.close()


def _segment(
    articles: list[Article], language: str, topics: str, max_articles: int
) -> SegmentSpec | None:
    """The segment of readers of ``language`` and ``topics``; None if it has no articles."""
    chosen = tuple(sorted(topics.split()))
    ids = segment_articles(articles, language, chosen, max_articles)
    return SegmentSpec(language, chosen, ids) if ids else None
