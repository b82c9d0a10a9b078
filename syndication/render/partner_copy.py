"""What one partner may receive of one article, and in what form.

The rules, each from the licence (CC legal code 4.0; 3.0 alike):
- all rights reserved, or an article marked ``republishable: false``: never sent;
- NC (§1(i), §2(a)(1)) never to a partner marked commercial;
- images whose licence does not allow republication — none stated, all rights reserved,
  NC for a commercial partner — are removed and the removal noted (§3(a)(1)(B)); the
  others keep their credit (§3(a)(1)(A)(i));
- page chrome (donation prompts, newsletter sign-up boxes, share widgets, reader-feedback
  and "related" navigation) is stripped when the licence allows modification;
- ND (§1(a), §2(a)(1)(B): no Adapted Material may be shared) is never altered: an ND
  article that would need altering is left out instead.

Adding the attribution header and footer is not an alteration: it is the attribution the
licence asks for (§3(a)(1)). Pure: no clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

import lxml.html

from syndication.changes import note_of_changes
from syndication.config import Publisher
from syndication.i18n import N_, SOURCE, gettext
from syndication.licences import LICENCES, Licence, may_republish
from syndication.models import Article, Image
from syndication.render.attribution import (
    attribution_html,
    attribution_text,
    block_locale,
    join_names,
)
from syndication.slugs import slugify

# --- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerTerms:
    """What a partner has agreed to and asked for. Empty filters mean "everything".

    Filters are compared as slugs (topics, sections) and language codes (``"es"`` matches
    ``"es-MX"``), the same keys the public feeds use.
    """

    commercial: bool = False
    topics: frozenset[str] = frozenset()
    sections: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        *,
        commercial: bool = False,
        topics: Iterable[str] = (),
        sections: Iterable[str] = (),
        languages: Iterable[str] = (),
    ) -> PartnerTerms:
        """Terms from free-form values (names or slugs, any case)."""
        return cls(
            commercial=commercial,
            topics=frozenset(s for s in map(slugify, topics) if s),
            sections=frozenset(s for s in map(slugify, sections) if s),
            languages=frozenset(code.strip().lower() for code in languages if code.strip()),
        )

    def filter_reason(self, article: Article) -> str | None:
        """Why ``article`` is outside this partner's topics/sections/languages, or None."""
        if self.topics and not self.topics.intersection(article.topic_slugs):
            return "not in the partner's topics"
        if self.sections and article.section_slug not in self.sections:
            return "not in the partner's sections"
        if self.languages:
            lang = article.language.lower()
            if lang not in self.languages and lang.partition("-")[0] not in self.languages:
                return "not in the partner's languages"
        return None


@dataclass(frozen=True)
class Excluded:
    """An article the partner does not receive, and why (``code`` is for machines)."""

    reason: str
    code: str = "excluded"

    def __bool__(self) -> bool:  # ``if copy:`` reads as "was there a copy"
        return False


# Exclusion codes.
NOT_REPUBLISHABLE = "not-republishable"
NON_COMMERCIAL = "non-commercial"
NO_DERIVATIVES = "no-derivatives"
FILTERED = "filtered"


@dataclass(frozen=True)
class PartnerItem:
    """The partner's copy of one article.

    ``article`` is a copy whose ``body_html`` is header + body + footer (what a feed item's
    content is) and whose ``image`` is None when the lead image may not go to this partner;
    everything else is the original's, so ids, dates and URLs match the public feeds.

    The plain-text blocks are rendered on first use: feeds read only the HTML, and the text
    templates were half the cost of a copy.
    """

    article: Article
    body_html: str  # the body as the partner gets it, without header and footer
    header_html: str
    footer_html: str
    licence: Licence
    publisher: Publisher = field(repr=False, compare=False)
    changes: tuple[str, ...] = field(default=())

    @property
    def html(self) -> str:
        """Header + body + footer: the ready-to-paste HTML."""
        return self.article.body_html

    @property
    def changes_note(self) -> str | None:
        return changes_note(self.changes, self.article.language, self.article.changes)

    @cached_property
    def _text_blocks(self) -> tuple[str, str]:
        # ``article`` has the original's title, URL, people, dates and licence; its
        # ``image`` is the lead image that travels with this copy (None if dropped).
        return attribution_text(
            self.article, self.publisher, changes_note=self.changes_note, image=self.article.image
        )

    @property
    def header_text(self) -> str:
        return self._text_blocks[0]

    @property
    def footer_text(self) -> str:
        return self._text_blocks[1]

    @cached_property
    def text(self) -> str:
        """Header + body + footer as plain text, URLs spelled out (built on first use)."""
        return f"{self.header_text}\n\n{html_to_text(self.body_html)}\n\n{self.footer_text}\n"


# --- chrome -----------------------------------------------------------------------------

# Kinds of chrome, as the note of changes names them.
DONATION = "donation prompt"
NEWSLETTER = "newsletter sign-up"
SHARE = "share buttons"
NAVIGATION = "site navigation"
_KIND_ORDER = (DONATION, NEWSLETTER, SHARE, NAVIGATION)

_IMAGES_REMOVED = re.compile(r"images removed \((?P<names>.*)\)")
_KINDS_REMOVED = re.compile(r"(?P<kinds>.+) removed")
# Marked here: ``gettext(locale, …)`` takes the locale first, which extraction cannot read.
_IMAGES_REMOVED_WORDS = N_("images removed (%(names)s)")
_KINDS_REMOVED_WORDS = N_("%(kinds)s removed")
_KIND_NAMES = {
    DONATION: N_("donation prompt"),
    NEWSLETTER: N_("newsletter sign-up"),
    SHARE: N_("share buttons"),
    NAVIGATION: N_("site navigation"),
}


def _split_kinds(text: str) -> list[str] | None:
    """ "donation prompt, share buttons and site navigation" → its kinds (None: not ours)."""
    head, _, last = text.rpartition(" and ")
    kinds = [*head.split(", "), last] if head else [text]
    return kinds if all(k in _KIND_NAMES for k in kinds) else None


def _localised_change(change: str, locale: str) -> str:
    """One entry of ``changes`` (always written in English by ``_finish``, as stored) in
    ``locale``; an entry we do not recognise is left as it is."""
    if locale == SOURCE:
        return change
    images = _IMAGES_REMOVED.fullmatch(change)
    if images:
        return gettext(locale, _IMAGES_REMOVED_WORDS, names=images["names"])
    removed = _KINDS_REMOVED.fullmatch(change)
    kinds = _split_kinds(removed["kinds"]) if removed else None
    if kinds is None:
        return change
    names = [gettext(locale, _KIND_NAMES[k]) for k in kinds]
    return gettext(locale, _KINDS_REMOVED_WORDS, kinds=join_names(names, locale))


def changes_note(
    changes: Sequence[str], language: str = SOURCE, imported: Sequence[str] = ()
) -> str | None:
    """ "This article was modified: removed page navigation; images removed (map.png).", in
    the article's language (the attribution blocks' language: ``block_locale``).
    ``imported``: what the importer changed (``Article.changes``), listed first; ``changes``:
    what this copy changed on top."""
    locale = block_locale(language)
    return note_of_changes(imported, language, [_localised_change(c, locale) for c in changes])


_CLASS_WORDS: dict[str, str] = {
    **dict.fromkeys(("donate", "donation", "donations", "support-us", "supportus"), DONATION),
    **dict.fromkeys(
        ("newsletter", "subscribe", "subscription", "signup", "sign-up", "optin", "mailchimp"),
        NEWSLETTER,
    ),
    **dict.fromkeys(("share", "sharing", "social", "sharedaddy", "addtoany", "sharethis"), SHARE),
    **dict.fromkeys(
        ("nav", "navigation", "menu", "breadcrumb", "breadcrumbs", "related", "relatedposts",
         "jp-relatedposts", "yarpp-related", "comments", "feedback", "helpful", "popup", "modal"),
        NAVIGATION,
    ),
}  # fmt: skip
_CLASS_SPLIT = re.compile(r"[\s_]+|(?<=[a-z])-(?=[a-z])")
_CHROME_TAGS = {"nav": NAVIGATION, "form": NEWSLETTER, "button": NAVIGATION, "aside": NAVIGATION}

# Whole-block texts (white space folded, case ignored). English and Spanish, as the seed.
_TEXT_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"(donate|donar|dona|donate now|donate today|make a donation|support us|"
     r"support our work|apóyanos)[.!]?", DONATION),
    (r"¿?(was this content helpful|te resultó útil este contenido|"
     r"fue útil este contenido)\??", DONATION),
    (r"(sign up|subscribe|suscr[ií]bete)( now| here| today)?[.!:]?", NEWSLETTER),
    (r"(sign up|subscribe|suscr[ií]bete|get|join|receive)\b.{0,160}"
     r"\b(newsletters?|boletín|inbox)\b.{0,160}", NEWSLETTER),
    (r"(share|compartir)(\s+icon)*[:.]?", SHARE),
    (r"share\s+icon\b.{0,60}", SHARE),
    (r"(share|compartir) (this|on|via|en)\b.{0,60}", SHARE),
    (r"(what are your thoughts|¿qué opinas|¿qué piensas)\b.{0,160}", NAVIGATION),
    (r"(related content|contenido relacionado|related articles|artículos relacionados|"
     r"read more|leer más)[:.]?", NAVIGATION),
)  # fmt: skip
# One alternation, one fullmatch per block; the group that matched names the kind.
_TEXT_PATTERN = re.compile(
    "|".join(f"(?P<k{i}>{p})" for i, (p, _) in enumerate(_TEXT_PATTERNS)), re.IGNORECASE
)
_KINDS = {f"k{i}": kind for i, (_, kind) in enumerate(_TEXT_PATTERNS)}
# Cheap gate before parsing. Chrome found by text is a block whose whole (folded) text
# fullmatches one of the patterns above, so that text starts with one of these words (the
# literal starts of the alternatives; keep the two lists in step). A text node starts right
# after some ">", so one search of the lower-cased body for ">", blanks, then one of these
# (or a prefix of one cut short by a tag) finds every candidate. Where case folding or an
# entity could make the parser's text differ from the raw body (a non-ASCII character, an
# "&"), the search counts a hit: the gate may only ever let more bodies through to the
# parse, never fewer. Chrome tags and class/id attributes are tested separately.
_TEXT_STARTS = (
    "dona", "make a donation", "support us", "support our work", "apóyanos",
    "¿", "was this content helpful", "te resultó útil", "fue útil",
    "sign up", "subscribe", "suscribete", "suscríbete", "get", "join", "receive",
    "share", "compartir", "what are your thoughts",
    "related content", "related articles", "contenido relacionado", "artículos relacionados",
    "read more", "leer más",
)  # fmt: skip
_GATE_MARKERS = ("<nav", "<form", "<button", "<aside", "class=", "id=")
_OPAQUE = re.compile(
    r"<(?:!|\?|script|style|textarea|title|xmp|plaintext|noscript|iframe|noembed|noframes)"
)
_UNSURE = (
    r"(?=\s*(?:<|$)|[^\x00-\x7f]|&)"  # a word cut short, or text the parser may read otherwise
)


def _trie_pattern(words: Iterable[str]) -> str:
    """A regex matching any of ``words`` or any prefix of one followed by ``_UNSURE``."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in " ".join(word.split()):
            node = node.setdefault(ch, {})
        node[""] = {}

    def pattern(node: dict[str, Any], root: bool = False) -> str:
        if "" in node:
            return ""  # a whole word matched: a hit
        alternatives = [
            (r"\s+" if ch == " " else re.escape(ch)) + pattern(child)
            for ch, child in sorted(node.items())
        ]
        if not root:  # at the root nothing is cut short yet: an empty text starts nothing
            alternatives.append(_UNSURE)
        return "(?:" + "|".join(alternatives) + ")"

    return pattern(trie, root=True)


@lru_cache(maxsize=16)
def _gate(terms_text: str) -> re.Pattern[str]:
    """The search for a text that could start chrome; ``terms_text`` (the publisher's own
    "republish us" notice, also chrome) is one more start."""
    words = [*_TEXT_STARTS, *([terms_text] if terms_text else [])]
    return re.compile(r">\s*(?:[^\x00-\x7f]|&|" + _trie_pattern(words) + ")")


def _may_have_chrome(low: str, terms_text: str) -> bool:
    """False only when parsing ``low`` (a lower-cased body) could find no chrome at all."""
    if any(marker in low for marker in _GATE_MARKERS) or _OPAQUE.search(low):
        return True
    return _gate(terms_text).search(low) is not None


# Blocks whose whole text may mark them as chrome; inline elements never are by text, so a
# "read more" link inside a sentence stays.
_BLOCKS = frozenset(
    {"p", "div", "section", "li", "ul", "ol", "h2", "h3", "h4", "h5", "h6"}
)  # fmt: skip
_MAX_CHROME_TEXT = 400
_APPEAL_GAP = 3  # siblings between "Was this content helpful?" and "DONATE" that go with them


def _folded(el: Any) -> str:
    return " ".join(str(el.text_content()).split())


def _chrome_kind(el: Any, terms_text: str) -> str | None:
    """The kind of chrome ``el`` is, by tag, class/id words or its whole text; else None."""
    tag = el.tag
    if not isinstance(tag, str):
        return None
    if tag in _CHROME_TAGS:
        return _CHROME_TAGS[tag]
    raw = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
    if raw.strip():
        for token in raw.split():
            if token in _CLASS_WORDS:
                return _CLASS_WORDS[token]
            for part in _CLASS_SPLIT.split(token):
                if part in _CLASS_WORDS:
                    return _CLASS_WORDS[part]
    if tag not in _BLOCKS:
        return None
    raw_text = str(el.text_content())
    if len(raw_text) > 2 * _MAX_CHROME_TEXT:  # prose: skip the folding
        return None
    text = " ".join(raw_text.split())
    if not text or len(text) > _MAX_CHROME_TEXT:
        return None
    if terms_text and text.lower() == terms_text:
        return NAVIGATION  # the publisher's own "republish us" notice: the footer replaces it
    match = _TEXT_PATTERN.fullmatch(text)
    return _KINDS[match.lastgroup] if match and match.lastgroup else None


_CONTAINERS = frozenset(
    {"div", "section", "article", "main", "ul", "ol", "li", "blockquote", "figure", "table",
     "thead", "tbody", "tfoot", "tr", "td", "th", "dl", "dd"}
)  # fmt: skip


def _find_chrome(root: Any, terms_text: str, deep: bool) -> list[tuple[Any, str]]:
    """Chrome elements under ``root`` (outermost only), in document order.

    A donation appeal is a run: "Was this content helpful?", a sentence or two asking
    for support, "DONATE" — the sentences between go with the two ends. ``deep``: look
    inside paragraphs too (only worth it when the body has class/id attributes, which
    sanitised bodies do not).
    """
    found: list[tuple[Any, str]] = []

    def walk(parent: Any) -> None:
        if not deep and parent is not root and parent.tag not in _CONTAINERS:
            return
        children = [c for c in parent if isinstance(c.tag, str)]
        kinds = [_chrome_kind(c, terms_text) for c in children]
        for i, kind in enumerate(kinds):
            if kind == DONATION:
                for j in range(i + 1, min(i + 2 + _APPEAL_GAP, len(kinds))):
                    if kinds[j] == DONATION:
                        for k in range(i + 1, j):
                            kinds[k] = kinds[k] or DONATION
                        break
        for child, kind in zip(children, kinds, strict=True):
            if kind is not None:
                found.append((child, kind))
            else:
                walk(child)

    walk(root)
    return found


# --- images -----------------------------------------------------------------------------


def _image_name(img: Any) -> str:
    alt = " ".join((img.get("alt") or "").split())
    if alt:
        return alt if len(alt) <= 80 else alt[:79] + "…"
    path = unquote(urlsplit(img.get("src") or "").path)
    return path.rstrip("/").rsplit("/", 1)[-1] or "image"


def _image_container(img: Any) -> Any:
    """What goes with an image: its ``<figure>``/``<picture>`` (caption and credit with it)."""
    el = img
    for ancestor in img.iterancestors():
        if ancestor.tag in ("figure", "picture") or (ancestor.tag in ("a",) and el is img):
            el = ancestor
        else:
            break
    return el


def _lead_image_allowed(image: Image | None, commercial: bool) -> bool:
    return image is not None and may_republish(image.licence, commercial=commercial)


# --- the copy ---------------------------------------------------------------------------


@dataclass
class _Edit:
    body: str
    changes: list[str]
    removed_images: list[str]
    chrome_kinds: list[str]
    drop_lead_image: bool


def _plan(article: Article, commercial: bool, publisher: Publisher) -> _Edit:
    """Work out what would change; the edited body only when something does."""
    body = article.body_html
    lead = article.image
    lead_ok = _lead_image_allowed(lead, commercial)
    edit = _Edit(body, [], [], [], drop_lead_image=lead is not None and not lead_ok)
    if edit.drop_lead_image and lead is not None:
        edit.removed_images.append(_image_name_from_url(lead.url, lead.caption))
    has_img = "<img" in body
    terms_text = " ".join(publisher.attribution.terms.split()).lower()
    low = body.lower()
    if not has_img and not _may_have_chrome(low, terms_text):
        return _finish(edit)
    root = lxml.html.fragment_fromstring(body, create_parent="div")
    changed = False
    deep = "class=" in low or "id=" in low
    for el, kind in _find_chrome(root, terms_text, deep):
        if el.getparent() is not None:
            el.drop_tree()
            changed = True
            if kind not in edit.chrome_kinds:
                edit.chrome_kinds.append(kind)
    if has_img:
        lead_url = lead.url if lead is not None else None
        for img in list(root.iter("img")):
            src = img.get("src") or ""
            allowed = src == lead_url and lead_ok
            if allowed:
                continue
            name = _image_name(img)
            if name not in edit.removed_images:
                edit.removed_images.append(name)
            container = _image_container(img)
            parent = container.getparent()
            if parent is None:
                continue
            container.drop_tree()
            changed = True
            if parent is not root and parent.tag == "p" and not _folded(parent) and not len(parent):
                parent.drop_tree()
    if changed:
        edit.body = _inner_html(root)
    return _finish(edit)


def _image_name_from_url(url: str, caption: str) -> str:
    img = lxml.html.Element("img", src=url, alt=caption)
    return _image_name(img)


def _finish(edit: _Edit) -> _Edit:
    if edit.removed_images:
        edit.changes.append("images removed (" + ", ".join(edit.removed_images) + ")")
    kinds = [k for k in _KIND_ORDER if k in edit.chrome_kinds]
    if kinds:
        joined = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]
        edit.changes.append(f"{joined} removed")
    return edit


def _inner_html(root: Any) -> str:
    parts = [_escape_text(root.text or "")]
    parts.extend(lxml.html.tostring(child, encoding="unicode") for child in root)
    return "".join(parts).strip()


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def partner_copy(
    article: Article, partner_terms: PartnerTerms, publisher: Publisher
) -> PartnerItem | Excluded:
    """The copy of ``article`` that a partner with ``partner_terms`` may receive, or why
    it gets none. See the module docstring for the rules."""
    lic = LICENCES[article.licence]
    if not lic.republishable or not article.republishable:
        why = "all rights reserved" if not lic.republishable else "marked not republishable"
        return Excluded(f"{why}", NOT_REPUBLISHABLE)
    if not lic.commercial and partner_terms.commercial:
        return Excluded(f"{lic.short_name} does not allow commercial use", NON_COMMERCIAL)
    reason = partner_terms.filter_reason(article)
    if reason:
        return Excluded(reason, FILTERED)
    edit = _plan(article, partner_terms.commercial, publisher)
    if edit.changes and not lic.derivatives:
        return Excluded(
            f"{lic.short_name} allows no changes, and this copy would need them: "
            + "; ".join(edit.changes),
            NO_DERIVATIVES,
        )
    image = None if edit.drop_lead_image else article.image
    header_html, footer_html = attribution_html(
        article,
        publisher,
        changes_note=changes_note(edit.changes, article.language, article.changes),
        image=image,
    )
    copy = article.model_copy(
        update={"body_html": f"{header_html}\n{edit.body}\n{footer_html}", "image": image}
    )
    return PartnerItem(
        article=copy,
        body_html=edit.body,
        header_html=header_html,
        footer_html=footer_html,
        licence=lic,
        publisher=publisher,
        changes=tuple(edit.changes),
    )


# --- plain text -------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {"p", "div", "section", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote",
     "figure", "figcaption", "table", "tr", "pre", "hr", "dl", "dt", "dd"}
)  # fmt: skip


def html_to_text(html: str) -> str:
    """A body as plain text: blocks separated by blank lines, list items with "- ", and
    links spelled out as "text (URL)" when the text is not the URL itself."""
    if not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    blocks: list[str] = []
    line: list[str] = []

    def flush() -> None:
        text = " ".join("".join(line).split())
        if text:
            blocks.append(text)
        line.clear()

    def walk(el: Any, prefix: str = "") -> None:
        for child in el:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in _BLOCK_TAGS:
                flush()
                if tag == "hr":
                    blocks.append("---")
                else:
                    if child.text:
                        line.append(child.text)
                    walk(child, "- " if tag in ("ul", "ol") else "")
                    if tag == "li" and prefix:
                        line.insert(0, prefix)
                    flush()
            elif tag == "br":
                flush()
            elif tag == "a":
                label = _folded(child)
                href = child.get("href") or ""
                line.append(f"{label} ({href})" if href and label != href else label or href)
            elif tag:
                if child.text:
                    line.append(child.text)
                walk(child, prefix)
            if child.tail:
                line.append(child.tail)

    if root.text:
        line.append(root.text)
    walk(root)
    flush()
    return "\n\n".join(blocks)


__all__ = [
    "FILTERED",
    "NON_COMMERCIAL",
    "NOT_REPUBLISHABLE",
    "NO_DERIVATIVES",
    "Excluded",
    "PartnerItem",
    "PartnerTerms",
    "changes_note",
    "html_to_text",
    "partner_copy",
]
