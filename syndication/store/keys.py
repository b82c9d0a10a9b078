"""Key names in one place, so the layout of the store is readable at a glance.

Every key carries a Redis Cluster hash tag (the part in braces): keys with the same tag are
in one slot, so a transaction, a Lua script or a multi-key command over them runs on a
Cluster (one over several slots is refused with CROSSSLOT). The tag is per domain:

- ``{articles}``: the article records, their date and feed indexes, the identity and URL
  indexes, the event outbox, the dirty-feeds set and the feed titles. One write changes
  all of them in one MULTI/EXEC, so they must share a slot; the price is that the whole
  article domain lives on one Cluster node, which is fine: it is small (thousands of
  records of a few KB) next to the editions, which shard per edition
  (``edition:{<id>}:…``, store/editions.py).
- ``{feeds}``: the built feed documents and the rebuild flag and lock, one node again
  (a few hundred documents; web processes keep the hot ones in memory anyway).
- ``{poll}``: what polled sources last answered.

Renaming a key means moving existing data: store/key_migration.py knows the old names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str

    @property
    def articles(self) -> str:
        """The article domain's hash tag (see the module's docstring)."""
        return f"{self.prefix}{{articles}}:"

    def article(self, article_id: str) -> str:
        return f"{self.articles}article:{article_id}"

    @property
    def by_date(self) -> str:
        """Published articles, scored by publish time."""
        return f"{self.articles}by_date"

    @property
    def all_ids(self) -> str:
        """Every article ever stored, withdrawn included, scored by last change."""
        return f"{self.articles}all"

    def index(self, kind: str, slug: str) -> str:
        """``topic``, ``author``, ``section`` or ``lang`` index, scored by publish time."""
        return f"{self.articles}{kind}:{slug}"

    @property
    def identities(self) -> str:
        """``"<owner> <key>"`` → article id (syndication/identity.py)."""
        return f"{self.articles}identity:keys"

    @property
    def article_urls(self) -> str:
        """Canonical URL → the article that claimed it first (who owns the URL)."""
        return f"{self.articles}identity:urls"

    @property
    def article_url_sharers(self) -> str:
        """Canonical URL → JSON list of the *other* articles of the URL's owner that have it
        too (two guids of one feed linking one page): when the article in ``article_urls``
        moves to another URL, the URL stays with its owner through one of these."""
        return f"{self.articles}identity:url-sharers"

    @property
    def identities_migrated(self) -> str:
        """Set once every record from before owners is in ``article_urls``."""
        return f"{self.articles}identity:migrated"

    @property
    def pending_events(self) -> str:
        """Article id → event not yet handed to the broker (written with the article)."""
        return f"{self.articles}events:pending"

    @property
    def feed_rebuild_queued(self) -> str:
        """Set while a site-feed rebuild waits in the queue: later events need not add one."""
        return f"{self.prefix}{{feeds}}:rebuild-queued"

    @property
    def rebuild_lock(self) -> str:
        """Serialises feed rebuilds across workers."""
        return f"{self.prefix}{{feeds}}:rebuild-lock"

    def feed_index(self, name: str) -> str:
        """The sorted set behind feed ``name`` (see feed_catalog): ``all`` or ``kind/slug``."""
        if name == "all":
            return self.by_date
        kind, _, slug = name.partition("/")
        return self.index(kind, slug)

    @property
    def feeds_dirty(self) -> str:
        """Feeds whose articles changed since their last build (written with the change)."""
        return f"{self.articles}feeds:dirty"

    @property
    def feed_titles(self) -> str:
        """Feed name → human name (``topic/coca`` → ``Coca``), for titles and the /feeds page."""
        return f"{self.articles}feeds:titles"

    def feed(self, name: str, fmt: str) -> str:
        return f"{self.prefix}{{feeds}}:feed:{name}:{fmt}"

    def poll_state(self, source_hash: str) -> str:
        return f"{self.prefix}{{poll}}:{source_hash}"

    @property
    def feed_changes(self) -> str:
        """The pub/sub channel naming each replaced feed document (a channel, not a key:
        on a Cluster a PUBLISH reaches subscribers on every node, so it needs no tag)."""
        return f"{self.prefix}feeds:changed"

    @property
    def embargoes(self) -> str:
        """Embargoed articles, scored by release time (the release task's to-do list);
        written with the article, so it shares the article store's tag."""
        return f"{self.articles}embargoes"
