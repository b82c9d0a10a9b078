"""Digest click counts in Redis: aggregate per edition and story, never per reader.

- ``clicks:{edition}``  hash, one per edition: ``t:{article}`` → the URL its redirect goes
  to (written when the edition's messages are built: a redirect never takes its target
  from the request), ``c:{article}`` → clicks counted, ``d:{article}`` → clicks discarded
  as a scanner's. A few fields per story; kept ``EDITION_DAYS`` after the last write.
- ``clicks:mark:{hex}``  a source marked by a canary hit: the hex is a keyed hash of the
  client's network (/24, /48) and the minute, never the address; gone after ``MARK_TTL_S``.
"""

from __future__ import annotations

from collections.abc import Mapping

import redis

MARK_TTL_S = 120
EDITION_DAYS = 400
_EDITION_TTL_S = EDITION_DAYS * 24 * 3600


class ClickStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.prefix = prefix

    def _edition(self, edition_id: str) -> str:
        return f"{self.prefix}clicks:{{{edition_id}}}"

    def _mark(self, source: str) -> str:
        return f"{self.prefix}{{clicks}}:mark:{source}"

    def set_targets(self, edition_id: str, targets: Mapping[str, str]) -> None:
        """Where each story's redirect goes (the same values on every build)."""
        if not targets:
            return
        key = self._edition(edition_id)
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={f"t:{a}": url for a, url in targets.items()})
            pipe.expire(key, _EDITION_TTL_S)
            pipe.execute()

    def target(self, edition_id: str, article_id: str) -> str | None:
        raw = self.r.hget(self._edition(edition_id), f"t:{article_id}")
        return None if raw is None else raw.decode()

    def count(self, edition_id: str, article_id: str, counted: bool) -> None:
        key = self._edition(edition_id)
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, f"{'c' if counted else 'd'}:{article_id}", 1)
            pipe.expire(key, _EDITION_TTL_S)
            pipe.execute()

    def counts(self, edition_id: str) -> dict[str, tuple[int, int]]:
        """Article id → (counted, discarded), for stories with a redirect or a click."""
        out: dict[str, list[int]] = {}
        for field, value in self.r.hgetall(self._edition(edition_id)).items():
            kind, _, article_id = field.decode().partition(":")
            slot = out.setdefault(article_id, [0, 0])
            if kind == "c":
                slot[0] = int(value)
            elif kind == "d":
                slot[1] = int(value)
        return {a: (c, d) for a, (c, d) in out.items()}

    def mark(self, source: str) -> None:
        self.r.set(self._mark(source), b"1", ex=MARK_TTL_S)

    def marked(self, *sources: str) -> bool:
        """Whether any of the sources is marked (one EXISTS each: slots may differ)."""
        with self.r.pipeline(transaction=False) as pipe:
            for source in sources:
                pipe.exists(self._mark(source))
            return any(pipe.execute())
