"""Key names in one place, so the layout of the store is readable at a glance."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str

    def article(self, article_id: str) -> str:
        return f"{self.prefix}article:{article_id}"

    @property
    def by_date(self) -> str:
        """Published articles, scored by publish time."""
        return f"{self.prefix}articles:by_date"

    @property
    def all_ids(self) -> str:
        """Every article ever stored, withdrawn included, scored by last change."""
        return f"{self.prefix}articles:all"

    def index(self, kind: str, slug: str) -> str:
        """``topic``, ``author``, ``section`` or ``lang`` index, scored by publish time."""
        return f"{self.prefix}{kind}:{slug}"

    @property
    def identities(self) -> str:
        """``"<owner> <key>"`` → article id (syndication/identity.py). Shares a hash tag
        with ``article_urls``: one transaction writes both."""
        return f"{self.prefix}articles:{{identity}}:keys"

    @property
    def article_urls(self) -> str:
        """Canonical URL → the article that claimed it first (who owns the URL)."""
        return f"{self.prefix}articles:{{identity}}:urls"

    @property
    def article_url_sharers(self) -> str:
        """Canonical URL → JSON list of the *other* articles of the URL's owner that have it
        too (two guids of one feed linking one page): when the article in ``article_urls``
        moves to another URL, the URL stays with its owner through one of these."""
        return f"{self.prefix}articles:{{identity}}:url-sharers"

    @property
    def identities_migrated(self) -> str:
        """Set once every record from before owners is in ``article_urls``."""
        return f"{self.prefix}articles:{{identity}}:migrated"

    @property
    def pending_events(self) -> str:
        """Article id → event not yet handed to the broker (written with the article)."""
        return f"{self.prefix}events:pending"

    @property
    def feed_rebuild_queued(self) -> str:
        """Set while a site-feed rebuild waits in the queue: later events need not add one."""
        return f"{self.prefix}feeds:rebuild-queued"

    def feed_index(self, name: str) -> str:
        """The sorted set behind feed ``name`` (see feed_catalog): ``all`` or ``kind/slug``."""
        if name == "all":
            return self.by_date
        kind, _, slug = name.partition("/")
        return self.index(kind, slug)

    @property
    def feeds_dirty(self) -> str:
        """Feeds whose articles changed since their last build (written with the change)."""
        return f"{self.prefix}feeds:dirty"

    @property
    def feed_titles(self) -> str:
        """Feed name → human name (``topic/coca`` → ``Coca``), for titles and the /feeds page."""
        return f"{self.prefix}feeds:titles"

    def feed(self, name: str, fmt: str) -> str:
        return f"{self.prefix}feed:{name}:{fmt}"

    def poll_state(self, source_hash: str) -> str:
        return f"{self.prefix}poll:{source_hash}"

    @property
    def worker_heartbeat(self) -> str:
        return f"{self.prefix}worker:heartbeat"

    @property
    def embargoes(self) -> str:
        """Embargoed articles, scored by release time (the release task's to-do list)."""
        return f"{self.prefix}articles:embargoes"
