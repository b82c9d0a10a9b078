"""``partners add|list|revoke|rotate`` through the CLI's parser, and keys at rest in Redis.

Run in-process (``register`` is wired into ``cli.build_parser`` by the lead), on a real Redis.
"""

from __future__ import annotations

import argparse
import hashlib
import json

import pytest
import redis

from syndication.cli.partners import register
from syndication.clock import Clock
from syndication.config import Settings
from syndication.services.partners import make_partners
from syndication.store.partners import PartnerStore
from tests.support.clock import START

NOW = START


def run(settings: Settings, clock: Clock, *argv: str) -> int:
    """The command as the CLI runs it, but on the test's clock (the CLI's own is the system's)."""
    parser = argparse.ArgumentParser(prog="syndication")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.fn(args, settings, clock=clock))


def run_json(
    settings: Settings, clock: Clock, capsys: pytest.CaptureFixture[str], *argv: str
) -> object:
    assert run(settings, clock, *argv, "--json") == 0
    return json.loads(capsys.readouterr().out)


def all_bytes(client: redis.Redis, prefix: str) -> bytes:
    """Every key name and value under ``prefix``, whatever the type."""
    out = []
    for key in client.scan_iter(match=f"{prefix}*"):
        out.append(key)
        kind = client.type(key).decode()
        if kind == "string":
            out.append(client.get(key))
        elif kind == "hash":
            for k, v in client.hgetall(key).items():
                out += [k, v]
        elif kind == "zset":
            out += client.zrange(key, 0, -1)
        elif kind == "set":
            out += list(client.smembers(key))
        elif kind == "list":
            out += client.lrange(key, 0, -1)
    return b"\n".join(out)


def test_add_prints_the_key_once_and_stores_only_its_hash(settings, redis_client, capsys, clock):
    data = run_json(
        settings,
        clock,
        capsys,
        "partners", "add", "El Diario Libre", "--topics", "Coca", "illegal mining",
        "--sections", "brief", "--languages", "es,en", "--webhook", "https://partner.example/hook",
    )  # fmt: skip
    assert isinstance(data, dict)
    key = data["key"]
    partner = data["partner"]
    assert len(key) >= 43 and partner["key_prefix"] == key[:8]
    assert partner["topics"] == ["coca", "illegal-mining"] and partner["languages"] == ["es", "en"]
    assert partner["commercial"] is False and data["webhook_secret"]
    stored = all_bytes(redis_client, settings.key_prefix)
    assert key.encode() not in stored
    assert key[8:].encode() not in stored
    assert data["webhook_secret"].encode() not in stored
    assert hashlib.sha256(key.encode()).hexdigest().encode() in stored
    # Listing shows the prefix, never the key.
    assert run(settings, clock, "partners", "list") == 0
    out = capsys.readouterr().out
    assert "el-diario-libre" in out and key[:8] in out and key not in out


def test_text_output_and_commercial(settings, capsys, clock):
    assert run(settings, clock, "partners", "add", "Big Media", "--commercial") == 0
    out = capsys.readouterr().out
    assert "commercial" in out and "key: " in out and "Authorization: Bearer" in out


def test_list_with_pull_counts(settings, redis_client, capsys, clock):
    a = run_json(settings, clock, capsys, "partners", "add", "A")
    run_json(settings, clock, capsys, "partners", "add", "B")
    store = PartnerStore(redis_client, settings.key_prefix)
    today = clock().date()  # the day `partners list` counts: its clock's
    for _ in range(4):
        store.count_pull(a["partner"]["id"], today)  # type: ignore[index]
    listing = run_json(settings, clock, capsys, "partners", "list")
    counts = {p["id"]: p["pulls_today"] for p in listing["partners"]}  # type: ignore[index]
    assert counts == {"a": 4, "b": 0}


def test_revoke_and_rotate(settings, redis_client, capsys, clock):
    service = make_partners(settings, redis_client)
    added = run_json(settings, clock, capsys, "partners", "add", "Outlet")
    pid, old = added["partner"]["id"], added["key"]  # type: ignore[index]
    assert service.keys.authenticate(old) is not None
    rotated = run_json(settings, clock, capsys, "partners", "rotate", pid)
    new = rotated["key"]  # type: ignore[index]
    assert new != old
    assert service.keys.authenticate(old) is None
    assert service.keys.authenticate(new).id == pid
    revoked = run_json(settings, clock, capsys, "partners", "revoke", pid)
    assert revoked["partner"]["revoked_at"]  # type: ignore[index]
    assert service.keys.authenticate(new) is None
    assert run(settings, clock, "partners", "rotate", pid) == 1
    assert "revoked" in capsys.readouterr().err
    assert run(settings, clock, "partners", "revoke", "nobody") == 1
    assert "no partner" in capsys.readouterr().err
    # Same name again: a new id, not a clash.
    again = run_json(settings, clock, capsys, "partners", "add", "Outlet")
    assert again["partner"]["id"] == "outlet-2"  # type: ignore[index]


def test_bad_webhook_is_refused(settings, capsys, clock):
    assert run(settings, clock, "partners", "add", "X", "--webhook", "ftp://nope") == 1
    assert "webhook" in capsys.readouterr().err


def test_authenticate_rejects_junk(settings, redis_client):
    service = make_partners(settings, redis_client)
    _, key = service.keys.add("Y", now=NOW)
    for junk in (None, "", " ", key + " ", key[:-1], "x" * 10_000):
        assert service.keys.authenticate(junk) is None
    assert service.keys.authenticate(key) is not None
