"""The DNS records ``syndication check`` prints: the DKIM public key derived from the
private key file is byte for byte what openssl derives, and long TXT values are split
into 255-byte strings."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest

from syndication.render.dkim import DkimKey
from syndication.render.dns_records import (
    aligned,
    dkim_record,
    dmarc_record,
    organisational_domain,
)


def _openssl(*args: str) -> bytes:
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


@pytest.mark.parametrize("form", ["pkcs8", "pkcs1"])
@pytest.mark.parametrize("bits", [1024, 2048])
def test_the_public_key_is_what_openssl_derives(tmp_path: Path, form: str, bits: int) -> None:
    key = tmp_path / "key.pem"
    _openssl("genrsa", "-out", str(key), str(bits))  # PKCS#8 from openssl 3
    if form == "pkcs1":
        _openssl("rsa", "-in", str(key), "-traditional", "-out", str(key))
        assert key.read_bytes().startswith(b"-----BEGIN RSA ")  # PKCS#1, not PKCS#8
    expected = _openssl("rsa", "-in", str(key), "-pubout", "-outform", "DER")
    assert DkimKey("s", "example.org", key.read_bytes()).public_bytes() == expected


def test_the_dkim_record_and_its_zone_line(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    _openssl("genrsa", "-out", str(key), "2048")
    dkim = DkimKey("digest2026", "example.org", key.read_bytes())
    record = dkim_record(dkim)
    assert record.name == "digest2026._domainkey.example.org" and record.type == "TXT"
    assert record.value.startswith("v=DKIM1; k=rsa; p=")
    p = record.value.removeprefix("v=DKIM1; k=rsa; p=")
    assert base64.b64decode(p) == dkim.public_bytes()
    line = record.zone_line()
    assert line.startswith("digest2026._domainkey.example.org. IN TXT ")
    strings = re.findall(r'"([^"]*)"', line)
    assert len(strings) > 1  # a 2048-bit key does not fit one 255-byte string
    assert all(len(s) <= 255 for s in strings)
    assert "".join(strings) == record.value


def test_an_ed25519_key_gets_its_own_record(tmp_path: Path) -> None:
    key = tmp_path / "ed.pem"
    _openssl("genpkey", "-algorithm", "ed25519", "-out", str(key))
    expected = _openssl("pkey", "-in", str(key), "-pubout", "-outform", "DER")[-32:]
    record = dkim_record(DkimKey("ed2026", "example.org", key.read_bytes()))
    assert record.name == "ed2026._domainkey.example.org"
    assert record.value == f"v=DKIM1; k=ed25519; p={base64.b64encode(expected).decode()}"


def test_dmarc_starts_at_none_with_reports() -> None:
    record = dmarc_record("news.example.org", "dmarc@example.org")
    assert record.name == "_dmarc.news.example.org"
    assert record.value == "v=DMARC1; p=none; rua=mailto:dmarc@example.org"


def test_relaxed_alignment_is_by_organisational_domain() -> None:
    assert organisational_domain("mail.News.Example.org.") == "example.org"
    assert aligned("bounces.example.org", "news.example.org")
    assert not aligned("example.net", "example.org")
