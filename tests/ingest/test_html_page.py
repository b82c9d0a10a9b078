"""HTML article pages: metadata precedence (JSON-LD, OpenGraph, page) and chrome removal."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syndication.config import Publisher, load_publisher
from syndication.ingest.html_page import parse_html_page
from syndication.ingest.normalise import IngestError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


@pytest.fixture(scope="module")
def publisher() -> Publisher:
    return load_publisher(ROOT / "examples" / "insightcrime.toml")


def test_wordpress_page_with_json_ld_graph(publisher: Publisher) -> None:
    a = parse_html_page((FIXTURES / "wordpress-article.html").read_bytes(), publisher)
    assert a.url == "https://news.example.org/news/analysis/port-inspectors-stretched-thin/"
    assert a.id == "port-inspectors-stretched-thin"
    assert a.title == "Port Inspectors Stretched Thin as Cocaine Shipments Diversify"
    assert a.summary.startswith("Container scanners cover a fraction")
    assert a.authors == ["Ana Gómez", "Luis Fernández"]  # @id reference resolved in @graph
    assert a.published_at == datetime(2026, 2, 10, 13, 0, tzinfo=ZoneInfo("UTC"))
    assert a.updated_at is not None and a.updated_at.isoformat() == "2026-02-11T09:30:00-05:00"
    assert a.language == "en"
    assert a.section == "Analysis"
    assert a.topics == ["Cocaine", "Ports", "Customs"]
    assert a.licence == "CC-BY-NC-4.0"
    assert a.image is not None
    assert a.image.url == "https://news.example.org/wp-content/uploads/2026/02/port.jpg"
    assert a.image.caption == "Containers stacked at a Pacific port"
    assert a.image.credit == "Example Newsroom archive"

    body = a.body_html
    assert body.startswith("<p>Container scanners at the region")
    assert 'href="https://news.example.org/news/brief/scanner-shortage/"' in body
    assert "<h2>Diversifying Routes</h2>" in body and "<blockquote>" in body
    assert "procurement</a> has stalled" in body
    for chrome in (
        "Get our weekly briefing", "Sign up", "Related Content", "Another story", "DONATE",
        "Was this content helpful", "Share this", "Share on", "Most read", "What are your",
        "Tagged", "Skip to content", "trackRead", "onclick", "javascript", "<form", "<h1",
        "© Example Newsroom",
    ):  # fmt: skip
        assert chrome not in body, chrome
    # What was cut that a reader saw is recorded, for the note of changes (CC 4.0
    # §3(a)(1)(B)); scripts and the <h1> (the title, kept) are not changes to note.
    assert a.changes == [
        "removed page navigation",
        "removed share buttons",
        "removed donation prompts",
        "removed newsletter sign-up forms",
        "removed related-article links",
    ]


def test_og_only_page(publisher: Publisher) -> None:
    a = parse_html_page((FIXTURES / "og-article.html").read_bytes(), publisher)
    assert a.url == "https://diario.example.net/regiones/pescadores-vacuna-litoral"
    assert a.title == "Pescadores denuncian cobros de “vacuna” en el litoral"
    assert a.summary == (
        "Cooperativas de pesca artesanal dicen que pagan una cuota semanal para poder salir al mar."
    )
    assert a.authors == ["María López"]  # article:author is a URL, so name=author counts
    # No offset in the page: the publisher's zone is assumed; an earlier modified time is
    # ignored rather than rejected.
    assert a.published_at == datetime(2026, 1, 20, 6, 15, tzinfo=ZoneInfo("America/Bogota"))
    assert a.updated_at == a.published_at
    assert a.language == "es"
    assert a.section == "Regiones"
    assert a.topics == ["Extorsión", "Pesca"]
    assert a.image is not None
    assert a.image.url == "https://diario.example.net/media/2026/01/muelle.jpg"
    body = a.body_html
    assert body.startswith("<p>Cooperativas de pesca artesanal del litoral")
    assert 'href="https://diario.example.net/economia/pesca-artesanal"' in body
    for chrome in ("Publicidad", "Suscríbase", "Lo más leído", "Otra nota", "Compartir",
                   "Inicio", "Diario Ejemplo ©", "Por María López"):  # fmt: skip
        assert chrome not in body, chrome


def test_a_page_with_nothing_cut_records_no_changes(publisher: Publisher) -> None:
    page = """<html lang="en"><head><title>Plain</title>
    <link rel="canonical" href="https://insightcrime.org/news/plain/"></head><body>
    <article><time datetime="2026-02-10T08:00:00Z">10 Feb</time>
    <p>Only the story.</p><script>track()</script></article></body></html>"""
    assert parse_html_page(page, publisher).changes == []


def test_url_argument_overrides_the_page(publisher: Publisher) -> None:
    a = parse_html_page(
        (FIXTURES / "og-article.html").read_text(encoding="utf-8"),
        publisher,
        url="https://diario.example.net/otra/ruta",
    )
    assert a.url == "https://diario.example.net/otra/ruta"
    assert a.id == "ruta"


def test_plain_page_falls_back_to_title_canonical_and_article(publisher: Publisher) -> None:
    page = """<html lang="pt-BR"><head><title>Garimpo no rio | InSight Crime</title>
    <link rel="canonical" href="https://insightcrime.org/pt/garimpo-no-rio/"></head><body>
    <nav>menu</nav><article><p>Primeiro parágrafo.</p><time datetime="2026-02-01T10:00:00Z">
    1 fev</time><p>Segundo.</p><div class="share">x</div></article><footer>f</footer>
    </body></html>"""
    a = parse_html_page(page, publisher)
    assert a.title == "Garimpo no rio"
    assert a.url == "https://insightcrime.org/pt/garimpo-no-rio/"
    assert a.language == "pt"
    assert a.published_at.isoformat() == "2026-02-01T10:00:00+00:00"
    assert "menu" not in a.body_html and ">x<" not in a.body_html and "f</" not in a.body_html
    assert a.summary == "Primeiro parágrafo."


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ("<html><body><p>x</p></body></html>", "no canonical URL"),
        (
            '<html><head><link rel="canonical" href="https://x.example/a"></head>'
            "<body><article><h1>T</h1><p>x</p></article></body></html>",
            "no publication date",
        ),
        ("   ", "empty"),
    ],
)
def test_page_errors(publisher: Publisher, page: str, reason: str) -> None:
    with pytest.raises(IngestError, match=reason):
        parse_html_page(page, publisher)
