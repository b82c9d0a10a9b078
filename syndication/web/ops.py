"""Operations endpoints: ``/metrics`` (Prometheus text; behind a bearer
token when ``SYNDICATION_METRICS_TOKEN`` is set), ``/healthz`` and ``/healthz/web``;
and ``MeteredRequests``, the ASGI wrapper that counts feed and partner requests.

``/healthz`` answers for the whole service: 200 when Redis answers and at least one worker
heartbeat is fresh (workers write ``{prefix}workers:heartbeat:{node}`` with a TTL, see
workers/observability.py), else 503 with the reason (``down``). It is also 503, with status
``degraded``, while confirmation emails are not getting out: a signup has waited longer
than ``SYNDICATION_CONFIRM_ALERT_MINUTES`` unsent, or the last attempts all failed
(``ConfirmationService.health``); the web still serves, but new readers cannot confirm.
``/healthz/web`` answers for this web process only (it runs and reaches Redis): what a
container HEALTHCHECK of the web service should probe, so a stopped worker does not get
the web containers restarted.

Counting feed requests: ``MeteredRequests`` wraps the outermost app (``FeedFront``), so it
sees every answer to ``/feeds/…`` whichever layer made it (the in-memory fast path, or
FastAPI for 404s, 503s and archive pages). Per request it adds to a dict in memory; a
``BufferedMetrics`` thread writes the sums to Redis every second (or after 1,000 requests),
so the fast path never waits on Redis. Per-feed counts are kept only for 200/304 answers:
a 404 names a feed that does not exist, and clients choose those names.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from syndication import __version__
from syndication.metrics import HEARTBEAT_TTL, render
from syndication.store.connection import RedisError, ping, redacted
from syndication.store.metrics import BufferedMetrics, Heartbeats, Metrics
from syndication.web.auth import bearer_ok
from syndication.web.feeds import _PATH as FEED_PATH

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_MEMO = 10_000
_PARTNER_PATH = re.compile(r"^/partners/[^/]+/feeds/")
_UNSEEN: tuple[str, str | None] = ("", None)


Gauges = list[tuple[str, str, dict[tuple[tuple[str, str], ...], float]]]

HEALTH_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "Healthy"},
    503: {
        "description": "Down or degraded: `status` says which, `reason` why",
        "content": {"application/json": {}},
    },
}


def make_router(ctx: Any) -> APIRouter:
    """``/metrics``, ``/healthz`` and ``/healthz/web`` over ``ctx.client`` and its prefix."""
    router = APIRouter()
    scrape = MetricsRoute(ctx)
    router.add_api_route("/metrics", scrape.metrics, methods=["GET"], include_in_schema=False)
    health = HealthRoutes(ctx)
    router.add_api_route("/healthz", health.healthz, methods=["GET"], responses=HEALTH_ANSWERS)
    router.add_api_route(
        "/healthz/web", health.healthz_web, methods=["GET"], responses=HEALTH_ANSWERS
    )
    return router


def _confirmations(ctx: Any) -> Any:
    """The confirmation service, if this context has one (a test's may not)."""
    return getattr(ctx, "confirmations", None)


class MetricsRoute:
    """``/metrics``: the counters in Redis plus gauges read at scrape time."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.reader = Metrics(ctx.client, ctx.settings.key_prefix)
        self.token = ctx.settings.metrics_token or ""

    async def metrics(self, request: Request) -> Response:
        # Optional: the gauges name partner ids, so an operator may keep them from strangers.
        if self.token and not bearer_ok(request.headers.get("authorization"), self.token):
            return JSONResponse(
                {
                    "error": "send 'Authorization: Bearer <SYNDICATION_METRICS_TOKEN>'",
                    "code": "unauthorized",
                },
                401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
            )
        try:
            text = await run_in_threadpool(self._scrape)
        except RedisError as exc:
            return JSONResponse({"error": f"cannot read metrics from Redis: {exc}"}, 503)
        return Response(text, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})

    def _scrape(self) -> str:
        return render(self.reader.read(), self._gauges())

    def _gauges(self) -> Gauges:
        """Partner pulls today, live workers and waiting confirmation emails."""
        ctx = self.ctx
        today = ctx.clock().date()
        pulls: dict[str, int] = {}
        partners = getattr(ctx, "partners", None)
        if partners is not None:
            pulls = partners.store.pulls(today)
        beats = Heartbeats(ctx.client, ctx.settings.key_prefix).read()
        confirm = _confirmations(ctx)
        waiting = confirm.health(ctx.clock()) if confirm is not None else None
        return [
            *_deliverability_gauges(ctx),
            (
                "partner_pulls_today",
                "Partner feed pulls today (UTC), per partner id.",
                {(("partner", p),): float(n) for p, n in pulls.items()},
            ),
            (
                "workers_alive",
                "Worker nodes with a fresh heartbeat.",
                {(): float(sum(1 for b in beats.values() if b["fresh"]))},
            ),
            (
                "confirmations_pending",
                "Confirmation emails requested and not yet sent, failed or uncertain.",
                {(): float(waiting.open if waiting else 0)},
            ),
            (
                "confirmations_oldest_pending_seconds",
                "How long the oldest pending confirmation email has waited since the signup.",
                {(): round(waiting.oldest_pending_seconds, 3) if waiting else 0.0},
            ),
        ]


def _deliverability_gauges(ctx: Any) -> Gauges:
    """Rates over 30 days and of the latest edition, against Gmail's 0.3 % line."""
    rates = getattr(ctx, "deliverability", None)
    if rates is None:
        return []
    series: dict[tuple[tuple[str, str], ...], Any] = {(("window", "30d"),): rates.last_days()}
    latest = ctx.edition_store.ids(1)
    if latest:
        series[(("window", "edition"), ("edition", latest[0]))] = rates.edition(latest[0])
    return [
        (
            "hard_bounce_rate",
            "Hard bounces per message attempted (Gmail's line is 0.003, 0.001 advised).",
            {labels: round(r.hard_bounce_rate, 6) for labels, r in series.items()},
        ),
        (
            "complaint_rate",
            "Spam complaints per message sent (Gmail's line is 0.003, 0.001 advised).",
            {labels: round(r.complaint_rate, 6) for labels, r in series.items()},
        ),
    ]


class HealthRoutes:
    """``/healthz`` (the whole service: Redis, workers, confirmation emails) and
    ``/healthz/web`` (this web process and its Redis only)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.redis_where = redacted(ctx.settings.redis_url or "redis://localhost:6379")

    async def healthz(self) -> JSONResponse:
        status, body = await run_in_threadpool(self.health, True)
        return JSONResponse(body, status, headers={"Cache-Control": "no-store"})

    async def healthz_web(self) -> JSONResponse:
        status, body = await run_in_threadpool(self.health, False)
        return JSONResponse(body, status, headers={"Cache-Control": "no-store"})

    def health(self, with_workers: bool) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body): "down" with reasons, "degraded" when only confirmation
        emails are stuck (the web still serves), else "ok"."""
        ok, ms, why = self._redis_ok()
        body: dict[str, Any] = {"version": __version__, "redis": {"ok": ok, "ms": ms}}
        reasons = [why] if why else []
        degraded: list[str] = []
        if with_workers and ok:
            ok = self._check_workers(body, reasons)
        if with_workers and ok:
            self._check_confirmations(body, reasons, degraded)
        healthy = not reasons and not degraded
        status = "ok" if healthy else "down" if reasons else "degraded"
        body = {"status": status, **body}
        if reasons or degraded:
            body["reason"] = "; ".join(reasons + degraded)
        return (200 if healthy else 503), body

    def _redis_ok(self) -> tuple[bool, float, str]:
        try:
            ms = ping(self.ctx.client)
        except RedisError as exc:
            return False, 0.0, f"cannot reach Redis at {self.redis_where}: {type(exc).__name__}"
        return True, ms, ""

    def _check_workers(self, body: dict[str, Any], reasons: list[str]) -> bool:
        """Adds the worker heartbeats to ``body``; False when Redis failed to give them."""
        ok = True
        try:
            beats = Heartbeats(self.ctx.client, self.ctx.settings.key_prefix).read()
        except RedisError as exc:
            beats, ok = {}, False
            reasons.append(f"cannot read worker heartbeats: {type(exc).__name__}")
        fresh = sorted(node for node, b in beats.items() if b["fresh"])
        body["workers"] = {"fresh": fresh, "nodes": beats}
        if not fresh:
            reasons.append(
                f"no worker heartbeat in the last {HEARTBEAT_TTL} s (start one: syndication worker)"
            )
        return ok

    def _check_confirmations(
        self, body: dict[str, Any], reasons: list[str], degraded: list[str]
    ) -> None:
        """Adds the confirmation ledger's health to ``body``; stuck emails degrade."""
        confirm = _confirmations(self.ctx)
        if confirm is None:
            return
        try:
            waiting = confirm.health(self.ctx.clock())
        except RedisError as exc:
            reasons.append(f"cannot read the confirmation ledger: {type(exc).__name__}")
        else:
            body["confirmations"] = waiting.to_json()
            if not waiting.ok:
                degraded.append(f"confirmation emails: {waiting.reason}")


class MeteredRequests:
    """ASGI wrapper: counts answers to ``/feeds/…`` (by status, and per feed for 200/304)
    and to ``/partners/{key}/feeds/…`` (by status; the key never becomes a label)."""

    def __init__(self, app: ASGIApp, ctx: Any, metrics: BufferedMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics or BufferedMetrics(ctx.client, ctx.settings.key_prefix)
        self._routes: dict[str, tuple[str, str | None]] = {}
        self._keys: dict[tuple[str, str | None, int], tuple[tuple[str, str], ...]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        route = self._routes.get(path, _UNSEEN)
        if route is _UNSEEN:
            route = self._route(path)
        kind, feed = route
        if not kind:
            await self.app(scope, receive, send)
            return
        status = 0

        async def metered(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, metered)
        finally:
            self._count(kind, feed, status or 500)

    def _count(self, kind: str, feed: str | None, status: int) -> None:
        keys = self._keys.get((kind, feed, status))
        if keys is None:
            keys = self._make_keys(kind, feed, status)
        self.metrics.add_fields(keys)

    def _make_keys(self, kind: str, feed: str | None, status: int) -> tuple[tuple[str, str], ...]:
        """The (family, field) pairs one answer adds to, made once per (feed, status)."""
        code = str(status)
        keys: tuple[tuple[str, str], ...]
        if kind == "partner":
            keys = (("partner_requests_total", code),)
        else:
            keys = (("feed_requests_total", code),)
            if feed is not None and status in (200, 304):
                keys += (("feed_requests_by_feed_total", feed),)
                if status == 304:
                    keys += (("feed_not_modified_by_feed_total", feed),)
        if len(self._keys) < _MEMO:
            self._keys[(kind, feed, status)] = keys
        return keys

    def _route(self, path: str) -> tuple[str, str | None]:
        """("feed", name) for a feed document or archive page, ("feed", None) for another
        /feeds/ path, ("partner", None) for a partner feed, ("", None) for anything else."""
        route: tuple[str, str | None] = ("", None)
        if path.startswith("/feeds/"):
            match = FEED_PATH.fullmatch(path[len("/feeds/") :])
            route = ("feed", match["name"] if match else None)
        elif _PARTNER_PATH.match(path):
            route = ("partner", None)
        if len(self._routes) < _MEMO:
            self._routes[path] = route
        return route
