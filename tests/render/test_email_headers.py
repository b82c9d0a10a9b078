"""Header injection (issue 11 §3): input text is text in every header we write.

Python's ``email`` package decodes RFC 2047 encoded words when it parses a value, so a
title ``=?utf-8?q?x=0D=0ABcc:_evil@example.org?=`` used to become a real ``Bcc:``. These
tests feed hostile text into every input that reaches a header of a digest (the renderer,
the template, ``personalise``) and parse the bytes the way a receiver does
(``policy.default``), then serialise and parse them again.
"""

from __future__ import annotations

import base64
import email
import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndication.config import Publisher, load_publisher
from syndication.models import Article
from syndication.render import headers
from syndication.render.digest_email import (
    DigestSegment,
    MessageTemplate,
    RecipientError,
    build_message_template,
    default_sender,
    make_recipient,
    message_id,
    personalise,
    render_digest,
)
from syndication.render.headers import HeaderError, check_header_block
from syndication.render.look import SUBJECT_CHARS
from tests.support import article_data
from tests.support.mail import CONTROL, DIGEST_FIELDS, ENCODED_WORD

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "https://news.example.org"
NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- hostile text --------------------------------------------------------------------------

INJECTIONS = [
    "=?utf-8?q?x=0D=0ABcc:_evil@example.org?=",
    "=?UTF-8?Q?=0D=0AReply-To:_evil@example.org=0D=0A?=",
    "=?utf-8?q?=0D=0A=0D=0A<b>attacker's body</b>?=",
    f"=?utf-8?b?{b64(chr(13) + chr(10) + 'Bcc: evil@example.org')}?=",
    f"=?utf-8?b?{b64(chr(13) + chr(10) + chr(13) + chr(10) + 'the body')}?=",
    f"=?iso-8859-1?b?{b64(chr(10) + 'X-Evil: 1')}?=",
    "=?utf-8?q?=E2=80=A8Bcc:_u2028@example.org?=",
    "=?utf-8?q?=C2=85Bcc:_nel@example.org?=",
    "=?utf-8?q?=00?=",
    "\r\nBcc: raw@example.org",
    "\nX-Injected: yes\n\nbody",
    "\rBcc: cr@example.org",
    "\x00",
    "\x85Bcc: nel@example.org",
    "\u2028Bcc: ls@example.org",
    "\u2029",
    '"quoted", <angle@example.org>, \\back\\slash',
    "=?",
    "?=",
    "Zoë Ünïcødé — 日本語 🎉",
    "xSYNDPHTOx",
]
piece = st.one_of(
    st.sampled_from(INJECTIONS),
    st.text(max_size=30),
    st.text(st.characters(codec="ascii"), max_size=30),
    st.text(min_size=100, max_size=400).filter(str.strip),  # long: folding, truncation
)
hostile = st.lists(piece, max_size=5).map("".join)
named = st.lists(piece, min_size=1, max_size=4).map("".join).filter(lambda s: clean(s) != "")


def clean(text: str) -> str:
    """What a reader must see: control characters as spaces, white space folded."""
    return " ".join(CONTROL.sub(" ", text).split())


# --- building and reading messages -------------------------------------------------------


@pytest.fixture(scope="module")
def publisher() -> Publisher:
    return load_publisher(ROOT / "examples" / "insightcrime.toml")


def article(n: int, **overrides: object) -> Article:
    """A valid article with fields replaced after validation: as if a path in had skipped
    the model's cleaning, so the email layer must stand on its own."""
    data = article_data(n, published_at=(NOW - timedelta(hours=n)).isoformat())
    return Article.model_validate(data).model_copy(update=overrides)


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def head_of(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def assert_head_safe(data: bytes, names: list[str]) -> EmailMessage:
    """The raw header block: CRLF only, the fields written, each of our encoded words at
    most 75 characters and each line holding one at most 76. Then parsed as a receiver
    does: the same fields, no line break in any value, and the same again after
    serialising and parsing the parsed message (a relay that re-writes it)."""
    head = head_of(data)
    assert b"\r" not in head.replace(b"\r\n", b"") and b"\n" not in head.replace(b"\r\n", b"")
    assert re.fullmatch(rb"[\x20-\x7e\r\n]*", head)
    for line in head.split(b"\r\n"):
        words = ENCODED_WORD.findall(line.decode())
        assert all(len(w) <= 75 for w in words), line
        assert not words or len(line) <= 76, line
    check_header_block(data, names)
    msg = parse(data)
    for again in (msg, parse(msg.as_bytes(policy=policy.default))):
        assert list(again.keys()) == names
        for name, value in again.items():
            assert not CONTROL.search(str(value)), (name, value)
        assert not again.defects
    smtp = parse(msg.as_bytes(policy=policy.SMTP))
    assert list(smtp.keys()) == names
    return msg


def phrase_of(value: str) -> tuple[str, str]:
    """(display text, <…> part) of a decoded ``phrase <id>`` value (List-Id)."""
    match = re.fullmatch(r"(.*?) ?<([^<>]*)>", value, re.S)
    assert match, value
    text = match[1]
    if text.startswith('"') and text.endswith('"'):
        text = re.sub(r"\\(.)", r"\1", text[1:-1])
    return text, match[2]


def rfc2047_phrase(data: bytes, name: str) -> tuple[str, str]:
    """(display text, <…> part) of a ``phrase <…>`` field as RFC 2047 §6.2 reads it: white
    space between adjacent encoded words is dropped (``email.header.decode_header``)."""
    raw = email.message_from_bytes(data, policy=policy.compat32)[name]
    return phrase_of(str(make_header(decode_header(raw))))


def python_display(text: str) -> str:
    """``policy.default`` keeps the space between two encoded words of a display name,
    against RFC 2047 §6.2 (its unstructured parser drops it): compare without spaces."""
    return text.replace(" ", "")


def digest(
    publisher: Publisher, seg: DigestSegment, sender: str | None = None
) -> tuple[MessageTemplate, bytes]:
    rendered = render_digest(seg, publisher, PUBLIC, NOW)
    tpl = build_message_template(
        rendered, seg, publisher, PUBLIC, sender or default_sender(publisher, PUBLIC), NOW
    )
    rec = make_recipient("reader@example.com", "sub1", "tok.sig", seg.edition_id, PUBLIC)
    return tpl, personalise(tpl, rec)


# --- the property ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=named,
    summary=hostile,
    author=hostile,
    section=hostile,
    topic=hostile,
    publisher_name=named,
    sender_name=hostile,
    frequency=st.sampled_from(["instant", "daily", "weekly"]),
)
def test_no_input_puts_a_line_break_or_a_field_into_a_digest_header(
    publisher: Publisher,
    title: str,
    summary: str,
    author: str,
    section: str,
    topic: str,
    publisher_name: str,
    sender_name: str,
    frequency: str,
) -> None:
    pub = publisher.model_copy(update={"name": publisher_name})
    lead = article(
        1, title=title, summary=summary, authors=[author], section=section, topics=[topic]
    )
    items = (lead,) if frequency == "instant" else (lead, article(2))
    # A segment's topics are subscribers' topic slugs (validated at signup): the article's
    # topic names are the free text.
    seg = DigestSegment(f"{frequency}-1", frequency, "en", ("coca",), items)
    configured = headers.display_mailbox(sender_name, "news@example.org")
    for sender in (None, configured):
        try:
            tpl, data = digest(pub, seg, sender)
        except ValueError as exc:  # a configured name holding the placeholder marker
            assert sender and "syndph" in sender.lower() and "placeholder" in str(exc)
            continue
        msg = assert_head_safe(data, DIGEST_FIELDS)
        # Every value decodes to the text our code chose for it, literally.
        assert msg["Subject"] == tpl.subject == clean(tpl.subject)
        # The lead headline first, bounded for phones, then the name if it fits.
        assert len(msg["Subject"]) <= SUBJECT_CHARS
        wanted = clean(title)
        if len(wanted) <= SUBJECT_CHARS and max(map(len, wanted.split())) <= 120:
            short = clean(publisher_name)
            named = (wanted,) if frequency == "instant" else (wanted, f"{wanted} | {short}")
            assert msg["Subject"] in named
        name = clean(publisher_name) if sender is None else clean(sender_name)
        addr = "newsletter@news.example.org" if sender is None else "news@example.org"
        assert rfc2047_phrase(data, "From") == (name, addr)
        (address,) = msg["From"].addresses
        assert address.addr_spec == addr
        assert python_display(address.display_name) == python_display(name)
        label, list_id = phrase_of(str(msg["List-Id"]))
        assert (label, list_id) == rfc2047_phrase(data, "List-Id")
        kind = {"instant": "New story", "daily": "Daily digest", "weekly": "Weekly digest"}
        assert label == f"{clean(publisher_name)} {kind[frequency]}"
        assert list_id == f"{frequency}.newsletter.news.example.org"
        assert msg["To"] == "reader@example.com"
        assert msg["Message-ID"] == f"<{frequency}-1.sub1@news.example.org>"


@settings(max_examples=200, deadline=None)
@given(text=hostile, first=st.integers(24, 75))
def test_encoded_words_hold_whole_characters_within_75(text: str, first: int) -> None:
    text = headers.one_line(text)
    words = headers.encoded_words(text, first)
    assert all(len(w) <= 75 for w in words) and (not words or len(words[0]) <= first)
    # each word decodes on its own (RFC 2047 §5), and together they are the text
    decoded = [decode_header(w) for w in words]
    assert all(len(parts) == 1 for parts in decoded)
    assert "".join(raw.decode("utf-8") for [(raw, _)] in decoded) == text
    field = headers.unstructured("Subject", text)
    assert parse(field.encode() + b"\r\n\r\n")["Subject"] == text


# --- the examples from the issue -------------------------------------------------------


@pytest.mark.parametrize("title", INJECTIONS[:9])
def test_encoded_word_titles_stay_literal(publisher: Publisher, title: str) -> None:
    seg = DigestSegment("instant-1", "instant", "en", (), (article(1, title=title),))
    _, data = digest(publisher, seg)
    msg = assert_head_safe(data, DIGEST_FIELDS)
    assert msg["Subject"] == clean(title)
    assert b"Bcc" not in head_of(data) and b"Reply-To" not in head_of(data)
    assert b"=?utf-8?q?x=0D=0A" not in head_of(data)  # never written as it came


def test_plain_ascii_subjects_and_names_are_written_as_they_are(publisher: Publisher) -> None:
    seg = DigestSegment("instant-1", "instant", "en", (), (article(1, title="Coca in Peru"),))
    _, data = digest(publisher, seg)
    head = head_of(data).decode()
    assert "\r\nSubject: Coca in Peru\r\n" in head
    assert head.startswith('From: "InSight Crime" <newsletter@news.example.org>\r\n')


def test_a_configured_sender_is_one_address_and_its_name_is_text(publisher: Publisher) -> None:
    seg = DigestSegment("instant-1", "instant", "en", (), (article(1),))
    evil = "=?utf-8?q?News=0D=0ABcc:_x@example.org?= <news@example.org>"
    _, data = digest(publisher, seg, evil)
    (address,) = assert_head_safe(data, DIGEST_FIELDS)["From"].addresses
    assert address.display_name == "=?utf-8?q?News=0D=0ABcc:_x@example.org?="
    assert rfc2047_phrase(data, "From") == (address.display_name, "news@example.org")
    quoted = '"A \\"B\\" <c>" <d@example.org>'
    assert headers.parse_mailbox(quoted) == (
        'A "B" <c>',
        "d@example.org",
    )
    assert headers.parse_mailbox("d@example.org") == ("", "d@example.org")
    for bad in ("a@example.org, b@example.org", "A <a@example.org>, b@example.org", "A <>"):
        with pytest.raises(HeaderError):
            digest(publisher, seg, bad)


@pytest.mark.parametrize(
    "email_address",
    [
        "=?utf-8?q?=0D=0ABcc:_x?=@example.org",
        "a=?b@example.org",
        "a\r\nBcc: x@example.org",
        "Ünï@example.org",
    ],
)
def test_unusable_recipient_values_fail_that_recipient_only(
    publisher: Publisher, email_address: str
) -> None:
    seg = DigestSegment("instant-1", "instant", "en", (), (article(1),))
    tpl, _ = digest(publisher, seg)
    with pytest.raises(RecipientError):
        personalise(tpl, make_recipient(email_address, "s", "t", "instant-1", PUBLIC))
    url = make_recipient("a@example.org", "s", "t", "instant-1", PUBLIC)
    with pytest.raises(RecipientError):
        personalise(tpl, url.__class__(**{**url.__dict__, "unsubscribe_url": PUBLIC + "/u=?x"}))


def test_message_ids_never_hold_an_encoded_word_start() -> None:
    assert "=?" not in message_id("=?utf-8?q?=0D=0A?=", "a=?b", PUBLIC)
    assert message_id("daily-1", "s1", PUBLIC) == "<daily-1.s1@news.example.org>"


def test_content_language_must_be_a_language_tag(publisher: Publisher) -> None:
    seg = DigestSegment("instant-1", "instant", "en\r\nBcc: x@example.org", (), (article(1),))
    with pytest.raises(ValueError, match="language tag"):
        digest(publisher, seg)


# --- the guard -------------------------------------------------------------------------


def test_the_guard_refuses_any_header_block_we_did_not_write(publisher: Publisher) -> None:
    seg = DigestSegment("instant-1", "instant", "en", (), (article(1),))
    _, data = digest(publisher, seg)
    check_header_block(data, DIGEST_FIELDS)
    subject = b"Subject: Sample story 1\r\n"
    assert subject in data

    def put(field: bytes) -> bytes:
        return data.replace(subject, field)

    tampered = {
        "not the ones written": put(subject + b"Bcc: evil@example.org\r\n"),
        "bare CR or LF": put(b"Subject: x\nBcc: e@example.org\r\n"),
        "bare CR or": put(b"Subject: x\rBcc: e@example.org\r\n"),
        "control or non-ASCII": put(b"Subject: x\x00\r\n"),
        "not an encoded word of ours": put(b"Subject: =?utf-8?q?x=0D=0ABcc:_e?=\r\n"),
        "decodes to a control": put(b"Subject: =?utf-8?q?x=0D=0ABcc=3A?=\r\n"),
        "encoded word of 82": put(b"Subject: =?utf-8?q?" + b"x" * 70 + b"?=\r\n"),
        "white space only": put(b"Subject: x\r\n \r\n"),
        "ones written": put(b""),
        "are not the ones": put(b"Subject: x\r\n\r\nattacker\r\n"),
        "non-ASCII": put("Subject: Zoë\r\n".encode()),
    }
    for why, bad in tampered.items():
        with pytest.raises(HeaderError, match=why):
            check_header_block(bad, DIGEST_FIELDS)


def test_personalise_checks_every_message_it_makes(publisher: Publisher) -> None:
    """A template whose bytes were changed after it was built fails per recipient."""
    seg = DigestSegment("instant-1", "instant", "en", (), (article(1),))
    tpl, _ = digest(publisher, seg)
    chunks = [
        c.replace(b"\r\nSubject: ", b"\r\nBcc: evil@example.org\r\nSubject: ") for c in tpl.chunks
    ]
    assert chunks != list(tpl.chunks)
    broken = MessageTemplate(
        chunks=tuple(chunks),
        slots=tpl.slots,
        html_size=tpl.html_size,
        subject=tpl.subject,
        mailto=tpl.mailto,
        header_names=tpl.header_names,
    )
    with pytest.raises(RecipientError, match="header block"):
        personalise(broken, make_recipient("a@example.org", "s", "t", "instant-1", PUBLIC))
