"""What the digest services return: plain records the faces format (text or ``--json``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syndication.services.sending import Tally
from syndication.store.editions import Edition, EditionStore


def require_edition(editions: EditionStore, edition_id: str) -> Edition:
    """The edition, or LookupError naming it."""
    edition = editions.get(edition_id)
    if edition is None:
        raise LookupError(f"no edition {edition_id}")
    return edition


@dataclass(frozen=True)
class SegmentPreview:
    """One segment of an edition as its subscribers get it (placeholder personal links).

    ``html`` and ``text`` are the parts of the very message the senders personalise;
    ``html_size`` counts every personal link at its longest, like the send-time checks.
    ``recipients`` is None while the edition is still being created.
    """

    segment_id: str
    language: str
    topics: tuple[str, ...]
    recipients: int | None
    subject: str
    html: str
    text: str
    html_size: int
    clipped: bool  # over GMAIL_CLIP_BYTES: Gmail shows "[Message clipped]"
    over_budget: bool  # over SIZE_BUDGET
    article_ids: tuple[str, ...] = ()  # in the order the segment shows them
    revision: int = 0  # the editorial revision it reflects


@dataclass(frozen=True)
class Created:
    edition_id: str | None
    created: bool  # False: it existed already (a retried task, a second beat) or nothing new
    reason: str = ""
    edition: Edition | None = None


@dataclass
class BatchReport:
    edition_id: str
    sent: int = 0
    failed: int = 0
    retried: int = 0
    uncertain: int = 0
    released: int = 0
    deferred: int = 0  # handed back for later: their domain was paused or out of tokens
    hard_bounced: int = 0
    suppressed: int = 0
    replayed: int = 0  # outcomes written again after Redis restarted
    repeated: int = 0  # entries that may have reached the reader twice (reported)
    status: str = ""
    due_in: float | None = None
    drained: bool = False  # the run stopped for a shutdown (SIGTERM)
    durability: str = ""

    @classmethod
    def of(cls, edition_id: str, tally: Tally, durability: str) -> BatchReport:
        fields = {k: v for k, v in tally.__dict__.items() if k in cls.__dataclass_fields__}
        return cls(edition_id, **fields, durability=durability)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ResendReport:
    edition_id: str
    resent: int
    skipped: list[str]  # ids that were not uncertain (already sent, failed, unknown …)
    status: str  # the edition's status after it ('' or unchanged when refused)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RecoverReport:
    edition_id: str
    uncertain: int
    requeued: int
    kicked: bool
    stale: bool
    next_check_in: float | None
    active: bool = False  # still sending with work left: worth looking at again soon
