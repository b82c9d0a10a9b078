"""DKIM signatures (RFC 6376) with OpenSSL through ``cryptography``: rsa-sha256 and
ed25519-sha256 (RFC 8463), relaxed/relaxed.

Why our own signer: dkimpy's RSA is pure Python, ~12 ms a message (~80 messages/s a core)
against ~0.3 ms for OpenSSL's RSA-2048 and ~0.04 ms for Ed25519 (FIELD-NOTES). dkimpy
stays as the independent verifier in the tests, which also check that our rsa-sha256
header is byte for byte the one dkimpy writes for the same message and timestamp.

Pure: no clock (the ``t=`` timestamp is an argument), no network, no Redis. The message
must be in wire form — CRLF line ends only, as SMTP DATA carries it — because the bytes a
receiver verifies are the bytes sent; a body without a final CRLF is hashed with one, as
``smtplib`` adds it before the final dot.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

RSA = "rsa-sha256"
ED25519 = "ed25519-sha256"
#: RFC 8301 §3.2: verifiers refuse RSA keys under 1024 bits; 2048 is what to publish.
MIN_RSA_BITS = 1024
RECOMMENDED_RSA_BITS = 2048

#: RFC 8058 §4: List-Unsubscribe and List-Unsubscribe-Post MUST be signed. A name absent
#: from a message (a confirmation has no List-*) is still listed: "oversigning" it means a
#: field added on the way breaks the signature (RFC 6376 §5.4).
DEFAULT_HEADERS: tuple[str, ...] = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "MIME-Version",
    "Content-Type",
)


class DkimKeyError(ValueError):
    """The key cannot sign: not a PEM RSA / Ed25519 private key, or RSA under 1024 bits."""


def _load(data: bytes) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    """A PEM key (RSA PKCS#1 or PKCS#8, Ed25519 PKCS#8), or RFC 8463's raw form: the
    32-byte Ed25519 seed in base64 (what dkimpy's ``dknewkey --ktype ed25519`` writes)."""
    text = data.strip()
    if b"-----BEGIN" in text:
        try:
            key = serialization.load_pem_private_key(text, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise DkimKeyError(f"not an unencrypted PEM private key ({exc})") from None
        if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            return key
        raise DkimKeyError(f"a {type(key).__name__}: DKIM signs with RSA or Ed25519 only")
    try:
        seed = base64.b64decode(text, validate=True)
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise DkimKeyError("neither a PEM private key nor a base64 Ed25519 key (32 bytes)")
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)


@dataclass(frozen=True)
class DkimKey:
    """A DKIM signing key: ``private_key`` is what the key file holds (see ``_load``).

    Parsed once, here: a broken or too small key fails where the key is loaded (the
    worker's start), never message by message."""

    selector: str
    domain: str
    private_key: bytes = field(repr=False)
    headers: tuple[str, ...] = DEFAULT_HEADERS
    _key: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = _load(self.private_key)
        if isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
            raise DkimKeyError(
                f"a {key.key_size}-bit RSA key: receivers refuse under {MIN_RSA_BITS} bits "
                f"(RFC 8301); use {RECOMMENDED_RSA_BITS}"
            )
        if not any(h.lower() == "from" for h in self.headers):
            raise DkimKeyError("the From field must be signed (RFC 6376 §5.4)")
        for part in (self.selector, self.domain):
            if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", part):
                raise DkimKeyError(f"not a DNS label sequence: {part!r}")
        object.__setattr__(self, "_key", key)

    @property
    def algorithm(self) -> str:
        return RSA if isinstance(self._key, rsa.RSAPrivateKey) else ED25519

    @property
    def bits(self) -> int:
        """The RSA modulus size; 256 for Ed25519."""
        return int(self._key.key_size) if self.algorithm == RSA else 256

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    def public_bytes(self) -> bytes:
        """What ``p=`` carries: the DER SubjectPublicKeyInfo (RSA), the raw 32 bytes
        (Ed25519, RFC 8463 §4.2)."""
        public = self._key.public_key()
        if self.algorithm == RSA:
            return bytes(
                public.public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        raw = serialization.Encoding.Raw
        return bytes(public.public_bytes(raw, serialization.PublicFormat.Raw))

    def sign_data(self, data: bytes) -> bytes:
        """The signature over the header hash input (RFC 6376 §3.7; RFC 8463 §3 signs the
        SHA-256 digest of it with PureEdDSA)."""
        if self.algorithm == RSA:
            return bytes(self._key.sign(data, padding.PKCS1v15(), hashes.SHA256()))
        return bytes(self._key.sign(hashlib.sha256(data).digest()))


def dkim_dns_record(key: DkimKey) -> str:
    """The TXT record to publish at ``key.record_name``: ``v=DKIM1; k=rsa; p=…``."""
    kind = "rsa" if key.algorithm == RSA else "ed25519"
    return f"v=DKIM1; k={kind}; p={base64.b64encode(key.public_bytes()).decode()}"


# --- canonicalisation (RFC 6376 §3.4.2 and §3.4.4) ---------------------------------------

_EOL_WSP = re.compile(rb"[ \t]+\r\n")
_WSP_RUN = re.compile(rb"[ \t]{2,}|\t")  # a single space is already canonical: left alone


def relaxed_body(body: bytes) -> bytes:
    """White space at line ends dropped, runs of it made one space, empty lines at the end
    dropped; a non-empty body ends with one CRLF, an empty one is empty."""
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    body = _WSP_RUN.sub(b" ", _EOL_WSP.sub(b"\r\n", body))
    body = body.rstrip(b"\r\n")  # CRLF only (checked): trailing empty lines
    return body + b"\r\n" if body else b""


def _relaxed_inner(piece: bytes) -> bytes:
    return _WSP_RUN.sub(b" ", _EOL_WSP.sub(b"\r\n", piece))


@dataclass(frozen=True)
class RelaxedTemplate:
    """The relaxed body of a message made of fixed chunks with values between them
    (``digest_email.MessageTemplate``), canonicalised once per template.

    Canonicalisation only looks at white space runs, line ends and the trailing empty
    lines; a value holding none of white space, CR or LF, and not empty, ends every run at
    its edges and keeps the trailing lines inside the last chunk. So each chunk can be
    canonicalised on its own and the values inserted verbatim: per message only the
    SHA-256 pass is left. ``body`` returns None for any other value (the caller then
    canonicalises the whole body)."""

    first: int  # the index of the first value in the body
    pieces: tuple[bytes, ...]  # the canonical body between the values

    @classmethod
    def of(cls, chunks: Sequence[bytes]) -> RelaxedTemplate | None:
        """None when the chunks are not in wire form (CRLF only) or hold no body."""
        joined = b"".join(chunks)
        crlf = joined.count(b"\r\n")
        if joined.count(b"\r") != crlf or joined.count(b"\n") != crlf:
            return None
        found = [(i, c.find(b"\r\n\r\n")) for i, c in enumerate(chunks) if b"\r\n\r\n" in c]
        if not found:
            return None
        i, at = found[0]
        body = [chunks[i][at + 4 :], *chunks[i + 1 :]]
        if len(body) == 1:
            return cls(i, (relaxed_body(body[0]),))
        last = body[-1] if body[-1].endswith(b"\r\n") else body[-1] + b"\r\n"
        pieces = [_relaxed_inner(p) for p in body[:-1]]
        pieces.append(_relaxed_inner(last).rstrip(b"\r\n") + b"\r\n")
        return cls(i, tuple(pieces))

    def body(self, values: Sequence[bytes]) -> list[bytes] | None:
        """The canonical body for these values (every slot's, in order), in pieces."""
        mine = values[self.first :]
        if len(mine) != len(self.pieces) - 1:
            raise ValueError(f"{len(mine)} body values for {len(self.pieces)} pieces")
        out = [self.pieces[0]]
        for value, piece in zip(mine, self.pieces[1:], strict=True):
            if not value or len(value.translate(None, b" \t\r\n")) != len(value):
                return None
            out += (value, piece)
        return out


def body_hash(canonical_body: bytes | Iterable[bytes]) -> bytes:
    """``bh=``: base64 SHA-256 of the canonical body (or of its pieces, in order)."""
    if isinstance(canonical_body, bytes):
        return base64.b64encode(hashlib.sha256(canonical_body).digest())
    h = hashlib.sha256()
    for piece in canonical_body:
        h.update(piece)
    return base64.b64encode(h.digest())


def _relaxed_field(name: bytes, value: bytes) -> bytes:
    value = value.replace(b"\r\n", b"")
    value = _WSP_RUN.sub(b" ", value).strip(b" ")
    return name.rstrip(b" \t").lower() + b":" + value


def _fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """(name, raw value) of each field, folding kept (CRLF SP continues a field)."""
    out: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and out:
            name, value = out[-1]
            out[-1] = (name, value + b"\r\n" + line)
        else:
            name, colon, value = line.partition(b":")
            if not colon:
                raise ValueError(f"not a header field: {line[:60]!r}")
            out.append((name, value))
    return out


def signed_fields(head: bytes, names: Sequence[str]) -> list[bytes]:
    """The relaxed form of each field named in ``h=``, in that order: each name takes the
    last instance not yet taken, from the bottom up; a name with none left adds nothing
    (RFC 6376 §5.4.2)."""
    fields = _fields(head)
    lower = [n.strip().lower() for n, _ in fields]
    taken: dict[bytes, int] = {}
    out = []
    for name in names:
        key = name.lower().encode("ascii")
        i = taken.get(key, len(fields))
        while i > 0:
            i -= 1
            if lower[i] == key:
                out.append(_relaxed_field(*fields[i]) + b"\r\n")
                break
        taken[key] = i
    return out


# --- the DKIM-Signature field -------------------------------------------------------------

_NAME = b"DKIM-Signature"


def _fold(value: bytes) -> bytes:
    """The value folded at spaces into lines of at most 72 columns, ending in CRLF: the
    first line shares its columns with the field name and the last with the CRLF, as in
    dkimpy, so both write the same bytes. Only ``b=``'s base64 is cut inside (white space
    is allowed there and verifiers drop it, RFC 6376 §3.5); another over-long token (a very
    long domain) stays whole on a longer line, since a cut would change what is hashed."""
    lines: list[bytes] = []
    width = 72 - len(_NAME)
    in_b = False
    while len(value) + 2 > width:
        cut = value.rfind(b" ", 0, width)
        if cut < 0 and (in_b or value.startswith(b"b=")):
            in_b = True
            lines.append(value[:width])
            value = value[width:]
        else:
            if cut < 0:
                cut = value.find(b" ")
                if cut < 0:
                    break
            lines.append(value[:cut])
            value = value[cut + 1 :]
        width = 71
    lines.append(value)
    return b"\r\n ".join(line for line in lines if line) + b"\r\n"


def _tags(key: DkimKey, timestamp: int, bh: bytes, b: bytes) -> bytes:
    headers = " : ".join(h.lower() for h in key.headers)
    tags = (
        f"v=1; a={key.algorithm}; c=relaxed/relaxed; d={key.domain}; i=@{key.domain}; "
        f"q=dns/txt; s={key.selector}; t={timestamp}; h={headers}; bh="
    )
    return tags.encode("ascii") + bh + b"; b=" + b


def signature_field(
    key: DkimKey,
    head: bytes,
    canonical_body_hash: bytes,
    timestamp: int,
    signed: bytes | None = None,
) -> bytes:
    """``DKIM-Signature: …`` CRLF for a header block (without its final blank line) whose
    body hashes to ``canonical_body_hash`` (``body_hash``). ``signed``: the block's
    ``signed_fields`` for ``key.headers`` joined, when the caller has them already."""
    if timestamp < 0:
        raise ValueError("a DKIM timestamp is seconds since 1970")
    data = b"".join(signed_fields(head, key.headers)) if signed is None else signed
    # The signature field itself, relaxed, with an empty b= and no CRLF (§3.7).
    data += b"dkim-signature:" + _tags(key, timestamp, canonical_body_hash, b"")
    signature = base64.b64encode(key.sign_data(data))
    return _NAME + b": " + _fold(_tags(key, timestamp, canonical_body_hash, signature))


def _check_crlf(data: bytes) -> None:
    crlf = data.count(b"\r\n")
    if data.count(b"\r") != crlf or data.count(b"\n") != crlf:
        raise ValueError("DKIM signs wire-form messages: CRLF line ends only")


def _head(message: bytes) -> bytes:
    """The header block (without the blank line), checked for bare CR or LF."""
    if message.startswith(b"\r\n"):
        return b""
    end = message.find(b"\r\n\r\n")
    if end < 0:
        raise ValueError("no blank line after the header fields")
    head = message[:end]
    _check_crlf(head)
    return head


def split_message(message: bytes) -> tuple[bytes, bytes]:
    """(header block, body) of a message in wire form; ValueError for a bare CR or LF."""
    _check_crlf(message)
    head = _head(message)
    return head, message[len(head) + 4 if head else 2 :]


def dkim_sign(
    message: bytes,
    keys: DkimKey | Sequence[DkimKey],
    timestamp: int,
    *,
    canonical_body: bytes | Sequence[bytes] | None = None,
) -> bytes:
    """``message`` with one DKIM-Signature per key prepended (the first key's on top).

    RFC 8463 §5 advises signing with both an RSA and an Ed25519 key until every receiver
    checks Ed25519. One body hash serves every key. ``canonical_body``: the relaxed body
    when the caller has it already (pieces are joined): the message's body is then neither
    read nor checked again, which is most of the cost on a 50 KB digest."""
    if isinstance(keys, DkimKey):
        keys = (keys,)
    if not keys:
        return message
    if canonical_body is None:
        head, body = split_message(message)
        bh = body_hash(relaxed_body(body))
    else:  # the caller's body is canonical already (RelaxedTemplate checked its line ends)
        head = _head(message)
        bh = body_hash(canonical_body)
    # Keys that sign the same fields (the default) share one canonicalisation of them.
    signed: dict[tuple[str, ...], bytes] = {}
    for k in keys:
        if k.headers not in signed:
            signed[k.headers] = b"".join(signed_fields(head, k.headers))
    fields = [signature_field(k, head, bh, timestamp, signed[k.headers]) for k in keys]
    return b"".join(fields) + message
