"""Feed documents from each web worker's memory, in front of the FastAPI app.

Readers poll ``/feeds/{name}.{fmt}`` all day and the bytes change a few times an hour, so
the route's per-request work (FastAPI routing, a thread-pool hop, one or two Redis reads of
up to a few hundred KB) was most of what a poll cost: it served ~0.1× nginx's rate.
``FeedFront`` is a raw ASGI app that answers ``GET``/``HEAD`` of those documents from a
per-process map (name, format, coding) → the FastAPI route's own 200 response, recorded:
a 200 is one lookup and two ``send`` calls, a 304 the validator compare alone.

The front never builds a response itself. A miss replays the request through the FastAPI
app as a plain ``GET`` and keeps the answer only if it is a 200; the 304 headers are those
of the 200 minus the body's own (as the route makes them). So headers and bytes are the
route's, and anything else — other paths, archive pages (RFC 5005), /feeds, unknown (404)
and unbuilt (503) feeds, Redis errors — is the FastAPI app's answer, untouched.

Staying fresh (publish → feed latency must not suffer):

- ``FeedCache.put`` publishes ``name.fmt`` on ``{prefix}feeds:changed`` in the transaction
  that stores the bytes; a listener task drops that document's entries when it hears it.
- Pub/sub is at-most-once, so nothing is kept unless the subscription is confirmed, and
  the whole map is emptied on every (re)subscription and whenever the connection fails or
  stops answering PINGs: a message lost while deaf cannot leave a stale entry behind.
- A fill that overlapped any invalidation is served but not kept (a generation counter).
- Whatever happens, no entry is served older than ``MAX_AGE`` seconds.
- Memory is capped (bytes of bodies and headers); the least recently served go first.

Compressed variants need no message: a variant is derived from the bytes under the same
ETag (deterministically), and new bytes always arrive through ``put``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from syndication.context import Context
from syndication.store.feeds import ENCODINGS, FeedChangeListener
from syndication.web.conditional import choose_coding, not_modified
from syndication.web.feeds import _PATH as FEED_PATH

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Key = tuple[str, str, str]  # (feed name, format, coding)

log = logging.getLogger(__name__)

MAX_AGE = 60.0  # seconds an entry may be served even if no invalidation ever arrives
MAX_BYTES = 64 * 1024 * 1024  # per worker process
PING_SECONDS = 5.0  # the subscription is pinged this often when idle …
DEAD_SECONDS = 15.0  # … and taken for lost when nothing came back for this long
RETRY_SECONDS = 1.0  # between attempts to (re)subscribe
_BODY_HEADERS = frozenset((b"content-length", b"content-type", b"content-encoding"))
_OVERHEAD = 512  # rough bytes per entry beyond body and headers (objects, dict slot)
_MEMO = 10_000  # bound on the path and Accept-Encoding memos (clients choose their keys)
_PREFIX = "/feeds/"
_UNSEEN = ("", "")  # a path not parsed yet (compared by identity)


@dataclass(frozen=True)
class Entry:
    """The route's 200 for one (feed, format, coding), ready to send again."""

    etag: str  # the variant's ETag; not_modified() compares the core, as the route does
    last_modified: datetime
    body: bytes
    ok_headers: list[tuple[bytes, bytes]]
    nm_headers: list[tuple[bytes, bytes]]  # the route's 304: the 200's minus body headers
    echoes: frozenset[bytes]  # If-None-Match values that are our own ETags: 304 unparsed
    stored_at: float
    size: int


def _entry(headers: list[tuple[bytes, bytes]], body: bytes, now: float) -> Entry | None:
    """An entry from a recorded 200, or None if it lacks its validators."""
    found = dict(headers)
    etag, modified = found.get(b"etag"), found.get(b"last-modified")
    if etag is None or modified is None:
        return None
    try:
        last_modified = parsedate_to_datetime(modified.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return None
    tag = etag.decode("latin-1")
    core = tag
    for coding in ENCODINGS:
        core = core.removesuffix(f'-{coding}"')
    core = core if core.endswith('"') else core + '"'
    echoes = frozenset(t.encode("latin-1") for t in (tag, f"W/{tag}", core, f"W/{core}"))
    size = len(body) + sum(len(k) + len(v) for k, v in headers) * 2 + _OVERHEAD
    nm_headers = [(k, v) for k, v in headers if k not in _BODY_HEADERS]
    return Entry(tag, last_modified, body, headers, nm_headers, echoes, now, size)


class _Recorder:
    """An ASGI ``send`` that keeps the response instead of sending it."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            self.chunks.append(bytes(message.get("body", b"")))


async def _empty_request() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class FeedFront:
    """ASGI app: current feed documents from memory, everything else to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        ctx: Context,
        *,
        max_bytes: int = MAX_BYTES,
        max_age: float = MAX_AGE,
        ping_seconds: float = PING_SECONDS,
        dead_seconds: float = DEAD_SECONDS,
        clock: Callable[[], float] = time.monotonic,  # entry ages only
    ) -> None:
        self.app = app
        self.redis_url = ctx.settings.need_redis_url()
        self.channel = ctx.feed_cache.changes
        self.client_name = f"{ctx.settings.key_prefix}feed-front".replace(" ", "_")
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.ping_seconds = ping_seconds
        self.dead_seconds = dead_seconds
        self.clock = clock
        self.entries: OrderedDict[Key, Entry] = OrderedDict()  # least recently served first
        self.bytes = 0
        self.generation = 0  # bumped by every invalidation: a fill that overlapped one is not kept
        self.live = False  # True only while the invalidation subscription is confirmed
        self.hits = self.misses = self.invalidations = 0
        self._routes: dict[str, tuple[str, str] | None] = {}
        self._codings: dict[bytes | None, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Task[None] | None = None
        self._warned = False  # an outage was logged and its end is not yet

    # -- serving -------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        route = self._routes.get(path, _UNSEEN)
        if route is _UNSEEN:
            route = self._route(path)
        if route is None:
            await self.app(scope, receive, send)
            return
        if self._loop is not asyncio.get_running_loop():
            self._start_listener()
        if not self.live:  # not subscribed (yet): whatever we kept could be stale
            await self.app(scope, receive, send)
            return
        inm = ims = ae = None
        for name, value in scope["headers"]:  # the first of each, as Starlette reads them
            if name == b"if-none-match":
                if inm is None:
                    inm = value
            elif name == b"if-modified-since":
                if ims is None:
                    ims = value
            elif name == b"accept-encoding" and ae is None:
                ae = value
        coding = self._codings.get(ae)
        if coding is None:
            coding = self._coding(ae)
        key = (route[0], route[1], coding)
        entry = self.entries.get(key)
        if entry is None or self.clock() - entry.stored_at > self.max_age:
            entry = await self._fill(scope, key)
            if entry is None:
                await self.app(scope, receive, send)
                return
        else:
            self.hits += 1
            self.entries.move_to_end(key)
        if (inm is not None or ims is not None) and (
            inm in entry.echoes
            or not_modified(
                None if inm is None else inm.decode("latin-1"),
                None if ims is None else ims.decode("latin-1"),
                entry.etag,
                entry.last_modified,
            )
        ):
            await send({"type": "http.response.start", "status": 304, "headers": entry.nm_headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": entry.ok_headers})
        body = entry.body if scope["method"] == "GET" else b""
        await send({"type": "http.response.body", "body": body})

    def _route(self, path: str) -> tuple[str, str] | None:
        """(name, format) of a current feed document's path, else None; remembered."""
        match = FEED_PATH.fullmatch(path[len(_PREFIX) :]) if path.startswith(_PREFIX) else None
        route = None
        if match is not None and match["page"] is None:
            route = (match["name"], match["fmt"])
        if len(self._routes) < _MEMO:
            self._routes[path] = route
        return route

    def _coding(self, accept_encoding: bytes | None) -> str:
        text = None if accept_encoding is None else accept_encoding.decode("latin-1")
        coding = choose_coding(text)
        if len(self._codings) < _MEMO:
            self._codings[accept_encoding] = coding
        return coding

    async def _fill(self, scope: Scope, key: Key) -> Entry | None:
        """Ask the FastAPI app for the document as a plain GET in ``key``'s coding; keep a
        200 unless an invalidation came in meanwhile. None: let the app answer the client."""
        self.misses += 1
        generation = self.generation
        request = {
            **scope,
            "method": "GET",
            "headers": [(b"accept-encoding", key[2].encode("latin-1"))],
        }
        recorder = _Recorder()
        try:
            await self.app(request, _empty_request, recorder)
        except Exception:
            return None  # the app raised (and will again, for the client): its answer stands
        if recorder.status != 200:
            return None
        entry = _entry(recorder.headers, b"".join(recorder.chunks), self.clock())
        if entry is not None and self.live and self.generation == generation:
            self._store(key, entry)
        return entry

    def _store(self, key: Key, entry: Entry) -> None:
        if entry.size > self.max_bytes:
            return
        self._drop(key)
        self.entries[key] = entry
        self.bytes += entry.size
        while self.bytes > self.max_bytes:
            _, old = self.entries.popitem(last=False)
            self.bytes -= old.size

    def _drop(self, key: Key) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.bytes -= old.size

    # -- invalidation --------------------------------------------------------------------
    def invalidate(self, document: bytes | None = None) -> None:
        """Forget ``name.fmt`` (every coding), or everything when ``document`` is None or
        not of that form."""
        self.generation += 1
        self.invalidations += 1
        name, dot, fmt = (document or b"").decode("utf-8", "replace").rpartition(".")
        if not dot or not name:
            self.entries.clear()
            self.bytes = 0
            return
        for coding in ENCODINGS:
            self._drop((name, fmt, coding))

    def _start_listener(self) -> None:
        """One listener per event loop (a new loop means the old task is gone)."""
        self.live = False
        self.invalidate()
        self._loop = asyncio.get_running_loop()
        self._listener = self._loop.create_task(self._listen(), name="feed-front-invalidation")

    async def _listen(self) -> None:
        while True:
            try:
                await self._subscription()
            except Exception as exc:  # once per outage, not once per retry
                if not self._warned:
                    log.warning("feed cache off (serving from Redis): %s", exc or repr(exc))
                    self._warned = True
            finally:
                self.live = False
                self.invalidate()
            await asyncio.sleep(RETRY_SECONDS)

    async def _subscription(self) -> None:
        """Subscribe, then apply messages until the connection fails or stops answering."""
        # No retries inside redis-py: a failure must reach us, so the map is emptied.
        async with FeedChangeListener(self.redis_url, self.channel, self.client_name) as changes:
            heard = pinged = time.monotonic()
            while True:
                message = await changes.next(self.ping_seconds)
                now = time.monotonic()
                if message is not None:
                    heard = now
                    kind, data = message
                    if kind == "subscribe":  # anything kept before may have missed a change
                        self.invalidate()
                        if self._warned:
                            log.warning("feed cache on again: listening on %s", self.channel)
                            self._warned = False
                        self.live = True
                    elif kind == "message":
                        self.invalidate(data)
                if now - heard > self.dead_seconds:
                    raise ConnectionError(f"no reply on {self.channel} for {now - heard:.0f}s")
                if now - pinged >= self.ping_seconds:
                    await changes.ping()
                    pinged = now
