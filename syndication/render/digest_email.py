"""Email digests: rendered once per segment, personalised per recipient by substitution.

Pure: no Redis, no network, no clock (``now`` is passed in). The pipeline per segment is
Jinja2 → MJML (mjml-python / MRML) → HTML → css-inline, plus a plain-text part from its own
template, then one ``EmailMessage`` serialised to bytes with placeholder tokens where the
recipient's own parts go (To, Message-ID, the unsubscribe and preferences links, the
``List-Unsubscribe`` values). Per recipient, :func:`personalise` only joins the
pre-split bytes with the validated values: ~150× cheaper than rendering each message
(FIELD-NOTES, ``bench/email_build.py``), and the recipient's values never pass through a
template or a header folder, so they cannot change the message's structure.

Why the bytes look the way they do:

- Bodies are ``8bit`` UTF-8, never quoted-printable or base64: placeholders must survive
  serialisation verbatim. RFC 5322 §2.1.1 caps a line at 998 octets, so long HTML lines
  (MRML and css-inline write almost everything on one line) are wrapped at spaces, which
  HTML treats as equivalent to a newline; a placeholder counts at its longest value.
- Header fields are written by ``syndication.render.headers``, never by the ``email``
  package: it decodes RFC 2047 encoded words in the values it is given (a title holding
  ``=?utf-8?q?=0D=0ABcc:…?=`` became a real ``Bcc:``) and folds long ``List-Unsubscribe``
  URLs into encoded words. Text (Subject, display names) goes out literally when it is
  printable ASCII without ``=?``, else as encoded words of ours; the library serialises
  only the MIME body. :func:`~syndication.render.headers.check_header_block` refuses any
  header block with a field we did not write or a bare CR/LF, once per segment and again
  for every personalised message.
- ``List-Unsubscribe`` (RFC 2369) carries an https URL (and a mailto when one is
  configured); with
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` the https URL is the RFC 8058
  one-click endpoint. RFC 8058 §4 wants both headers covered by a DKIM signature
  (RFC 6376), which :func:`dkim_sign` does after personalisation.
- ``Message-ID`` is deterministic per (edition, subscriber) (RFC 5322 §3.6.4): a resend
  after a crash carries the same id, so receivers can drop the duplicate.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import cache, cached_property, lru_cache
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import escape
from mjml import mjml2html

from syndication import i18n
from syndication.config import Publisher
from syndication.i18n import N_
from syndication.licences import LICENCES, deed_url, display_name
from syndication.models import Article
from syndication.render import headers
from syndication.render.dkim import DkimKey, RelaxedTemplate, dkim_sign
from syndication.render.licence_terms import licence_terms
from syndication.render.look import (
    PREHEADER_FILLER,
    email_image,
    preheader,
    safe_http_url,
    subject_line,
)
from syndication.templating import templates_dir

#: Gmail clips a message whose HTML part is larger than this ("[Message clipped]").
GMAIL_CLIP_BYTES = 102_000
#: Our own ceiling for the HTML part, with room for per-recipient links and MTA headers.
SIZE_BUDGET = 90_000

#: RFC 5322 §2.1.1: at most 998 octets per line, excluding CRLF.
MAX_LINE = 998
#: Wrap width for bodies: under MAX_LINE with a little room to spare.
WRAP = 980

#: Caps on per-recipient values, so a substituted line stays under MAX_LINE.
MAX_EMAIL = 254  # RFC 5321 §4.5.3.1.3 (path) less the brackets
MAX_URL = 400
MAX_MESSAGE_ID = 250
#: Caps on article text in a digest: the full summary can be 5,000 characters.
SUMMARY_CHARS = 600
#: The featured story shows its whole summary (the model caps it at 5,000 characters).
FEATURED_SUMMARY_CHARS = 5000
#: The editors' intro: at most this many characters (``store/editorial.py`` enforces it).
INTRO_CHARS = 2000
TITLE_CHARS = 300
#: An article URL longer than this (no spaces: it cannot be wrapped) links to the archive.
MAX_ARTICLE_URL = 600
#: Longer "words" (pasted URLs, runs of symbols) are cut: lines must break at spaces.
MAX_WORD = 120

EMAIL_POLICY = SMTP.clone(max_line_length=MAX_LINE)
"""For the MIME body the library writes: CRLF line ends (what SMTP DATA wants)."""

#: The header fields of every digest message, in order (``headers.check_header_block``).
DIGEST_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Precedence",
    "Content-Type",
    "Content-Language",
)

#: English msgids; digests and List-Id show them in the segment's language.
FREQUENCY_LABELS = {
    "daily": N_("Daily digest"),
    "weekly": N_("Weekly digest"),
    "instant": N_("New story"),
}

# --- validation of per-recipient values -------------------------------------------------

# RFC 5322 §3.2.3 dot-atom-text, ASCII only (no SMTPUTF8): what may appear in To and ids.
_EMAIL = headers.ADDR_SPEC
_MESSAGE_ID = re.compile(rf"<{headers.DOT_ATOM}@{headers.DOT_ATOM}>")
_ID_PART = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
#: URL characters left as they are; anything else (quotes, <, >, space, comma, non-ASCII)
#: is percent-encoded, so a value can end neither an HTML attribute nor a header's <…>.
_URL_SAFE = "-._~:/?#@!$&'()*+;=%"
_CRLF = re.compile(r"[\r\n]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: A BCP 47 tag (RFC 5646) in its simple form: what Content-Language may carry.
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


class RecipientError(ValueError):
    """A recipient value is unusable (CR/LF, non-ASCII address, too long): a permanent
    failure for that recipient, never a malformed message."""


_one_line = headers.one_line


def _check_email(value: str) -> str:
    """``=?`` is refused too: a reader's parser would decode it (even in an address)."""
    if (
        _CRLF.search(value)
        or len(value) > MAX_EMAIL
        or not _EMAIL.fullmatch(value)
        or "=?" in value
    ):
        raise RecipientError(f"not an ASCII addr-spec of at most {MAX_EMAIL} octets: {value!r}")
    return value


def _check_url(value: str) -> str:
    if _CRLF.search(value):
        raise RecipientError("URL contains CR or LF")
    if "=?" in value:
        raise RecipientError("URL contains '=?' (a reader would decode it in List-Unsubscribe)")
    url = quote(value.strip(), safe=_URL_SAFE)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RecipientError(f"not an absolute http(s) URL: {value!r}")
    if len(url) > MAX_URL:
        raise RecipientError(f"URL longer than {MAX_URL} octets")
    return url


def _check_message_id(value: str) -> str:
    value = value.strip()
    if not value.startswith("<"):
        value = f"<{value}>"
    if (
        _CRLF.search(value)
        or len(value) > MAX_MESSAGE_ID
        or not _MESSAGE_ID.fullmatch(value)
        or "=?" in value
    ):
        raise RecipientError(f"not a Message-ID (RFC 5322 §3.6.4): {value!r}")
    return value


# --- plain values in and out ------------------------------------------------------------


@dataclass(frozen=True)
class DigestSegment:
    """What one group of subscribers gets: one edition's articles for their language and
    topics (C makes segments; B renders each once). ``period_label`` overrides the date
    line ("Tuesday, November 3, 2026" by default).

    ``intro`` is the editors' note, plain text (paragraphs separated by blank lines), shown
    escaped above the stories; ``featured`` is the id of the story shown first and larger
    (when it is among ``articles``). ``articles`` are rendered in the order given."""

    edition_id: str
    frequency: str
    language: str
    topics: tuple[str, ...]
    articles: tuple[Article, ...]
    period_label: str = ""
    intro: str = ""
    featured: str | None = None


@dataclass(frozen=True)
class Recipient:
    """One recipient's own parts of a message; the links carry A's signed manage token."""

    email: str
    subscriber_id: str
    unsubscribe_url: str
    preferences_url: str
    message_id: str


# Placeholder slots. The marker is chosen per segment so it never occurs in its content.
_SLOTS = ("TO", "MSGID", "UNSUB", "UNSUBH", "PREFS", "PREFSH", "MAILTO")
#: The longest value each slot can take (octets), for line-length arithmetic.
_SLOT_WIDTH = {
    "TO": MAX_EMAIL,
    "MSGID": MAX_MESSAGE_ID,
    "UNSUB": MAX_URL,
    "UNSUBH": MAX_URL,
    "PREFS": MAX_URL,
    "PREFSH": MAX_URL,
    "MAILTO": MAX_URL,
}


def _token(marker: str, slot: str) -> str:
    return f"x{marker}{slot}x"


@dataclass(frozen=True)
class RenderedDigest:
    """A segment's subject and bodies, with placeholder tokens for the recipient's links.

    ``html_size`` is the HTML part's size in octets with every placeholder at its longest
    value: what ``digest preview`` compares with SIZE_BUDGET and GMAIL_CLIP_BYTES.
    """

    subject: str
    html: str
    text: str
    marker: str
    language: str

    @property
    def html_size(self) -> int:
        size = len(self.html.encode())
        for slot in _SLOTS:
            token = _token(self.marker, slot)
            size += self.html.count(token) * (_SLOT_WIDTH[slot] - len(token))
        return size

    @property
    def over_budget(self) -> bool:
        return self.html_size > SIZE_BUDGET

    @property
    def clipped(self) -> bool:
        """Gmail would clip it."""
        return self.html_size > GMAIL_CLIP_BYTES

    def fill(self, unsubscribe_url: str, preferences_url: str) -> tuple[str, str]:
        """(html, text) with the links filled in: for previews and the archive page."""
        unsub, prefs = _check_url(unsubscribe_url), _check_url(preferences_url)
        values = {
            "UNSUB": unsub,
            "UNSUBH": str(escape(unsub)),
            "PREFS": prefs,
            "PREFSH": str(escape(prefs)),
        }
        html, text = self.html, self.text
        for slot, value in values.items():
            html = html.replace(_token(self.marker, slot), value)
            text = text.replace(_token(self.marker, slot), value)
        return html, text


@dataclass(frozen=True)
class MessageTemplate:
    """One segment's message as bytes, split at the placeholders: ``chunks[0]``, then the
    value of ``slots[0]``, then ``chunks[1]`` … (``len(chunks) == len(slots) + 1``)."""

    chunks: tuple[bytes, ...]
    slots: tuple[str, ...]
    html_size: int
    subject: str
    mailto: str | None = None
    #: The header fields written, in order: what every personalised message must have.
    header_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.header_names:
            object.__setattr__(self, "header_names", DIGEST_HEADERS)

    @property
    def size(self) -> int:
        """Octets of the template without the recipient values (≈ each message's size)."""
        return sum(len(c) for c in self.chunks)

    @cached_property
    def _relaxed(self) -> RelaxedTemplate | None:
        return RelaxedTemplate.of(self.chunks)

    def canonical_body(self, values: Mapping[str, bytes]) -> list[bytes] | None:
        """The DKIM relaxed body (RFC 6376 §3.4.4) of the message with these slot values,
        in pieces, from the chunks canonicalised once (None: canonicalise the message)."""
        relaxed = self._relaxed
        if relaxed is None:
            return None
        return relaxed.body([values[slot] for slot in self.slots])


# --- helpers for the caller (C) ---------------------------------------------------------


@lru_cache(maxsize=64)  # once per message (Message-ID): the URL is the service's own
def host_of(public_url: str) -> str:
    host = urlsplit(public_url).hostname
    if not host:
        raise ValueError(f"no host in {public_url!r}")
    return host


def message_id(edition_id: str, subscriber_id: str, public_url: str) -> str:
    """``<edition.subscriber@host>``: the same for every attempt at one recipient of one
    edition (RFC 5322 §3.6.4), so a resend after a crash is recognisably the same message."""
    # "=?" would read as the start of an encoded word: "-" breaks it (deterministically).
    edition = _ID_PART.sub("-", edition_id).replace("=?", "-").strip("-") or "edition"
    subscriber = _ID_PART.sub("-", subscriber_id).replace("=?", "-").strip("-") or "subscriber"
    return f"<{edition}.{subscriber}@{host_of(public_url)}>"


def make_recipient(
    email: str, subscriber_id: str, manage_token: str, edition_id: str, public_url: str
) -> Recipient:
    """A Recipient whose links are ``/unsubscribe/{token}`` and ``/preferences/{token}``."""
    token = quote(manage_token, safe="")
    base = public_url.rstrip("/")
    return Recipient(
        email=email,
        subscriber_id=subscriber_id,
        unsubscribe_url=f"{base}/unsubscribe/{token}",
        preferences_url=f"{base}/preferences/{token}",
        message_id=message_id(edition_id, subscriber_id, public_url),
    )


def default_sender(publisher: Publisher, public_url: str) -> str:
    """``"Publisher Name" <newsletter@host>`` as text: the name quoted, so commas, quotes or
    angle brackets in it cannot add addresses; the From field encodes it as needed."""
    return headers.display_mailbox(publisher.name, f"newsletter@{host_of(public_url)}")


# --- rendering --------------------------------------------------------------------------


@cache
def environment() -> Environment:
    """Jinja over ``templates/`` like ``syndication.templating.environment()``, but
    autoescaping ``.mjml`` too (MJML bodies are HTML); ``.txt`` stays unescaped. With the
    i18n extension: a render's ``locale`` picks the catalog."""
    env = Environment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=select_autoescape(["html", "xml", "mjml"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return i18n.install(env)


@cache
def _inliner() -> css_inline.CSSInliner:
    """MRML leaves ``mj-style inline`` CSS in a ``<style>`` block; Gmail and Outlook need it
    in ``style=`` attributes. ``keep_at_rules`` keeps the responsive @media rules in a
    ``<style>`` for the clients that honour them; nothing is fetched (pure)."""
    return css_inline.CSSInliner(
        keep_at_rules=True, load_remote_stylesheets=False, keep_link_tags=True
    )


def _date_label(when: datetime, tz: ZoneInfo, language: str, weekday: bool = False) -> str:
    """The date in the publisher's time zone, as the segment's language writes it (CLDR via
    Babel): "Tuesday, November 3, 2026", "martes, 3 de noviembre de 2026"."""
    return i18n.format_date(when, language, tz, "full" if weekday else "long")


def _text(value: str, limit: int) -> str:
    """One line, no word over MAX_WORD characters, at most ``limit`` characters."""
    words = [w if len(w) <= MAX_WORD else w[: MAX_WORD - 1] + "…" for w in _one_line(value).split()]
    return _truncate(" ".join(words), limit)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


def intro_paragraphs(intro: str) -> list[list[str]]:
    """The intro as paragraphs (split at blank lines) of lines (split at single newlines),
    each line one line of text with no word over MAX_WORD: safe to wrap, rendered escaped."""
    text = intro.replace("\r\n", "\n").replace("\r", "\n")[:INTRO_CHARS]
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        lines = [_text(line, INTRO_CHARS) for line in block.split("\n")]
        lines = [line for line in lines if line]
        if lines:
            paragraphs.append(lines)
    return paragraphs


def _ordered(segment: DigestSegment) -> list[Article]:
    """The segment's articles as given, the featured one (if among them) moved first."""
    articles = list(segment.articles)
    for i, article in enumerate(articles):
        if segment.featured and article.id == segment.featured:
            articles.insert(0, articles.pop(i))
            break
    return articles


def _item(
    article: Article,
    tz: ZoneInfo,
    language: str,
    archive_url: str,
    featured: bool = False,
    publisher: Publisher | None = None,
    base: str = "",
    link: str | None = None,
) -> dict[str, Any]:
    licence = LICENCES.get(article.licence)
    url = article.url
    if len(str(escape(url))) > MAX_ARTICLE_URL or _CONTROL.search(url) or " " in url:
        url = archive_url
    if link:  # the counted redirect (services/clicks.py): ours, short, signed
        url = link
    name = article.publisher or (publisher.attribution_name if publisher else "")
    # The licence sentence every face shares (render/licence_terms.py), in the email's
    # language; republishable stories link the republish page, where the full terms are.
    terms = licence_terms(article.licence, _text(name, 200), language) if licence else None
    republish = (
        f"{base}/republish/{quote(article.id, safe='')}"
        if base and terms is not None and terms.republishable and article.republishable
        else None
    )
    return {
        "title": _text(article.title, TITLE_CHARS),
        "url": url,
        "summary": _text(article.summary, FEATURED_SUMMARY_CHARS if featured else SUMMARY_CHARS),
        "featured": featured,
        "authors": [_text(a, 200) for a in article.authors],
        "date": _date_label(article.published_at, tz, language),
        "date_iso": article.published_at.isoformat(),
        "section": _text(article.section or "", 200),
        # In the reader's language, with CC's deed in that language where there is one.
        "licence_name": display_name(licence, language) if licence else article.licence,
        "licence_url": deed_url(licence, language) if licence else None,
        "creative_commons": article.licence.startswith("CC"),
        "publisher": _text(name, 200),
        "terms": terms,
        "republish_url": republish,
        "image": email_image(article.image, language, featured),
    }


def _choose_marker(
    segment: DigestSegment, publisher: Publisher, public_url: str, links: Sequence[str] = ()
) -> str:
    """A placeholder marker that occurs nowhere in the segment's own text, so a hostile
    title cannot smuggle a placeholder (and with it another recipient's link) in."""
    parts = [public_url, publisher.model_dump_json(), *segment.topics, segment.period_label]
    parts += [segment.intro, *links]
    for article in segment.articles:
        parts += [article.title, article.summary, article.url, article.section or ""]
        parts += article.authors
        if article.image is not None:  # caption, credit and URL go into the message too
            parts += [article.image.url, article.image.caption, article.image.credit]
    haystack = "\n".join(parts).lower()
    marker = "SYNDPH"
    while marker.lower() in haystack:
        marker += "Q"
    return marker


def _subject(segment: DigestSegment, items: list[dict[str, Any]], name: str) -> str:
    """The lead headline first (render/look.py); an instant email of one story is its
    headline alone, as it always was."""
    if not items:
        return ""
    alone = segment.frequency == "instant" and len(items) == 1
    return subject_line(items[0]["title"], "" if alone else name)


def _context(
    segment: DigestSegment,
    publisher: Publisher,
    public_url: str,
    now: datetime,
    unsubscribe: str,
    preferences: str,
    links: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    tz = ZoneInfo(publisher.timezone)
    link = (links or {}).get  # click counting's redirect per story, if on
    base = public_url.rstrip("/")
    # "View in browser" shows this segment's version (web/archive.py reads ``segment``).
    archive_url = (
        f"{base}/archive/{quote(segment.edition_id, safe='')}"
        f"?segment={quote(segment_param(segment.language, segment.topics), safe=':,')}"
    )
    # One language for the chrome and its dates: the segment's, if we have its catalog.
    locale = i18n.supported(segment.language) or i18n.SOURCE
    period = _one_line(segment.period_label) or _date_label(
        now, tz, locale, weekday=segment.frequency == "daily"
    )
    label = FREQUENCY_LABELS.get(segment.frequency, N_("Digest"))
    items = [
        _item(a, tz, locale, archive_url, a.id == segment.featured, publisher, base, link(a.id))
        | {"section": _text(publisher.section_label(a.section or "", locale), 200)}
        for a in _ordered(segment)
    ]
    return {
        "locale": locale,
        "brand": publisher.brand,
        "subject": _subject(segment, items, publisher.name),
        "preheader": preheader(items),
        "preheader_filler": PREHEADER_FILLER,
        "publisher": {
            "name": _text(publisher.name, 200),
            "site_url": publisher.site_url,
            "postal_address": _one_line(publisher.postal_address),
            "address_line": _one_line(publisher.address_line),
            "description": _one_line(publisher.describe(locale)),
            "logo_url": safe_http_url(publisher.logo) or "",
            "contact_email": publisher.contact_email,
        },
        "edition": {
            "id": segment.edition_id,
            "frequency": segment.frequency,
            "frequency_label": i18n.gettext(locale, label),
            "language": segment.language,
            "topics": [_text(publisher.topic_label(t, locale), 100) for t in segment.topics],
            "period": period,
        },
        "intro": intro_paragraphs(segment.intro),
        "items": items,
        "links": {
            "unsubscribe": unsubscribe,
            "preferences": preferences,
            "archive": archive_url,
            "site": publisher.site_url,
        },
    }


def _templates(language: str, name: str) -> list[str]:
    """Language-specific template first (``email/digest/es/body.mjml``), then the default.

    The default templates are translated (gettext catalogs, ``syndication.i18n``), so an
    override is only for a language whose layout must differ, not to translate strings."""
    lang = language.split("-")[0].lower()
    return [f"email/digest/{lang}/{name}", f"email/digest/{name}"]


def _render_parts(
    html_context: dict[str, Any], text_context: dict[str, Any], language: str
) -> tuple[str, str, str]:
    """(subject, inlined HTML, text) from the templates: the expensive part."""
    env = environment()
    subject = env.select_template(_templates(language, "subject.txt")).render(html_context)
    subject = _truncate(_one_line(subject), 200)
    mjml_source = env.select_template(_templates(language, "body.mjml")).render(html_context)
    html = _inliner().inline(mjml2html(mjml_source, disable_comments=True))
    text = env.select_template(_templates(language, "body.txt")).render(text_context)
    return subject, html, text


def with_canary(html: str, canary_url: str) -> str:
    """The invisible canary link first in the body: no text, hidden, out of the tab order
    and of screen readers, so no person follows it, while link scanners (which fetch every
    ``href``) do, and mark themselves (services/clicks.py)."""
    anchor = (
        f'<a href="{escape(canary_url)}" aria-hidden="true" tabindex="-1" '
        'style="display:none;font-size:0;line-height:0;max-height:0;overflow:hidden;'
        'mso-hide:all"></a>'
    )
    match = re.search(r"<body[^>]*>", html)
    at = match.end() if match else 0
    return html[:at] + anchor + html[at:]


def render_digest(
    segment: DigestSegment,
    publisher: Publisher,
    public_url: str,
    now: datetime,
    links: Mapping[str, str] | None = None,
    canary: str | None = None,
) -> RenderedDigest:
    """Render one segment once, with placeholders for the recipient's links. ``links``
    (article id → URL) replaces the stories' links, in both parts; ``canary`` adds the
    scanners' link to the HTML (both are click counting's, off by default)."""
    ours = [*(links or {}).values(), *([canary] if canary else [])]
    marker = _choose_marker(segment, publisher, public_url, ours)
    unsub, prefs = _token(marker, "UNSUBH"), _token(marker, "PREFSH")
    html_context = _context(segment, publisher, public_url, now, unsub, prefs, links)
    text_context = {
        **html_context,
        "links": {
            **html_context["links"],
            "unsubscribe": _token(marker, "UNSUB"),
            "preferences": _token(marker, "PREFS"),
        },
    }
    subject, html, text = _render_parts(html_context, text_context, segment.language)
    if canary:
        html = with_canary(html, canary)
    widths = {_token(marker, s): w for s, w in _SLOT_WIDTH.items()}
    return RenderedDigest(
        subject=subject,
        html=wrap_lines(html, widths),
        text=wrap_lines(text, widths),
        marker=marker,
        language=segment.language,
    )


# --- wrapping ---------------------------------------------------------------------------

_CONDITION = re.compile(r"\[if [^\]]*\]")  # Outlook conditional comments: keep on one line


def wrap_lines(text: str, widths: Mapping[str, int] | None = None, width: int = WRAP) -> str:
    """Break lines longer than ``width`` octets at spaces.

    In HTML a newline between attributes or words is the same white space as a space (no
    ``<pre>`` in our templates), so this changes nothing a reader sees; Outlook's
    ``[if mso | IE]`` conditions are kept whole. ``widths`` counts each placeholder token
    at its longest value. Raises ValueError when a line has no space to break at.
    """
    widths = widths or {}
    out: list[str] = []
    for line in text.split("\n"):
        if len(line.encode()) <= width and not any(t in line for t in widths):
            out.append(line)
            continue
        protected = _CONDITION.sub(lambda m: m.group(0).replace(" ", "\x00"), line)
        current: list[str] = []
        size = 0
        for word in protected.split(" "):
            word_size = len(word.encode()) + sum(
                word.count(t) * (w - len(t)) for t, w in widths.items() if t in word
            )
            if current and size + 1 + word_size > width:
                out.append(" ".join(current))
                current, size = [], 0
            if word_size > width:
                raise ValueError(f"cannot wrap a {word_size}-octet word under {width}")
            size += word_size + (1 if current else 0)
            current.append(word)
        out.append(" ".join(current))
    return "\n".join(out).replace("\x00", " ")


# --- the message ------------------------------------------------------------------------


def _boundary(*parts: str) -> str:
    """A deterministic MIME boundary (RFC 2046 §5.1.1) from the content it separates."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return f"=_synd_{digest}"


def _list_id(publisher: Publisher, segment: DigestSegment, host: str) -> tuple[str, str]:
    """RFC 2919: (label, list-id), one list per frequency; the label is text."""
    frequency = re.sub(r"[^a-z0-9-]", "", segment.frequency.lower()) or "digest"
    # The label is the reader's, in the segment's language (RFC 2919 §3: a phrase, so
    # encoded words when it is not ASCII); the id stays one per frequency.
    locale = i18n.supported(segment.language) or i18n.SOURCE
    kind = i18n.gettext(locale, FREQUENCY_LABELS.get(segment.frequency, N_("Digest")))
    return f"{_one_line(publisher.name)} {kind}", f"{frequency}.newsletter.{host}"


def _message(
    *,
    subject: str,
    html: str,
    text: str,
    sender: str,
    to: str,
    msgid: str,
    unsubscribe: str,
    mailto: str | None,
    list_id: tuple[str, str],
    language: str,
    now: datetime,
) -> tuple[bytes, tuple[str, ...]]:
    """The message's bytes and the names of the header fields in it, in order.

    Every field is written by ``headers`` from text or checked values; the ``email``
    package builds only the MIME body (and its Content-Type), so it never parses — never
    decodes — a value that came from input."""
    if not _LANGUAGE.fullmatch(language):
        raise ValueError(f"not a language tag for Content-Language: {language!r}")
    body = EmailMessage(policy=EMAIL_POLICY)
    body.set_content(text, subtype="plain", charset="utf-8", cte="8bit")
    body.add_alternative(html, subtype="html", charset="utf-8", cte="8bit")
    body.set_boundary(_boundary(subject, text, html))
    content_type, data = headers.mime_body(body, EMAIL_POLICY)
    unsubscribe_value = f"<{unsubscribe}>" + (f", <{mailto}>" if mailto else "")
    fields = [
        headers.mailbox("From", *headers.parse_mailbox(sender)),
        headers.structured("To", to),
        headers.unstructured("Subject", subject),
        headers.structured("Date", format_datetime(now)),
        headers.structured("Message-ID", msgid),
        headers.structured("MIME-Version", "1.0"),
        headers.with_phrase("List-Id", *list_id),
        headers.structured("List-Unsubscribe", unsubscribe_value),
        headers.structured("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        headers.structured("Precedence", "bulk"),
        content_type,
        headers.structured("Content-Language", language),  # RFC 3282
    ]
    message = headers.join(fields, data)
    names = headers.field_names(fields)
    headers.check_header_block(message, names)
    return message, names


def _mailto(address: str | None, host: str, token: str) -> str | None:
    """The mailto of ``List-Unsubscribe`` only when a mailbox that reads it is configured:
    a default address nothing reads would swallow the unsubscribes sent to it."""
    if not address:
        return None
    _check_email(address)
    if len(address) > 100:
        raise ValueError("unsubscribe mailto address longer than 100 octets")
    return f"mailto:{address}?subject=unsubscribe%20{token}"


def _manage_token(url: str) -> str:
    """The last path segment of the unsubscribe URL: the signed token, so a mailbox that
    processes unsubscribe mails can verify the request (RFC 2369 mailto with a subject)."""
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def build_message_template(
    rendered: RenderedDigest,
    segment: DigestSegment,
    publisher: Publisher,
    public_url: str,
    sender: str,
    now: datetime,
    *,
    unsubscribe_mailto: str | None = None,
) -> MessageTemplate:
    """Build the segment's message once and split its bytes at the placeholders.

    ``sender``: ``Name <addr>``, ``"Name" <addr>`` or ``addr`` (the name is text: an
    ``=?…?=`` in it is shown as typed). ``unsubscribe_mailto``: the mailbox in
    ``List-Unsubscribe``'s mailto (default none: only the https one-click URL). Its
    subject carries the recipient's signed token.
    """
    marker = rendered.marker
    host = host_of(public_url)
    mailto = _mailto(unsubscribe_mailto, host, _token(marker, "MAILTO"))
    data, names = _message(
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        sender=sender,
        to=_token(marker, "TO"),
        msgid=_token(marker, "MSGID"),
        unsubscribe=_token(marker, "UNSUB"),
        mailto=mailto,
        list_id=_list_id(publisher, segment, host),
        language=rendered.language,
        now=now,
    )
    _check_lines(data, marker)
    pattern = re.compile(("x" + re.escape(marker) + "(" + "|".join(_SLOTS) + ")x").encode("ascii"))
    in_head = [m.decode() for m in pattern.findall(data.split(b"\r\n\r\n", 1)[0])]
    if in_head != ["TO", "MSGID", "UNSUB"] + (["MAILTO"] if mailto else []):
        raise ValueError(f"placeholder text in a header value (the sender?): {in_head}")
    pieces = pattern.split(data)
    chunks = tuple(pieces[0::2])
    slots = tuple(p.decode() for p in pieces[1::2])
    if any(marker.encode() in chunk for chunk in chunks):
        raise ValueError("a placeholder was mangled during rendering")
    for required in ("TO", "MSGID", "UNSUB"):
        if required not in slots:
            raise ValueError(f"placeholder {required} missing from the message")
    return MessageTemplate(
        chunks=chunks,
        slots=slots,
        html_size=rendered.html_size,
        subject=rendered.subject,
        mailto=mailto,
        header_names=names,
    )


def _check_lines(data: bytes, marker: str) -> None:
    extra = {_token(marker, s).encode(): w - len(_token(marker, s)) for s, w in _SLOT_WIDTH.items()}
    for line in data.split(b"\r\n"):
        if len(line) <= MAX_LINE - MAX_URL * 2:
            continue
        size = len(line) + sum(line.count(t) * e for t, e in extra.items())
        if size > MAX_LINE:
            raise ValueError(f"a line of up to {size} octets exceeds RFC 5322's {MAX_LINE}")


def _values(recipient: Recipient) -> dict[str, bytes]:
    """The recipient's slot values, validated: ASCII, no CR/LF, no ``=?``, URLs
    percent-encoded."""
    unsub = _check_url(recipient.unsubscribe_url)
    prefs = _check_url(recipient.preferences_url)
    token = quote(_manage_token(unsub), safe="-._~")
    return {
        "TO": _check_email(recipient.email).encode(),
        "MSGID": _check_message_id(recipient.message_id).encode(),
        "UNSUB": unsub.encode(),
        "UNSUBH": str(escape(unsub)).encode(),
        "PREFS": prefs.encode(),
        "PREFSH": str(escape(prefs)).encode(),
        "MAILTO": token[:MAX_URL].encode(),
    }


def personalise(
    template: MessageTemplate,
    recipient: Recipient,
    dkim: DkimKey | Sequence[DkimKey] = (),
    signed_at: datetime | None = None,
) -> bytes:
    """The recipient's message: the template's chunks joined with the recipient's values.

    Substitution only: no template, no MIME, no header folding per recipient. The header
    block is checked again afterwards (HeaderError if it is not the one written). With
    ``dkim`` keys the result carries one DKIM-Signature per key, ``t=`` being
    ``signed_at`` (required then: this module has no clock); the body hash starts from the
    template's body already canonicalised (``MessageTemplate.canonical_body``).
    """
    values = _values(recipient)
    chunks = template.chunks
    out = [chunks[0]]
    for i, slot in enumerate(template.slots, 1):
        out.append(values[slot])
        out.append(chunks[i])
    data = b"".join(out)
    try:
        headers.check_header_block(data, template.header_names)
    except headers.HeaderError as exc:  # only this recipient's values differ
        raise RecipientError(f"the message's header block is unsafe: {exc}") from None
    if isinstance(dkim, DkimKey):
        dkim = (dkim,)
    if not dkim:
        return data
    if signed_at is None:
        raise ValueError("DKIM signing needs signed_at (the t= timestamp)")
    return dkim_sign(
        data, dkim, int(signed_at.timestamp()), canonical_body=template.canonical_body(values)
    )


def render_digest_from_scratch(
    segment: DigestSegment,
    publisher: Publisher,
    public_url: str,
    now: datetime,
    recipient: Recipient,
    sender: str | None = None,
    *,
    unsubscribe_mailto: str | None = None,
    dkim: DkimKey | Sequence[DkimKey] = (),
) -> bytes:
    """One recipient's message the slow way — Jinja → MJML → css-inline → ``EmailMessage``
    → bytes — for the benchmark reference and as the equivalence oracle in tests."""
    values = {k: v.decode() for k, v in _values(recipient).items()}
    context = _context(
        segment, publisher, public_url, now, values["UNSUB"], values["PREFS"]
    )  # autoescape does the HTML escaping here
    subject, html, text = _render_parts(context, context, segment.language)
    host = host_of(public_url)
    data, _ = _message(
        subject=subject,
        html=wrap_lines(html),
        text=wrap_lines(text),
        sender=sender or default_sender(publisher, public_url),
        to=values["TO"],
        msgid=values["MSGID"],
        unsubscribe=values["UNSUB"],
        mailto=_mailto(unsubscribe_mailto, host, values["MAILTO"]),
        list_id=_list_id(publisher, segment, host),
        language=segment.language,
        now=now,
    )
    return dkim_sign(data, dkim, int(now.timestamp())) if dkim else data


#: The web version of a digest (``/archive/{edition}``): extends the email's body template.
WEB_TEMPLATE = "web/archive/edition.mjml"


def segment_param(language: str, topics: Sequence[str]) -> str:
    """``en`` or ``en:coca,peru``: how a segment is named in an archive URL."""
    return f"{language}:{','.join(sorted(topics))}" if topics else language


def render_web_html(
    segment: DigestSegment,
    publisher: Publisher,
    public_url: str,
    now: datetime,
    template: str = WEB_TEMPLATE,
) -> str:
    """The segment's digest as a public web page: the email's items and layout, with no
    personal link. The page is shared by every reader, so where the email has the
    recipient's preferences and unsubscribe links it links to ``/subscribe``."""
    base = public_url.rstrip("/")
    subscribe = f"{base}/subscribe"
    context = _context(segment, publisher, public_url, now, subscribe, subscribe)
    context["links"] |= {"subscribe": subscribe, "index": f"{base}/archive"}
    source = environment().get_template(template).render(context)
    return str(_inliner().inline(mjml2html(source, disable_comments=True)))


def render_segments(
    segments: Sequence[DigestSegment], publisher: Publisher, public_url: str, now: datetime
) -> dict[str, RenderedDigest]:
    """Render several segments, keyed by ``segment_key``: what a preview shows."""
    return {segment_key(s): render_digest(s, publisher, public_url, now) for s in segments}


def segment_key(segment: DigestSegment) -> str:
    """A stable key for caching one segment's template: (language, topics)."""
    return f"{segment.language}:{','.join(sorted(segment.topics)) or '*'}"
