"""Moving keys written before hash tags (issue #14) to their tagged names.

Redis Cluster refuses a transaction, script or multi-key command whose keys are in
several slots, so every key now carries its domain's hash tag (store/keys.py). Data
written under the old names is moved here, once, with ``RENAMENX`` (which keeps values
and TTLs): on the one Redis an existing deployment runs on, before it moves to a Cluster.

- Idempotent and safe to run from several processes at once: a key another run renamed
  first is skipped, and a tagged name that already exists is never overwritten (the old
  key is left and counted as a conflict).
- A marker key records the finished run, so ``ensure`` (called on every CLI start, hence
  by ``serve``, ``worker`` and ``beat``) costs one GET afterwards.
- On a Cluster it renames nothing (RENAME across slots is refused): it only looks, and
  stops with what to do when old keys are there.

Celery's own keys (``{prefix}celery:…``) are not ours and are not touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from syndication.store.connection import is_cluster

LAYOUT = "2"  # 1: untagged keys (before issue #14); 2: a hash tag per domain

# (old name after the prefix, a glob when it ends in "*", its new name's head): the part
# of an old name after the matched head is kept as it is.
RULES: tuple[tuple[str, str], ...] = (
    ("article:*", "{articles}:article:"),
    ("articles:by_date", "{articles}:by_date"),
    ("articles:all", "{articles}:all"),
    ("topic:*", "{articles}:topic:"),
    ("author:*", "{articles}:author:"),
    ("section:*", "{articles}:section:"),
    ("lang:*", "{articles}:lang:"),
    ("articles:{identity}:*", "{articles}:identity:"),
    ("events:pending", "{articles}:events:pending"),
    ("feeds:dirty", "{articles}:feeds:dirty"),
    ("feeds:titles", "{articles}:feeds:titles"),
    ("feed:*", "{feeds}:feed:"),
    ("poll:*", "{poll}:"),
    ("metrics:*", "{metrics}:"),
    ("workers:heartbeat:*", "{workers}:heartbeat:"),
    ("workers:hosts", "{workers}:hosts"),
    ("signed:*", "{once}:signed:"),
    ("admin:rotate-once:*", "{once}:admin:rotate-once:"),
    ("admin:session:*", "{admin}:session:"),
    ("partner-copies:*", "partner-copies:{"),  # + "}": each copy is tagged by its article
    ("editions", "{editions}:all"),
    ("editions:period:*", "{editions}:period:"),
    ("editions:included:*", "{editions}:included:"),
)


@dataclass
class Progress:
    """What one run did, per rule (old pattern → counts)."""

    renamed: dict[str, int] = field(default_factory=dict)
    conflicts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.renamed.values())


class KeysNotMigrated(Exception):
    """Old untagged keys found on a Cluster, where they cannot be renamed."""


class KeyMigration:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.prefix = prefix
        self.marker = f"{prefix}{{migrations}}:key-layout"

    def done(self) -> bool:
        raw = self.r.get(self.marker)
        return raw is not None and raw.decode() == LAYOUT

    def ensure(self, report: Callable[[str], None] = lambda _: None) -> Progress | None:
        """Run once (None when the marker says it already ran)."""
        if self.done():
            return None
        return self.run(report)

    def run(self, report: Callable[[str], None] = lambda _: None) -> Progress:
        """Rename every old key, rule by rule, saying how far it got; then set the marker."""
        progress = Progress()
        for old, new in RULES:
            renamed = conflicts = 0
            for name in self._old_keys(old):
                if is_cluster(self.r):
                    raise KeysNotMigrated(
                        f"{name.decode()!r} has a name from before hash tags: run "
                        "'syndication migrate-keys' on the single Redis first, then move "
                        "the data to the Cluster (README: Upgrading)"
                    )
                outcome = self._rename(name, self._new_name(name, old, new))
                renamed += outcome == "renamed"
                conflicts += outcome == "conflict"
                if renamed and renamed % 1000 == 0:
                    report(f"{old}: {renamed} keys renamed so far")
            if renamed or conflicts:
                progress.renamed[old] = renamed
                progress.conflicts[old] = conflicts
                report(f"{old}: {renamed} renamed, {conflicts} left (new name taken)")
        self.r.set(self.marker, LAYOUT)
        return progress

    def _old_keys(self, old: str) -> Any:
        if not old.endswith("*"):
            name = f"{self.prefix}{old}".encode()
            return [name] if self.r.exists(name) else []
        return self.r.scan_iter(match=_glob_escape(self.prefix + old[:-1]) + "*", count=1000)

    def _new_name(self, name: bytes, old: str, new: str) -> bytes:
        rest = name[len(self.prefix) + len(old.rstrip("*")) :]
        tail = b"}" if new.endswith("{") else b""
        return f"{self.prefix}{new}".encode() + rest + tail

    def _rename(self, old: bytes, new: bytes) -> str:
        try:
            return "renamed" if self.r.renamenx(old, new) else "conflict"
        except redis.exceptions.ResponseError as exc:
            if "no such key" in str(exc).lower():
                return "gone"  # another run renamed it first
            raise


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a SCAN ``MATCH`` pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
