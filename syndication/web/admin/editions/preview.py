"""The email previews: the next edition of a frequency as it stands, or a stored one.

The page shows the segment picker and the size meter, and frames the message from its
own URL (``…/message.html``), served with ``Content-Security-Policy: sandbox`` so a hostile
article body can neither run script nor reach the operator's session.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from syndication.render import digest_email
from syndication.services.digests import DigestService, SegmentPreview, SegmentSpec
from syndication.store.editions import Edition
from syndication.web.admin.editions.common import (
    BASE,
    EditionsFace,
    SegmentChoice,
    SizeMeter,
    known,
    ordered_articles,
)
from syndication.web.admin.kit import AdminError

Shown = tuple[list[SegmentChoice], SegmentPreview | None]


def next_segment_preview(
    service: DigestService, frequency: str, now: datetime, segment_id: str | None
) -> Shown:
    """The next edition of ``frequency`` as it stands, one segment rendered.

    Built with the same pure renderer the sender uses (``render_digest``); the links
    point at placeholder pages because no subscriber is involved yet.
    """
    plan = service.preview(frequency, now)
    choices = []
    specs = {}
    for seg in plan["segments"]:
        spec = SegmentSpec(seg["language"], tuple(seg["topics"]), tuple(seg["articles"]))
        specs[spec.id] = (spec, int(seg["recipients"]))
        choices.append(SegmentChoice(spec.id, spec.language, spec.topics, seg["recipients"]))
    if not choices:
        return choices, None
    if segment_id is not None and segment_id not in specs:
        raise AdminError(404, f"The next {frequency} edition has no segment {segment_id[:40]!r}.")
    chosen, recipients = specs[segment_id or choices[0].id]
    return choices, render_next(service, frequency, now, chosen, recipients)


def render_next(
    service: DigestService, frequency: str, now: datetime, chosen: SegmentSpec, recipients: int
) -> SegmentPreview:
    """One segment of the next edition, its links pointing at placeholder pages."""
    segment = digest_email.DigestSegment(
        edition_id=f"preview-{frequency}",
        frequency=frequency,
        language=chosen.language,
        topics=chosen.topics,
        articles=tuple(ordered_articles(service, chosen.article_ids)),
    )
    rendered = digest_email.render_digest(segment, service.publisher, service.public_url, now)
    base = service.public_url.rstrip("/")
    html, text = rendered.fill(f"{base}/unsubscribe/preview", f"{base}/preferences/preview")
    return SegmentPreview(
        segment_id=chosen.id,
        language=chosen.language,
        topics=chosen.topics,
        recipients=recipients,
        subject=rendered.subject,
        html=html,
        text=text,
        html_size=rendered.html_size,
        clipped=rendered.clipped,
        over_budget=rendered.over_budget,
    )


def segment_preview(service: DigestService, edition: Edition, segment_id: str | None) -> Shown:
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


class Previews:
    def __init__(self, face: EditionsFace) -> None:
        self.face = face

    def preview_page(
        self,
        request: Request,
        title: str,
        edition: Edition | None,
        frequency: str,
        shown: Shown,
        here: str,
    ) -> Response:
        """The preview page of a stored edition or of the next one (``edition`` None): the
        picker, the message framed from ``{here}``'s sibling ``message.html``, its size."""
        choices, preview = shown
        return self.face.page(
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

    async def next_shown(self, frequency: str, segment: str) -> Shown:
        service, now = self.face.service, self.face.kit.now()
        return await run_in_threadpool(
            next_segment_preview, service, known(frequency), now, segment or None
        )

    async def next_edition(self, request: Request, frequency: str, segment: str = "") -> Response:
        shown = await self.next_shown(frequency, segment)
        here = f"{BASE}/next/{frequency}"
        return self.preview_page(request, f"Next {frequency} edition", None, frequency, shown, here)

    async def next_edition_html(self, frequency: str, segment: str = "") -> Response:
        _, preview = await self.next_shown(frequency, segment)
        if preview is None:
            raise AdminError(404, "The next edition has nothing to show yet.")
        return sandboxed(preview.html)

    async def edition_preview(
        self, request: Request, edition_id: str, segment: str = ""
    ) -> Response:
        edition = await self.face.load(edition_id)
        shown = await run_in_threadpool(
            segment_preview, self.face.service, edition, segment or None
        )
        title = f"Preview of edition {edition_id}"
        here = f"{BASE}/{edition_id}/preview"
        return self.preview_page(request, title, edition, edition.frequency, shown, here)

    async def preview_html(self, edition_id: str, segment: str = "") -> Response:
        edition = await self.face.load(edition_id)
        _, preview = await run_in_threadpool(
            segment_preview, self.face.service, edition, segment or None
        )
        if preview is None:
            raise AdminError(404, f"Edition {edition_id} has no segment to show.")
        return sandboxed(preview.html)


def add_next_routes(router: APIRouter, face: EditionsFace) -> None:
    """The next edition's preview: before ``/{edition_id}/…``, which would match it too."""
    pages = Previews(face)
    router.add_api_route(BASE + "/next/{frequency}", pages.next_edition, methods=["GET"])
    router.add_api_route(
        BASE + "/next/{frequency}/message.html", pages.next_edition_html, methods=["GET"]
    )


def add_routes(router: APIRouter, face: EditionsFace) -> None:
    pages = Previews(face)
    router.add_api_route(BASE + "/{edition_id}/preview", pages.edition_preview, methods=["GET"])
    router.add_api_route(BASE + "/{edition_id}/message.html", pages.preview_html, methods=["GET"])
