"""Subscribers in Redis: one hash per subscriber, an email index, active sets, suppression.

Layout (every key under one hash tag, ``{prefix}{subscribers}:…``, so a transaction that
touches a record, the indexes and the suppression list is legal on Redis Cluster too; a
newsroom's list fits one slot many times over):

- ``sub:{id}``              hash: the record, format 2 (``subscriber_record.encode``)
- ``by-email``              hash: address key (lower-cased) → id; also the list of everyone
- ``active:{frequency}``    sorted set, scores 0: confirmed, per frequency, read in id order
                            (``ZRANGEBYLEX``): what an edition reads
- ``counts``                hash: ``status:{s}`` and ``lang:{code}`` (active) counters, kept
                            by the same transaction as the records
- ``suppressed``            hash: address key → JSON ``{"email", "reason", "at"}``

Before format 2 there were also ``all`` and ``status:{s}`` (sorted sets of every id) and
``active-lang:{code}`` (what the counters count now): about 480 bytes a subscriber for three
copies of the id. A record in the old format still reads; ``counts`` adds what is left in
the old sets, and a record's next write (or ``syndication subscribers migrate``, in
``subscriber_bulk``) moves it from them to the counters in the same transaction.

Every write is one MULTI/EXEC under WATCH of the record, the email index and the
suppression list, so the indexes always agree with the records and a suppression that
lands between a read and a write makes the write retry and see it. The suppression list is
checked by every path that could make an address confirmed (signup, confirm, import): an
address suppressed by a bounce or a complaint never receives mail again unless an operator
lifts it by hand; a reader's own unsubscribe is lifted only by their next confirmation.

Lexicographic sets instead of ``SSCAN``: iterating by ``ZRANGEBYLEX`` from the last id seen
never yields an id twice and never skips one that stays in the set, whatever else changes
meanwhile — freezing an edition's recipients depends on that.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, TypeVar

import redis

from syndication.slugs import is_slug
from syndication.store.subscriber_record import (
    CONFIRMED,
    PENDING,
    STATUSES,
    UNSUBSCRIBED,
    Subscriber,
    decode,
    encode,
)

__all__ = ["CONFIRMED", "PENDING", "STATUSES", "UNSUBSCRIBED", "Subscriber"]
FREQUENCIES = ("daily", "weekly", "instant")

_T = TypeVar("_T")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATEXT}(?:\.{_ATEXT})*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LANG = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
_GLOB = re.compile(r"([*?\[\]\\])")  # characters special in a Redis MATCH pattern


class InvalidEmail(ValueError):
    """Not an address we will send to."""


def normalise_email(text: str) -> str:
    """A deliverable-looking address, domain in lower-case ASCII (IDNA), or InvalidEmail.

    Only dot-atom local parts (RFC 5322 §3.4.1) are accepted: no quoted strings, no
    comments, no whitespace or control characters, so an address can be put in a header
    as it is. The local part keeps its case (RFC 5321 §2.4 leaves it to the receiver);
    ``email_key`` lower-cases it for the index and the suppression list.
    """
    text = text.strip()
    if len(text) > 320 or text.count("@") != 1:
        raise InvalidEmail("not an email address")
    local, domain = text.split("@")
    if not local or len(local) > 64 or not _LOCAL.match(local):
        raise InvalidEmail("not an email address")
    try:
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidEmail("not an email address") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidEmail("not an email address")
    address = f"{local}@{ascii_domain}"
    if len(address) > 254:
        raise InvalidEmail("address too long")
    return address


def email_key(email: str) -> str:
    """How addresses are compared: case-insensitively, so ``Bob@`` cannot dodge ``bob@``."""
    return email.lower()


@lru_cache(maxsize=4096)  # a list names a few topics a million times (bulk import)
def valid_topic(slug: str) -> bool:
    return is_slug(slug)  # topic slugs keep non-Latin letters (syndication.slugs)


def valid_language(code: str) -> bool:
    return bool(_LANG.match(code))


@dataclass(frozen=True)
class Suppression:
    email: str
    reason: str
    at: datetime

    @property
    def by_reader(self) -> bool:
        """The reader left on their own (unsubscribe, an unsubscribed import row): their own
        next confirmed signup lifts it. Bounces and complaints wait for an operator."""
        return by_reader(self.reason)


def by_reader(reason: str) -> bool:
    return reason.strip().lower().startswith("unsubscribe")


class SignupOutcome(StrEnum):
    CREATED = "created"
    REFRESHED = "refreshed"  # still pending: preferences replaced, a new confirmation is due
    RETURNED = "returned"  # had left: pending again, a new confirmation is due at once
    ALREADY_CONFIRMED = "already_confirmed"
    SUPPRESSED = "suppressed"


class ConfirmOutcome(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    SUPPRESSED = "suppressed"
    NOT_FOUND = "not_found"


class ImportOutcome(StrEnum):
    CREATED = "created"
    EXISTS = "exists"
    SUPPRESSED = "suppressed"  # the address is on the suppression list: row skipped
    SUPPRESSION_ADDED = "suppression_added"  # an unsubscribed row: the address is suppressed


@dataclass(frozen=True)
class SubscriberKeys:
    prefix: str

    @property
    def base(self) -> str:
        return f"{self.prefix}{{subscribers}}:"

    def record(self, subscriber_id: str) -> str:
        return f"{self.base}sub:{subscriber_id}"

    @property
    def by_email(self) -> str:
        return f"{self.base}by-email"

    @property
    def counts(self) -> str:
        return f"{self.base}counts"

    @property
    def all(self) -> str:
        """Format 1 only: every id (``by-email`` lists everyone now)."""
        return f"{self.base}all"

    def status(self, status: str) -> str:
        """Format 1 only: the ids of not yet upgraded records in ``status``."""
        return f"{self.base}status:{status}"

    def active(self, frequency: str) -> str:
        return f"{self.base}active:{frequency}"

    def active_lang(self, language: str) -> str:
        """Format 1 only: not yet upgraded active records per language."""
        return f"{self.base}active-lang:{language}"

    @property
    def languages(self) -> str:
        """Format 1 only: names the active-lang sets."""
        return f"{self.base}languages"

    @property
    def suppressed(self) -> str:
        return f"{self.base}suppressed"


def new_id() -> str:
    """Random, so ids reveal neither the list's size nor its order of signup."""
    return secrets.token_hex(8)


class SubscriberStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.keys = SubscriberKeys(prefix)

    # -- reads ---------------------------------------------------------------------------

    def get(self, subscriber_id: str) -> Subscriber | None:
        if not re.fullmatch(r"[0-9a-f]{1,64}", subscriber_id):
            return None
        return decode(subscriber_id, self.r.hgetall(self.keys.record(subscriber_id)))

    def get_by_email(self, email: str) -> Subscriber | None:
        sid = self.r.hget(self.keys.by_email, email_key(email))
        return None if sid is None else self.get(sid.decode())

    def is_suppressed(self, email: str) -> bool:
        return bool(self.r.hexists(self.keys.suppressed, email_key(email)))

    def suppression(self, email: str) -> Suppression | None:
        raw = self.r.hget(self.keys.suppressed, email_key(email))
        return None if raw is None else _decode_suppression(raw)

    def iter_active(self, frequency: str, batch: int = 1000) -> Iterator[Subscriber]:
        """Confirmed, not suppressed subscribers of ``frequency``, in id order, each once."""
        for chunk in self._iter_ids(self.keys.active(frequency), batch):
            for sub, suppressed in self.load_flagged(chunk):
                if sub.active and suppressed is None and sub.frequency == frequency:
                    yield sub

    def iter_all(self, batch: int = 1000) -> Iterator[tuple[Subscriber, Suppression | None]]:
        """Every subscriber with their suppression, read ``batch`` at a time (HSCAN of the
        address index, pipelined HGETALLs, one HMGET of the suppression list), so memory
        stays flat however long the list. As with any SCAN, a record that exists throughout
        is seen, and one may be seen twice while the index is resized."""
        ids: list[str] = []
        for _, sid in self.r.hscan_iter(self.keys.by_email, count=batch):
            ids.append(sid.decode())
            if len(ids) >= batch:
                yield from self._load_with_suppression(ids)
                ids = []
        if ids:
            yield from self._load_with_suppression(ids)

    def iter_lone_suppressions(self, batch: int = 1000) -> Iterator[Suppression]:
        """Suppressed addresses that have no subscriber record, ``batch`` at a time."""
        chunk: list[tuple[bytes, bytes]] = []
        for key, raw in self.r.hscan_iter(self.keys.suppressed, count=batch):
            chunk.append((key, raw))
            if len(chunk) >= batch:
                yield from self._lone(chunk)
                chunk = []
        if chunk:
            yield from self._lone(chunk)

    def iter_suppressed(self, batch: int = 1000) -> Iterator[Suppression]:
        for _, raw in self.r.hscan_iter(self.keys.suppressed, count=batch):
            yield _decode_suppression(raw)

    def search_suppressed(
        self, part: str, limit: int, batch: int = 1000
    ) -> tuple[list[Suppression], bool]:
        """Suppressions whose address contains ``part`` (case-insensitive, taken literally:
        glob characters are escaped), sorted by address, at most ``limit``; and whether more
        matched. One HSCAN with MATCH over the list, stopped at the first match past
        ``limit``, so a broad search of a long list does not read all of it."""
        pattern = "*" + _GLOB.sub(r"\\\1", email_key(part)) + "*"
        hits: list[Suppression] = []
        truncated = False
        for _, raw in self.r.hscan_iter(self.keys.suppressed, match=pattern, count=batch):
            if len(hits) >= limit:
                truncated = True
                break
            hits.append(_decode_suppression(raw))
        hits.sort(key=lambda s: s.email.lower())
        return hits, truncated

    def counts(self) -> dict[str, Any]:
        """The counters, plus what format-1 records not yet upgraded still hold in the old sets."""
        k = self.keys
        counters = {f.decode(): int(v) for f, v in self.r.hgetall(k.counts).items()}
        old_languages = {m.decode() for m in self.r.smembers(k.languages)}
        languages = sorted(old_languages | {f[5:] for f in counters if f.startswith("lang:")})
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hlen(k.by_email)
            for status in STATUSES:
                pipe.zcard(k.status(status))
            for frequency in FREQUENCIES:
                pipe.zcard(k.active(frequency))
            for language in languages:
                pipe.zcard(k.active_lang(language))
            pipe.hlen(k.suppressed)
            total, *rest = [int(v) for v in pipe.execute()]
        by_status = {
            s: n + counters.get(f"status:{s}", 0) for s, n in zip(STATUSES, rest, strict=False)
        }
        rest = rest[len(STATUSES) :]
        active = dict(zip(FREQUENCIES, rest, strict=False))
        rest = rest[len(FREQUENCIES) :]
        by_language = {
            lang: n + counters.get(f"lang:{lang}", 0)
            for lang, n in zip(languages, rest, strict=False)
        }
        return {
            "total": total,
            "by_status": by_status,
            "active": active,
            "active_by_language": by_language,
            "suppressed": rest[-1],
        }

    # -- writes --------------------------------------------------------------------------

    def signup(
        self,
        email: str,
        frequency: str,
        topics: tuple[str, ...],
        language: str,
        now: datetime,
        consent_ip: str = "",
        consent_source: str = "",
    ) -> tuple[SignupOutcome, Subscriber | None]:
        """Create a pending subscriber, or refresh a pending or unsubscribed one; never touch
        a confirmed one, nor an address suppressed by a bounce or a complaint.

        A confirmed subscriber's preferences change only through their own manage link, so
        a stranger who knows an address cannot alter (or learn anything about) it. A reader
        who unsubscribed stays suppressed until they confirm again (``confirm`` lifts it).
        """
        check_choices(frequency, topics, language)
        key = email_key(email)

        def body(pipe: Any) -> tuple[SignupOutcome, Subscriber | None]:
            if self._blocked(pipe, key):
                pipe.unwatch()
                return SignupOutcome.SUPPRESSED, None
            old = self._watch_by_email(pipe, key)
            if old is not None and old.status == CONFIRMED:
                pipe.unwatch()
                return SignupOutcome.ALREADY_CONFIRMED, old
            choices = _Choices(email, frequency, topics, language, consent_ip, consent_source)
            outcome = (
                SignupOutcome.CREATED
                if old is None
                else SignupOutcome.RETURNED
                if old.status == UNSUBSCRIBED
                else SignupOutcome.REFRESHED
            )
            new = _pending(old, choices, now)
            pipe.multi()
            self._write(pipe, old, new)
            pipe.execute()
            return outcome, new

        return self._transact(body)

    def confirm(
        self, subscriber_id: str, now: datetime
    ) -> tuple[ConfirmOutcome, Subscriber | None]:
        """Confirm a pending subscriber; this lifts the reader's own earlier unsubscribe
        (a bounce or a complaint refuses: ``SUPPRESSED``)."""

        def body(pipe: Any) -> tuple[ConfirmOutcome, Subscriber | None]:
            old = self._watch_record(pipe, subscriber_id)
            if old is None:
                pipe.unwatch()
                return ConfirmOutcome.NOT_FOUND, None
            key = email_key(old.email)
            if self._blocked(pipe, key):
                pipe.unwatch()
                return ConfirmOutcome.SUPPRESSED, old
            if old.status == CONFIRMED:
                pipe.unwatch()
                return ConfirmOutcome.ALREADY_CONFIRMED, old
            if old.status != PENDING:
                pipe.unwatch()
                return ConfirmOutcome.SUPPRESSED, old
            new = replace(old, status=CONFIRMED, confirmed_at=now, updated_at=now)
            pipe.multi()
            pipe.hdel(self.keys.suppressed, key)  # their own unsubscribe, lifted by them
            self._write(pipe, old, new)
            pipe.execute()
            return ConfirmOutcome.CONFIRMED, new

        return self._transact(body)

    def update(
        self,
        subscriber_id: str,
        now: datetime,
        frequency: str | None = None,
        topics: tuple[str, ...] | None = None,
        language: str | None = None,
    ) -> Subscriber | None:
        """Change preferences; None when there is no such subscriber or they left."""

        def body(pipe: Any) -> Subscriber | None:
            old = self._watch_record(pipe, subscriber_id)
            if old is None or old.status == UNSUBSCRIBED:
                pipe.unwatch()
                return None
            new = replace(
                old,
                frequency=old.frequency if frequency is None else frequency,
                topics=old.topics if topics is None else topics,
                language=old.language if language is None else language,
                updated_at=now,
            )
            check_choices(new.frequency, new.topics, new.language)
            pipe.multi()
            self._write(pipe, old, new)
            pipe.execute()
            return new

        return self._transact(body)

    def unsubscribe(
        self, subscriber_id: str, now: datetime, reason: str = "unsubscribed"
    ) -> Subscriber | None:
        """Leave the list and suppress the address (RFC 8058 one-click lands here)."""

        def body(pipe: Any) -> Subscriber | None:
            old = self._watch_record(pipe, subscriber_id)
            if old is None:
                pipe.unwatch()
                return None
            suppressed = pipe.hexists(self.keys.suppressed, email_key(old.email))
            pipe.multi()
            new = self._leave(pipe, old, now)
            if not suppressed:
                _add_suppression(pipe, self.keys, old.email, reason, now)
            pipe.execute()
            return new

        return self._transact(body)

    def suppress(self, email: str, reason: str, now: datetime) -> None:
        """Never mail ``email`` again (hard bounce, complaint, unsubscribe); also unsubscribes.

        The first reason is kept, except that a bounce or a complaint after the reader's own
        unsubscribe takes its place (noting it), so a signup cannot lift it.
        """
        key = email_key(email)

        def body(pipe: Any) -> None:
            raw = pipe.hget(self.keys.suppressed, key)
            existing = None if raw is None else _decode_suppression(raw)
            old = self._watch_by_email(pipe, key)
            pipe.multi()
            if old is not None:
                self._leave(pipe, old, now)
            if existing is None:
                _add_suppression(pipe, self.keys, old.email if old else email, reason, now)
            elif existing.by_reader and not by_reader(reason):
                note = f"{reason} (after: {existing.reason}, {existing.at.date().isoformat()})"
                _add_suppression(pipe, self.keys, existing.email, note, now)
            pipe.execute()

        self._transact(body)

    def suppression_kinds(self) -> dict[str, int]:
        """Suppressed addresses by kind (``bounce``, ``complaint``, ``unsubscribe``,
        ``other``), from the reasons as written: one HSCAN over the list (O(n), so callers
        throttle it; the admin's daily snapshot does)."""
        counts = {"bounce": 0, "complaint": 0, "unsubscribe": 0, "other": 0}
        for _, raw in self.r.hscan_iter(self.keys.suppressed, count=1000):
            head = _decode_suppression(raw).reason.strip().lower().split(" (after:")[0]
            head = head.replace("spamreport", "complaint")
            kind = next((k for k in counts if k in head), "other")
            counts[kind] += 1
        return counts

    def is_blocked(self, email: str) -> bool:
        """Suppressed for a reason only an operator lifts (a bounce, a complaint)."""
        return self._blocked(self.r, email_key(email))

    def unsuppress(self, email: str) -> bool:
        """Operator only: lift a suppression (the person must then sign up and confirm again)."""
        return bool(self.r.hdel(self.keys.suppressed, email_key(email)))

    def revoke_tokens(self, subscriber_id: str, now: datetime) -> Subscriber | None:
        """Bump ``token_version``: every manage link mailed so far stops working."""

        def body(pipe: Any) -> Subscriber | None:
            old = self._watch_record(pipe, subscriber_id)
            if old is None:
                pipe.unwatch()
                return None
            new = replace(old, token_version=old.token_version + 1, updated_at=now)
            pipe.multi()
            self._write(pipe, old, new)
            pipe.execute()
            return new

        return self._transact(body)

    def import_record(
        self, record: Subscriber, reason: str = "unsubscribed (import)"
    ) -> ImportOutcome:
        """Add one subscriber as exported elsewhere, keeping its consent timestamps.

        Suppressed addresses are skipped whatever the row says; an ``unsubscribed`` row adds
        the address to the suppression list (that is how lists move between providers); an
        address we already have is left alone (its owner's choices win over the file).
        """
        check_choices(record.frequency, record.topics, record.language)
        key = email_key(record.email)

        def body(pipe: Any) -> ImportOutcome:
            suppressed = pipe.hexists(self.keys.suppressed, key)
            old = self._watch_by_email(pipe, key)
            if record.status == UNSUBSCRIBED:
                pipe.multi()
                if old is not None:
                    self._leave(pipe, old, record.unsubscribed_at or record.created_at)
                if not suppressed:
                    at = record.unsubscribed_at or record.updated_at or record.created_at
                    _add_suppression(pipe, self.keys, record.email, reason, at)
                pipe.execute()
                return ImportOutcome.SUPPRESSED if suppressed else ImportOutcome.SUPPRESSION_ADDED
            if suppressed:
                pipe.unwatch()
                return ImportOutcome.SUPPRESSED
            if old is not None:
                pipe.unwatch()
                return ImportOutcome.EXISTS
            new = replace(record, id=new_id(), token_version=max(1, record.token_version))
            pipe.multi()
            self._write(pipe, None, new)
            pipe.execute()
            return ImportOutcome.CREATED

        return self._transact(body)

    # -- internals -----------------------------------------------------------------------

    def _transact(self, body: Callable[[Any], _T]) -> _T:
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(self.keys.by_email, self.keys.suppressed)
                    return body(pipe)
                except redis.WatchError:
                    continue

    def _blocked(self, client: Any, key: str) -> bool:
        raw = client.hget(self.keys.suppressed, key)
        return raw is not None and not _decode_suppression(raw).by_reader

    def _watch_by_email(self, pipe: Any, key: str) -> Subscriber | None:
        sid = pipe.hget(self.keys.by_email, key)
        return None if sid is None else self._watch_record(pipe, sid.decode())

    def _watch_record(self, pipe: Any, subscriber_id: str) -> Subscriber | None:
        if not re.fullmatch(r"[0-9a-f]{1,64}", subscriber_id):
            return None
        pipe.watch(self.keys.record(subscriber_id))
        return decode(subscriber_id, pipe.hgetall(self.keys.record(subscriber_id)))

    def _leave(self, pipe: Any, old: Subscriber, now: datetime) -> Subscriber:
        if old.status == UNSUBSCRIBED:
            return old
        new = replace(old, status=UNSUBSCRIBED, unsubscribed_at=now, updated_at=now)
        self._write(pipe, old, new)
        return new

    def _write(self, pipe: Any, old: Subscriber | None, new: Subscriber) -> None:
        """Queue the record in format 2 and its index changes (inside MULTI)."""
        k = self.keys
        if old is not None:
            self._unindex(pipe, old)
            if email_key(old.email) != email_key(new.email):
                pipe.hdel(k.by_email, email_key(old.email))
        pipe.delete(k.record(new.id))
        pipe.hset(k.record(new.id), mapping=encode(new))
        pipe.hset(k.by_email, email_key(new.email), new.id)
        pipe.hincrby(k.counts, f"status:{new.status}", 1)
        if new.active:
            pipe.zadd(k.active(new.frequency), {new.id: 0})
            pipe.hincrby(k.counts, f"lang:{new.language}", 1)

    def _unindex(self, pipe: Any, old: Subscriber) -> None:
        """Take ``old`` out of the counts: the old sets for a format-1 record, else the
        counters. Its ``all`` entry (format 1) is left for ``migrate`` to drop."""
        k = self.keys
        if old.active:
            pipe.zrem(k.active(old.frequency), old.id)
        if old.stored_format == 1:
            pipe.zrem(k.status(old.status), old.id)
            if old.active:
                pipe.zrem(k.active_lang(old.language), old.id)
            return
        pipe.hincrby(k.counts, f"status:{old.status}", -1)
        if old.active:
            pipe.hincrby(k.counts, f"lang:{old.language}", -1)

    def _iter_ids(self, key: str, batch: int) -> Iterator[list[str]]:
        start = "-"
        while True:
            ids = [m.decode() for m in self.r.zrangebylex(key, start, "+", 0, batch)]
            if not ids:
                return
            yield ids
            start = "(" + ids[-1]

    def _load_records(self, ids: list[str]) -> list[Subscriber]:
        """The records of ``ids``, gone ones left out: one round trip."""
        with self.r.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.hgetall(self.keys.record(sid))
            raws = pipe.execute()
        return [s for s in (decode(i, raw) for i, raw in zip(ids, raws, strict=True)) if s]

    def load_flagged(self, ids: list[str]) -> list[tuple[Subscriber, bytes | None]]:
        """The records of ``ids`` (gone ones left out), each with its raw suppression."""
        subs = self._load_records(ids)
        if not subs:
            return []
        flags = self.r.hmget(self.keys.suppressed, [email_key(s.email) for s in subs])
        return list(zip(subs, flags, strict=True))

    def _load_with_suppression(
        self, ids: list[str]
    ) -> Iterator[tuple[Subscriber, Suppression | None]]:
        for sub, raw in self.load_flagged(ids):
            yield sub, None if raw is None else _decode_suppression(raw)

    def _lone(self, chunk: list[tuple[bytes, bytes]]) -> Iterator[Suppression]:
        ids = self.r.hmget(self.keys.by_email, [key for key, _ in chunk])
        for (_, raw), sid in zip(chunk, ids, strict=True):
            if sid is None:
                yield _decode_suppression(raw)


@dataclass(frozen=True)
class _Choices:
    """What one signup asked for, and where the consent came from."""

    email: str
    frequency: str
    topics: tuple[str, ...]
    language: str
    consent_ip: str
    consent_source: str


def _pending(old: Subscriber | None, c: _Choices, now: datetime) -> Subscriber:
    """The pending record a signup writes: a new one, or ``old`` (pending, or unsubscribed
    and no longer suppressed) with the new choices."""
    if old is None:
        return Subscriber(
            id=new_id(),
            email=c.email,
            status=PENDING,
            frequency=c.frequency,
            topics=c.topics,
            language=c.language,
            created_at=now,
            confirmed_at=None,
            token_version=1,
            consent_ip=c.consent_ip,
            consent_source=c.consent_source,
            updated_at=now,
        )
    return replace(
        old,
        email=c.email,
        status=PENDING,
        frequency=c.frequency,
        topics=c.topics,
        language=c.language,
        consent_ip=c.consent_ip,
        consent_source=c.consent_source,
        unsubscribed_at=None,
        updated_at=now,
    )


def check_choices(frequency: str, topics: tuple[str, ...], language: str) -> None:
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}")
    bad = [t for t in topics if not valid_topic(t)]
    if bad:
        raise ValueError(f"not a topic: {bad[0]!r}")
    if not valid_language(language):
        raise ValueError(f"not a language code: {language!r}")


def _add_suppression(
    pipe: Any, keys: SubscriberKeys, email: str, reason: str, at: datetime
) -> None:
    pipe.hset(keys.suppressed, email_key(email), suppression_value(email, reason, at))


def suppression_value(email: str, reason: str, at: datetime) -> str:
    """What the suppression list holds for ``email``."""
    return json.dumps(
        {"email": email, "reason": reason[:200], "at": at.isoformat()}, ensure_ascii=False
    )


def _decode_suppression(raw: bytes) -> Suppression:
    data = json.loads(raw)
    return Suppression(data["email"], data["reason"], datetime.fromisoformat(data["at"]))
