"""Digest editions: create one per frequency and period, send it through the ledger, recover.

- settings.py: ``MailSettings``, delivery settings mapped from ``Settings``.
- creation.py: ``EditionCreator``, choosing the articles and freezing the recipients.
- templates.py: ``SegmentTemplates``, each segment's message template in one typed LRU.
- editorial.py: ``EditorialDesk``, editing, previewing and approving draft editions.
- control.py: ``EditionControl``, pause, resume, cancel, resend the uncertain, recover, report.
- retention.py: ``EditionRetention``, compacting finished editions (and their archive).
- dispatch.py: ``Dispatcher``, ``send_batch`` over the send engine in services/sending.py.
- facade.py: ``Digests``, all of them wired together under the faces' method names.
- wiring.py: ``make_digest_service`` (called by ``Context.digests``) and ``load_dkim_key``.

The pure selection (periods, segments, the editorial order) is in render/digest_selection.py.
Nothing here imports Celery: ``Events.send_edition`` (syndication/events.py) is how
sending work is queued.
"""

from syndication.render.digest_selection import (
    FREQUENCIES,
    PERIOD_LENGTH,
    SegmentSpec,
    arrange,
    period_of,
    segment_articles,
)
from syndication.services.digests.facade import Digests, DigestService
from syndication.services.digests.results import (
    BatchReport,
    Created,
    RecoverReport,
    ResendReport,
    SegmentPreview,
)
from syndication.services.digests.settings import MAX_COUNTDOWN, MailSettings
from syndication.services.digests.wiring import DKIM_KEY_VAR, load_dkim_key, make_digest_service
from syndication.store.editorial import EditionNotEditable, Editorial, EditorialConflict

__all__ = [
    "DKIM_KEY_VAR",
    "FREQUENCIES",
    "MAX_COUNTDOWN",
    "PERIOD_LENGTH",
    "BatchReport",
    "Created",
    "DigestService",
    "Digests",
    "EditionNotEditable",
    "Editorial",
    "EditorialConflict",
    "MailSettings",
    "RecoverReport",
    "ResendReport",
    "SegmentPreview",
    "SegmentSpec",
    "arrange",
    "load_dkim_key",
    "make_digest_service",
    "period_of",
    "segment_articles",
]
