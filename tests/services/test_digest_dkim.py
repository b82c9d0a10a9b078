"""DKIM (RFC 6376, RFC 8463): digests sent through real SMTP verify against the configured
RSA and Ed25519 keys, and so do confirmation emails; a missing, unreadable or too small key
stops the service at start with one line naming the variable.

dkimpy's verifier refuses a ``t=`` more than 10 hours ahead of its wall clock, and
``make test-shifted`` moves that clock 200 days back: these tests run on a clock fixed well
before any of them (``PAST``), the only time the services see."""

from __future__ import annotations

import base64
import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from syndication.config import ConfigError, Settings
from syndication.events import RecordingEvents
from syndication.render.dkim import dkim_dns_record
from syndication.services.confirmations import make_confirmation_service
from syndication.services.digests import (
    MailSettings,
    make_digest_service,
)
from syndication.services.dkim_keys import load_dkim_keys
from syndication.store.editions import EditionStatus, Policy
from tests.support import ROOT
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all
from tests.support.smtp import ScriptedSmtp

FAST = Policy(lease_s=20, tx_budget_s=5, retry_base_s=0.1, retry_max_s=0.5, max_attempts=5)
SELECTOR, DOMAIN = "digest2026", "example.org"
ED_SELECTOR = "ed2026"
PAST = datetime(2023, 11, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def past() -> ManualClock:
    return ManualClock(PAST)


@pytest.fixture(scope="module")
def ed_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """An Ed25519 key (PKCS#8 PEM) and its record: ``p=`` is the raw public key (RFC 8463)."""
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path_factory.mktemp("dkim-ed") / "ed.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return path, b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw)


def with_keys(settings: Settings, rsa: Path | None, ed: Path | None) -> Settings:
    mail = dataclasses.replace(
        settings.mail,
        dkim_domain=DOMAIN,
        dkim_selector=SELECTOR if rsa else None,
        dkim_key_file=rsa,
        dkim_ed25519_selector=ED_SELECTOR if ed else None,
        dkim_ed25519_key_file=ed,
    )
    return dataclasses.replace(settings, mail=mail)


def verify_all(raw: bytes, records: dict[str, bytes]) -> list[bytes]:
    """Every DKIM-Signature of ``raw`` verified with dkimpy; the a= of each, top first."""
    dns = {f"{sel}._domainkey.{DOMAIN}.".encode(): rec for sel, rec in records.items()}
    checker = dkim.DKIM(raw)
    algorithms = []
    for idx in range(raw.split(b"\r\n\r\n", 1)[0].count(b"DKIM-Signature:")):
        assert checker.verify(idx=idx, dnsfunc=lambda name, timeout=5: dns.get(name)), idx
        algorithms.append(checker.signature_fields[b"a"])
    return algorithms


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A fresh 2048-bit key (openssl) and its DNS TXT record (``p=`` is the DER SPKI)."""
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def test_digests_verify_against_the_published_key(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    rsa_key: tuple[Path, bytes],
    past: ManualClock,
) -> None:
    clock = past
    key_file, record = rsa_key
    settings = dataclasses.replace(
        settings,
        smtp_url=smtp.url,
        mail=dataclasses.replace(
            settings.mail, dkim_selector=SELECTOR, dkim_domain=DOMAIN, dkim_key_file=key_file
        ),
    )
    add_subscribers(redis_client, prefix, 5, now=clock())
    add_articles(redis_client, prefix, [{"topics": ["Coca"]}, {"topics": ["Peru"]}], now=clock())
    service = make_digest_service(
        settings,
        redis_client,
        RecordingEvents(),
        mail=MailSettings(policy=FAST),
        clock=clock,
    )
    created = service.create_edition("daily", clock())
    assert created.edition_id
    assert send_all(service, created.edition_id).status is EditionStatus.DONE

    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        asked.append(name)
        return record if name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode() else None

    raws = [raw for _, raw in smtp.handler.accepted]
    assert len(raws) == 5
    for raw in raws:
        assert raw.startswith(b"DKIM-Signature:")
        assert dkim.verify(raw, dnsfunc=dns), raw[:400]
        signature = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\nFrom:", 1)[0]
        signed = signature.lower().replace(b"\r\n", b"").replace(b" ", b"")
        # RFC 8058 §4: the one-click headers are covered by the signature
        assert b"list-unsubscribe:list-unsubscribe-post" in signed
    assert set(asked) == {f"{SELECTOR}._domainkey.{DOMAIN}.".encode()}
    # tampering with a signed header breaks it: the signature means something
    tampered = raws[0].replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"X: y")
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_missing_or_unreadable_key_fails_at_start(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    unreadable = tmp_path / "unreadable.pem"
    unreadable.write_text("x")
    unreadable.chmod(0)
    cases = [tmp_path / "missing.pem", garbage]
    if os.geteuid() != 0:  # root reads anything
        cases.append(unreadable)
    for path in cases:
        broken = dataclasses.replace(
            settings,
            mail=dataclasses.replace(
                settings.mail, dkim_selector=SELECTOR, dkim_domain=DOMAIN, dkim_key_file=path
            ),
        )
        with pytest.raises(ConfigError) as info:
            make_digest_service(broken, redis_client, RecordingEvents())
        message = str(info.value)
        assert "SYNDICATION_DKIM_KEY_FILE" in message and str(path) in message
        assert "\n" not in message


def test_cli_reports_a_missing_key_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    result = subprocess.run(
        [sys.executable, "-m", "syndication.cli", "digest", "preview", "--frequency", "daily"],
        cwd=ROOT,
        env={
            **os.environ,
            **env,
            "SYNDICATION_DKIM_SELECTOR": SELECTOR,
            "SYNDICATION_DKIM_DOMAIN": DOMAIN,
            "SYNDICATION_DKIM_KEY_FILE": str(missing),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SYNDICATION_DKIM_KEY_FILE" in lines[0], result.stderr


def test_rsa_and_ed25519_both_sign_digests_and_confirmations(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    rsa_key: tuple[Path, bytes],
    ed_key: tuple[Path, bytes],
    past: ManualClock,
) -> None:
    """RFC 8463 §5: two signatures, RSA on top; both verify, on digests and confirmations."""
    records = {SELECTOR: rsa_key[1], ED_SELECTOR: ed_key[1]}
    settings = dataclasses.replace(with_keys(settings, rsa_key[0], ed_key[0]), smtp_url=smtp.url)
    add_subscribers(redis_client, prefix, 3, now=past())
    add_articles(redis_client, prefix, [{"topics": ["Coca"]}], now=past())
    service = make_digest_service(
        settings, redis_client, RecordingEvents(), mail=MailSettings(policy=FAST), clock=past
    )
    created = service.create_edition("daily", past())
    assert created.edition_id
    assert send_all(service, created.edition_id).status is EditionStatus.DONE
    raws = [raw for _, raw in smtp.handler.accepted]
    assert len(raws) == 3
    for raw in raws:
        assert verify_all(raw, records) == [b"rsa-sha256", b"ed25519-sha256"]
        assert f"t={int(PAST.timestamp())};".encode() in raw.replace(b"\r\n ", b" ")
    # every attempt at one recipient writes the same bytes (t= is the edition's time)
    edition = service.status(created.edition_id)
    assert edition is not None
    first = next(service.editions.iter_recipients(created.edition_id))
    assert service.message(edition, first) == service.message(edition, first)

    confirmations = make_confirmation_service(settings, redis_client, RecordingEvents())
    subscriber = add_subscribers(redis_client, prefix, 1, now=past(), domain="new.example.org")[0]
    message = confirmations.build(subscriber, "https://news.example.org/confirm/t", past())
    assert verify_all(message, records) == [b"rsa-sha256", b"ed25519-sha256"]


def test_ed25519_alone_and_raw_base64_keys(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path, ed_key: tuple[Path, bytes]
) -> None:
    """RFC 8463's raw form (the base64 32-byte seed) loads as the same key as the PEM."""
    pem = serialization.load_pem_private_key(ed_key[0].read_bytes(), password=None)
    assert isinstance(pem, ed25519.Ed25519PrivateKey)
    seed = pem.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    raw_file = tmp_path / "ed.key"
    raw_file.write_bytes(base64.b64encode(seed) + b"\n")
    keys = load_dkim_keys(with_keys(settings, None, raw_file))
    assert [k.algorithm for k in keys] == ["ed25519-sha256"]
    assert dkim_dns_record(keys[0]).encode() == ed_key[1]


def test_wrong_or_small_keys_fail_at_start(
    settings: Settings,
    redis_client: redis.Redis,
    tmp_path: Path,
    rsa_key: tuple[Path, bytes],
    ed_key: tuple[Path, bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    small = tmp_path / "small.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(small), "512"], check=True, capture_output=True
    )
    cases = [
        (with_keys(settings, small, None), ("SYNDICATION_DKIM_KEY_FILE", "512-bit")),
        (with_keys(settings, ed_key[0], None), ("DKIM_KEY_FILE", "DKIM_ED25519_KEY_FILE")),
        (with_keys(settings, None, rsa_key[0]), ("SYNDICATION_DKIM_ED25519_KEY_FILE", "rsa")),
    ]
    for broken, words in cases:
        with pytest.raises(ConfigError) as info:
            make_digest_service(broken, redis_client, RecordingEvents())
        assert all(w in str(info.value) for w in words), info.value
        assert "\n" not in str(info.value)
    medium = tmp_path / "medium.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(medium), "1024"], check=True, capture_output=True
    )
    with caplog.at_level("WARNING"):
        (key,) = load_dkim_keys(with_keys(settings, medium, None))
    assert key.bits == 1024 and "1024-bit RSA key" in caplog.text
