"""/admin/editions: watch, steer, edit and preview digest editions.

A thin face over ``DigestService``: every change is one service call, so the CLI, the
workers and these pages share one set of rules. The pages show only the buttons the
edition's status allows, but the authority is the store's atomic ``set_status``: a click
that lost a race (a sender finished, another operator paused) ends in a 409 page and
changes nothing.

Uncertain entries (the server may have the message: the connection dropped after DATA, or
a sender died mid-transaction) are never sent again by the default policy. The edition page
lets the operator choose some (or all) and resend them, after a confirmation page that
states the risk of a duplicate; the entry's detail then says "resent by admin at …".

The email preview is never placed inside the admin page: it is served on its own URL
with ``Content-Security-Policy: sandbox`` and shown in a ``<iframe sandbox>``, so a
hostile article body can neither run script nor reach the operator's session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from syndication.build import email as mail_build
from syndication.models import Article
from syndication.services.digests import (
    FREQUENCIES,
    DigestService,
    SegmentPreview,
    SegmentSpec,
)
from syndication.store.editions import Edition, EditionStatus, EntryState
from syndication.store.editorial import (
    MAX_INTRO_CHARS,
    EditionNotEditable,
    EditorialConflict,
)
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
    limit: int = mail_build.GMAIL_CLIP_BYTES
    budget: int = mail_build.SIZE_BUDGET

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


def apply_positions(ids: Sequence[str], form: Mapping[str, object]) -> tuple[list[str], str | None]:
    """The order the editor asked for with the ``position-<id>`` fields (1 = first).

    Ties keep the current order, so typing one article's new number is enough. Returns
    (order, error): a position that is not a whole number comes back as a message.
    """
    keyed = []
    for index, article_id in enumerate(ids):
        raw = str(form.get(f"position-{article_id}", "")).strip()
        if not raw:
            keyed.append((index + 1, index, article_id))
            continue
        try:
            keyed.append((int(raw), index, article_id))
        except ValueError:
            return list(ids), f"position {raw[:20]!r} is not a whole number"
    return [article_id for _, _, article_id in sorted(keyed)], None


def move(ids: Sequence[str], command: str) -> list[str]:
    """``up:<id>`` / ``down:<id>``: the no-JavaScript reordering buttons."""
    order = list(ids)
    direction, _, article_id = command.partition(":")
    if article_id not in order or direction not in ("up", "down"):
        return order
    i = order.index(article_id)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(order):
        order[i], order[j] = order[j], order[i]
    return order


def next_segment_preview(
    service: DigestService, frequency: str, now: datetime, segment_id: str | None
) -> tuple[list[SegmentChoice], SegmentPreview | None]:
    """The next edition of ``frequency`` as it stands, one segment rendered.

    Built with the same pure renderer the sender uses (``render_digest``); the links
    point at placeholder pages because no subscriber is involved yet.
    """
    plan = service.preview(frequency, now)
    choices = []
    specs = {}
    recipients: dict[str, int] = {}
    for seg in plan["segments"]:
        spec = SegmentSpec(seg["language"], tuple(seg["topics"]), tuple(seg["articles"]))
        specs[spec.id] = spec
        recipients[spec.id] = int(seg["recipients"])
        choices.append(SegmentChoice(spec.id, spec.language, spec.topics, seg["recipients"]))
    if not choices:
        return choices, None
    if segment_id is not None and segment_id not in specs:
        raise AdminError(404, f"The next {frequency} edition has no segment {segment_id[:40]!r}.")
    chosen = specs[segment_id or choices[0].id]
    segment = mail_build.DigestSegment(
        edition_id=f"preview-{frequency}",
        frequency=frequency,
        language=chosen.language,
        topics=chosen.topics,
        articles=tuple(ordered_articles(service, chosen.article_ids)),
    )
    rendered = mail_build.render_digest(segment, service.publisher, service.public_url, now)
    base = service.public_url.rstrip("/")
    html, text = rendered.fill(f"{base}/unsubscribe/preview", f"{base}/preferences/preview")
    preview = SegmentPreview(
        segment_id=chosen.id,
        language=chosen.language,
        topics=chosen.topics,
        recipients=recipients[chosen.id],
        subject=rendered.subject,
        html=html,
        text=text,
        html_size=rendered.html_size,
        clipped=rendered.clipped,
        over_budget=rendered.over_budget,
    )
    return choices, preview


def sandboxed(html: str) -> Response:
    """The email's HTML on its own, unable to run script or act as our origin."""
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": "sandbox; frame-ancestors 'self'",
            "X-Frame-Options": "SAMEORIGIN",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def make_router(kit: AdminKit) -> APIRouter:
    """The editions pages; every route needs a signed-in operator (``kit.require``)."""
    router = kit.router(dependencies=[Depends(kit.require)])
    service: DigestService = kit.ctx.digests

    def page(request: Request, template: str, **values: Any) -> HTMLResponse:
        """``kit.page`` whose CSP also lets the page frame our own sandboxed previews."""
        response = kit.page(request, template, active="editions", **values)
        csp = response.headers.get("Content-Security-Policy", "")
        if csp and "frame-src" not in csp:
            response.headers["Content-Security-Policy"] = csp + "; frame-src 'self'"
        return response

    async def load(edition_id: str) -> Edition:
        edition = await run_in_threadpool(service.status, edition_id)
        if edition is None:
            raise AdminError(404, f"There is no edition {edition_id!r}.", title="No such edition")
        return edition

    def conflict(message: str) -> AdminError:
        return AdminError(409, f"{message} Nothing was changed.", title="Not possible now")

    @router.get(BASE)
    async def editions(request: Request, page_no: int = Query(1, alias="page", ge=1)) -> Response:
        total = await run_in_threadpool(service.editions.count)
        offset = (page_no - 1) * PAGE_SIZE
        ids = await run_in_threadpool(service.editions.ids, PAGE_SIZE, True, offset)
        rows = []
        for edition_id in ids:
            edition = await run_in_threadpool(service.status, edition_id)
            if edition is not None:
                rows.append({"edition": edition, "progress": progress(edition)})
        return page(
            request,
            "editions.html",
            title="Editions",
            rows=rows,
            page_no=page_no,
            pages=max(1, -(-total // PAGE_SIZE)),
            total=total,
            frequencies=FREQUENCIES,
        )

    def known(frequency: str) -> str:
        if frequency not in FREQUENCIES:
            raise AdminError(404, f"There is no {frequency[:40]!r} frequency.")
        return frequency

    def preview_page(
        request: Request,
        title: str,
        edition: Edition | None,
        frequency: str,
        shown: tuple[list[SegmentChoice], SegmentPreview | None],
        here: str,
    ) -> Response:
        """The preview page of a stored edition or of the next one (``edition`` None): the
        picker, the message framed from ``{here}``'s sibling ``message.html``, its size."""
        choices, preview = shown
        return page(
            request,
            "edition_preview.html",
            title=title,
            edition=edition,
            frequency=frequency,
            choices=choices,
            preview=preview,
            meter=SizeMeter(preview.html_size) if preview else None,
            here=here,
            raw_url=here.removesuffix("/preview") + "/message.html",
        )

    @router.get(BASE + "/next/{frequency}")
    async def next_edition(request: Request, frequency: str, segment: str = "") -> Response:
        shown = await run_in_threadpool(
            next_segment_preview, service, known(frequency), kit.now(), segment or None
        )
        here = f"{BASE}/next/{frequency}"
        return preview_page(request, f"Next {frequency} edition", None, frequency, shown, here)

    @router.get(BASE + "/next/{frequency}/message.html")
    async def next_edition_html(frequency: str, segment: str = "") -> Response:
        _, preview = await run_in_threadpool(
            next_segment_preview, service, known(frequency), kit.now(), segment or None
        )
        if preview is None:
            raise AdminError(404, "The next edition has nothing to show yet.")
        return sandboxed(preview.html)

    @router.get(BASE + "/{edition_id}")
    async def edition_page(request: Request, edition_id: str) -> Response:
        edition = await load(edition_id)
        report = await run_in_threadpool(service.report, edition_id, REPORT_LIMIT)
        editorial = await run_in_threadpool(service.editorial, edition_id)
        order = list(editorial.order) or list(edition.article_ids)
        articles = await run_in_threadpool(ordered_articles, service, order)
        failed, uncertain, repeated = await run_in_threadpool(
            with_emails,
            service,
            edition_id,
            report["failed"],
            report["uncertain"],
            report["repeated"],
        )
        return page(
            request,
            "edition.html",
            title=f"Edition {edition_id}",
            edition=edition,
            progress=progress(edition),
            actions=allowed_actions(edition.status),
            editorial=editorial,
            articles=articles,
            failed=failed,
            uncertain=uncertain,
            repeated=repeated,
            report_limit=REPORT_LIMIT,
            poll_ms=LIVE_POLL_MS,
        )

    @router.get(BASE + "/{edition_id}/counts.json")
    async def counts(edition_id: str) -> Response:
        edition = await load(edition_id)
        return JSONResponse(progress(edition), headers={"Cache-Control": "no-store"})

    async def act(request: Request, edition_id: str, action: str) -> Response:
        form = await kit.form(request)
        edition = await load(edition_id)
        if edition.status not in ALLOWED[action]:
            raise conflict(f"Cannot {action} edition {edition_id}: it is {edition.status.value}.")
        if action == "cancel" and form.get("confirm") != "yes":
            return page(
                request,
                "edition_cancel.html",
                title=f"Cancel edition {edition_id}?",
                edition=edition,
                progress=progress(edition),
            )
        now = kit.now()
        steps = {
            "pause": service.pause,
            "resume": service.resume,
            "cancel": service.cancel,
            "approve": service.approve,
        }
        try:
            _, new = await run_in_threadpool(steps[action], edition_id, now)
        except EditionNotEditable:
            new = ""
        if not new:
            current = await run_in_threadpool(service.status, edition_id)
            state = current.status.value if current else "gone"
            raise conflict(f"Cannot {action} edition {edition_id}: it is {state}.")
        return kit.redirect(f"{BASE}/{edition_id}", flash=FLASH[action])

    @router.post(BASE + "/{edition_id}/pause")
    async def pause(request: Request, edition_id: str) -> Response:
        return await act(request, edition_id, "pause")

    @router.post(BASE + "/{edition_id}/resume")
    async def resume(request: Request, edition_id: str) -> Response:
        return await act(request, edition_id, "resume")

    @router.post(BASE + "/{edition_id}/approve")
    async def approve(request: Request, edition_id: str) -> Response:
        return await act(request, edition_id, "approve")

    @router.post(BASE + "/{edition_id}/cancel")
    async def cancel(request: Request, edition_id: str) -> Response:
        return await act(request, edition_id, "cancel")

    @router.post(BASE + "/{edition_id}/resend")
    async def resend(request: Request, edition_id: str) -> Response:
        """Resend chosen uncertain entries: first a page that states the risk and lists
        them (its form carries exactly those ids), then, confirmed, the service call."""
        form = await kit.form(request)
        edition = await load(edition_id)
        if edition.status not in ALLOWED["resend"]:
            raise conflict(
                f"Cannot resend entries of edition {edition_id}: it is {edition.status.value}."
            )
        if form.get("scope") == "all":
            ids = await run_in_threadpool(
                service.editions.members, edition_id, EntryState.UNCERTAIN
            )
        else:
            ids = list(dict.fromkeys(str(v) for v in form.getlist("subscriber")))
        ids = ids[:RESEND_MAX]
        if not ids:
            return kit.redirect(
                f"{BASE}/{edition_id}",
                flash="Nothing was resent: choose at least one uncertain entry.",
            )
        if form.get("confirm") != "yes":
            current = set(
                await run_in_threadpool(service.editions.members, edition_id, EntryState.UNCERTAIN)
            )
            chosen = [i for i in ids if i in current]
            details = await run_in_threadpool(service.editions.details, edition_id, chosen)
            (rows,) = await run_in_threadpool(with_emails, service, edition_id, details)
            return page(
                request,
                "edition_resend.html",
                title=f"Resend uncertain messages of edition {edition_id}?",
                edition=edition,
                progress=progress(edition),
                rows=rows,
                skipped=[i for i in ids if i not in current],
                total_uncertain=len(current),
                risk=RESEND_RISK,
                resend_max=RESEND_MAX,
            )
        report = await run_in_threadpool(
            service.resend_uncertain, edition_id, ids, kit.now(), "admin"
        )
        if not report.resent and report.status not in ALLOWED["resend"]:
            raise conflict(
                f"Cannot resend entries of edition {edition_id}: it is {report.status or 'gone'}."
            )
        skipped = len(report.skipped)
        flash = (
            f"Queued {report.resent:,} uncertain message{'s' if report.resent != 1 else ''} "
            f"to be sent again"
            + (f"; skipped {skipped:,} no longer uncertain" if skipped else "")
            + f". The edition is {report.status}."
        )
        return kit.redirect(f"{BASE}/{edition_id}", flash=flash)

    def editable(edition: Edition) -> Edition:
        if edition.status is not EditionStatus.DRAFT:
            raise conflict(
                f"Only drafts can be edited; edition {edition.id} is {edition.status.value}."
            )
        return edition

    async def edit_form(
        request: Request,
        edition: Edition,
        *,
        intro: str,
        featured: str,
        order: Sequence[str],
        revision: int,
        error: str = "",
        status: int = 200,
    ) -> Response:
        articles = await run_in_threadpool(ordered_articles, service, order)
        return page(
            request,
            "edition_edit.html",
            status=status,
            title=f"Edit edition {edition.id}",
            edition=edition,
            intro=intro,
            intro_max=MAX_INTRO_CHARS,
            revision=revision,
            featured=featured,
            articles=articles,
            error=error,
        )

    @router.get(BASE + "/{edition_id}/edit")
    async def edit_page(request: Request, edition_id: str) -> Response:
        edition = editable(await load(edition_id))
        editorial = await run_in_threadpool(service.editorial, edition_id)
        return await edit_form(
            request,
            edition,
            intro=editorial.intro,
            featured=editorial.featured or "",
            order=list(editorial.order) or list(edition.article_ids),
            revision=editorial.revision,
        )

    @router.post(BASE + "/{edition_id}/edit")
    async def edit_save(request: Request, edition_id: str) -> Response:
        form = await kit.form(request)
        edition = editable(await load(edition_id))
        editorial = await run_in_threadpool(service.editorial, edition_id)
        current = list(editorial.order) or list(edition.article_ids)
        intro = str(form.get("intro", ""))
        featured = str(form.get("featured", ""))
        raw_revision = str(form.get("revision", ""))
        revision = int(raw_revision) if raw_revision.isdigit() else None
        order, error = apply_positions(current, form)
        again = partial(
            edit_form,
            request,
            edition,
            intro=intro,
            featured=featured,
            revision=editorial.revision if revision is None else revision,
        )
        if error:
            return await again(order=current, error=error, status=422)
        command = str(form.get("move", ""))
        if command:
            # An up/down button: show the new order; nothing is saved until "Save".
            return await again(order=move(order, command))
        try:
            await run_in_threadpool(
                partial(
                    service.edit,
                    edition_id,
                    intro=intro,
                    featured=featured or None,
                    order=order,
                    now=kit.now(),
                    expected_revision=revision,
                )
            )
        except EditionNotEditable as exc:
            raise conflict(f"{exc}.") from None
        except EditorialConflict as exc:
            # Someone saved since this form was opened: keep this editor's input and let a
            # second Save (now against the newer revision) replace the other change on purpose.
            message = (
                "Someone else saved this edition since you opened the form. Your version "
                "is below, not saved yet: check the edition, then save again to replace theirs."
            )
            return await edit_form(
                request,
                edition,
                intro=intro,
                featured=featured,
                order=order,
                revision=exc.revision,
                error=message,
                status=409,
            )
        except ValueError as exc:
            return await again(order=order, error=str(exc), status=422)
        return kit.redirect(f"{BASE}/{edition_id}", flash="Saved the edition's changes.")

    @router.get(BASE + "/{edition_id}/preview")
    async def edition_preview(request: Request, edition_id: str, segment: str = "") -> Response:
        edition = await load(edition_id)
        shown = await run_in_threadpool(segment_preview, service, edition, segment or None)
        title = f"Preview of edition {edition_id}"
        here = f"{BASE}/{edition_id}/preview"
        return preview_page(request, title, edition, edition.frequency, shown, here)

    @router.get(BASE + "/{edition_id}/message.html")
    async def preview_html(edition_id: str, segment: str = "") -> Response:
        edition = await load(edition_id)
        _, preview = await run_in_threadpool(segment_preview, service, edition, segment or None)
        if preview is None:
            raise AdminError(404, f"Edition {edition_id} has no segment to show.")
        return sandboxed(preview.html)

    return router


def segment_preview(
    service: DigestService, edition: Edition, segment_id: str | None
) -> tuple[list[SegmentChoice], SegmentPreview | None]:
    """The picker and one rendered segment of a stored edition (None: it has no segment)."""
    ids = service.segment_ids(edition.id)
    segments = service.editions.segments(edition.id)
    choices = [
        SegmentChoice(i, segments[i]["language"], tuple(segments[i]["topics"]))
        for i in ids
        if i in segments
    ]
    if not ids:
        return choices, None
    if segment_id is not None and segment_id not in ids:
        raise AdminError(404, f"Edition {edition.id} has no segment {segment_id[:40]!r}.")
    return choices, service.preview_segment(edition.id, segment_id)


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
