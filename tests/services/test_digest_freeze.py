"""Freezing an edition on a real Redis, sent through a real SMTP server on loopback: the
manage token each reader gets is signed at send time from the frozen ``token_version``; an
entry frozen before (with its token inside) still sends that token; a failing ledger write
stops the freeze with its own error."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
import redis

from syndication.config import Settings
from syndication.services.digests.freezing import freeze
from syndication.store.editions import EditionStore
from syndication.store.subscriber_mailing import MailingList
from syndication.store.subscribers import SubscriberStore
from syndication.tokens import manage_token_of, parse_manage
from tests.services.test_digest_send import ARTICLES, service_for
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all
from tests.support.smtp import ScriptedSmtp

UNSUBSCRIBE = re.compile(r"/unsubscribe/([A-Za-z0-9_.-]+)>")


def test_tokens_are_signed_at_send_from_the_frozen_version(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> None:
    subs = add_subscribers(redis_client, prefix, 12, now=clock())
    store = SubscriberStore(redis_client, prefix)
    for sub in subs[:4]:  # these readers revoked their links: version 2, then 3 for one
        store.revoke_tokens(sub.id, clock())
    store.revoke_tokens(subs[0].id, clock())
    add_articles(redis_client, prefix, ARTICLES[:2], now=clock())
    service = service_for(settings, redis_client, smtp, clock)
    created = service.create_edition("daily", clock(), start=False)
    assert created.edition_id is not None
    editions = EditionStore(redis_client, prefix)
    raw = redis_client.hgetall(editions.key(created.edition_id, "rcpt"))
    legacy_id = subs[5].id  # an entry as frozen before: the token itself, no version
    legacy_token = manage_token_of(settings.need_secret_key(), legacy_id, 1)
    entry = json.loads(raw[legacy_id.encode()])
    assert set(entry) == {"e", "s", "v"}
    redis_client.hset(
        editions.key(created.edition_id, "rcpt"),
        legacy_id,
        json.dumps({"e": entry["e"], "s": entry["s"], "t": legacy_token}),
    )
    service.approve(created.edition_id, clock())
    send_all(service, created.edition_id)

    secret = settings.need_secret_key()
    versions = {s.id: s.token_version for s in (store.get(x.id) for x in subs) if s}
    assert versions[subs[0].id] == 3 and versions[subs[1].id] == 2
    seen = {}
    for msg in smtp.messages():
        found = UNSUBSCRIBE.search(str(msg["List-Unsubscribe"]))
        assert found is not None
        sid, version = parse_manage(secret, found.group(1), datetime.now(UTC))
        seen[sid] = (version, found.group(1))
    assert set(seen) == set(versions)
    for sid, (version, _) in seen.items():
        assert version == versions[sid], sid  # the current version: the link works
    assert seen[legacy_id][1] == legacy_token


def test_a_failing_write_stops_the_freeze_with_its_error(
    redis_client: redis.Redis, prefix: str, clock: ManualClock
) -> None:
    add_subscribers(redis_client, prefix, 30, now=clock())
    readers = MailingList(SubscriberStore(redis_client, prefix))
    written: list[str] = []

    def write(chunk: list[str], segments: dict[str, str]) -> None:
        if written:
            raise ConnectionError("Redis went away")
        written.extend(chunk)

    articles = add_articles(redis_client, prefix, ARTICLES[:1], now=clock())
    with pytest.raises(ConnectionError, match="went away"):
        freeze(readers, "daily", articles, 10, write, chunk_size=10)
    assert len(written) == 10
