"""Who an article belongs to and what its sender calls it (DESIGN.md, "Identity").

An article is found by ``(owner, key)``, never by a path segment of its URL:

- ``owner`` is the source: ``publisher`` for the publisher's own paths (the ingest API and
  file import), ``feed:<canonical feed URL>`` for a polled source;
- ``key`` is what the owner calls the article: ``id:<CMS id>`` through the API,
  ``guid:<guid or Atom id>`` (else ``url:<link>``) for a polled item, and
  ``url:<canonical URL>`` otherwise.

The article id is only a readable, stable name minted once from that identity (see
``id_candidates``); the store keeps ``(owner, key) → id`` and ``canonical URL → id``
indexes and refuses a change of one source's article by another (``NotOwner``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit, urlunsplit

from syndication.slugs import slug_from_url

PUBLISHER = "publisher"
"""The owner of what comes through the API and file import, and of every article stored
before owners were recorded."""

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,199}$")
_MAX_ID = 200
_MAX_KEY = 1000  # longer guids are kept as a hash: an index field need not be a novel
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
_TRACKING = ("utm_",)


class NotOwner(Exception):
    """A source tried to create or change an article that another source owns."""

    def __init__(self, article_id: str, owner: str, source: str) -> None:
        super().__init__(f"article {article_id!r} belongs to {owner!r}, not to {source!r}")
        self.article_id = article_id
        self.owner = owner
        self.source = source


def canonical_url(url: str) -> str:
    """The form of ``url`` two senders of the same page agree on, and nothing more.

    Only what RFC 3986 §6.2.2–6.2.3 says never changes the resource: scheme and host are
    lower-cased, a default port and the fragment are dropped, an empty path is ``/``,
    percent-encodings are upper-cased. Google Analytics' ``utm_*`` parameters are dropped
    (campaign tags added by newsletters and social posts, never part of a page's identity).
    The rest of the query stays: WordPress's ``/?p=123`` permalinks are identified by it.
    The path keeps its case and its trailing slash: ``/a`` and ``/a/`` may be two pages.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = _PERCENT.sub(lambda m: m.group(0).upper(), parts.path or "/")
    query = "&".join(
        pair for pair in parts.query.split("&") if pair and not pair.lower().startswith(_TRACKING)
    )
    return urlunsplit((scheme, netloc, path, _PERCENT.sub(lambda m: m.group(0).upper(), query), ""))


def _bounded(kind: str, value: str) -> str:
    value = value.strip()
    if len(value) > _MAX_KEY:
        return f"{kind}-sha256:{hashlib.sha256(value.encode()).hexdigest()}"
    return f"{kind}:{value}"


@dataclass(frozen=True)
class Identity:
    """Who sent an article and what they call it; ``preferred_id`` is the readable id to
    try first when the article is new (a CMS id that is a valid id, else the URL's slug)."""

    owner: str
    key: str
    preferred_id: str

    @property
    def field(self) -> str:
        """The identity index's field (owners hold no spaces: a name or a URL)."""
        return f"{self.owner} {self.key}"

    @property
    def kind(self) -> str:
        return self.key.partition(":")[0]

    @property
    def legacy_id(self) -> str | None:
        """The id the API gave this article before owners were recorded, when it names
        one: the CMS's own ``id`` was used as the article id as it was."""
        if self.owner == PUBLISHER and self.kind == "id" and _ID.match(self.key[3:]):
            return self.key[3:]
        return None


def _preferred(url: str, wanted: str | None = None) -> str:
    if wanted and _ID.match(wanted):
        return wanted
    return slug_from_url(url) or "article"


def for_url(url: str, preferred: str | None = None, owner: str = PUBLISHER) -> Identity:
    """File import (and any caller without a sender's id): the whole canonical URL."""
    return Identity(owner, f"url:{canonical_url(url)}", _preferred(url, preferred))


def for_api(url: str, source_id: str | None) -> Identity:
    """The ingest API: the CMS's own id when it sends one, else the canonical URL."""
    if source_id is None or not source_id.strip():
        return for_url(url)
    return Identity(PUBLISHER, _bounded("id", source_id), _preferred(url, source_id.strip()))


def feed_owner(feed_url: str) -> str:
    return f"feed:{canonical_url(feed_url)}"


def for_feed_item(feed_url: str, url: str, guid: str | None, own: bool = False) -> Identity:
    """A polled item: its guid (RSS) or id (Atom, WordPress) when it has one, else its link.

    ``own``: the feed is the publisher's own site (``[[publisher.sources]] own = true``):
    the item is the publisher's, its guid scoped to the feed (two sites' post ``123`` are
    two articles), its link the same article as the API's or an import's of that URL."""
    owner = PUBLISHER if own else feed_owner(feed_url)
    if guid is None or not guid.strip():
        return for_url(url, owner=owner)
    key = _bounded("guid", f"{canonical_url(feed_url)} {guid.strip()}" if own else guid)
    return Identity(owner, key, _preferred(url))


def id_candidates(identity: Identity) -> Iterator[str]:
    """Readable ids for a new article, best first: the preferred id, then the same with
    ever longer hashes of the identity. The store takes the first no article holds, so
    two identities never share an id even when their URLs end alike."""
    base = identity.preferred_id
    yield base
    digest = hashlib.sha256(identity.field.encode()).hexdigest()
    for n in (8, 12, 16, 24, 32, 64):
        yield f"{base[: _MAX_ID - n - 1].rstrip('-_')}-{digest[:n]}"


def feed_item_id(host: str, article_id: str, day: date) -> str:
    """The tag URI (RFC 4151) feed readers and partners key an item on. ``day`` is fixed
    when the article is first stored (``Article.feed_date``), so correcting the publish
    date never changes it."""
    return f"tag:{host},{day.isoformat()}:article/{article_id}"
