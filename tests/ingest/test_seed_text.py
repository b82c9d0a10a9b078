"""The page-dump parser against the real seed brief, and against variations of its shape."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syndication.config import Publisher, load_publisher
from syndication.ingest.normalise import IngestError
from syndication.ingest.seed_text import parse_page_dump, proper_name, title_case
from syndication.models import Article

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "articles" / "insightcrime-peru-stalemate.txt"
URL = "https://insightcrime.org/news/brief/peru-familiar-stalemate-shining-path-rebels/"
CHROME = [
    "share icon",
    "Was this content helpful?",
    "DONATE",
    "What are your thoughts?",
    "We encourage readers to copy",
    "Creative Commons website",
    "Related Content",
    "About InSight Crime",
    "THE ORGANIZATION",
    "Illegal Fishing",
    "20 JUN 2017",
    "SEE ALSO",
    "BY SERGIO",
    "BRIEF",
]


@pytest.fixture(scope="module")
def publisher() -> Publisher:
    return load_publisher(ROOT / "examples" / "insightcrime.toml")


@pytest.fixture(scope="module")
def seed(publisher: Publisher) -> Article:
    return parse_page_dump(SEED.read_text(encoding="utf-8"), publisher, URL)


def test_seed_is_the_shared_file_byte_for_byte() -> None:
    shared = Path("/work/shared/seeds/000_baab15db4733a5b2.txt")
    if shared.is_file():
        assert SEED.read_bytes() == shared.read_bytes()


def test_seed_metadata(seed: Article) -> None:
    assert seed.url == URL
    assert seed.id == "peru-familiar-stalemate-shining-path-rebels"
    assert seed.title == "Peru in Familiar Stalemate With Shining Path Rebels"
    assert seed.topics == ["Coca"]
    assert seed.section == "Brief"
    assert seed.authors == ["Sergio Saffón"]
    assert seed.language == "en"
    assert seed.licence == "CC-BY-NC-4.0"
    assert seed.published_at == datetime(2020, 9, 4, tzinfo=ZoneInfo("America/Bogota"))
    assert seed.published_at.utcoffset() is not None
    assert seed.published_at.date().isoformat() == "2020-09-04"
    assert seed.summary.startswith("Yet again, Peruvian security forces")
    assert seed.summary.endswith("what remains of the rebel group.")


def test_seed_body(seed: Article) -> None:
    body = seed.body_html
    assert body.startswith("<p>Yet again, Peruvian security forces are seeking")
    assert body.endswith("that were victimized by the Shining Path.</p>")
    assert "<h2>InSight Crime Analysis</h2>" in body
    assert body.count("<h2>") == 1
    assert body.count("<p>") == 13
    assert "Abimael Guzmán" in body and "country’s cocaine" in body
    for chrome in CHROME:
        assert chrome not in body, chrome


def test_seed_related_links(seed: Article) -> None:
    assert [r.title for r in seed.related] == [
        "Peru News and Profile",
        "Peru's Shining Path Plots Unlikely Return to Power",
    ]
    assert [r.url for r in seed.related] == [
        "https://insightcrime.org/?s=Peru+News+and+Profile",
        "https://insightcrime.org/?s=Peru%27s+Shining+Path+Plots+Unlikely+Return+to+Power",
    ]


def test_seed_records_what_the_importer_changed(seed: Article) -> None:
    """The dump is the source: what the importer cut or reshaped is noted on every copy."""
    assert seed.changes == [
        "removed page navigation",
        "removed 2 'See also' links",
        "turned 1 line into a heading",
    ]


def test_seed_is_deterministic(publisher: Publisher, seed: Article) -> None:
    assert parse_page_dump(SEED.read_text(encoding="utf-8"), publisher, URL) == seed


def test_url_is_required(publisher: Publisher) -> None:
    with pytest.raises(IngestError, match="--url is needed"):
        parse_page_dump(SEED.read_text(encoding="utf-8"), publisher, None)


DUMP = """\
HomeNoticiasAnálisisLa ruta del oro ilegal
ANÁLISIS

La ruta del oro ilegal

MINERÍA ILEGAL / 12 ENE 2026 POR JUAN JOSÉ DE LA CRUZ Y MARÍA O’NEILL ES

El oro extraído de forma ilegal en la Amazonía sale del país por rutas conocidas, según la DIAN.

Los controles se concentran en las carreteras.

El papel de las fundidoras

Las fundidoras reciben el metal sin preguntar por su origen.

VER TAMBIÉN: Minería ilegal en Colombia

Contenido relacionado

ORO / 3 MAR 2025

Otra nota que no es parte del artículo.
"""


def test_general_page_dump_shape(publisher: Publisher) -> None:
    article = parse_page_dump(DUMP, publisher, "https://insightcrime.org/es/noticias/ruta-oro/")
    assert article.title == "La ruta del oro ilegal"
    assert article.section == "Análisis"
    assert article.topics == ["Minería Ilegal"]
    assert article.language == "es"
    assert article.authors == ["Juan José de la Cruz", "María O’Neill"]
    assert article.published_at == datetime(2026, 1, 12, tzinfo=ZoneInfo("America/Bogota"))
    assert "<h2>El papel de las fundidoras</h2>" in article.body_html
    assert "Otra nota" not in article.body_html and "ORO" not in article.body_html
    assert article.related[0].title == "Minería ilegal en Colombia"
    assert article.related[0].url.startswith("https://insightcrime.org/?s=")


def test_not_a_page_dump(publisher: Publisher) -> None:
    with pytest.raises(IngestError, match="not a page dump"):
        parse_page_dump("just some text\n\nwith no header\n", publisher, URL)


def test_name_and_topic_casing() -> None:
    assert proper_name("SERGIO SAFFÓN") == "Sergio Saffón"
    assert proper_name("SERGIO SAFFO\u0301N") == "Sergio Saffón"  # decomposed input
    assert proper_name("ÑUÑO DEL VALLE") == "Ñuño del Valle"
    assert proper_name("JEAN-PIERRE MCALLISTER") == "Jean-Pierre McAllister"
    assert proper_name("J.R. SMITH") == "J.R. Smith"
    assert proper_name("LUDWIG VAN BEETHOVEN") == "Ludwig van Beethoven"
    assert proper_name("DEBORAH MACKAY", "interview with Deborah MacKay in") == "Deborah MacKay"
    assert title_case("ENVIRONMENTAL CRIME") == "Environmental Crime"
    assert title_case("ELN AND EX-FARC MAFIA", "the ELN and ex-FARC") == "ELN and Ex-FARC Mafia"
