"""Editorial: what editors do to a draft edition before it goes out (store/editorial.py).

While an edition is a draft, editors set an intro, a featured story and the order
(``edit``), look at each segment (``preview_segment``) and send it (``approve``). With
``digest_approval_minutes`` the scheduled edition waits as a draft until ``send_at`` and
``start_due_drafts`` starts it. The segment templates (templates.py) apply the editorial
(``arrange``) and key their cache on the record's revision.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import logging
from collections.abc import Sequence
from datetime import datetime

from syndication.config import Publisher
from syndication.events import Events
from syndication.render import digest_email
from syndication.render.digest_selection import SegmentSpec, check_order
from syndication.services.digests.results import SegmentPreview, require_edition
from syndication.services.digests.settings import MailSettings
from syndication.services.digests.templates import Lru, SegmentTemplates
from syndication.store.editions import Edition, EditionStatus, EditionStore
from syndication.store.editorial import (
    EditionNotEditable,
    Editorial,
    EditorialConflict,
    EditorialStore,
    clean_intro,
)

log = logging.getLogger(__name__)


class EditorialDesk:
    """Edit, preview, approve and schedule draft editions."""

    def __init__(
        self,
        *,
        editions: EditionStore,
        editorials: EditorialStore,
        templates: SegmentTemplates,
        events: Events,
        mail: MailSettings,
        publisher: Publisher,
        public_url: str,
    ) -> None:
        self.editions = editions
        self.editorials = editorials
        self.templates = templates
        self.events = events
        self.mail = mail
        self.publisher = publisher
        self.public_url = public_url
        # Recipients per segment: the frozen list no longer changes once created.
        self._segment_counts: Lru[str, dict[str, int]] = Lru(32)

    def editorial(self, edition_id: str) -> Editorial:
        """The edition's editorial record (empty, revision 0, until someone edits it)."""
        require_edition(self.editions, edition_id)
        return self.editorials.get(edition_id)

    def edit(
        self,
        edition_id: str,
        *,
        intro: str,
        featured: str | None,
        order: Sequence[str],
        now: datetime,
        edited_by: str = "",
        expected_revision: int | None = None,
    ) -> Editorial:
        """Save the editors' intro, featured story and order of a draft edition.

        Raises LookupError (no such edition), EditionNotEditable (not a draft: checked again
        in the same atomic step as the write, so an edit never races the send), ValueError
        (intro too long or with control characters, ``featured`` not one of the edition's
        articles, ``order`` not each of the edition's article ids exactly once) and, with
        ``expected_revision``, EditorialConflict when someone saved since that revision.
        """
        edition = require_edition(self.editions, edition_id)
        if edition.status is not EditionStatus.DRAFT:
            raise EditionNotEditable(edition_id, edition.status.value)
        text = clean_intro(intro)
        featured = (featured or "").strip() or None
        if featured is not None and featured not in edition.article_ids:
            raise ValueError(f"featured article {featured!r} is not in edition {edition_id}")
        chosen = [str(i).strip() for i in order]
        check_order(chosen, edition.article_ids)
        saved = self.editorials.save(
            edition_id,
            intro=text,
            featured=featured,
            order=chosen,
            edited_by=" ".join(edited_by.split())[:200],
            now=now,
            expected_revision=expected_revision,
        )
        if saved.error == "conflict":
            raise EditorialConflict(edition_id, saved.revision)
        if saved.error:
            raise EditionNotEditable(edition_id, saved.status)
        log.info("edition edited", extra={"edition": edition_id, "revision": saved.revision})
        return self.editorials.get(edition_id)

    def approve(self, edition_id: str, now: datetime) -> tuple[str, str]:
        """Send a draft now: draft → sending (done if it has no recipient), ``send_at``
        cleared, senders queued. Returns (old, new) like ``resume``; new is '' when the
        edition is not a draft (old is '' when there is no such edition)."""
        old, new = self.editorials.start(edition_id, now, due_only=False)
        if new == EditionStatus.SENDING.value:
            self.events.send_edition(edition_id, 0.0, self.mail.fanout)
        return old, new

    def start_due_drafts(self, now: datetime) -> list[str]:
        """Start the drafts whose ``send_at`` has passed (beat, every minute). Each start is
        one atomic step that needs the edition to still be a draft: two beats racing start
        it once, and a draft cancelled or approved meanwhile is left as it is."""
        started = []
        for edition_id in self.editions.ids_with_status(EditionStatus.DRAFT):
            _, new = self.editorials.start(edition_id, now, due_only=True)
            if not new:
                continue
            started.append(edition_id)
            if new == EditionStatus.SENDING.value:
                self.events.send_edition(edition_id, 0.0, self.mail.fanout)
            log.info("scheduled edition started", extra={"edition": edition_id, "status": new})
        return started

    def segment_ids(self, edition_id: str) -> list[str]:
        """The edition's segments: the publisher's language for all topics first, then by
        language and topics."""
        primary = self.publisher.language.split("-")[0].lower()
        specs = {
            sid: SegmentSpec.from_json(raw)
            for sid, raw in self.editions.segments(edition_id).items()
        }

        def rank(sid: str) -> tuple[bool, str, bool, tuple[str, ...]]:
            spec = specs[sid]
            own = spec.language.split("-")[0].lower() == primary
            return (not own, spec.language, bool(spec.topics), spec.topics)

        return sorted(specs, key=rank)

    def preview_segment(self, edition_id: str, segment_id: str | None = None) -> SegmentPreview:
        """One segment's message exactly as built for its subscribers, with placeholder
        personal links (``segment_id`` None: the first of ``segment_ids``). LookupError for
        an unknown edition or segment."""
        edition = require_edition(self.editions, edition_id)
        ids = self.segment_ids(edition_id)
        if segment_id is None:
            if not ids:
                raise LookupError(f"edition {edition_id} has no segments (no recipients)")
            segment_id = ids[0]
        elif segment_id not in ids:
            raise LookupError(f"edition {edition_id} has no segment {segment_id}")
        key, built = self.templates.segment(edition, segment_id)
        raw = self.editions.segment(edition_id, segment_id)
        assert raw is not None
        spec = SegmentSpec.from_json(raw)
        recipient = digest_email.make_recipient(
            "subscriber@example.org", "preview", "preview", edition_id, self.public_url
        )
        msg = email.message_from_bytes(
            digest_email.personalise(built.template, recipient), policy=email.policy.default
        )
        assert isinstance(msg, email.message.EmailMessage)
        html, text = msg.get_body(("html",)), msg.get_body(("plain",))
        size = int(built.template.html_size)
        counts = self._recipient_counts(edition)
        return SegmentPreview(
            segment_id=segment_id,
            language=spec.language,
            topics=spec.topics,
            recipients=None if counts is None else counts.get(segment_id, 0),
            subject=str(built.template.subject),
            html=html.get_content() if html is not None else "",
            text=text.get_content() if text is not None else "",
            html_size=size,
            clipped=size > digest_email.GMAIL_CLIP_BYTES,
            over_budget=size > digest_email.SIZE_BUDGET,
            article_ids=built.shown,
            revision=key[2],
        )

    def _recipient_counts(self, edition: Edition) -> dict[str, int] | None:
        """Recipients per segment: one pass over the frozen list, remembered (it no longer
        changes once the edition is created)."""
        if edition.status is EditionStatus.CREATING:
            return None
        known = self._segment_counts.get(edition.id)
        if known is not None:
            return known
        counts: dict[str, int] = {}
        for rcpt in self.editions.iter_recipients(edition.id):
            counts[rcpt.segment] = counts.get(rcpt.segment, 0) + 1
        self._segment_counts.put(edition.id, counts)
        return counts
