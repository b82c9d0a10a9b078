"""Attribution blocks and partner copies: the licence rules, escaping, and the seed golden.

Every check of links and names parses the HTML (lxml); no string search on markup.
Regenerate the golden files with ``UPDATE_GOLDEN=1`` — and look at them before committing.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from syndication.config import Publisher
from syndication.ingest.files import load_path, source_urls
from syndication.licences import LICENCES, display_name, may_republish, normalise_licence
from syndication.models import Article
from syndication.render.attribution import (
    attribution_footer,
    attribution_header,
    byline_text,
    inspect_attribution,
)
from syndication.render.partner_copy import (
    FILTERED,
    NO_DERIVATIVES,
    NON_COMMERCIAL,
    NOT_REPUBLISHABLE,
    Excluded,
    PartnerItem,
    PartnerTerms,
    html_to_text,
    partner_copy,
)

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "partner"
SEED = ROOT / "examples" / "articles" / "insightcrime-peru-stalemate.txt"
NONCOMMERCIAL = PartnerTerms()
COMMERCIAL = PartnerTerms(commercial=True)


@pytest.fixture(scope="module")
def publisher() -> Publisher:
    data = tomllib.loads((ROOT / "examples" / "insightcrime.toml").read_text("utf-8"))
    return Publisher(**data["publisher"])


@pytest.fixture(scope="module")
def seed(publisher: Publisher) -> Article:
    url = source_urls(SEED.parent)[SEED.name]
    (article,) = load_path(SEED, publisher, url)
    return article


def make(**overrides: Any) -> Article:
    data: dict[str, Any] = {
        "url": "https://insightcrime.org/news/analysis/sample-story/",
        "title": "Sample Story",
        "body_html": "<p>First paragraph.</p><p>Second paragraph.</p>",
        "authors": ["Ana Pérez"],
        "published_at": "2026-03-02T09:00:00-05:00",
        "section": "Analysis",
        "topics": ["Coca", "Colombia"],
        "licence": "CC-BY-NC-4.0",
    }
    data.update(overrides)
    return Article.model_validate(data)


def copy_of(
    article: Article, publisher: Publisher, terms: PartnerTerms = NONCOMMERCIAL
) -> PartnerItem:
    item = partner_copy(article, terms, publisher)
    assert isinstance(item, PartnerItem), item
    return item


def excluded(article: Article, publisher: Publisher, terms: PartnerTerms) -> Excluded:
    item = partner_copy(article, terms, publisher)
    assert isinstance(item, Excluded), "expected the article to be left out"
    return item


def parse(html: str) -> Any:
    return lxml.html.fragment_fromstring(html, create_parent="div")


def assert_attributed(html: str, article: Article, publisher: Publisher) -> None:
    """Top and bottom links to the canonical URL, the right licence link, the publisher in
    the byline and as ccREL attributionName."""
    found = inspect_attribution(html)
    assert found.top_url == article.url
    assert article.url in found.bottom_urls
    assert found.about == article.url
    lic = LICENCES[article.licence]
    assert found.licence_url == lic.url
    assert found.licence_name == lic.name
    assert found.byline_publisher == publisher.attribution_name
    assert found.byline is not None and publisher.attribution_name in found.byline
    assert found.attribution_name == publisher.attribution_name
    # The header comes first and the footer last in the copy.
    blocks = parse(html).xpath("./div[contains(@class, 'syndication-attribution')]")
    classes = [b.get("class") for b in blocks]
    assert "syndication-header" in classes[0] and "syndication-footer" in classes[-1]


# --- golden -----------------------------------------------------------------------------


def test_seed_partner_copy_matches_golden(seed: Article, publisher: Publisher) -> None:
    item = copy_of(seed, publisher)
    produced = {"seed.html": item.html + "\n", "seed.txt": item.text}
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name, text in produced.items():
            (GOLDEN / name).write_text(text, "utf-8")
    for name, text in produced.items():
        # Nothing in a partner copy is volatile (no clock, no ids): compared byte for byte.
        assert (GOLDEN / name).read_bytes() == text.encode("utf-8"), name


def test_seed_golden_is_attributed(seed: Article, publisher: Publisher) -> None:
    html = (GOLDEN / "seed.html").read_text("utf-8")
    assert_attributed(html, seed, publisher)
    found = inspect_attribution(html)
    assert found.byline == "by Sergio Saffón, InSight Crime · 4 September 2020"
    # The importer cut the page's chrome and "See also" lines and made a heading: the copy
    # differs from the source, so it says so (CC BY-NC 4.0 §3(a)(1)(B)).
    assert found.changes == (
        "This article was modified: removed page navigation; removed 2 'See also' links;"
        " turned 1 line into a heading."
    )
    text = (GOLDEN / "seed.txt").read_text("utf-8")
    lines = text.splitlines()
    assert lines[0].endswith(seed.url)
    assert "https://creativecommons.org/licenses/by-nc/4.0/" in text
    assert "<" not in text
    assert "This article was modified: removed page navigation;" in text


# --- licences ---------------------------------------------------------------------------


def test_registry_covers_the_cc_family_cc0_and_all_rights_reserved() -> None:
    codes = ["BY", "BY-SA", "BY-NC", "BY-NC-SA", "BY-ND", "BY-NC-ND"]
    for version in ("4.0", "3.0"):
        for code in codes:
            lic = LICENCES[f"CC-{code}-{version}"]
            assert lic.short_name == f"CC {code} {version}"
            assert lic.url == f"https://creativecommons.org/licenses/{code.lower()}/{version}/"
            assert lic.legal_code == f"{lic.url}legalcode"
            assert lic.commercial is ("NC" not in code)
            assert lic.derivatives is ("ND" not in code)
            assert lic.share_alike is ("SA" in code)
            assert lic.republishable
    assert LICENCES["CC-BY-NC-4.0"].name == (
        "Creative Commons Attribution-NonCommercial 4.0 International"
    )
    assert LICENCES["CC-BY-SA-3.0"].name == "Creative Commons Attribution-ShareAlike 3.0 Unported"
    assert LICENCES["CC0-1.0"].republishable and LICENCES["CC0-1.0"].is_public_domain
    arr = LICENCES["all-rights-reserved"]
    assert not arr.republishable and arr.url is None
    assert normalise_licence("cc-by-nc-nd-4.0") == "CC-BY-NC-ND-4.0"
    with pytest.raises(ValueError):
        normalise_licence("CC-BY-NC-5.0")


def test_may_republish() -> None:
    assert may_republish("CC-BY-4.0", commercial=True)
    assert may_republish("CC-BY-NC-4.0", commercial=False)
    assert not may_republish("CC-BY-NC-4.0", commercial=True)
    assert not may_republish(None, commercial=False)
    assert not may_republish("all-rights-reserved", commercial=False)


# --- what a partner may receive ---------------------------------------------------------


def test_all_rights_reserved_and_not_republishable_never_go_out(publisher: Publisher) -> None:
    for terms in (NONCOMMERCIAL, COMMERCIAL):
        out = excluded(make(licence="all-rights-reserved"), publisher, terms)
        assert out.code == NOT_REPUBLISHABLE
        out = excluded(make(licence="CC-BY-4.0", republishable=False), publisher, terms)
        assert out.code == NOT_REPUBLISHABLE


def test_non_commercial_never_to_a_commercial_partner(publisher: Publisher) -> None:
    for spdx in ("CC-BY-NC-4.0", "CC-BY-NC-SA-4.0", "CC-BY-NC-ND-4.0", "CC-BY-NC-3.0"):
        assert excluded(make(licence=spdx), publisher, COMMERCIAL).code == NON_COMMERCIAL
        assert_attributed(
            copy_of(make(licence=spdx), publisher).html, make(licence=spdx), publisher
        )
    for spdx in ("CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-ND-4.0", "CC0-1.0"):
        article = make(licence=spdx)
        assert_attributed(copy_of(article, publisher, COMMERCIAL).html, article, publisher)


def test_no_derivatives_article_is_sent_unaltered(publisher: Publisher) -> None:
    article = make(licence="CC-BY-NC-ND-4.0")
    item = copy_of(article, publisher)
    assert item.body_html == article.body_html
    assert item.changes == ()
    assert inspect_attribution(item.html).changes is None


def test_no_derivatives_article_that_needs_altering_is_left_out(publisher: Publisher) -> None:
    with_chrome = make(
        licence="CC-BY-ND-4.0",
        body_html="<p>Story.</p><p>Was this content helpful?</p><p>DONATE</p>",
    )
    out = excluded(with_chrome, publisher, NONCOMMERCIAL)
    assert out.code == NO_DERIVATIVES and "donation prompt" in out.reason
    # The same body under a licence that allows modification goes out, stripped.
    item = copy_of(with_chrome.model_copy(update={"licence": "CC-BY-4.0"}), publisher)
    assert [p.text_content() for p in parse(item.body_html).iter("p")] == ["Story."]

    with_image = make(
        licence="CC-BY-NC-ND-4.0",
        body_html='<p>Story.</p><figure><img src="https://cdn.example.org/agency.jpg"></figure>',
    )
    out = excluded(with_image, publisher, NONCOMMERCIAL)
    assert out.code == NO_DERIVATIVES and "agency.jpg" in out.reason

    nc_lead = make(
        licence="CC-BY-ND-4.0",
        image={"url": "https://cdn.example.org/lead.jpg", "licence": "CC-BY-NC-4.0"},
    )
    assert excluded(nc_lead, publisher, COMMERCIAL).code == NO_DERIVATIVES
    assert copy_of(nc_lead, publisher, NONCOMMERCIAL).article.image is not None


def test_images_without_a_republishable_licence_are_removed_and_noted(publisher: Publisher) -> None:
    lead = "https://cdn.example.org/lead.jpg"
    article = make(
        licence="CC-BY-4.0",
        image={"url": lead, "caption": "Troops", "credit": "Jane Doe", "licence": "CC-BY-NC-4.0"},
        body_html=(
            f'<figure><img src="{lead}" alt="Troops"><figcaption>Troops</figcaption></figure>'
            "<p>Story.</p>"
            '<figure><img src="https://cdn.example.org/x/agency-photo.jpg" alt="">'
            "<figcaption>Photo: Agency</figcaption></figure>"
            '<p><img src="https://cdn.example.org/chart.png" alt="Chart of prices"></p>'
            "<p>End.</p>"
        ),
    )
    # A non-commercial partner keeps the NC lead image, with its credit in the footer.
    item = copy_of(article, publisher, NONCOMMERCIAL)
    srcs = [img.get("src") for img in parse(item.body_html).iter("img")]
    assert srcs == [lead]
    assert item.article.image is not None and item.article.image.url == lead
    footer = parse(item.footer_html)
    credit = footer.xpath(".//*[contains(@class, 'syndication-image-credit')]")
    assert "Jane Doe" in credit[0].text_content()
    changes = inspect_attribution(item.html).changes
    assert (
        changes == "This article was modified: images removed (agency-photo.jpg, Chart of prices)."
    )
    assert [p.text_content() for p in parse(item.body_html).iter("p")] == ["Story.", "End."]

    # A commercial partner loses the NC lead image too, in the body and as the lead image.
    item = copy_of(article, publisher, COMMERCIAL)
    assert list(parse(item.body_html).iter("img")) == []
    assert item.article.image is None
    assert parse(item.footer_html).xpath(".//*[contains(@class, 'syndication-image-credit')]") == []
    assert "Troops" in (inspect_attribution(item.html).changes or "")

    # No licence, or all rights reserved: removed for everybody.
    for lic in (None, "all-rights-reserved"):
        bare = make(image={"url": lead, "licence": lic})
        item = copy_of(bare, publisher)
        assert item.article.image is None
        assert "lead.jpg" in (inspect_attribution(item.html).changes or "")


def test_page_chrome_is_stripped_and_noted(publisher: Publisher) -> None:
    body = (
        "<p>Story.</p>"
        "<p>share icon icon icon</p>"
        "<p>Was this content helpful?</p>"
        "<p>We want to sustain Latin America’s largest organized crime database, but in order"
        " to do so, we need resources.</p>"
        "<p>DONATE</p>"
        "<p>What are your thoughts? Click here to send InSight Crime your comments.</p>"
        f"<p>{publisher.attribution.terms}</p>"
        '<div class="newsletter-box"><p>Get the best of our reporting weekly.</p></div>'
        '<div id="share-buttons"><a href="https://twitter.com/intent">X</a></div>'
        "<p>Sign up for our newsletter to get stories in your inbox.</p>"
        "<p>We share what we learn, and the story is related to the one before.</p>"
    )
    item = copy_of(make(body_html=body, licence="CC-BY-NC-SA-4.0"), publisher)
    texts = [p.text_content() for p in parse(item.body_html).iter("p")]
    assert texts == [
        "Story.",
        "We share what we learn, and the story is related to the one before.",
    ]
    assert inspect_attribution(item.html).changes == (
        "This article was modified: donation prompt, newsletter sign-up, share buttons and"
        " site navigation removed."
    )


def test_note_of_changes_follows_the_article_language(publisher: Publisher) -> None:
    """A Spanish copy says what was removed in Spanish, in the plain text part too; the
    stored ``changes`` stay the same English entries whatever the language."""
    body = (
        "<p>Historia.</p><p>DONAR</p>"
        '<div id="share-buttons"><a href="https://twitter.com/intent">X</a></div>'
    )
    english = copy_of(make(body_html=body), publisher)
    spanish = copy_of(make(body_html=body, language="es"), publisher)
    assert english.changes == spanish.changes == ("donation prompt and share buttons removed",)
    note = (
        "Este artículo fue modificado: se quitaron elementos de la página original"
        " (invitación a donar y botones para compartir)."
    )
    assert inspect_attribution(spanish.html).changes == note
    assert note in " ".join(spanish.footer_text.split())
    assert "removed" not in spanish.html and "removed" not in spanish.footer_text
    assert inspect_attribution(english.html).changes == (
        "This article was modified: donation prompt and share buttons removed."
    )


# --- escaping, URLs, bylines ------------------------------------------------------------


def test_hostile_titles_names_and_urls_stay_escaped() -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    publisher = Publisher(
        name=f"Evil {hostile}", site_url="https://example.org", licence="CC-BY-4.0"
    )
    article = make(
        # '"' is refused by the model now; "'" is the quote RFC 3986 still lets through.
        url="https://example.org/story'onmouseover='alert(3)",
        title=f"Title {hostile} & more",
        authors=[f"Author {hostile}"],
        licence="CC-BY-4.0",
    )
    item = copy_of(article, publisher)
    tree = parse(item.html)
    assert tree.xpath("//script") == []
    assert [img.get("src") for img in tree.iter("img")] == []
    assert not any(el.get("onmouseover") or el.get("onerror") for el in tree.iter())
    found = inspect_attribution(item.html)
    assert found.top_url == article.url
    assert found.byline_publisher == publisher.name
    credit = tree.xpath("//*[@property='dct:title']")[0]
    assert credit.text_content() == article.title
    assert tree.xpath("//*[@property='dct:creator']")[0].text_content() == article.authors[0]
    assert_attributed(item.html, article, publisher)
    text = item.text
    assert article.title in text and article.url in text  # plain text is not HTML-escaped


def test_plain_text_spells_urls_out(publisher: Publisher) -> None:
    article = make(
        body_html='<p>See <a href="https://example.org/report">the report</a>.</p>'
        "<ul><li>One</li></ul>"
    )
    item = copy_of(article, publisher)
    assert item.header_text.splitlines()[0].endswith(article.url)
    assert f"at {article.url} and is republished" in item.footer_text
    assert "https://creativecommons.org/licenses/by-nc/4.0/" in item.footer_text
    assert "info@insightcrime.org" in item.footer_text
    assert (
        html_to_text(article.body_html) == "See the report (https://example.org/report).\n\n- One"
    )


def test_byline_follows_the_publishers_format(publisher: Publisher) -> None:
    two = make(authors=["Ana Pérez", "Juan Gómez", "Eva Ruiz"])
    assert byline_text(two, publisher) == "by Ana Pérez, Juan Gómez and Eva Ruiz, InSight Crime"
    assert byline_text(make(authors=[]), publisher) == "by InSight Crime"
    spanish = publisher.model_copy(
        update={
            "attribution": publisher.attribution.model_copy(
                update={"byline": "Por {authors} para {publisher}"}
            )
        }
    )
    assert byline_text(make(), spanish) == "Por Ana Pérez para InSight Crime"
    broken = publisher.model_copy(
        update={"attribution": publisher.attribution.model_copy(update={"byline": "by {authors}"})}
    )
    # A format that would drop the publisher from the byline falls back to the default.
    assert byline_text(make(), broken) == "by Ana Pérez, InSight Crime"
    header = parse(attribution_header(make(authors=[]), publisher))
    assert header.xpath("//*[@class='syndication-publisher']")[0].text == "InSight Crime"


def test_footer_wording_for_cc0_and_3_0(publisher: Publisher) -> None:
    cc0 = parse(attribution_footer(make(licence="CC0-1.0"), publisher))
    licence = cc0.xpath("//a[@rel='license']")
    assert [a.get("href") for a in licence] == [
        "https://creativecommons.org/publicdomain/zero/1.0/"
    ]
    assert "public domain dedication" in cc0.text_content()
    old = parse(attribution_footer(make(licence="CC-BY-SA-3.0"), publisher))
    assert old.xpath("//a[@rel='license']")[0].text == (
        "Creative Commons Attribution-ShareAlike 3.0 Unported"
    )


def test_no_wording_implies_endorsement(publisher: Publisher, seed: Article) -> None:
    item = copy_of(seed, publisher)
    words = " ".join(parse(item.header_html + item.footer_html).text_content().lower().split())
    for phrase in ("endorse", "partner", "in partnership", "sponsored", "approved", "courtesy"):
        assert phrase not in words


# --- partner filters --------------------------------------------------------------------


def test_partner_filters(publisher: Publisher) -> None:
    article = make(topics=["Coca"], section="Brief", language="es")
    ok = PartnerTerms.of(topics=["coca", "Mining"], sections=["brief"], languages=["es"])
    assert isinstance(partner_copy(article, ok, publisher), PartnerItem)
    for terms in (
        PartnerTerms.of(topics=["Mining"]),
        PartnerTerms.of(sections=["Analysis"]),
        PartnerTerms.of(languages=["en"]),
    ):
        assert excluded(article, publisher, terms).code == FILTERED
    assert isinstance(
        partner_copy(make(language="es-MX"), PartnerTerms.of(languages=["es"]), publisher),
        PartnerItem,
    )


# --- Spanish articles -------------------------------------------------------------------

GOLDEN_ES = Path(__file__).resolve().parents[1] / "golden"
#: English wording of the blocks (ours, not the publisher's): none may be left in Spanish.
ENGLISH = (
    "this article",
    "originally published",
    "first published",
    "republished under",
    "licence",
    "license",
    "legal code",
    "summary",
    "dedication",
    "image:",
    "credit:",
    "updated",
    "attribution",
    " by ",
    " and ",
    "international",
)


def spanish_publisher(publisher: Publisher) -> Publisher:
    """The example publisher with no English words of its own (no contact line)."""
    terms = publisher.attribution.model_copy(update={"contact": "", "note": ""})
    return publisher.model_copy(update={"attribution": terms})


def spanish(**overrides: Any) -> Article:
    data: dict[str, Any] = {
        "url": "https://insightcrime.org/es/noticias/analisis/historia-de-ejemplo/",
        "title": "Historia de ejemplo",
        "language": "es",
        "authors": ["Ana Pérez", "Juan Gómez"],
        "updated_at": "2026-03-05T10:00:00-05:00",
        "image": {
            "url": "https://insightcrime.org/wp-content/uploads/coca.jpg",
            "caption": "Un cultivo de coca en Putumayo",
            "credit": "Archivo de InSight Crime",
            "licence": "CC-BY-SA-4.0",
        },
    }
    data.update(overrides)
    return make(**data)


def visible_text(html: str) -> str:
    return " ".join(parse(html).text_content().split())


def test_spanish_article_is_attributed_in_spanish(publisher: Publisher) -> None:
    publisher = spanish_publisher(publisher)
    article = spanish()
    item = copy_of(article, publisher)
    lic = LICENCES[article.licence]
    found = inspect_attribution(item.html)
    # Same TASL and ccREL as in English: the canonical licence URI stays on rel="license".
    assert found.top_url == article.url and article.url in found.bottom_urls
    assert found.about == article.url
    # rel="license": the canonical URI and the exact name, what identifies the licence.
    assert found.licence_url == lic.url == "https://creativecommons.org/licenses/by-nc/4.0/"
    assert found.licence_name == lic.name
    assert found.byline_publisher == found.attribution_name == publisher.attribution_name
    assert found.byline == "por Ana Pérez y Juan Gómez, InSight Crime · 2 de marzo de 2026 " + (
        "(actualizado el 5 de marzo de 2026)"
    )
    footer = parse(item.footer_html)
    # Readers get the Spanish name on CC's Spanish deed, and the official Spanish legal code.
    links = {a.text_content(): a.get("href") for a in footer.iter("a")}
    name = display_name(lic, "es")
    assert name == "Creative Commons Atribución-NoComercial 4.0 Internacional"
    assert links[name] == lic.url + "deed.es"
    assert links["texto legal"] == lic.url + "legalcode.es"
    assert [a.get("href") for a in footer.xpath("//a[@rel='license']")] == [lic.url]
    assert links["CC BY-SA 4.0"] == "https://creativecommons.org/licenses/by-sa/4.0/deed.es"
    assert footer.xpath("./div")[0].get("lang") == "es"
    words = visible_text(item.header_html + item.footer_html)
    # The one English phrase on purpose: the licence's exact name on the rel="license" link.
    prose = words.replace(lic.name, "")
    assert words.startswith("Este artículo fue publicado originalmente por InSight Crime.")
    assert "“Historia de ejemplo” por Ana Pérez y Juan Gómez, InSight Crime." in words
    assert (
        "InSight Crime publicó este artículo por primera vez en " + article.url + " y se "
        "republica bajo la licencia Creative Commons Atribución-NoComercial 4.0 Internacional "
        "(CC BY-NC 4.0, nombre original: Creative Commons Attribution-NonCommercial 4.0 "
        "International, texto legal)."
    ) in words
    assert (
        "Imagen: Un cultivo de coca en Putumayo. Crédito: Archivo de InSight Crime. CC BY-SA 4.0."
    ) in words
    for english in ENGLISH:
        assert english not in prose.lower(), english
    text = item.header_text + "\n" + item.footer_text
    assert item.header_text.splitlines()[0] == (
        f"Este artículo fue publicado originalmente por InSight Crime: {article.url}"
    )
    assert f"(CC BY-NC 4.0): {lic.url}\n" in text  # the canonical URI, as rel="license"
    assert f"Resumen en español: {lic.url}deed.es · Texto legal: {lic.url}legalcode.es" in text
    words = re.sub(r"https?://\S+", "", text).lower()  # CC's URLs say "licenses"
    for english in ENGLISH:
        assert english not in words, english


def test_any_spanish_variant_is_spanish_and_other_languages_english(publisher: Publisher) -> None:
    mexican = attribution_footer(spanish(language="es-MX"), publisher)
    assert "publicó este artículo" in visible_text(mexican)
    assert parse(mexican).xpath("./div")[0].get("lang") == "es-MX"
    english = attribution_footer(make(), publisher)
    for language in ("fr", "pt-BR", "en-GB"):
        # No catalog (or English): the English block, byte for byte, and no lang attribute.
        assert attribution_footer(make(language=language), publisher) == english
        assert attribution_header(make(language=language), publisher) == attribution_header(
            make(), publisher
        )


def test_spanish_footer_matches_golden(publisher: Publisher) -> None:
    article = spanish(authors=["Ana Pérez", "Juan Gómez", "Inés Ruiz"])
    produced = {
        "attribution_es_footer.html": attribution_footer(
            article, spanish_publisher(publisher), image=article.image
        )
        + "\n",
        "attribution_es_footer.txt": attribution_footer(
            article, spanish_publisher(publisher), image=article.image, fmt="text"
        ),
    }
    if os.environ.get("UPDATE_GOLDEN"):
        for name, text in produced.items():
            (GOLDEN_ES / name).write_text(text, "utf-8")
    for name, text in produced.items():
        assert (GOLDEN_ES / name).read_bytes() == text.encode("utf-8"), name
    # "y" is "e" before a name that starts with the sound /i/.
    assert "Juan Gómez e Inés Ruiz" in produced["attribution_es_footer.txt"]


def test_hostile_spanish_title_stays_escaped() -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>%(url)s'
    publisher = Publisher(
        name=f"Malvado {hostile}", site_url="https://example.org", licence="CC-BY-4.0"
    )
    article = spanish(
        url="https://example.org/historia'onmouseover='alert(3)",  # "'": RFC 3986 allows it
        title=f"Título {hostile} & más",
        authors=[f"Autora {hostile}"],
        licence="CC-BY-4.0",
        image={
            "url": "https://example.org/a.jpg",
            "caption": f"Pie {hostile}",
            "credit": f"Crédito {hostile}",
            "licence": "CC-BY-4.0",
        },
    )
    item = copy_of(article, publisher)
    tree = parse(item.html)
    assert tree.xpath("//script") == []
    assert [img.get("src") for img in tree.iter("img")] == []
    assert not any(el.get("onmouseover") or el.get("onerror") for el in tree.iter())
    assert tree.xpath("//*[@property='dct:title']")[0].text_content() == article.title
    assert tree.xpath("//*[@property='dct:creator']")[0].text_content() == article.authors[0]
    found = inspect_attribution(item.html)
    assert found.top_url == article.url and found.about == article.url
    assert found.byline_publisher == found.attribution_name == publisher.name
    assert found.licence_url == LICENCES["CC-BY-4.0"].url
    # The values are never read as format strings: "%(url)s" in a title stays as written.
    assert f"Título {hostile} & más" in item.footer_text
    assert f"Crédito: Crédito {hostile}." in visible_text(item.footer_html)


def test_spanish_wording_for_cc0_3_0_and_a_publishers_own_byline(publisher: Publisher) -> None:
    cc0 = parse(attribution_footer(spanish(licence="CC0-1.0"), publisher))
    assert "se republica bajo la dedicación al dominio público CC0 1.0 Universal" in (
        visible_text(attribution_footer(spanish(licence="CC0-1.0"), publisher))
    )
    # CC0 keeps its name in Spanish: one link, canonical, and the Spanish deed beside it.
    links = {a.text_content(): a.get("href") for a in cc0.iter("a")}
    assert links["CC0 1.0 Universal"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert links["resumen en español"] == (
        "https://creativecommons.org/publicdomain/zero/1.0/deed.es"
    )
    old = parse(attribution_footer(spanish(licence="CC-BY-SA-3.0"), publisher))
    licence = old.xpath("//a[@rel='license']")[0]
    assert licence.get("href") == "https://creativecommons.org/licenses/by-sa/3.0/"
    assert licence.text == "Creative Commons Attribution-ShareAlike 3.0 Unported"
    links = {a.text_content(): a.get("href") for a in old.iter("a")}
    # CC publishes no Spanish legal code for 3.0: the deed is Spanish, the legal code English.
    assert links["Creative Commons Atribución-CompartirIgual 3.0 No portada"] == (
        "https://creativecommons.org/licenses/by-sa/3.0/deed.es"
    )
    assert links["texto legal"] == "https://creativecommons.org/licenses/by-sa/3.0/legalcode"
    own = publisher.model_copy(
        update={
            "attribution": publisher.attribution.model_copy(
                update={"byline": "Escrito por {authors} para {publisher}", "note": "Nota propia."}
            )
        }
    )
    article = spanish(authors=["Ana Pérez"])
    # The publisher's words stay as configured; the default byline is ours, so translated.
    assert byline_text(article, own) == "Escrito por Ana Pérez para InSight Crime"
    assert byline_text(article, publisher) == "por Ana Pérez, InSight Crime"
    assert "Nota propia." in visible_text(attribution_footer(article, own))
    words = visible_text(attribution_header(article, own) + attribution_footer(article, own))
    for phrase in ("respald", "patrocin", "aprobad", "cortesía", "en colaboración", "socio"):
        assert phrase not in words.lower()


def test_fast_gettext_reads_as_the_environments(publisher: Publisher) -> None:
    """The templates rendered with the environment's own gettext read the same."""
    from syndication.render.attribution import _context, _render, _template

    for article in (spanish(), make(image=spanish().image)):
        context = _context(article, publisher, "Cambios.", article.image)
        for name in ("header", "footer"):
            for fmt in ("html", "text"):
                slow = _template(name, fmt).render(context)
                assert _render(name, fmt, context) == slow
