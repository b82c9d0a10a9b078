"""Digest rendering and per-recipient personalisation (syndication.render.digest_email).

Pure functions, plain values: no Redis, no SMTP. Every message is parsed back with the
standard library's ``email`` package (policy.default), the way a receiving client would.
"""

from __future__ import annotations

import base64
import email
import re
import subprocess
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from bench.common import article_data as bench_article
from syndication.config import Publisher, load_publisher
from syndication.models import Article, Image
from syndication.render.digest_email import (
    EMAIL_POLICY,
    GMAIL_CLIP_BYTES,
    MAX_LINE,
    SIZE_BUDGET,
    DigestSegment,
    DkimKey,
    MessageTemplate,
    Recipient,
    RecipientError,
    build_message_template,
    default_sender,
    dkim_sign,
    make_recipient,
    message_id,
    personalise,
    render_digest,
    render_digest_from_scratch,
    wrap_lines,
)
from syndication.render.look import SUBJECT_CHARS, subject_line
from syndication.templating import templates_dir
from tests.support.mail import DIGEST_FIELDS

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "https://news.example.org"
NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def publisher() -> Publisher:
    return load_publisher(ROOT / "examples" / "insightcrime.toml")


def articles(count: int, **overrides: Any) -> tuple[Article, ...]:
    result = []
    for n in range(count):
        data = bench_article("digest", n, START + timedelta(minutes=n))
        data.update(overrides)
        result.append(Article.model_validate(data))
    return tuple(result)


def segment(count: int = 5, frequency: str = "daily", **kwargs: Any) -> DigestSegment:
    return DigestSegment(
        edition_id=kwargs.pop("edition_id", f"{frequency}-2026-11-03"),
        frequency=frequency,
        language=kwargs.pop("language", "en"),
        topics=kwargs.pop("topics", ("coca", "peru")),
        articles=kwargs.pop("items", None) or articles(count),
        **kwargs,
    )


def template_for(seg: DigestSegment, publisher: Publisher) -> MessageTemplate:
    rendered = render_digest(seg, publisher, PUBLIC, NOW)
    return build_message_template(
        rendered, seg, publisher, PUBLIC, default_sender(publisher, PUBLIC), NOW
    )


def recipient(n: int, edition_id: str = "daily-2026-11-03") -> Recipient:
    return make_recipient(f"reader{n}@example.com", f"sub{n}", f"tok{n}.sig{n}", edition_id, PUBLIC)


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def parts(msg: EmailMessage) -> tuple[str, str]:
    html, text = msg.get_body(("html",)), msg.get_body(("plain",))
    assert html is not None and text is not None
    return html.get_content(), text.get_content()


def squash(text: str) -> str:
    return " ".join(text.split())


def assert_lines_ok(data: bytes) -> None:
    """CRLF line ends only, and RFC 5322 §2.1.1's 998 octets per line."""
    assert b"\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in data.replace(b"\r\n", b""), "bare CR"
    longest = max(len(line) for line in data.split(b"\r\n"))
    assert longest <= MAX_LINE, longest


# --- every template renders -------------------------------------------------------------


def test_every_email_template_renders(publisher: Publisher) -> None:
    """Each file under templates/email/digest is used by a render of each kind."""
    cases = [
        segment(5, "daily"),
        segment(12, "weekly", topics=()),
        segment(1, "instant"),
        segment(3, "instant", edition_id="instant-abc"),
        segment(2, "daily", language="es"),  # the default templates, Spanish catalog
    ]
    used = {p.name for p in (templates_dir() / "email" / "digest").iterdir()}
    assert {"subject.txt", "body.mjml", "body.txt"} <= used
    for seg in cases:
        tpl = template_for(seg, publisher)
        data = personalise(tpl, recipient(1, seg.edition_id))
        msg = parse(data)
        assert msg.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        html, text = parts(msg)
        for item in seg.articles:
            assert item.title in text
            assert item.url in html and item.url in text
        read_more = "Leer más" if seg.language == "es" else "Read more"
        assert read_more in html and read_more in text
        assert_lines_ok(data)


def test_instant_with_one_article_uses_its_title_as_subject(publisher: Publisher) -> None:
    seg = segment(1, "instant")
    rendered = render_digest(seg, publisher, PUBLIC, NOW)
    assert rendered.subject == seg.articles[0].title
    multi = render_digest(segment(3, "daily"), publisher, PUBLIC, NOW)
    assert multi.subject == f"{segment(3, 'daily').articles[0].title} | InSight Crime"


def test_subjects_lead_with_the_headline_bounded_for_phones(publisher: Publisher) -> None:
    """A long headline is cut at a word with an ellipsis; the name follows only if it fits."""
    long = "Colombia's coca growers face a price collapse as armed groups tighten their grip"
    assert subject_line(long, "InSight Crime") == (
        "Colombia's coca growers face a price collapse as armed groups…"
    )
    assert len(subject_line(long * 3, "InSight Crime")) <= SUBJECT_CHARS
    assert subject_line("Short news", "InSight Crime") == "Short news | InSight Crime"
    assert subject_line("Word " * 30, "").endswith("Word…")


# --- headers ----------------------------------------------------------------------------


def test_headers_are_exact(publisher: Publisher) -> None:
    seg = segment(3)
    tpl = template_for(seg, publisher)
    rec = recipient(7)
    msg = parse(personalise(tpl, rec))
    assert [k for k, _ in msg.items()] == DIGEST_FIELDS
    assert msg["From"] == "InSight Crime <newsletter@news.example.org>"
    assert msg["To"] == "reader7@example.com"
    assert msg["Subject"] == tpl.subject
    assert msg["Date"] == "Tue, 03 Nov 2026 12:00:00 +0000"
    assert msg["Message-ID"] == "<daily-2026-11-03.sub7@news.example.org>"
    assert msg["MIME-Version"] == "1.0"
    assert msg["List-Id"] == '"InSight Crime Daily digest" <daily.newsletter.news.example.org>'
    # Only the https one-click URL: no mailto unless a mailbox that reads it is configured.
    assert msg["List-Unsubscribe"] == "<https://news.example.org/unsubscribe/tok7.sig7>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # RFC 8058 §3.1
    assert msg["Precedence"] == "bulk"
    assert msg["Content-Language"] == "en"
    for part in msg.iter_parts():
        assert part["Content-Transfer-Encoding"] == "8bit"
        assert part.get_content_charset() == "utf-8"


def test_long_list_unsubscribe_is_not_folded_into_encoded_words(publisher: Publisher) -> None:
    """The default policy folds at 78 columns and RFC 2047-encodes long URLs; ours does not."""
    seg = segment(1)
    token = "t" * 300
    rec = make_recipient("a@example.com", "s1", token, seg.edition_id, PUBLIC)
    data = personalise(template_for(seg, publisher), rec)
    header = next(line for line in data.split(b"\r\n") if line.startswith(b"List-Unsubscribe:"))
    assert f"<{PUBLIC}/unsubscribe/{token}>".encode() in header
    assert b"=?" not in header
    assert_lines_ok(data)


def test_mailto_only_when_configured(publisher: Publisher) -> None:
    seg = segment(1)
    rendered = render_digest(seg, publisher, PUBLIC, NOW)
    sender = default_sender(publisher, PUBLIC)
    for unset in ("", None):
        none = build_message_template(
            rendered, seg, publisher, PUBLIC, sender, NOW, unsubscribe_mailto=unset
        )
        assert parse(personalise(none, recipient(1)))["List-Unsubscribe"] == (
            "<https://news.example.org/unsubscribe/tok1.sig1>"
        )
    other = build_message_template(
        rendered, seg, publisher, PUBLIC, sender, NOW, unsubscribe_mailto="list@example.net"
    )
    assert "<mailto:list@example.net?subject=unsubscribe%20tok1.sig1>" in str(
        parse(personalise(other, recipient(1)))["List-Unsubscribe"]
    )


def test_message_id_is_deterministic_per_edition_and_subscriber() -> None:
    assert message_id("daily-1", "s1", PUBLIC) == "<daily-1.s1@news.example.org>"
    assert message_id("daily-1", "s1", PUBLIC) == message_id("daily-1", "s1", PUBLIC + "/")
    assert message_id("daily-1", "s2", PUBLIC) != message_id("daily-1", "s1", PUBLIC)
    assert message_id("weird id\r\n<x>", "a@b", PUBLIC) == "<weird-id-x.a-b@news.example.org>"


# --- personalisation --------------------------------------------------------------------


def test_personalise_1000_recipients(publisher: Publisher) -> None:
    seg = segment(10)
    tpl = template_for(seg, publisher)
    seen_to: set[str] = set()
    seen_ids: set[str] = set()
    for n in range(1000):
        rec = recipient(n)
        data = personalise(tpl, rec)
        msg = parse(data)
        assert not msg.defects
        assert msg["To"] == rec.email
        assert msg["Message-ID"] == rec.message_id
        html, text = parts(msg)
        assert f'href="{rec.unsubscribe_url}"' in html
        assert f'href="{rec.preferences_url}"' in html
        assert rec.unsubscribe_url in text and rec.preferences_url in text
        assert str(msg["List-Unsubscribe"]).startswith(f"<{rec.unsubscribe_url}>")
        # nobody else's links, and no placeholder left
        assert "SYNDPH" not in data.decode()
        assert f"/tok{n + 1}." not in html
        seen_to.add(str(msg["To"]))
        seen_ids.add(str(msg["Message-ID"]))
        if n % 100 == 0:
            assert_lines_ok(data)
    assert len(seen_to) == len(seen_ids) == 1000


def test_personalised_equals_rendered_from_scratch(publisher: Publisher) -> None:
    """Substitution gives what a full render for that recipient gives (up to where long
    lines were wrapped): the fast path changes nothing a reader sees."""
    seg = segment(6)
    tpl = template_for(seg, publisher)
    for n in (1, 2, 3):
        rec = recipient(n)
        fast = parse(personalise(tpl, rec))
        slow = parse(render_digest_from_scratch(seg, publisher, PUBLIC, NOW, rec))
        assert [(k, str(v)) for k, v in fast.items() if k != "Content-Type"] == [
            (k, str(v)) for k, v in slow.items() if k != "Content-Type"
        ]
        (fast_html, fast_text), (slow_html, slow_text) = parts(fast), parts(slow)
        assert squash(fast_html) == squash(slow_html)
        assert fast_text == slow_text


def test_rendering_is_deterministic(publisher: Publisher) -> None:
    seg = segment(4)
    assert template_for(seg, publisher) == template_for(seg, publisher)


@pytest.mark.parametrize(
    "field, value",
    [
        ("email", "victim@example.com\r\nBcc: everyone@example.com"),
        ("email", "ünïcode@example.com"),
        ("email", "a@b@example.com"),
        ("email", "Name <a@example.com>"),
        ("email", "x" * 250 + "@example.com"),
        ("unsubscribe_url", "https://news.example.org/u/x\r\nBcc: evil@example.com"),
        ("unsubscribe_url", "javascript:alert(1)"),
        ("preferences_url", "/relative/only"),
        ("unsubscribe_url", "https://news.example.org/" + "a" * 500),
        ("message_id", "<a@b>\r\nBcc: evil@example.com"),
        ("message_id", "<no-at-sign>"),
    ],
)
def test_bad_recipient_values_are_refused(publisher: Publisher, field: str, value: str) -> None:
    tpl = template_for(segment(1), publisher)
    rec = recipient(1)
    bad = Recipient(**{**rec.__dict__, field: value})
    with pytest.raises(RecipientError):
        personalise(tpl, bad)


def test_unsafe_url_characters_are_percent_encoded(publisher: Publisher) -> None:
    tpl = template_for(segment(1), publisher)
    rec = Recipient(
        email="a@example.com",
        subscriber_id="s",
        unsubscribe_url='https://news.example.org/unsubscribe/a"><script>x</script> b,c',
        preferences_url="https://news.example.org/preferences/é?a=1&b=2",
        message_id="<e.s@news.example.org>",
    )
    data = personalise(tpl, rec)
    msg = parse(data)
    html, text = parts(msg)
    assert "<script>" not in html and "<script>" not in text
    unsub = "https://news.example.org/unsubscribe/a%22%3E%3Cscript%3Ex%3C/script%3E%20b%2Cc"
    assert f'href="{unsub}"' in html
    assert str(msg["List-Unsubscribe"]) == f"<{unsub}>"
    assert 'href="https://news.example.org/preferences/%C3%A9?a=1&amp;b=2"' in html
    assert "https://news.example.org/preferences/%C3%A9?a=1&b=2" in text


# --- hostile content --------------------------------------------------------------------

HOSTILE = 'Breaking\r\nBcc: all@example.com\r\n\r\n<b>bold</b> & "quoted" <script>x()</script>'


def test_hostile_titles_and_names_cannot_inject_headers_or_html() -> None:
    publisher = Publisher.model_validate(
        {
            "name": 'Evil, "Inc" <x@example.com>\r\nBcc: all@example.com',
            "site_url": "https://evil.example.org",
            "postal_address": "Street 1\r\nX-Injected: yes",
        }
    )
    valid = articles(2)
    rogue = valid[0].model_copy(  # as if something skipped the model's cleaning
        update={"title": HOSTILE, "summary": HOSTILE, "authors": [HOSTILE], "section": HOSTILE}
    )
    seg = segment(items=(rogue, valid[1]))
    rendered = render_digest(seg, publisher, PUBLIC, NOW)
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    tpl = build_message_template(
        rendered, seg, publisher, PUBLIC, default_sender(publisher, PUBLIC), NOW
    )
    data = personalise(tpl, recipient(1))
    msg = parse(data)
    names = [k.lower() for k, _ in msg.items()]
    assert "bcc" not in names and "x-injected" not in names
    assert len(names) == len(set(names))
    assert msg["From"].addresses[0].addr_spec == "newsletter@news.example.org"
    assert len(msg["From"].addresses) == 1
    assert msg["Subject"].startswith("Breaking")  # the lead headline comes first
    assert "Bcc: all@example.com" in msg["Subject"]  # folded into the text, one line
    html, text = parts(msg)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>bold</b>" not in html
    assert "<script>x()</script>" in text  # plain text is not HTML: shown as typed
    assert_lines_ok(data)


def test_a_title_holding_a_placeholder_stays_text(publisher: Publisher) -> None:
    """A marker chosen per segment: content cannot smuggle in a recipient's links."""
    trap = "xSYNDPHUNSUBHx xSYNDPHTOx xSYNDPHQUNSUBx"
    seg = segment(items=articles(2, title=trap))
    rendered = render_digest(seg, publisher, PUBLIC, NOW)
    assert rendered.marker not in trap
    msg = parse(personalise(template_for(seg, publisher), recipient(3)))
    html, text = parts(msg)
    assert trap in html and trap in text
    assert html.count("/unsubscribe/tok3.sig3") == 1


def test_unbreakable_words_and_long_urls_keep_lines_short(publisher: Publisher) -> None:
    long_url = "https://insightcrime.org/news/" + "x" * 700 + "/"
    seg = segment(items=articles(2, summary="a" * 3000, title="T" * 900, url=long_url))
    data = personalise(template_for(seg, publisher), recipient(1))
    assert_lines_ok(data)
    html, text = parts(parse(data))
    assert long_url not in html and long_url not in text  # too long for one line
    assert f"Read more: {PUBLIC}/archive/{seg.edition_id}" in text


# --- size and CSS -----------------------------------------------------------------------


def test_fifteen_articles_stay_under_the_size_budget(publisher: Publisher) -> None:
    heavy = articles(
        15,
        title="A very long headline about extortion networks and illegal gold mining " * 14,
        summary="Prosecutors said the shipment was bound for European ports. " * 80,
        authors=["Sergio Saffón", "Victoria Dittmar", "Jeremy McDermott"],
    )
    seg = segment(items=heavy)
    rendered = render_digest(seg, publisher, PUBLIC, NOW)
    assert rendered.html_size < SIZE_BUDGET < GMAIL_CLIP_BYTES
    assert not rendered.over_budget and not rendered.clipped
    tpl = build_message_template(
        rendered, seg, publisher, PUBLIC, default_sender(publisher, PUBLIC), NOW
    )
    html, _ = parts(parse(personalise(tpl, recipient(1))))
    assert len(html.encode()) <= rendered.html_size < SIZE_BUDGET


def test_css_is_inlined(publisher: Publisher) -> None:
    html, _ = parts(parse(personalise(template_for(segment(3), publisher), recipient(1))))
    # the mj-style rules are in style= attributes …
    titles = re.findall(r'<h2 class="item-title"[^>]*>', html)
    assert len(titles) == 3 and all('style="' in t and "font-size: 21px" in t for t in titles)
    for tag in re.findall(r"<a [^>]*>", html):
        assert 'style="' in tag, tag
    assert re.search(r'<p class="attribution" style="[^"]*font-size: 12px', html)
    # … and the only <style> left holds what needs a stylesheet: the color-scheme
    # declaration and @media rules (narrow screens, dark mode)
    for block in re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.S):
        if "[if " in html[: html.find(block)].rsplit("<!--", 1)[-1]:
            continue  # inside an Outlook conditional comment
        rest = re.sub(r":root \{[^}]*\}", "", block).strip()
        assert rest.startswith("@media"), block[:80]
        assert "margin: 0 0 8px 0" not in block  # the .meta rule went inline


def test_footer_and_attribution(publisher: Publisher) -> None:
    seg = segment(2, items=(*articles(1), *articles(1, licence="all-rights-reserved")))
    html, text = parts(parse(personalise(template_for(seg, publisher), recipient(1))))
    for body in (html, text):
        assert "InSight Crime, Medellín, Colombia" in body
        assert "you subscribed to the daily digest" in squash(body)
        assert f"{PUBLIC}/archive/{seg.edition_id}" in body
        assert "Creative Commons Attribution-NonCommercial 4.0 International" in squash(body)
        assert "© InSight Crime. All rights reserved: it may not be republished." in squash(body)
    assert 'href="https://creativecommons.org/licenses/by-nc/4.0/"' in html
    assert "Coca, peru" in squash(text)  # the publisher's label, else the slug
    assert "View in browser" in html


def test_spanish_digest_names_the_licence_in_spanish(publisher: Publisher) -> None:
    """A reader of Spanish gets the licence's Spanish name and CC's Spanish deed."""
    items = (*articles(1), *articles(1, licence="all-rights-reserved"))
    seg = segment(2, language="es", items=items)
    html, text = parts(parse(personalise(template_for(seg, publisher), recipient(1))))
    for body in (html, text):
        assert "Atribución-NoComercial 4.0 Internacional" in squash(body)
        assert "Attribution-NonCommercial" not in body
        assert "All rights reserved" not in body
    assert 'href="https://creativecommons.org/licenses/by-nc/4.0/deed.es"' in html


def test_preview_fill_and_size_flags(publisher: Publisher) -> None:
    rendered = render_digest(segment(2), publisher, PUBLIC, NOW)
    html, text = rendered.fill(f"{PUBLIC}/unsubscribe/PREVIEW", f"{PUBLIC}/preferences/PREVIEW")
    assert f'href="{PUBLIC}/unsubscribe/PREVIEW"' in html
    assert f"Update your preferences: {PUBLIC}/preferences/PREVIEW" in text
    assert rendered.marker not in html and rendered.marker not in text
    assert len(html.encode()) < rendered.html_size  # html_size counts links at their longest


# --- wrapping and DKIM ------------------------------------------------------------------


def test_wrap_lines_breaks_at_spaces_and_keeps_outlook_conditions() -> None:
    line = "<!--[if mso | IE]><table>" + " ".join(["word"] * 400) + "<![endif]-->"
    wrapped = wrap_lines(line, width=100)
    assert all(len(x) <= 100 for x in wrapped.split("\n"))
    assert wrapped.startswith("<!--[if mso | IE]>")
    assert squash(wrapped) == squash(line)
    assert wrap_lines("TOKEN " * 3, {"TOKEN": 90}, width=100).count("\n") == 2
    with pytest.raises(ValueError):
        wrap_lines("x" * 200, width=100)


def test_dkim_signature_verifies_and_covers_list_unsubscribe(
    publisher: Publisher, tmp_path: Path
) -> None:
    dkim = pytest.importorskip("dkim")
    key_file = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key_file), "2048"], check=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key_file), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    key = DkimKey("s2026", "news.example.org", key_file.read_bytes())
    tpl = template_for(segment(2), publisher)
    # dkimpy's verifier refuses a t= ahead of its wall clock (which make test-shifted moves
    # 200 days back): sign at a fixed instant well before any of them.
    signed_at = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    with pytest.raises(ValueError, match="signed_at"):
        personalise(tpl, recipient(1), dkim=key)
    signed = personalise(tpl, recipient(1), dkim=key, signed_at=signed_at)
    assert signed.startswith(b"DKIM-Signature: ")
    header = squash(signed.split(b"\r\n\r\n", 1)[0].decode())
    assert "list-unsubscribe : list-unsubscribe-post" in header  # RFC 8058 §4
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: record)
    assert signed.endswith(personalise(tpl, recipient(1)))
    tampered = signed.replace(b"tok1.sig1", b"tok2.sig2")
    assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: record)
    assert b"; t=1700000000; " in squash(signed.split(b"\r\n\r\n", 1)[0].decode()).encode()
    # the body hash from the template's pre-canonicalised chunks is the whole-body one
    assert dkim_sign(personalise(tpl, recipient(1)), key, 1_700_000_000) == signed


def test_policy_does_not_fold_under_998() -> None:
    assert EMAIL_POLICY.max_line_length == MAX_LINE
    assert EMAIL_POLICY.linesep == "\r\n"


# --- the look (#17) ---------------------------------------------------------------------


def _pictured(licence: str | None, url: str = "https://img.example.org/a.jpg") -> Article:
    image = {"url": url, "caption": "A boat on a river", "credit": "Photo: A. Person"}
    (story,) = articles(1)
    return story.model_copy(update={"image": Image.model_validate({**image, "licence": licence})})


def test_lead_images_only_when_their_licence_allows(publisher: Publisher) -> None:
    shown, arr, none = (_pictured(lic) for lic in ("CC-BY-4.0", "all-rights-reserved", None))
    arr = arr.model_copy(update={"id": "arr", "title": "Reserved"})
    none = none.model_copy(update={"id": "nolicence", "title": "Unlicensed"})
    seg = segment(items=(shown, arr, none), featured=shown.id)
    html, text = parts(parse(personalise(template_for(seg, publisher), recipient(1))))
    (img,) = re.findall(r'<img class="pic"[^>]*>', html)
    assert 'alt="A boat on a river"' in img and 'width="552"' in img and 'height="368"' in img
    assert "Photo: A. Person" in html and "Creative Commons Attribution 4.0" in html
    assert "Image: A boat on a river" in text and "Photo: A. Person" in text
    assert text.count("Photo: A. Person") == 1  # the other two pictures are not named


def test_image_urls_are_checked_again_at_render(publisher: Publisher) -> None:
    """Stored articles skip the model's checks: a bad scheme or a quote never reaches HTML."""
    for url in ("javascript:alert(1)", 'https://x.example.org/a".jpg onerror="x', "//x/a.jpg"):
        story = _pictured("CC-BY-4.0").model_copy()
        assert story.image is not None
        story = story.model_copy(update={"image": story.image.model_copy(update={"url": url})})
        rendered = render_digest(segment(items=(story,)), publisher, PUBLIC, NOW)
        assert "javascript:" not in rendered.html and 'onerror="' not in rendered.html
        assert ".jpg onerror" not in rendered.html


def test_dark_mode_and_preheader(publisher: Publisher) -> None:
    rendered = render_digest(segment(3), publisher, PUBLIC, NOW)
    assert '<meta name="color-scheme" content="light dark">' in rendered.html
    assert '<meta name="supported-color-schemes" content="light dark">' in rendered.html
    assert "prefers-color-scheme: dark" in rendered.html
    lead = segment(3).articles[0]
    hidden = rendered.html[rendered.html.index("display:none") :]
    assert lead.summary.split()[0] in hidden[:400] and "\u200c" in hidden[:2000]
