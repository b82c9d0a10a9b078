"""What the editions pages share: the rules (which action from which status), progress
counts, the size meter, and ``EditionsFace`` (the kit and the digest service, with the
page, loading an edition and the 409 refusal)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from syndication.models import Article
from syndication.render import digest_email
from syndication.services.digests import FREQUENCIES, DigestService
from syndication.store.editions import Edition, EditionStatus
from syndication.web.admin.kit import AdminError, AdminKit

BASE = "/admin/editions"
PAGE_SIZE = 20
REPORT_LIMIT = 200  # failed / uncertain recipients listed on the detail page
LIVE_POLL_MS = 2000
S = EditionStatus

#: Which statuses each action starts from (the store refuses anything else anyway).
ALLOWED: dict[str, tuple[EditionStatus, ...]] = {
    "pause": (S.SENDING, S.DRAFT),
    "resume": (S.PAUSED,),
    "approve": (S.DRAFT,),
    "cancel": (S.SENDING, S.PAUSED, S.DRAFT),
    "edit": (S.DRAFT,),
    "resend": (S.SENDING, S.PAUSED, S.DONE),  # uncertain entries; a done edition reopens
}
FLASH = {
    "pause": "Paused: senders stop before their next message.",
    "resume": "Resumed: sending continues.",
    "approve": "Approved: the edition is being sent now.",
    "cancel": "Cancelled: nothing more is sent; messages already sent stay sent.",
}
FINAL_STATES = ("sent", "failed", "uncertain", "cancelled")
COUNT_NAMES = ("pending", "sending", "sent", "failed", "uncertain", "cancelled", "total")
RESEND_MAX = 1000  # uncertain entries resent by one confirmation (the form carries their ids)
RESEND_RISK = (
    "These readers may already have this message. An entry is uncertain when the mail "
    "server took the whole message and the connection dropped before its reply, or when a "
    "sender stopped in the middle of the transaction. Sending it again may deliver it twice."
)


def allowed_actions(status: EditionStatus) -> frozenset[str]:
    """The buttons to show for an edition in ``status``."""
    return frozenset(name for name, start in ALLOWED.items() if status in start)


def progress(edition: Edition) -> dict[str, Any]:
    """Counts, how many reached a final state, and that as a whole percentage."""
    counts = {name: int(edition.counts.get(name, 0)) for name in COUNT_NAMES}
    finished = sum(counts[s] for s in FINAL_STATES)
    total = counts["total"]
    percent = (finished * 100 // total) if total else (100 if edition.finished_at else 0)
    return {
        "id": edition.id,
        "status": edition.status.value,
        "counts": counts,
        "finished": finished,
        "percent": percent,
        "live": edition.status is EditionStatus.SENDING,
    }


@dataclass(frozen=True)
class SizeMeter:
    """An HTML part's size against Gmail's clip limit, for the bar under the preview."""

    size: int
    limit: int = digest_email.GMAIL_CLIP_BYTES
    budget: int = digest_email.SIZE_BUDGET

    @property
    def percent(self) -> int:
        return round(self.size * 100 / self.limit)

    @property
    def over_budget(self) -> bool:
        return self.size > self.budget

    @property
    def clipped(self) -> bool:
        return self.size > self.limit

    @property
    def label(self) -> str:
        return f"{self.size:,} of {self.limit:,} bytes ({self.percent} %)"


@dataclass(frozen=True)
class SegmentChoice:
    """One entry of the segment picker."""

    id: str
    language: str
    topics: tuple[str, ...]
    recipients: int | None = None

    @property
    def label(self) -> str:
        topics = ", ".join(self.topics) or "all topics"
        who = "" if self.recipients is None else f" — {self.recipients:,} recipients"
        return f"{self.language} · {topics}{who}"


def ordered_articles(service: DigestService, ids: Sequence[str]) -> list[Article]:
    """The stored articles for ``ids``, in that order (missing ones left out)."""
    stored = service.articles.get_many(list(ids))
    by_id = {s.article.id: s.article for s in stored}
    return [by_id[i] for i in ids if i in by_id]


Row = tuple[str, str, str]


def with_emails(
    service: DigestService, edition_id: str, *tables: Mapping[str, str]
) -> tuple[list[Row], ...]:
    """(subscriber id, email, reason) rows for each table of details (failed, uncertain,
    repeated …), the addresses from the edition's frozen recipient list."""

    def rows(details: Mapping[str, str]) -> list[Row]:
        frozen = service.editions.recipients(edition_id, list(details))
        emails = {r.subscriber_id: r.email for r in frozen}
        return [(sid, emails.get(sid, ""), reason) for sid, reason in details.items()]

    return tuple(rows(details) for details in tables)


def conflict(message: str) -> AdminError:
    """The 409 page of a click that lost a race or came too late."""
    return AdminError(409, f"{message} Nothing was changed.", title="Not possible now")


def known(frequency: str) -> str:
    """``frequency`` if there is such a digest, else a 404 page."""
    if frequency not in FREQUENCIES:
        raise AdminError(404, f"There is no {frequency[:40]!r} frequency.")
    return frequency


@dataclass(frozen=True)
class EditionsFace:
    """The editions pages' dependencies: the admin kit and the digest service."""

    kit: AdminKit
    service: DigestService

    def page(self, request: Request, template: str, **values: Any) -> HTMLResponse:
        """``kit.page`` whose CSP also lets the page frame our own sandboxed previews."""
        response = self.kit.page(request, template, active="editions", **values)
        csp = response.headers.get("Content-Security-Policy", "")
        if csp and "frame-src" not in csp:
            response.headers["Content-Security-Policy"] = csp + "; frame-src 'self'"
        return response

    async def load(self, edition_id: str) -> Edition:
        """The edition, else a 404 page."""
        edition = await run_in_threadpool(self.service.status, edition_id)
        if edition is None:
            raise AdminError(404, f"There is no edition {edition_id!r}.", title="No such edition")
        return edition
