"""Header injection (issue 11 §3) in what we send: the confirmation mail for any input, and
a digest with a hostile title through the real SMTP server on loopback
(tests/support/smtp.py), parsed as a receiver does (``policy.default``)."""

from __future__ import annotations

import base64
import dataclasses
import email
import re
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest
import redis
from hypothesis import example, given, settings
from hypothesis import strategies as st

from syndication.config import Publisher, Settings, load_publisher
from syndication.deliver.confirmation import (
    POLICY,
    build_confirmation,
    confirmation_bytes,
    sender_address,
)
from syndication.deliver.smtp import Outcome, SmtpSender
from syndication.events import RecordingEvents
from syndication.render import headers
from syndication.render.headers import HeaderError, check_header_block
from syndication.services.digests import MailSettings, make_digest_service
from syndication.store.editions import EditionStatus, Policy
from syndication.store.subscribers import Subscriber
from tests.support import EXAMPLE_CONFIG
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all
from tests.support.mail import CONTROL, DIGEST_FIELDS, ENCODED_WORD
from tests.support.smtp import ScriptedSmtp

CONFIRM_FIELDS = [
    "Subject",
    "From",
    "To",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
    "Content-Language",
]
HOSTILE_TITLE = "=?utf-8?q?x=0D=0ABcc:_evil@example.org?="
CRLF_BCC = base64.b64encode(b"\r\nBcc: evil@example.org\r\n\r\nbody").decode()
INJECTIONS = [
    HOSTILE_TITLE,
    f"=?utf-8?b?{CRLF_BCC}?=",
    "=?UTF-8?Q?=0D=0AReply-To:_evil@example.org?=",
    "\r\nBcc: raw@example.org",
    "\x00\x85\u2028\u2029\r\n\n\r",
    '"quoted", <angle@example.org>, \\',
    "Zoë Ünïcødé — 日本語",
]
piece = st.one_of(
    st.sampled_from(INJECTIONS), st.text(max_size=30), st.text(min_size=80, max_size=300)
)
hostile = st.lists(piece, max_size=4).map("".join)
local_part = st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}", fullmatch=True)


def clean(text: str) -> str:
    return " ".join(CONTROL.sub(" ", text).split())


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def assert_head_safe(data: bytes, names: list[str]) -> EmailMessage:
    """CRLF only, exactly ``names``, encoded words ≤ 75 on lines ≤ 76; parsed (and parsed
    again after a relay's re-serialisation) with no line break in any value."""
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\r" not in head.replace(b"\r\n", b"") and b"\n" not in head.replace(b"\r\n", b"")
    for line in head.split(b"\r\n"):
        words = ENCODED_WORD.findall(line.decode("ascii"))
        assert all(len(w) <= 75 for w in words) and (not words or len(line) <= 76), line
    check_header_block(data, names)
    msg = parse(data)
    for again in (msg, parse(msg.as_bytes(policy=policy.default))):
        assert list(again.keys()) == names
        assert not any(CONTROL.search(str(v)) for v in again.values())
    return msg


def from_phrase(data: bytes) -> tuple[str, str]:
    """(display name, address) of From as RFC 2047 §6.2 reads it."""
    raw = email.message_from_bytes(data, policy=policy.compat32)["From"]
    value = str(make_header(decode_header(raw)))
    match = re.fullmatch(r"(.*?) ?<([^<>]*)>", value, re.S)
    assert match, value
    name = match[1]
    # A quoted-string only when the field was written literally: decoded encoded words are
    # the name itself, even when it happens to start and end with a quote mark.
    if not ENCODED_WORD.search(str(raw)) and name.startswith('"') and name.endswith('"'):
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    return name, match[2]


@pytest.fixture(scope="module")
def publisher() -> Publisher:
    return load_publisher(EXAMPLE_CONFIG)


def subscriber(address: str, language: str = "en") -> Subscriber:
    when = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    return Subscriber("0123456789abcdef", address, "pending", "daily", (), language, when, None, 1)


# --- the confirmation ----------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    name=hostile,
    sender_name=hostile,
    local=local_part,
    language=st.sampled_from(["en", "es", "=?utf-8?q?=0D=0A?=", "xx"]),
    configured=st.booleans(),
)
# A name that starts and ends with a quote mark and must go out as encoded words.
@example(
    name='"quoted", <angle@example.org>, \\=?utf-8?q?x=0D=0ABcc:_evil@example.org?="',
    sender_name="",
    local="a",
    language="en",
    configured=False,
)
def test_no_input_puts_a_line_break_or_a_field_into_the_confirmation(
    publisher: Publisher, name: str, sender_name: str, local: str, language: str, configured: bool
) -> None:
    pub = publisher.model_copy(update={"name": name})
    mail_from = headers.display_mailbox(sender_name, "news@example.org") if configured else None
    sender = sender_address(pub, "https://news.example.org", mail_from)
    address = f"{local}@example.org"
    sub = subscriber(address, language)
    if "=?" in local:  # a reader's parser would decode it: refused, never sent
        with pytest.raises(HeaderError):
            confirmation_bytes(sub, "https://news.example.org/confirm/x.y", pub, "", sender)
        return
    data = confirmation_bytes(sub, "https://news.example.org/confirm/x.y", pub, "", sender)
    msg = assert_head_safe(data, CONFIRM_FIELDS)
    verb = "Confirme su suscripción a" if language == "es" else "Confirm your subscription to"
    assert msg["Subject"] == clean(clean(f"{verb} {name}")[:200])
    display = clean(clean(sender_name if configured else name)[:200])
    addr = "news@example.org" if configured else "newsletter@news.example.org"
    assert from_phrase(data) == (display, addr)
    (got,) = msg["From"].addresses
    assert got.addr_spec == addr and got.display_name.replace(" ", "") == display.replace(" ", "")
    assert msg["To"] == address
    assert msg["Content-Language"] == ("es" if language == "es" else "en")


def test_the_confirmation_arrives_with_its_fields_only(
    publisher: Publisher, smtp: ScriptedSmtp
) -> None:
    pub = publisher.model_copy(update={"name": HOSTILE_TITLE})
    sender = sender_address(pub, "https://news.example.org")
    data = confirmation_bytes(
        subscriber("reader@example.org"), "https://news.example.org/c/x", pub, "", sender
    )
    session = SmtpSender(smtp.url, timeout=10)
    try:  # the sender the confirmation worker uses (services/confirmations.py)
        result = session.send(sender.addr_spec, "reader@example.org", data, 10)
    finally:
        session.close()
    assert result.outcome is Outcome.SENT
    ((rcpt, raw),) = smtp.handler.accepted
    assert rcpt == "reader@example.org"
    msg = assert_head_safe(raw, CONFIRM_FIELDS)
    assert msg["Subject"] == f"Confirm your subscription to {HOSTILE_TITLE}"
    assert from_phrase(raw) == (HOSTILE_TITLE, "newsletter@news.example.org")


def test_the_parsed_confirmation_serialises_to_the_same_fields(publisher: Publisher) -> None:
    """``build_confirmation`` (used by ``syndication check``) round-trips our fields."""
    pub = publisher.model_copy(update={"name": f"{HOSTILE_TITLE} Zoë " * 4})
    sender = sender_address(pub, "https://news.example.org")
    msg = build_confirmation(subscriber("a@example.org"), "https://x.example/c", pub, "", sender)
    data = msg.as_bytes(policy=POLICY)
    assert_head_safe(data, CONFIRM_FIELDS)
    subject = clean(clean(f"Confirm your subscription to {pub.name}")[:200])
    assert parse(data)["Subject"] == subject


# --- a digest through SMTP -----------------------------------------------------------------


FAST = Policy(lease_s=20, tx_budget_s=5, retry_base_s=0.1, retry_max_s=0.5, max_attempts=5)


@pytest.mark.parametrize("title", [HOSTILE_TITLE, f"Read =?utf-8?b?{CRLF_BCC}?= now"])
def test_a_hostile_title_arrives_as_text_in_the_subject(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    clock: ManualClock,
    title: str,
) -> None:
    """Stored through the article model as the API and a polled feed store it, sent by the
    digest service over a real SMTP session: no Bcc, no Reply-To, the title literal."""
    pub = settings.publisher.model_copy(update={"name": "=?utf-8?q?Pub=0D=0AReply-To:_x@y.z?="})
    settings = dataclasses.replace(settings, smtp_url=smtp.url, publisher=pub)
    subs = add_subscribers(redis_client, prefix, 3, now=clock())
    (stored,) = add_articles(redis_client, prefix, [{"title": title}], now=clock())
    assert stored.title == title
    service = make_digest_service(
        settings,
        redis_client,
        RecordingEvents(),
        mail=MailSettings(connections=1, batch=20, policy=FAST),
        clock=clock,
    )
    created = service.create_edition("daily", clock())
    assert created.edition_id
    assert send_all(service, created.edition_id).status is EditionStatus.DONE
    assert smtp.per_recipient() == {s.email: 1 for s in subs}
    for rcpt, raw in smtp.handler.accepted:
        msg = assert_head_safe(raw, DIGEST_FIELDS)
        assert msg["To"] == rcpt
        # The lead headline, then the name when it fits (render/look.py): both literal.
        assert msg["Subject"] in (title, f"{title} | {pub.name}")
        assert from_phrase(raw)[0] == pub.name
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert not re.search(rb"(?:^|\n)(?:bcc|reply-to|cc):", head, re.I)
