"""Creating an edition: choose its articles, freeze its recipients, start or schedule it.

``create_edition`` takes the articles published since the previous edition of the same
frequency that no edition of it included yet (by article id, so a back-dated or late
article is neither lost nor sent twice), freezes the active subscribers of that frequency
with the segment (language, topics) each belongs to, and is idempotent per (frequency,
period): the slot is taken with SET NX, the record with HSETNX, recipients with HSETNX.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from syndication.events import Events
from syndication.models import Article
from syndication.render import digest_email
from syndication.render.digest_selection import (
    FREQUENCIES,
    PERIOD_LENGTH,
    newest_first,
    period_of,
    segment_articles,
)
from syndication.services.digests.freezing import freeze
from syndication.services.digests.results import Created
from syndication.services.digests.settings import MailSettings
from syndication.services.digests.templates import SegmentTemplates
from syndication.store.articles import ArticleStore, State
from syndication.store.editions import (
    Edition,
    EditionStatus,
    EditionStore,
    Policy,
)
from syndication.store.editorial import EditorialStore
from syndication.store.subscriber_mailing import MailingList
from syndication.store.subscribers import SubscriberStore

log = logging.getLogger(__name__)


class EditionCreator:
    """One edition per (frequency, period), and a preview of the next one."""

    def __init__(
        self,
        *,
        editions: EditionStore,
        articles: ArticleStore,
        subscribers: SubscriberStore,
        editorials: EditorialStore,
        templates: SegmentTemplates,
        events: Events,
        mail: MailSettings,
        tz: ZoneInfo,
    ) -> None:
        self.editions = editions
        self.articles = articles
        self.subscribers = subscribers
        self.editorials = editorials
        self.templates = templates
        self.events = events
        self.mail = mail
        self.tz = tz

    def candidates(
        self, frequency: str, now: datetime, since: datetime | None = None
    ) -> list[Article]:
        """Published articles since the previous edition, not yet in an edition of ``frequency``.

        ``since`` widens the window (a first edition that should reach back further, the
        demo's sample articles); articles already in an edition of ``frequency`` stay out.
        """
        previous = self.editions.latest_of(frequency)
        length = PERIOD_LENGTH[frequency]
        if since is not None:
            start = since
        elif previous is not None:
            start = min(previous.created_at, now - length) - length  # overlap: ids dedupe
        else:
            start = now - length
        ids = self.articles.ids_between(start, now)
        seen = self.editions.included(frequency, (start - length).timestamp())
        fresh = [i for i in ids if i not in seen]
        stored = self.articles.get_many(fresh)
        return newest_first([s.article for s in stored if s.state is State.PUBLISHED])

    def edition_id_for(self, frequency: str, now: datetime) -> str:
        return f"{frequency}-{period_of(frequency, now, self.tz)}"

    def create_edition(
        self,
        frequency: str,
        now: datetime,
        *,
        start: bool = True,
        policy: Policy | None = None,
        since: datetime | None = None,
        send_at: datetime | None = None,
    ) -> Created:
        """One edition per (frequency, period), whoever calls and however often.

        ``since``: take articles published from then on instead of since the previous
        edition (see ``candidates``); the edition is still one per period. ``send_at``:
        leave a draft that ``start_due_drafts`` starts at that time (editors may edit and
        approve it before); written before the draft exists, so no draft is left without it.
        """
        if send_at is not None:
            start = False
        if frequency not in FREQUENCIES:
            raise ValueError(f"unknown frequency {frequency!r}")
        period = period_of(frequency, now, self.tz)
        edition_id = self.editions.reserve(f"{frequency}-{period}", frequency, period)
        existing = self.editions.get(edition_id)
        if existing is not None and existing.status is not EditionStatus.CREATING:
            return Created(edition_id, False, "exists", existing)
        if existing is None:
            articles = self.candidates(frequency, now, since)
            if not articles:
                # Release the slot so a later call in the same period may still make one.
                self.editions.release_period(frequency, period)
                return Created(None, False, "no new articles")
            ids = [a.id for a in articles]
            self.editions.init(edition_id, frequency, period, ids, policy or self.mail.policy, now)
        edition = self.editions.get(edition_id)
        assert edition is not None
        self._freeze(edition)
        if send_at is not None:
            self.editorials.schedule(edition_id, send_at)
        status = self.editions.finish_creation(edition_id, start, now)
        edition = self.editions.get(edition_id)
        if status is EditionStatus.SENDING:
            self.events.send_edition(edition_id, 0.0, self.mail.fanout)
        log.info("edition created", extra={"edition": edition_id, "status": status.value})
        return Created(edition_id, True, "created", edition)

    def create_scheduled(self, frequency: str, now: datetime) -> Created:
        """What beat runs: with an approval window (``digest_approval_minutes``) a draft
        that sends itself at ``now + window`` unless an editor approves it sooner; without,
        an edition that starts at once."""
        window = self.mail.approval_window
        if window > timedelta(0):
            return self.create_edition(frequency, now, start=False, send_at=now + window)
        return self.create_edition(frequency, now)

    def _freeze(self, edition: Edition) -> None:
        """The edition's recipients, read and written in chunks (see ``freezing``)."""
        stored = self.articles.get_many(list(edition.article_ids))
        articles = newest_first([s.article for s in stored if s.state is State.PUBLISHED])

        def write(lines: list[str], segments: dict[str, str]) -> None:
            self.editions.add_lines(edition.id, lines, segments)

        readers = MailingList(self.subscribers)
        freeze(readers, edition.frequency, articles, self.mail.max_articles, write)

    def preview(self, frequency: str, now: datetime) -> dict[str, Any]:
        """The next edition as it stands: segments, sizes, and warnings.

        ``active`` counts every active reader of ``frequency``; ``recipients`` only those
        whose segment has articles. A segment with none is listed in ``empty`` and warned
        about: "0 recipients" with active readers otherwise looks like a lost list.
        """
        articles = self.candidates(frequency, now)
        counts: dict[tuple[str, tuple[str, ...]], int] = {}
        for reader in MailingList(self.subscribers).iter_mailable(frequency):
            key = (reader.language, tuple(sorted(reader.topics.split())))
            counts[key] = counts.get(key, 0) + 1
        segments: list[dict[str, Any]] = []
        empty: list[dict[str, Any]] = []
        warnings: list[str] = []
        for (language, topics), n in sorted(counts.items()):
            name = f"{frequency}/{language}" + (f"/{','.join(topics)}" if topics else "")
            ids = segment_articles(articles, language, topics, self.mail.max_articles)
            if not ids:
                empty.append({"language": language, "topics": list(topics), "readers": n})
                warnings.append(f"{n} reader(s) of {name} get nothing: no articles in the period")
                continue
            segment = self._preview_segment(frequency, language, topics, articles, ids, now)
            segments.append(segment | {"recipients": n})
            size = segment["html_size"]
            if size > digest_email.SIZE_BUDGET:
                clip = " (Gmail will clip it)" if size > digest_email.GMAIL_CLIP_BYTES else ""
                warnings.append(
                    f"segment {language}/{','.join(topics) or 'all'}: HTML is {size:,} bytes, "
                    f"over the {digest_email.SIZE_BUDGET:,} budget{clip}"
                )
        return {
            "frequency": frequency,
            "period": period_of(frequency, now, self.tz),
            "articles": [a.id for a in articles],
            "active": sum(counts.values()),
            "recipients": sum(s["recipients"] for s in segments),
            "segments": segments,
            "empty": empty,
            "warnings": warnings,
        }

    def _preview_segment(
        self,
        frequency: str,
        language: str,
        topics: tuple[str, ...],
        articles: list[Article],
        ids: tuple[str, ...],
        now: datetime,
    ) -> dict[str, Any]:
        """One segment's message as the preview shows it (subject and sizes)."""
        wanted = set(ids)
        chosen = [a for a in articles if a.id in wanted]
        template = self.templates.build(
            f"preview-{frequency}", frequency, language, topics, chosen, now
        )
        return {
            "language": language,
            "topics": list(topics),
            "articles": list(ids),
            "subject": template.subject,
            "html_size": int(template.html_size),
            "message_size": int(template.size),
        }
