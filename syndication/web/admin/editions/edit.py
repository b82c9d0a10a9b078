"""``GET/POST /admin/editions/{id}/edit``: a draft's intro, featured story and order.

Up/down buttons only show the new order (nothing is saved until "Save"); a save that
finds a newer revision keeps this editor's input and says so (409), and a second save
replaces the other change on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from syndication.store.editions import Edition, EditionStatus
from syndication.store.editorial import MAX_INTRO_CHARS, EditionNotEditable, EditorialConflict
from syndication.web.admin.editions.common import (
    BASE,
    EditionsFace,
    conflict,
    ordered_articles,
)

CONFLICT_MESSAGE = (
    "Someone else saved this edition since you opened the form. Your version "
    "is below, not saved yet: check the edition, then save again to replace theirs."
)


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


def editable(edition: Edition) -> Edition:
    """The edition if it is a draft, else a 409 page."""
    if edition.status is not EditionStatus.DRAFT:
        raise conflict(
            f"Only drafts can be edited; edition {edition.id} is {edition.status.value}."
        )
    return edition


@dataclass(frozen=True)
class Draft:
    """What the edit form shows: the editor's input (or the stored editorial)."""

    intro: str
    featured: str
    order: Sequence[str]
    revision: int


class EditionEditor:
    def __init__(self, face: EditionsFace) -> None:
        self.face = face

    async def edit_form(
        self, request: Request, edition: Edition, draft: Draft, error: str = "", status: int = 200
    ) -> Response:
        articles = await run_in_threadpool(ordered_articles, self.face.service, draft.order)
        return self.face.page(
            request,
            "edition_edit.html",
            status=status,
            title=f"Edit edition {edition.id}",
            edition=edition,
            intro=draft.intro,
            intro_max=MAX_INTRO_CHARS,
            revision=draft.revision,
            featured=draft.featured,
            articles=articles,
            error=error,
        )

    async def edit_page(self, request: Request, edition_id: str) -> Response:
        edition = editable(await self.face.load(edition_id))
        editorial = await run_in_threadpool(self.face.service.editorial, edition_id)
        draft = Draft(
            intro=editorial.intro,
            featured=editorial.featured or "",
            order=list(editorial.order) or list(edition.article_ids),
            revision=editorial.revision,
        )
        return await self.edit_form(request, edition, draft)

    async def edit_save(self, request: Request, edition_id: str) -> Response:
        face = self.face
        form = await face.kit.form(request)
        edition = editable(await face.load(edition_id))
        editorial = await run_in_threadpool(face.service.editorial, edition_id)
        current = list(editorial.order) or list(edition.article_ids)
        raw_revision = str(form.get("revision", ""))
        revision = int(raw_revision) if raw_revision.isdigit() else None
        order, error = apply_positions(current, form)
        draft = Draft(
            intro=str(form.get("intro", "")),
            featured=str(form.get("featured", "")),
            order=order,
            revision=editorial.revision if revision is None else revision,
        )
        if error:
            return await self.edit_form(request, edition, replace(draft, order=current), error, 422)
        command = str(form.get("move", ""))
        if command:
            # An up/down button: show the new order; nothing is saved until "Save".
            return await self.edit_form(
                request, edition, replace(draft, order=move(order, command))
            )
        return await self.save(request, edition_id, edition, draft, revision)

    async def save(
        self,
        request: Request,
        edition_id: str,
        edition: Edition,
        draft: Draft,
        revision: int | None,
    ) -> Response:
        """Store the draft (``revision``: the one the form was opened on, if it said)."""
        face = self.face
        try:
            await run_in_threadpool(
                partial(
                    face.service.edit,
                    edition_id,
                    intro=draft.intro,
                    featured=draft.featured or None,
                    order=list(draft.order),
                    now=face.kit.now(),
                    expected_revision=revision,
                )
            )
        except EditionNotEditable as exc:
            raise conflict(f"{exc}.") from None
        except EditorialConflict as exc:
            # Someone saved since this form was opened: keep this editor's input and let a
            # second Save (now against the newer revision) replace the other change on purpose.
            newer = replace(draft, revision=exc.revision)
            return await self.edit_form(request, edition, newer, CONFLICT_MESSAGE, 409)
        except ValueError as exc:
            return await self.edit_form(request, edition, draft, str(exc), 422)
        return face.kit.redirect(f"{BASE}/{edition_id}", flash="Saved the edition's changes.")


def add_routes(router: APIRouter, face: EditionsFace) -> None:
    pages = EditionEditor(face)
    router.add_api_route(BASE + "/{edition_id}/edit", pages.edit_page, methods=["GET"])
    router.add_api_route(BASE + "/{edition_id}/edit", pages.edit_save, methods=["POST"])
