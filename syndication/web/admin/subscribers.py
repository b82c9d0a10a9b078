"""``/admin/subscribers``: counts by state and by segment, and a search of the suppression list.

No page lists every address: the counts come from the store's index sizes, the segments
(language × frequency × topics of active subscribers) from one pass over the active sets,
kept for SEGMENT_CACHE_S so reloading the page does not repeat it; addresses appear only
as results of a search. The suppression list is stored in clear (keyed by the lower-cased
address), so an exact address is one lookup and a partial one a scan of the list
(``SubscriberStore.search_suppressed``), stopped after SEARCH_LIMIT hits. A found
suppression shows its reason and date and a button that lifts it (the operator's call:
bounces and complaints are never lifted otherwise).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from syndication.store.subscriber_mailing import MailingList
from syndication.store.subscribers import (
    FREQUENCIES,
    STATUSES,
    InvalidEmail,
    Subscriber,
    SubscriberStore,
    Suppression,
    normalise_email,
)
from syndication.web.admin.kit import AdminKit

SEARCH_LIMIT = 50
MIN_PARTIAL = 3
MAX_QUERY = 254
SEGMENT_CACHE_S = 60.0


@dataclass(frozen=True)
class Segment:
    language: str
    frequency: str
    topics: tuple[str, ...]
    count: int


@dataclass(frozen=True)
class SearchResult:
    query: str
    exact: bool
    suppressions: list[Suppression]
    subscriber: Subscriber | None
    truncated: bool
    error: str = ""


def segments(store: SubscriberStore) -> list[Segment]:
    """Active subscribers grouped by (language, frequency, topics), largest first; read as
    an edition's freeze reads them (``MailingList``: five fields, filtered on the server),
    since the page reads the whole list each time it is opened."""
    counts: Counter[tuple[str, str, tuple[str, ...]]] = Counter()
    readers = MailingList(store)
    for frequency in FREQUENCIES:
        for reader in readers.iter_mailable(frequency):
            counts[(reader.language, frequency, tuple(sorted(reader.topics.split())))] += 1
    return [
        Segment(lang, freq, topics, n)
        for (lang, freq, topics), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def search(store: SubscriberStore, query: str) -> SearchResult:
    """Exact address (it contains ``@`` and is valid) or a part of one (MIN_PARTIAL+ chars)."""
    query = query.strip()[:MAX_QUERY]
    if "@" in query:
        try:
            address = normalise_email(query)
        except InvalidEmail:
            address = ""
        if address:
            found = store.suppression(address)
            sub = store.get_by_email(address)
            return SearchResult(query, True, [found] if found else [], sub, False)
    if len(query) < MIN_PARTIAL:
        return SearchResult(
            query, False, [], None, False, f"Type at least {MIN_PARTIAL} characters."
        )
    hits, truncated = store.search_suppressed(query, SEARCH_LIMIT)
    return SearchResult(query, False, hits, None, truncated)


class _SegmentCache:
    """One pass over the active sets per SEGMENT_CACHE_S, shared by this process's requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = -SEGMENT_CACHE_S
        self._value: list[Segment] = []

    def get(self, store: SubscriberStore, fresh: bool = False) -> list[Segment]:
        with self._lock:
            if fresh or time.monotonic() - self._at >= SEGMENT_CACHE_S:
                self._value = segments(store)
                self._at = time.monotonic()
            return self._value


def make_router(kit: AdminKit) -> APIRouter:
    router = kit.router(dependencies=[Depends(kit.require)])
    store = kit.ctx.subscriber_store
    cache = _SegmentCache()

    def collect(query: str | None, fresh: bool) -> dict[str, Any]:
        return {
            "counts": store.counts(),
            "segments": cache.get(store, fresh),
            "result": search(store, query) if query else None,
        }

    @router.get("/admin/subscribers")
    async def subscribers(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()[:MAX_QUERY]
        fresh = request.query_params.get("fresh") == "1"
        data = await run_in_threadpool(collect, query or None, fresh)
        return kit.page(
            request,
            "subscribers.html",
            title="Subscribers",
            active="subscribers",
            statuses=STATUSES,
            frequencies=FREQUENCIES,
            query=query,
            min_partial=MIN_PARTIAL,
            search_limit=SEARCH_LIMIT,
            **data,
        )

    @router.post("/admin/subscribers/unsuppress")
    async def unsuppress(request: Request) -> Response:
        """Lift one address's suppression (the operator's decision, e.g. a fixed mailbox)."""
        form = await kit.form(request)
        address = str(form.get("email", ""))[:MAX_QUERY]
        lifted = await run_in_threadpool(kit.ctx.suppressions.lift, address)
        back = "/admin/subscribers?" + urlencode({"q": address})
        if lifted is None:
            return kit.redirect(back, "That address is not on the suppression list.")
        since = lifted.at.strftime("%Y-%m-%d")
        return kit.redirect(
            back,
            f"Suppression lifted ({lifted.reason}, since {since}): the address receives "
            "nothing until its owner signs up and confirms again.",
        )

    return router
