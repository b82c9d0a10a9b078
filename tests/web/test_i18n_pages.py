"""The public side in English and Spanish: home page, ``/feeds``, licence names, JSON errors.

Real app over a real Redis (conftest's ``context``); the Spanish comes from the catalogs.
"""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from syndication import catalogs
from syndication.context import Context
from syndication.licences import (
    LICENCES,
    deed_url,
    display_label,
    display_name,
    legal_code_url,
)
from syndication.models import Article
from syndication.web.app import create_app
from tests.support import article_data
from tests.support.i18n import english_only

ES = {"Accept-Language": "es-CO,es;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}
AUTH = {"Authorization": "Bearer test-token-0123456789"}
HTML_LANG = re.compile(r'<html lang="([^"]+)">')


def html_lang(text: str) -> str:
    found = HTML_LANG.search(text)
    assert found, text[:200]
    return found[1]


def stored(context: Context, n: int = 2) -> Context:
    for i in range(1, n + 1):
        context.article_store.upsert(
            Article.model_validate(article_data(i)), datetime(2026, 11, 26, tzinfo=UTC)
        )
    context.feeds.rebuild_dirty()
    return context


@pytest.fixture
def client(context: Context) -> TestClient:
    return TestClient(create_app(stored(context)))


def with_publisher_language(context: Context, language: str) -> Context:
    settings = context.settings
    publisher = settings.publisher.model_copy(update={"language": language})
    return Context(
        dataclasses.replace(settings, publisher=publisher),
        context.events,
        context.client,
        clock=context.clock,
    )


# -- licence names --------------------------------------------------------------------------


def test_licence_names_in_spanish_and_english_unchanged() -> None:
    by_nc = LICENCES["CC-BY-NC-4.0"]
    assert by_nc.name == "Creative Commons Attribution-NonCommercial 4.0 International"
    assert display_name(by_nc, "en") == by_nc.name
    assert display_name(by_nc, "es") == "Creative Commons Atribución-NoComercial 4.0 Internacional"
    assert display_name(by_nc, "es-MX") == display_name(by_nc, "es")
    assert display_label(by_nc, "es").endswith("Internacional (CC BY-NC 4.0)")
    assert display_name(LICENCES["CC-BY-ND-3.0"], "es").endswith("SinDerivadas 3.0 No portada")
    assert display_name(LICENCES["CC-BY-SA-4.0"], "es").endswith(
        "Atribución-CompartirIgual 4.0 Internacional"
    )
    assert display_name(LICENCES["all-rights-reserved"], "es") == "Todos los derechos reservados"
    assert display_name(LICENCES["CC0-1.0"], "es") == "CC0 1.0 Universal"
    for lic in LICENCES.values():
        assert display_name(lic, "en") == lic.name
        assert display_name(lic, "fr") == lic.name  # no catalog: English
        if lic.is_cc and not lic.is_public_domain:
            assert "Atribución" in display_name(lic, "es")


def test_deeds_and_legal_code_in_the_readers_language() -> None:
    by_nc = LICENCES["CC-BY-NC-4.0"]
    assert deed_url(by_nc, "es") == "https://creativecommons.org/licenses/by-nc/4.0/deed.es"
    assert deed_url(by_nc, "en") == by_nc.url  # the canonical URI is the English deed
    assert (
        legal_code_url(by_nc, "es") == "https://creativecommons.org/licenses/by-nc/4.0/legalcode.es"
    )
    assert legal_code_url(by_nc, "en") == by_nc.legal_code
    by_3 = LICENCES["CC-BY-3.0"]
    assert deed_url(by_3, "es") == "https://creativecommons.org/licenses/by/3.0/deed.es"
    assert legal_code_url(by_3, "es") == by_3.legal_code  # 3.0 Unported: English only
    cc0 = LICENCES["CC0-1.0"]
    assert deed_url(cc0, "es") == "https://creativecommons.org/publicdomain/zero/1.0/deed.es"
    arr = LICENCES["all-rights-reserved"]
    assert deed_url(arr, "es") is None and legal_code_url(arr, "es") is None


# -- home page ------------------------------------------------------------------------------


def test_home_in_spanish_by_accept_language(client: TestClient) -> None:
    resp = client.get("/", headers=ES)
    assert resp.status_code == 200
    page = resp.text
    assert html_lang(page) == "es"
    assert resp.headers["content-language"] == "es"
    assert "accept-language" in resp.headers["vary"].lower()
    assert "Lo más reciente" in page and "Suscribirse al boletín" in page
    assert "Atribución-NoComercial 4.0 Internacional" in page
    assert 'href="https://creativecommons.org/licenses/by-nc/4.0/deed.es"' in page
    assert 'href="https://creativecommons.org/licenses/by-nc/4.0/legalcode.es"' in page
    # rel="license" stays the canonical URI (ccREL), whatever the language
    assert '<link rel="license" href="https://creativecommons.org/licenses/by-nc/4.0/">' in page
    assert "de noviembre de 2026" in page  # Babel's Spanish long date
    assert "Sample story 1" in page
    assert english_only(page) == []
    # the switch: a plain link back to English on the same page; Spanish is current
    assert 'href="?lang=en"' in page and 'aria-current="true">Español' in page


def test_home_in_english_by_default(client: TestClient) -> None:
    page = client.get("/").text
    assert html_lang(page) == "en"
    assert (
        "Latest" in page and "Creative Commons Attribution-NonCommercial 4.0 International" in page
    )
    assert "November" in page and "noviembre" not in page
    assert 'href="?lang=es"' in page


def test_home_lang_parameter_wins_and_is_kept_on_our_links(client: TestClient) -> None:
    page = client.get("/?lang=es", headers=EN).text
    assert html_lang(page) == "es" and "Lo más reciente" in page
    assert 'href="/feeds?lang=es"' in page and 'href="/subscribe?lang=es"' in page
    back = client.get("/?lang=en", headers=ES).text
    assert html_lang(back) == "en" and "Latest" in back
    assert 'href="/feeds?lang=en"' in back


@pytest.mark.parametrize(
    "value", ["xx", "https://evil.example/", "<script>alert(1)</script>", "es" * 40, ""]
)
def test_garbage_lang_is_ignored_and_not_echoed(client: TestClient, value: str) -> None:
    for path in ("/", "/feeds"):
        resp = client.get(path, params={"lang": value}, headers=ES)
        assert resp.status_code == 200
        assert html_lang(resp.text) == "es"  # Accept-Language decides, as without ?lang=
        if value:
            assert value not in html.unescape(resp.text)
        assert "lang=xx" not in resp.text and "evil.example" not in resp.text
        plain = client.get(path, params={"lang": value})
        assert html_lang(plain.text) == "en"  # the publisher's language


def test_unsupported_language_falls_back_to_the_publishers(context: Context) -> None:
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    english_publisher = TestClient(create_app(stored(context)))
    assert html_lang(english_publisher.get("/", headers=german).text) == "en"
    spanish_publisher = TestClient(create_app(with_publisher_language(context, "es")))
    for path in ("/", "/feeds"):
        page = spanish_publisher.get(path, headers=german).text
        assert html_lang(page) == "es", path
        assert html_lang(spanish_publisher.get(path, params={"lang": "de"}).text) == "es"
        # a reader who asks for English still gets it
        assert html_lang(spanish_publisher.get(path, headers=EN).text) == "en"


# -- /feeds ----------------------------------------------------------------------------------


def test_feeds_index_in_spanish(client: TestClient) -> None:
    for resp in (client.get("/feeds", headers=ES), client.get("/feeds?lang=es", headers=EN)):
        assert resp.status_code == 200
        page = resp.text
        assert html_lang(page) == "es"
        assert resp.headers["content-language"] == "es"
        assert "Canales de InSight Crime" in page
        assert "Temas" in page and "Autores" in page and "Todo" in page
        assert "2 artículos" in page
        assert english_only(page) == []
        assert 'href="?lang=en"' in page
        assert "/feeds/all.rss" in page  # the feeds themselves are unchanged


def test_feeds_index_in_english(client: TestClient) -> None:
    page = client.get("/feeds").text
    assert html_lang(page) == "en"
    assert "Feeds from InSight Crime" in page and "2 articles" in page and "Topics" in page
    assert 'href="?lang=es"' in page


# -- JSON errors -----------------------------------------------------------------------------


def both(client: TestClient, method: str, path: str, **kwargs: Any) -> tuple[Any, Any]:
    headers = kwargs.pop("headers", {})
    en = client.request(method, path, headers={**headers, **EN}, **kwargs)
    es = client.request(method, path, headers={**headers, **ES}, **kwargs)
    assert en.status_code == es.status_code
    return en, es


def test_api_errors_in_spanish_with_the_same_code(client: TestClient) -> None:
    en, es = both(client, "POST", "/api/articles", content=b"{nope", headers=AUTH)
    assert en.status_code == 400
    assert en.json()["code"] == es.json()["code"] == "body_not_json"
    assert en.json()["error"].startswith("body is not valid JSON")
    assert es.json()["error"].startswith("el cuerpo no es JSON válido")
    assert es.headers["content-language"] == "es"

    en, es = both(client, "GET", "/api/articles")
    assert en.status_code == 401 and "www-authenticate" in es.headers
    assert en.json()["code"] == es.json()["code"] == "unauthorized"
    assert "credenciales" in es.json()["error"] and "credentials" in en.json()["error"]

    en, es = both(client, "GET", "/api/articles/nope", headers=AUTH)
    assert en.status_code == 404
    assert en.json()["code"] == es.json()["code"] == "article_not_found"
    assert es.json()["error"] == "no hay ningún artículo con el id 'nope'"

    invalid = {"title": "no url", "body_html": "<p>x</p>"}
    en, es = both(client, "POST", "/api/articles", json=invalid, headers=AUTH)
    assert en.status_code == 422
    assert en.json()["code"] == es.json()["code"] == "invalid_article"
    assert en.json()["fields"] == es.json()["fields"]  # machine-readable: unchanged
    assert es.json()["error"].startswith("artículo no válido: ")


def test_app_wide_handlers_in_spanish_with_the_same_code(client: TestClient) -> None:
    en, es = both(client, "GET", "/no/such/page")
    assert en.status_code == 404
    assert en.json() == {"error": "Not Found", "code": "not_found"}
    assert es.json() == {"error": "No encontrado", "code": "not_found"}

    en, es = both(client, "GET", "/api/articles?limit=lots", headers=AUTH)
    assert en.status_code == 422
    assert en.json()["code"] == es.json()["code"] == "invalid_request"
    assert (en.json()["error"], es.json()["error"]) == ("invalid request", "solicitud no válida")
    assert en.json()["fields"] == es.json()["fields"]


def test_api_errors_default_to_english(client: TestClient) -> None:
    """No Accept-Language, or one we have no catalog for: English (the API's clients are
    programs; ``code`` is what they read)."""
    for headers in ({}, {"Accept-Language": "de"}):
        resp = client.post("/api/articles", content=b"\xff", headers={**AUTH, **headers})
        assert resp.status_code == 400
        assert resp.json() == {"error": "body is not valid UTF-8 (byte 0)", "code": "body_not_utf8"}


def test_catalogs_hold_the_public_pages() -> None:
    assert catalogs.problems() == []
