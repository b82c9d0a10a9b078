"""Our DKIM signer (syndication.render.dkim) against dkimpy, the independent implementation.

dkimpy verifies every signature we make, over hypothesis-generated messages (folded fields,
white space at line ends, empty bodies, long lines, non-ASCII subjects); for rsa-sha256
(RSA PKCS#1 v1.5 is deterministic) our DKIM-Signature field is byte for byte dkimpy's.

Time: dkimpy's verifier refuses a ``t=`` more than 10 hours ahead of its wall clock (which
``make test-shifted`` moves 200 days back), so signatures here carry a fixed past ``T``.
"""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndication.render import headers
from syndication.render.dkim import (
    DEFAULT_HEADERS,
    DkimKey,
    DkimKeyError,
    RelaxedTemplate,
    dkim_dns_record,
    dkim_sign,
    relaxed_body,
)

DOMAIN = "news.example.org"
T = 1_700_000_000  # 2023-11-14: before any wall clock the suite runs on
HEADERS = tuple(h.lower().encode() for h in DEFAULT_HEADERS)


def _pem(
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, fmt: serialization.PrivateFormat
) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


@pytest.fixture(scope="module")
def rsa_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _pem(key, serialization.PrivateFormat.TraditionalOpenSSL)  # PKCS#1


@pytest.fixture(scope="module")
def keys(rsa_pem: bytes) -> tuple[DkimKey, DkimKey]:
    ed = _pem(ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.PKCS8)
    return DkimKey("s2026", DOMAIN, rsa_pem), DkimKey("ed2026", DOMAIN, ed)


def dns_for(*keys: DkimKey) -> Callable[..., bytes | None]:
    records = {f"{k.record_name}.".encode(): dkim_dns_record(k).encode() for k in keys}
    return lambda name, timeout=5: records.get(name)


def verified(message: bytes, *keys: DkimKey) -> list[bool]:
    """dkimpy's verdict on each signature, top first."""
    checker = dkim.DKIM(message)
    out = []
    for i in range(len(keys)):
        try:
            out.append(bool(checker.verify(idx=i, dnsfunc=dns_for(*keys))))
        except dkim.DKIMException:
            out.append(False)
    return out


# --- generated messages -------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.sampled_from(" \t"),
    max_size=120,
)


@st.composite
def field_values(draw: st.DrawFn) -> str:
    """Printable ASCII with runs of spaces and tabs, often folded, sometimes trailing WSP."""
    words = draw(st.lists(_TEXT.filter(lambda w: w.strip()), min_size=1, max_size=6))
    value = ""
    for word in words:
        fold = draw(st.sampled_from(["", " ", "  \t", "\r\n ", "\r\n\t", " \r\n  "]))
        value += (fold if value else " ") + word
    return value + draw(st.sampled_from(["", " ", "\t  "]))


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    subject = draw(st.text(max_size=80))  # any text: non-ASCII goes out as encoded words
    fields = [
        headers.mailbox("From", draw(st.text(max_size=30)), f"news@{DOMAIN}"),
        f"To: {draw(st.sampled_from(['a@example.org', 'reader+x@example.com']))}",
        headers.unstructured("Subject", subject),
        "Date: Tue, 14 Nov 2023 22:13:20 +0000",
        "Message-ID: <x.y@news.example.org>",
        "MIME-Version: 1.0",
    ]
    for name in draw(st.lists(st.sampled_from(["X-Extra", "List-Id", "Content-Type"]))):
        fields.append(f"{name}:{draw(field_values())}")
    order = draw(st.permutations(fields))
    lines = draw(
        st.lists(
            st.one_of(
                _TEXT,
                st.just(""),
                st.text(alphabet="ab \t", min_size=900, max_size=2000),  # long lines
                st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))),
            ),
            max_size=12,
        )
    )
    body = "".join(line + "\r\n" for line in lines).encode()  # wire form: every line ends CRLF
    return ("\r\n".join(order) + "\r\n\r\n").encode() + body


def dkimpy_sign(message: bytes, key: DkimKey, pem: bytes) -> tuple[bytes, int]:
    """dkimpy's DKIM-Signature field and the t= it wrote: dkimpy reads its own wall clock,
    so read it around the call and retry when a second ticked over in between."""
    while True:
        before = int(time.time())
        field = dkim.sign(
            message,
            key.selector.encode(),
            DOMAIN.encode(),
            pem,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(HEADERS),
        )
        if int(time.time()) == before:
            return field, before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=messages())
def test_dkimpy_verifies_ours_and_rsa_fields_are_byte_identical(
    keys: tuple[DkimKey, DkimKey], rsa_pem: bytes, message: bytes
) -> None:
    rsa_key, ed_key = keys
    signed = dkim_sign(message, (rsa_key, ed_key), T)
    assert signed.endswith(message)
    assert verified(signed, rsa_key, ed_key) == [True, True]
    theirs, at = dkimpy_sign(message, rsa_key, rsa_pem)
    assert dkim_sign(message, rsa_key, at) == theirs + message


@settings(max_examples=40, deadline=None)
@given(message=messages())
def test_a_changed_body_or_signed_field_fails(
    keys: tuple[DkimKey, DkimKey], message: bytes
) -> None:
    rsa_key, ed_key = keys
    signed = dkim_sign(message, (rsa_key, ed_key), T)
    assert verified(signed + b"one more line\r\n", rsa_key, ed_key) == [False, False]
    tampered = signed.replace(b"\r\nTo: ", b"\r\nTo: x", 1)
    assert verified(tampered, rsa_key, ed_key) == [False, False]


def test_empty_bodies_and_a_missing_final_crlf(keys: tuple[DkimKey, DkimKey]) -> None:
    head = b"From: a@news.example.org\r\nSubject: x\r\n\r\n"
    for body in (b"", b"\r\n", b"\r\n\r\n", b" \t \r\n"):
        assert relaxed_body(body) == b""
        assert verified(dkim_sign(head + body, keys, T), *keys) == [True, True]
    # smtplib adds the final CRLF before the dot: what is hashed is what arrives
    assert relaxed_body(b"last line  ") == b"last line\r\n"
    sent = dkim_sign(head + b"last line  ", keys, T) + b"\r\n"
    assert verified(sent, *keys) == [True, True]
    with pytest.raises(ValueError, match="CRLF"):
        dkim_sign(head + b"a bare\nLF\r\n", keys, T)


_PIECE = st.text(alphabet="ab \t\r\n", max_size=30).map(
    lambda s: s.replace("\r", "").replace("\n", "\r\n").encode()
)
_VALUE = st.text(alphabet="xyz.:/@%", min_size=1, max_size=10).map(str.encode)


@settings(max_examples=300)
@given(
    pieces=st.lists(_PIECE, min_size=1, max_size=6),
    values=st.lists(_VALUE, min_size=6, max_size=6),
)
def test_a_template_canonicalised_once_gives_each_messages_relaxed_body(
    pieces: list[bytes], values: list[bytes]
) -> None:
    """``RelaxedTemplate``: the chunks canonicalised once, the values put in verbatim, equal
    the whole message's relaxed body, for values without white space or line ends."""
    chunks = [b"To: ", b"\r\nFrom: f@x\r\n\r\n" + pieces[0], *pieces[1:]]
    slot_values = values[: len(chunks) - 1]
    template = RelaxedTemplate.of(chunks)
    assert template is not None
    joined = chunks[0]
    for value, chunk in zip(slot_values, chunks[1:], strict=True):
        joined += value + chunk
    whole = relaxed_body(joined.split(b"\r\n\r\n", 1)[1])
    body = template.body(slot_values)
    assert body is not None and b"".join(body) == whole
    assert template.body([b"x", *[b"a b"] * (len(chunks) - 2)]) is None or len(chunks) == 2


# --- keys and records ---------------------------------------------------------------------


def test_key_formats_and_records(tmp_path: Path, rsa_pem: bytes) -> None:
    """PKCS#1 and PKCS#8 RSA, PKCS#8 and raw base64 Ed25519; the records verify with dkimpy."""
    pkcs8 = serialization.load_pem_private_key(rsa_pem, password=None)
    assert isinstance(pkcs8, rsa.RSAPrivateKey)
    as_pkcs8 = DkimKey("s", DOMAIN, _pem(pkcs8, serialization.PrivateFormat.PKCS8))
    assert as_pkcs8.public_bytes() == DkimKey("s", DOMAIN, rsa_pem).public_bytes()
    assert as_pkcs8.bits == 2048 and as_pkcs8.algorithm == "rsa-sha256"
    assert dkim_dns_record(as_pkcs8).startswith("v=DKIM1; k=rsa; p=MII")

    seed = bytes(range(32))
    raw = DkimKey("e", DOMAIN, base64.b64encode(seed))
    pem = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    assert (
        raw.public_bytes()
        == DkimKey("e", DOMAIN, _pem(pem, serialization.PrivateFormat.PKCS8)).public_bytes()
    )
    record = dkim_dns_record(raw)
    assert (
        record.startswith("v=DKIM1; k=ed25519; p=")
        and len(record) == len("v=DKIM1; k=ed25519; p=") + 44
    )

    message = b"From: a@news.example.org\r\n\r\nhi\r\n"
    assert verified(dkim_sign(message, (as_pkcs8, raw), T), as_pkcs8, raw) == [True, True]


def test_unusable_keys_are_refused(tmp_path: Path) -> None:
    small = tmp_path / "small.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(small), "512"], check=True, capture_output=True
    )
    with pytest.raises(DkimKeyError, match="512-bit"):
        DkimKey("s", DOMAIN, small.read_bytes())
    p256 = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(DkimKeyError, match="RSA or Ed25519"):
        DkimKey("s", DOMAIN, _pem(p256, serialization.PrivateFormat.PKCS8))
    for garbage in (
        b"",
        b"not a key",
        b"-----BEGIN PRIVATE KEY-----\nbm90\n-----END PRIVATE KEY-----\n",
    ):
        with pytest.raises(DkimKeyError):
            DkimKey("s", DOMAIN, garbage)
    seed = base64.b64encode(bytes(32))
    with pytest.raises(DkimKeyError, match="From"):
        DkimKey("s", DOMAIN, seed, headers=("To", "Subject"))
    with pytest.raises(DkimKeyError, match="DNS"):
        DkimKey("s; x=1", DOMAIN, seed)
