"""DKIM (RFC 6376): digests sent through real SMTP verify against the configured key; a
missing or unreadable key stops the service at start with one line naming the variable."""

from __future__ import annotations

import base64
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import dkim
import pytest
import redis

from syndication.config import ConfigError, Settings
from syndication.events import RecordingEvents
from syndication.services.digests import (
    MailSettings,
    make_digest_service,
)
from syndication.store.editions import EditionStatus, Policy
from tests.support import ROOT
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all
from tests.support.smtp import ScriptedSmtp

FAST = Policy(lease_s=20, tx_budget_s=5, retry_base_s=0.1, retry_max_s=0.5, max_attempts=5)
SELECTOR, DOMAIN = "digest2026", "example.org"


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
    clock: ManualClock,
) -> None:
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
