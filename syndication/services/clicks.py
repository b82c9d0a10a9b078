"""Click counts for digest stories that bots cannot inflate, without tracking readers.

Opt-in (``SYNDICATION_CLICK_COUNTS``). Each story link in a digest becomes
``/c/<token>``, where the token signs (edition id, article id) with
``SYNDICATION_SECRET_KEY`` (``syndication.tokens``: constant-time check, earlier keys still
verify): the same link for every reader, so a click says which story, never who. The
redirect goes to the URL recorded for that story when the edition's messages were built,
never to anything taken from the request: there is no open redirect.

Mail security scanners fetch every link of a message. Each message also carries an
invisible canary link (``render.digest_email.with_canary``) that a person cannot see or
click: a hit on it marks its source, a keyed hash of the client's network (IPv4 /24, IPv6
/48) and the minute, kept two minutes. A story click from a marked source within that
minute or the next is counted as discarded, not as a click. The address itself is never
stored, nor the user agent.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

from syndication.models import Article
from syndication.store.clicks import ClickStore
from syndication.tokens import TokenError, sign, verify

CLICK = "click"
MAX_TARGET = 2000
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")
COUNTED, DISCARDED, CANARY = "counted", "discarded", "canary"


class ClickInvalid(LookupError):
    """A token we did not sign (or for no recorded story): answered 404, redirected nowhere."""


@dataclass(frozen=True)
class StoryLinks:
    """What a segment's messages link to: article id → redirect URL, and the canary."""

    links: dict[str, str]
    canary: str


@dataclass(frozen=True)
class Followed:
    """A followed link: the target to redirect to, or None for a canary."""

    target: str | None
    outcome: str


def story_target(article: Article, fallback: str) -> str:
    """The article's own URL when it is a plain http(s) URL, else ``fallback``."""
    url = article.url
    ok = urlsplit(url).scheme in ("http", "https") and len(url) <= MAX_TARGET
    return url if ok and not _CONTROL.search(url) else fallback


def network_of(address: str) -> str:
    """The client's /24 (IPv4) or /48 (IPv6): one scanner farm, not one reader."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


class ClickCounts:
    def __init__(
        self,
        store: ClickStore,
        public_url: str,
        secret_key: str,
        previous_secrets: Sequence[str] = (),
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.base = public_url.rstrip("/")
        self.secret_key = secret_key
        self.previous_secrets = tuple(previous_secrets)
        self.on_outcome = on_outcome

    def _url(self, edition_id: str, article_id: str) -> str:
        token = sign(self.secret_key, CLICK, f"{edition_id}\n{article_id}", None)
        return f"{self.base}/c/{token}"

    def links(self, edition_id: str, articles: Sequence[Article]) -> StoryLinks:
        """The redirect of each story (recording where each goes) and the canary link."""
        fallback = f"{self.base}/archive/{quote(edition_id, safe='')}"
        targets = {a.id: story_target(a, fallback) for a in articles}
        self.store.set_targets(edition_id, targets)
        links = {a: self._url(edition_id, a) for a in targets}
        return StoryLinks(links, self._url(edition_id, ""))

    def _source(self, address: str, minute: int) -> str:
        """A keyed hash of (network, minute): unlinkable to the address without our key."""
        msg = f"click-source\x00{network_of(address)}\x00{minute}".encode()
        return hmac.new(self.secret_key.encode(), msg, hashlib.sha256).hexdigest()[:32]

    def follow(self, token: str, address: str, now: datetime) -> Followed:
        """Count (or discard) one click, or mark a canary's source; raises ClickInvalid."""
        try:
            subject = verify(self.secret_key, token, CLICK, now, self.previous_secrets)
        except TokenError:
            raise ClickInvalid("not a link of ours") from None
        edition_id, _, article_id = subject.partition("\n")
        minute = int(now.timestamp() // 60)
        if not article_id:
            self.store.mark(self._source(address, minute))
            return self._done(Followed(None, CANARY))
        target = self.store.target(edition_id, article_id)
        if target is None:
            raise ClickInvalid("no such story in that edition")
        marked = self.store.marked(self._source(address, minute), self._source(address, minute - 1))
        self.store.count(edition_id, article_id, counted=not marked)
        return self._done(Followed(target, DISCARDED if marked else COUNTED))

    def _done(self, followed: Followed) -> Followed:
        if self.on_outcome is not None:
            self.on_outcome(followed.outcome)
        return followed

    def counts(self, edition_id: str) -> dict[str, tuple[int, int]]:
        """Article id → (clicks counted, clicks discarded) for one edition."""
        return self.store.counts(edition_id)
