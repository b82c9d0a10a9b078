"""The DNS records a bulk sender publishes (SPF, DKIM, DMARC), as text to paste.

Gmail and Yahoo (February 2024) and Microsoft (May 2025) require of anyone sending them
about 5,000 messages a day: SPF and DKIM passing, and a DMARC record (``p=none`` is
enough) with the From domain aligned to SPF's or DKIM's domain (RFC 7489 §3.1, relaxed:
the same organisational domain). Pure functions: key bytes and names in, strings out.

``dkim_public_key`` derives the public half from the PEM private key the signer already
reads (PKCS#1 or PKCS#8 RSA, parsed by dkimpy): the ``cryptography`` package is not a
dependency. The digest renderer will provide ``dkim_dns_record(key)`` of its own; when it
does, ``dkim_record`` here should call it instead (one derivation).
"""

from __future__ import annotations

from dataclasses import dataclass

from syndication.render.dkim import DkimKey, dkim_dns_record

# DER of AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL } (RFC 3279).
TXT_CHUNK = 255  # one character-string in a TXT record holds at most 255 bytes (RFC 1035)


@dataclass(frozen=True)
class DnsRecord:
    """One record to publish: where, what, and why (for the operator reading ``check``)."""

    name: str
    type: str
    value: str
    why: str

    def zone_line(self) -> str:
        """The record as a zone-file line; long TXT values split into 255-byte strings."""
        chunks = [self.value[i : i + TXT_CHUNK] for i in range(0, len(self.value), TXT_CHUNK)]
        quoted = " ".join(f'"{c}"' for c in chunks)
        return f"{self.name}. IN {self.type} {quoted}"

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "value": self.value, "why": self.why}


def dkim_record(key: DkimKey) -> DnsRecord:
    """``<selector>._domainkey.<domain>`` TXT ``v=DKIM1; k=rsa|ed25519; p=…`` (RFC 6376
    §3.6.1, RFC 8463): the value comes from the signer's own ``dkim_dns_record``."""
    return DnsRecord(
        key.record_name,
        "TXT",
        dkim_dns_record(key),
        f"the public key receivers check the {key.algorithm} DKIM signatures against",
    )


def dmarc_record(from_domain: str, rua: str) -> DnsRecord:
    """A starting DMARC policy: ``p=none`` only reports (RFC 7489 §6.3); move to
    quarantine or reject once the reports show every sender aligned."""
    return DnsRecord(
        f"_dmarc.{from_domain}",
        "TXT",
        f"v=DMARC1; p=none; rua=mailto:{rua}",
        "DMARC, required of bulk senders; p=none monitors without changing delivery, the "
        "aggregate reports go to rua",
    )


def spf_record(envelope_domain: str, relay_host: str | None) -> DnsRecord:
    """A hint, not a finished record: only the operator knows every server that sends for
    the domain (add the provider's ``include:``)."""
    mechanism = f"a:{relay_host}" if relay_host else "include:<your mail provider's SPF domain>"
    return DnsRecord(
        envelope_domain,
        "TXT",
        f"v=spf1 {mechanism} ~all",
        "SPF for the MAIL FROM domain (a hint: list every server or provider that sends "
        "for it, in one record)",
    )


def organisational_domain(domain: str) -> str:
    """The last two labels: an approximation of RFC 7489's organisational domain without
    the Public Suffix List (wrong for e.g. ``co.uk``; the check says it is a guess)."""
    labels = domain.lower().rstrip(".").split(".")
    return ".".join(labels[-2:])


def aligned(a: str, b: str) -> bool:
    """Relaxed DMARC alignment (RFC 7489 §3.1.1): the same organisational domain."""
    return organisational_domain(a) == organisational_domain(b)
