"""An edition's editorial record: the editors' intro, featured story, order and send time.

One Redis hash per edition, ``{prefix}edition:{<id>}:editorial``: it shares the edition's
hash tag, so the scripts below read the edition's status and write the record in one
atomic step (and run unchanged on Redis Cluster). That is what keeps an edit from racing
the send: ``save`` only writes while the edition is a draft, and ``start_if_due`` /
``approve`` turn the draft into ``sending`` in the same script that clears ``send_at``. An
edit that arrives after either finds the status changed and stores nothing.

Fields: ``intro`` (plain text), ``featured`` (article id or empty), ``order`` (JSON list of
article ids; empty: the default order, newest first), ``revision`` (bumped by every save:
template caches key on it), ``send_at`` (epoch seconds; the approval deadline of a
scheduled draft), ``edited_by`` and ``edited_at``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from syndication.store.editions import EditionStore

#: The longest intro an editor may save, in characters.
MAX_INTRO_CHARS = 2000
#: Control characters other than newline (tabs become spaces first), and the Unicode line
#: and paragraph separators: never meaningful in an intro, and unsafe in a plain-text part.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def clean_intro(text: str) -> str:
    """The intro as stored: newlines normalised, trailing spaces and outer blank lines
    dropped. ValueError (saying what is wrong) when too long or holding control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
    bad = _CONTROL.search(text)
    if bad:
        raise ValueError(
            f"intro contains a control character (U+{ord(bad.group()):04X}) "
            f"at position {bad.start() + 1}: use plain text"
        )
    if len(text) > MAX_INTRO_CHARS:
        raise ValueError(f"intro is {len(text):,} characters long; at most {MAX_INTRO_CHARS:,}")
    return text


class EditionNotEditable(Exception):
    """The edition is no longer a draft (sending, done, cancelled…): editing it is refused."""

    def __init__(self, edition_id: str, status: str) -> None:
        self.edition_id = edition_id
        self.status = status or "missing"
        super().__init__(
            f"edition {edition_id} is {self.status}: only a draft edition can be edited"
        )


class EditorialConflict(Exception):
    """Someone saved the record since the revision the editor started from."""

    def __init__(self, edition_id: str, revision: int) -> None:
        self.edition_id = edition_id
        self.revision = revision
        super().__init__(
            f"edition {edition_id} was edited meanwhile (now revision {revision}): "
            "reload it and edit again"
        )


@dataclass(frozen=True)
class Editorial:
    """What the editors set for one edition (all empty until someone edits it)."""

    edition_id: str
    intro: str = ""
    featured: str | None = None
    order: tuple[str, ...] = ()
    revision: int = 0
    send_at: datetime | None = None
    edited_by: str = ""
    edited_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "edition": self.edition_id,
            "intro": self.intro,
            "featured": self.featured,
            "order": list(self.order),
            "revision": self.revision,
            "send_at": self.send_at.isoformat() if self.send_at else None,
            "edited_by": self.edited_by,
            "edited_at": self.edited_at.isoformat() if self.edited_at else None,
        }


# KEYS: meta, editorial. ARGV: intro, featured, order (JSON), edited_by, edited_at,
# expected revision ('' = any). Returns {status, revision, error}.
_SAVE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'', '0', 'missing'} end
local current = tonumber(redis.call('HGET', KEYS[2], 'revision') or '0')
if status ~= 'draft' then return {status, tostring(current), 'not-draft'} end
if ARGV[6] ~= '' and tonumber(ARGV[6]) ~= current then
  return {status, tostring(current), 'conflict'}
end
local rev = redis.call('HINCRBY', KEYS[2], 'revision', 1)
redis.call('HSET', KEYS[2], 'intro', ARGV[1], 'featured', ARGV[2], 'order', ARGV[3],
  'edited_by', ARGV[4], 'edited_at', ARGV[5])
return {status, tostring(rev), ''}
"""

# KEYS: meta, editorial. ARGV: send_at (epoch seconds, '' clears). Only while the edition
# is being created or is a draft (scheduled creation writes it before the draft exists).
_SCHEDULE = """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'creating' and status ~= 'draft' then return status or '' end
if ARGV[1] == '' then
  redis.call('HDEL', KEYS[2], 'send_at')
else
  redis.call('HSET', KEYS[2], 'send_at', ARGV[1])
end
return status
"""

# KEYS: meta, editorial. ARGV: now (epoch seconds), mode ('due': only when send_at has
# passed; 'approve': now). Draft → sending (done when it has no recipient), send_at
# cleared, in one step: two beats (or a beat and an editor) start it once, and a draft
# cancelled meanwhile is not a draft any more. Returns {old status, new status or ''}.
_START = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'', ''} end
if status ~= 'draft' then return {status, ''} end
if ARGV[2] == 'due' then
  local send_at = tonumber(redis.call('HGET', KEYS[2], 'send_at') or '')
  if not send_at or send_at > tonumber(ARGV[1]) then return {status, ''} end
end
local new = 'sending'
if tonumber(redis.call('HGET', KEYS[1], 'n_pending') or '0') == 0
   and tonumber(redis.call('HGET', KEYS[1], 'n_sending') or '0') == 0 then
  new = 'done'
  redis.call('HSET', KEYS[1], 'finished_at', ARGV[1])
end
redis.call('HSET', KEYS[1], 'status', new)
redis.call('HDEL', KEYS[2], 'send_at')
return {status, new}
"""


def _s(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def _when(value: str) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value else None


@dataclass(frozen=True)
class Saved:
    """What ``save`` did: ``error`` is '' (stored), 'missing', 'not-draft' or 'conflict'."""

    status: str
    revision: int
    error: str


class EditorialStore:
    """Editorial records of editions, next to the edition's own keys."""

    def __init__(self, editions: EditionStore) -> None:
        self.editions = editions
        self.r: redis.Redis = editions.r
        self._save = self.r.register_script(_SAVE)
        self._schedule = self.r.register_script(_SCHEDULE)
        self._start = self.r.register_script(_START)

    def key(self, edition_id: str) -> str:
        return self.editions.key(edition_id, "editorial")

    def _keys(self, edition_id: str) -> list[str]:
        return [self.editions.key(edition_id, "meta"), self.key(edition_id)]

    def get(self, edition_id: str) -> Editorial:
        """The record (an empty one, revision 0, when nobody has edited the edition)."""
        raw = {_s(k): _s(v) for k, v in self.r.hgetall(self.key(edition_id)).items()}
        return Editorial(
            edition_id=edition_id,
            intro=raw.get("intro", ""),
            featured=raw.get("featured") or None,
            order=tuple(json.loads(raw["order"])) if raw.get("order") else (),
            revision=int(raw.get("revision") or 0),
            send_at=_when(raw.get("send_at", "")),
            edited_by=raw.get("edited_by", ""),
            edited_at=_when(raw.get("edited_at", "")),
        )

    def revision(self, edition_id: str) -> int:
        """One HGET: what a template cache checks before reusing a draft's template."""
        return int(_s(self.r.hget(self.key(edition_id), "revision")) or 0)

    def save(
        self,
        edition_id: str,
        *,
        intro: str,
        featured: str | None,
        order: Sequence[str],
        edited_by: str,
        now: datetime,
        expected_revision: int | None = None,
    ) -> Saved:
        """Write the record and bump its revision, only while the edition is a draft (and,
        with ``expected_revision``, only if nobody saved since that revision)."""
        status, revision, error = self._save(
            keys=self._keys(edition_id),
            args=[
                intro,
                featured or "",
                json.dumps(list(order)),
                edited_by,
                now.timestamp(),
                "" if expected_revision is None else str(expected_revision),
            ],
        )
        return Saved(_s(status), int(_s(revision) or 0), _s(error))

    def schedule(self, edition_id: str, send_at: datetime | None) -> str:
        """Set (or clear) the approval deadline while the edition is creating or a draft;
        returns the status it found."""
        value = "" if send_at is None else repr(send_at.timestamp())
        return _s(self._schedule(keys=self._keys(edition_id), args=[value]))

    def start(self, edition_id: str, now: datetime, *, due_only: bool) -> tuple[str, str]:
        """Draft → sending (or done) and ``send_at`` cleared, atomically; with ``due_only``
        only once ``send_at`` has passed. Returns (old status, new status or '')."""
        old, new = self._start(
            keys=self._keys(edition_id),
            args=[repr(now.timestamp()), "due" if due_only else "approve"],
        )
        return _s(old), _s(new)
