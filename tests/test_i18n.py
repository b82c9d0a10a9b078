"""English and Spanish: catalogs, negotiation, pages, emails, digests; CSRF on the forms.

Real app, real Redis, real SMTP on loopback (the MailCatcher), like test_subscribers_web.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from syndication import catalogs, i18n, tokens
from syndication.config import Settings, load_publisher
from syndication.context import Context
from syndication.deliver.mail_catcher import MailCatcher
from syndication.models import Article
from syndication.render.digest_email import DigestSegment, render_digest
from syndication.services.subscriptions import SubscriptionService
from syndication.store.subscribers import Subscriber
from syndication.templating import environment, templates_dir
from syndication.web.app import create_app
from syndication.web.csrf import Csrf
from tests.support import EXAMPLE_CONFIG, article_data, tamper
from tests.support.clock import ManualClock
from tests.support.i18n import english_only, spanish_catalog

SECRET = "s" * 40  # conftest's SYNDICATION_SECRET_KEY
AUTH = {"Authorization": "Bearer test-token-0123456789"}
ES = {"Accept-Language": "es-CO,es;q=0.9,en;q=0.5"}
CSRF_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
CONFIRM = re.compile(r"http://testserver/confirm/([A-Za-z0-9_.-]+)")
COOKIE = "syndication-csrf"  # http public URL: no __Host- prefix


# -- catalogs --------------------------------------------------------------------------------


def test_every_msgid_has_a_spanish_msgstr() -> None:
    catalog = spanish_catalog()
    messages = [m for m in catalog if m.id]
    assert len(messages) > 50
    missing = []
    for message in messages:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(s.strip() for s in strings):
            missing.append(message.id)
    assert not missing, f"msgids without a Spanish msgstr: {missing}"


def test_catalogs_hold_every_marked_string_with_matching_placeholders() -> None:
    """Extraction from the code and templates finds nothing the catalogs lack; Babel's
    checks (python-format placeholders) pass. ``python -m syndication.catalogs check``."""
    assert catalogs.problems() == []
    assert catalogs.main(["check"]) == 0


def test_no_mo_files_and_catalogs_load_from_po() -> None:
    assert not list(i18n.LOCALE_DIR.rglob("*.mo"))
    assert i18n.translations("es").gettext("Read more") == "Leer más"
    assert i18n.translations("es-MX") is i18n.translations("es")  # cached per locale
    assert i18n.translations("en").gettext("Read more") == "Read more"
    assert i18n.translations("de").gettext("Read more") == "Read more"
    assert i18n.translations("es").ngettext("%(count)s story", "%(count)s stories", 3) == (
        "%(count)s historias"
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("es-CO,es;q=0.9,en;q=0.8", "es"),
        ("en-US,en;q=0.9,es;q=0.8", "en"),
        ("fr-FR, es;q=0.5, en;q=0.4", "es"),
        ("en;q=0.2, es;q=0.7", "es"),
        ("ES-mx", "es"),
        ("es;q=0, en", "en"),
        ("fr, de", None),
        ("*", None),
        ("", None),
        (None, None),
        ("es;q=abc, en;q=0.1", "en"),
        ("x" * 5000, None),
    ],
)
def test_accept_language_negotiation(header: str | None, expected: str | None) -> None:
    assert i18n.negotiate(header) == expected


def test_dates_are_localised() -> None:
    when = datetime(2020, 9, 4, 12, 0, tzinfo=UTC)
    assert i18n.format_date(when, "es") == "4 de septiembre de 2020"
    assert i18n.format_date(when, "en") == "September 4, 2020"
    assert i18n.format_date(when, "es", form="full") == "viernes, 4 de septiembre de 2020"
    assert i18n.format_date(when, "xx-nope") == "September 4, 2020"


# -- every template, both languages -----------------------------------------------------------


def _subscriber(language: str) -> Subscriber:
    return Subscriber(
        "0123456789abcdef",
        "lector@example.org",
        "pending",
        "weekly",
        ("coca",),
        language,
        datetime(2026, 1, 1, tzinfo=UTC),
        None,
        1,
    )


def _context(locale: str, **extra: Any) -> dict[str, Any]:
    publisher = load_publisher(EXAMPLE_CONFIG)
    return {
        "locale": locale,
        "locales": [("en", "English"), ("es", "Español")],
        "publisher": publisher,
        "notice": "",
        "csrf_token": "tok.sig",
        "subscriber": _subscriber(locale),
        "token": "abc.def",
        "frequency_name": i18n.frequency_name(locale, "weekly"),
        "email": "",
        "frequencies": [("daily", "Daily"), ("weekly", "Weekly")],
        "topics": {"coca": "Coca"},
        "languages": ["en", "es"],
        "language_names": i18n.LANGUAGE_NAMES,
        "chosen_frequency": "weekly",
        "chosen_topics": [],
        "chosen_language": locale,
        "errors": {},
        "saved": True,
        "title": "T",
        "text": "X",
        "link": "/subscribe",
        "link_text": "L",
        "editions": [
            {
                "url": "/archive/x",
                "label": "L",
                "date": "D",
                "date_iso": "I",
                "frequency": "f",
                "articles": 2,
            }
        ],
        "start": 1,
        "newest_url": "/archive",
        "older_url": "/archive?start=2",
        "subscribe_url": "/subscribe",
        "index_url": "/archive",
        "confirm_url": "https://news.example.org/confirm/abc.def",
        "public_url": "https://news.example.org",
        "hours": 48,
        **extra,
    }


PAGE_TEMPLATES = sorted(
    p.relative_to(templates_dir()).as_posix()
    for folder in ("web/subscribe", "web/archive", "email/confirm")
    for p in (templates_dir() / folder).iterdir()
    if p.suffix in (".html", ".txt")
)


@pytest.mark.parametrize("name", PAGE_TEMPLATES)
def test_every_page_and_confirmation_template_renders_in_both_languages(name: str) -> None:
    env = environment()
    english = env.get_template(name).render(_context("en"))
    spanish = env.get_template(name).render(_context("es"))
    assert english.strip() and spanish.strip()
    assert not english_only(spanish), english_only(spanish)
    if not name.endswith("_csrf.html") and not name.endswith("message.html"):
        assert spanish != english, "nothing translated"


def test_translated_strings_with_placeholders_stay_escaped() -> None:
    publisher = load_publisher(EXAMPLE_CONFIG).model_copy(
        update={"name": "<script>alert(1)</script> & Co"}
    )
    for locale in ("en", "es"):
        page = environment().get_template("web/subscribe/unsubscribe.html")
        out = page.render(_context(locale, publisher=publisher))
        assert "<script>alert" not in out
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in out
        assert "<strong>lector@example.org</strong>" in out  # the catalog's own markup stays
    mail = (
        environment()
        .get_template("email/confirm/body.txt")
        .render(_context("es", publisher=publisher))
    )
    assert "<script>alert(1)</script> & Co" in mail  # plain text: no HTML escaping


# -- the pages over the app ---------------------------------------------------------------------


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    server = MailCatcher(tmp_path / "mail").start()
    yield server
    server.stop()


@pytest.fixture
def mail_context(settings: Settings, context: Context, catcher: MailCatcher) -> Context:
    return Context(
        dataclasses.replace(settings, smtp_url=catcher.url),
        context.events,
        context.client,
        clock=context.clock,
        inline_confirmations=True,  # no worker: the web process sends the confirmation
    )


@pytest.fixture
def service(mail_context: Context) -> SubscriptionService:
    return mail_context.subscriptions


@pytest.fixture
def client(mail_context: Context) -> TestClient:
    return TestClient(create_app(mail_context))


def field(page_text: str) -> str:
    match = CSRF_FIELD.search(page_text)
    assert match, page_text
    return match[1]


def signup(client: TestClient, email: str, path: str = "/subscribe", **headers: str) -> Any:
    """What a browser posts: the hidden fields and the preselected choices as shown."""
    page = client.get(path, headers=headers).text
    lang = re.search(r'name="lang" value="(\w+)"', page)
    language = re.search(r'<option value="(\w+)" lang="\w+" selected>', page)
    assert lang and language
    data = {
        "email": email,
        "frequency": "daily",
        "language": language[1],
        "lang": lang[1],
        "csrf_token": field(page),
    }
    return client.post("/subscribe", data=data, headers=headers)


def mails(catcher: MailCatcher, email: str) -> list[EmailMessage]:
    return [m for m in catcher.messages() if m["To"] == email]


def test_accept_language_picks_the_page_language(client: TestClient) -> None:
    english = client.get("/subscribe")
    assert english.headers["Content-Language"] == "en" and '<html lang="en">' in english.text
    assert "Email address" in english.text
    spanish = client.get("/subscribe", headers=ES)
    assert spanish.headers["Content-Language"] == "es" and '<html lang="es">' in spanish.text
    assert (
        "Dirección de correo" in spanish.text and "Reciba InSight Crime por correo" in spanish.text
    )
    assert '<option value="es" lang="es" selected>' in spanish.text  # the newsletter, too
    assert "Accept-Language" in spanish.headers["Vary"]
    assert not english_only(spanish.text)
    french = client.get("/subscribe", headers={"Accept-Language": "fr-FR,fr"})
    assert french.headers["Content-Language"] == "en"  # the publisher's language


def test_lang_switch_is_a_plain_link_and_wins(client: TestClient) -> None:
    page = client.get("/subscribe")
    assert '<a href="?lang=es" hreflang="es" lang="es">Español</a>' in page.text
    switched = client.get("/subscribe?lang=es", headers={"Accept-Language": "en"})
    assert switched.headers["Content-Language"] == "es"
    assert '<a href="?lang=en" hreflang="en" lang="en">English</a>' in switched.text
    assert '<input type="hidden" name="lang" value="es">' in switched.text
    assert client.get("/subscribe?lang=zz").headers["Content-Language"] == "en"


def test_spanish_signup_page_confirmation_email_and_confirmed_page(
    client: TestClient, catcher: MailCatcher, service: SubscriptionService
) -> None:
    """A reader whose browser asks for Spanish: Spanish form (Spanish newsletter
    preselected), Spanish check-your-inbox page and email, Spanish confirm pages."""
    response = signup(client, "lectora@example.org", "/subscribe", **ES)
    assert response.status_code == 200 and "Revise su bandeja de entrada" in response.text
    sub = service.store.get_by_email("lectora@example.org")
    assert sub is not None and sub.language == "es"
    [msg] = mails(catcher, "lectora@example.org")
    assert msg["Subject"] == "Confirme su suscripción a InSight Crime"
    assert msg["Content-Language"] == "es"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Para confirmar, abra este enlace en las próximas 48 horas:" in text
    body = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert '<html lang="es">' in body and "Confirmar mi suscripción" in body
    assert "el boletín diario de InSight Crime en <strong>lectora@example.org</strong>" in body
    token = CONFIRM.search(text)
    assert token
    shown = client.get(f"/confirm/{token[1]}")  # no Accept-Language: the subscriber's own
    assert shown.headers["Content-Language"] == "es" and "Sí, suscribirme" in shown.text
    done = client.post(f"/confirm/{token[1]}", data={"csrf_token": field(shown.text)})
    assert done.status_code == 200 and "Se ha suscrito" in done.text
    assert "El boletín diario de InSight Crime llegará a lectora@example.org." in done.text


def test_spanish_subscriber_gets_spanish_confirmation_email(
    client: TestClient, catcher: MailCatcher, service: SubscriptionService
) -> None:
    page = client.get("/subscribe?lang=es")
    client.post(
        "/subscribe",
        data={
            "email": "ana@example.org",
            "frequency": "weekly",
            "language": "es",
            "lang": "es",
            "csrf_token": field(page.text),
        },
    )
    [msg] = mails(catcher, "ana@example.org")
    assert msg["Subject"] == "Confirme su suscripción a InSight Crime"
    assert msg["Content-Language"] == "es"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.splitlines()[0] == "Hola:"
    assert "pidió recibir el boletín semanal de InSight Crime en ana@example.org" in text
    body = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert not english_only(body) and not english_only(text)


def test_token_pages_follow_the_subscribers_language(
    client: TestClient, service: SubscriptionService
) -> None:
    client.post("/api/articles", json=article_data(1, topics=["Coca"]), headers=AUTH)
    result = service.subscribe("maria@example.org", "daily", (), "es")
    assert result.confirmation is not None
    sub = result.confirmation.subscriber
    token = service.manage_token(sub)
    prefs = client.get(f"/preferences/{token}", headers={"Accept-Language": "en"})
    assert prefs.headers["Content-Language"] == "es"
    assert "Sus preferencias del boletín" in prefs.text and "Con qué frecuencia" in prefs.text
    assert "Resumen diario" in prefs.text and not english_only(prefs.text)
    english = client.get(f"/preferences/{token}?lang=en")
    assert "Your newsletter preferences" in english.text
    unsub = client.get(f"/unsubscribe/{token}")
    assert "¿Dejar de enviar los boletines de InSight Crime a" in unsub.text
    assert f'href="/preferences/{token}"' in unsub.text


def test_expired_and_tampered_links_say_so_in_spanish(
    client: TestClient, service: SubscriptionService, clock: ManualClock
) -> None:
    result = service.subscribe("tarde@example.org", "daily", (), "es")
    assert result.confirmation is not None
    sub = result.confirmation.subscriber
    old = tokens.confirm_token(SECRET, sub.id, clock() - timedelta(hours=49))
    expired = client.get(f"/confirm/{old}", headers=ES)
    assert expired.status_code == 410 and "Este enlace ha caducado" in expired.text
    assert '<a href="/subscribe?lang=es">Suscribirse de nuevo</a>' in expired.text
    tampered = client.get(f"/confirm/{tamper(old)}?lang=es")
    assert tampered.status_code == 400 and "Este enlace no es válido" in tampered.text
    assert "Suscríbase de nuevo para recibir un nuevo enlace" in tampered.text
    manage = service.manage_token(sub)
    bad = client.post(f"/unsubscribe/{tamper(manage)}", headers=ES)
    assert bad.status_code == 400 and "el último boletín que le enviamos" in bad.text
    english = client.get(f"/preferences/{tamper(manage)}")
    assert english.status_code == 400 and "This link is not valid" in english.text
    assert "latest newsletter" in english.text


def test_archive_chrome_in_spanish(client: TestClient) -> None:
    page = client.get("/archive", headers=ES)
    assert page.headers["Content-Language"] == "es"
    assert "Boletines anteriores" in page.text
    assert "Todavía no se ha enviado ningún boletín." in page.text
    assert 'href="http://testserver/subscribe">Suscribirse</a>' in page.text
    chosen = client.get("/archive?lang=es")  # the switcher's choice is kept in our links
    assert 'href="http://testserver/subscribe?lang=es">Suscribirse</a>' in chosen.text
    missing = client.get("/archive/daily-2000-01-01?lang=es")
    assert missing.status_code == 404 and "Ese boletín no existe" in missing.text
    assert "Past newsletters" in client.get("/archive").text


# -- CSRF ---------------------------------------------------------------------------------------


def test_signup_without_or_with_a_bad_csrf_field_is_refused(
    client: TestClient, catcher: MailCatcher, service: SubscriptionService, clock: ManualClock
) -> None:
    data = {"email": "x@example.org", "frequency": "weekly"}
    no_cookie = client.post("/subscribe", data=data, headers=ES)
    assert no_cookie.status_code == 400
    assert "no devolvió nuestra cookie de seguridad" in no_cookie.text
    assert 'value="x@example.org"' in no_cookie.text  # the form again, as it was
    assert CSRF_FIELD.search(no_cookie.text) and COOKIE in no_cookie.cookies

    good = field(client.get("/subscribe").text)
    cookie = client.cookies[COOKIE]
    missing = client.post("/subscribe", data=data)
    assert missing.status_code == 400 and "could not check that this form came" in missing.text
    body, mac = good.split(".")
    tampered = client.post("/subscribe", data={**data, "csrf_token": body + "." + mac[::-1]})
    assert tampered.status_code == 400
    guard = Csrf(SECRET)
    other_form = guard.token("preferences:0123456789abcdef", clock(), cookie)
    assert client.post("/subscribe", data={**data, "csrf_token": other_form}).status_code == 400
    unbound = guard.token("subscribe", clock())  # the signup form needs the cookie
    assert client.post("/subscribe", data={**data, "csrf_token": unbound}).status_code == 400
    stale = guard.token("subscribe", clock() - timedelta(hours=3), cookie)
    expired = client.post("/subscribe", data={**data, "csrf_token": stale, "lang": "es"})
    assert expired.status_code == 400 and "ha caducado" in expired.text
    other_browser = TestClient(client.app)
    assert other_browser.post("/subscribe", data={**data, "csrf_token": good}).status_code == 400
    assert catcher.messages() == [] and service.store.counts()["total"] == 0

    accepted = client.post("/subscribe", data={**data, "csrf_token": good})
    assert accepted.status_code == 200 and "Check your inbox" in accepted.text
    assert [m["To"] for m in catcher.messages()] == ["x@example.org"]


def test_csrf_cookie_attributes(client: TestClient) -> None:
    response = client.get("/subscribe")
    set_cookie = response.headers["set-cookie"].lower()
    assert set_cookie.startswith(f"{COOKIE}=")
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie and "path=/" in set_cookie
    again = client.get("/subscribe")  # the browser's nonce is kept: tabs stay valid
    assert "set-cookie" not in again.headers


def test_token_forms_need_the_csrf_field(
    client: TestClient, catcher: MailCatcher, service: SubscriptionService, clock: ManualClock
) -> None:
    result = service.subscribe("pablo@example.org", "daily", (), "es")
    assert result.confirmation is not None
    sub = result.confirmation.subscriber
    confirm = result.confirmation.url.rsplit("/", 1)[1]
    shown = client.get(f"/confirm/{confirm}")
    assert "set-cookie" not in shown.headers  # token pages work with cookies blocked
    refused = client.post(f"/confirm/{confirm}")  # no field posted
    assert refused.status_code == 400 and "Confirme su suscripción" in refused.text
    assert f'action="/confirm/{confirm}"' in refused.text and CSRF_FIELD.search(refused.text)
    assert service.store.get(sub.id).status == "pending"  # type: ignore[union-attr]
    ok = client.post(f"/confirm/{confirm}", data={"csrf_token": field(refused.text)})
    assert ok.status_code == 200 and "Se ha suscrito" in ok.text

    manage = service.manage_token(sub)
    prefs = client.post(f"/preferences/{manage}", data={"frequency": "weekly"})
    assert prefs.status_code == 400 and "Guardar" in prefs.text
    assert service.store.get(sub.id).frequency == "daily"  # type: ignore[union-attr]
    # A field minted for another subscriber's form does not fit this one.
    foreign = Csrf(SECRET).token("preferences:ffff", clock())
    assert (
        client.post(
            f"/preferences/{manage}", data={"frequency": "weekly", "csrf_token": foreign}
        ).status_code
        == 400
    )

    button = client.post(f"/unsubscribe/{manage}", data={})
    assert button.status_code == 400 and "Darse de baja" in button.text
    assert service.store.get(sub.id).status == "confirmed"  # type: ignore[union-attr]
    expired = Csrf(SECRET).token(f"unsubscribe:{sub.id}", clock() - timedelta(hours=3))
    stale = client.post(f"/unsubscribe/{manage}", data={"csrf_token": expired})
    assert stale.status_code == 400 and "ha caducado" in stale.text
    no_cookies = TestClient(client.app)  # the button works for a browser that blocks cookies
    done = no_cookies.post(f"/unsubscribe/{manage}", data={"csrf_token": field(button.text)})
    assert done.status_code == 200 and "Se ha dado de baja" in done.text
    assert service.store.get(sub.id).status == "unsubscribed"  # type: ignore[union-attr]


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_unsubscribe_needs_no_csrf_and_answers_in_the_subscribers_language(
    client: TestClient, service: SubscriptionService, encoding: str
) -> None:
    result = service.subscribe("clic@example.org", "daily", (), "es")
    assert result.confirmation is not None
    service.confirm(result.confirmation.url.rsplit("/", 1)[1])
    sub = service.store.get_by_email("clic@example.org")
    assert sub is not None and sub.status == "confirmed"
    provider = TestClient(client.app)  # a mail provider: no cookie, no page, no field
    path = f"/unsubscribe/{service.manage_token(sub)}"
    if encoding == "urlencoded":
        done = provider.post(path, data={"List-Unsubscribe": "One-Click"})
    else:
        done = provider.post(path, files={"List-Unsubscribe": (None, "One-Click")})
    assert done.status_code == 200 and "Se ha dado de baja" in done.text
    assert "set-cookie" not in done.headers
    assert service.store.get(sub.id).status == "unsubscribed"  # type: ignore[union-attr]


def test_json_api_needs_no_csrf(client: TestClient, catcher: MailCatcher) -> None:
    fresh = TestClient(client.app)
    response = fresh.post("/api/subscribers", json={"email": "api@example.org", "language": "es"})
    assert response.status_code == 202
    [msg] = mails(catcher, "api@example.org")
    assert msg["Subject"] == "Confirme su suscripción a InSight Crime"


# -- digests -------------------------------------------------------------------------------------


def _articles(language: str) -> tuple[Article, ...]:
    return tuple(
        Article.model_validate(
            article_data(n, language=language, published_at=f"2026-11-0{n}T15:00:00+00:00")
        )
        for n in (1, 2)
    )


def test_spanish_digest_strings_dates_and_attribution() -> None:
    publisher = load_publisher(EXAMPLE_CONFIG)
    segment = DigestSegment("daily-2026-11-03", "daily", "es", ("coca",), _articles("es"))
    now = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
    rendered = render_digest(segment, publisher, "https://news.example.org", now)
    # The lead headline first, then the name (render/look.py): nothing left to translate.
    assert rendered.subject == f"{segment.articles[0].title} | InSight Crime"
    body, text = rendered.fill(
        "https://news.example.org/unsubscribe/T", "https://news.example.org/preferences/T"
    )
    assert '<html lang="es"' in body or 'lang="es"' in body
    flat = " ".join(html.unescape(body).split())  # long HTML lines are wrapped at spaces
    for expected in (
        "Leer más",
        "1 de noviembre de 2026",
        "2 de noviembre de 2026",
        "por Sergio Saffón",
        "Publicado por InSight Crime bajo la licencia",
        "Puede republicarlo solo con fines no comerciales, si menciona a InSight Crime en la "
        "firma, enlaza al original al principio y al final e indica qué cambió.",
        "Cómo republicarlo",
        "Ver en el navegador",
        "Darse de baja",
        "Recibe este correo porque se suscribió al boletín «resumen diario» de InSight Crime "
        "sobre Coca",  # the topic as the publisher labels it in Spanish
    ):
        assert expected in flat, expected
    squashed = " ".join(text.split())
    assert "Leer más: https://insightcrime.org/news/brief/sample-story-1/" in text
    assert "Actualizar sus preferencias: https://news.example.org/preferences/T" in text
    assert "Publicado por InSight Crime bajo la licencia Creative Commons" in squashed
    assert "se suscribió al boletín «resumen diario» de InSight Crime sobre Coca" in squashed
    assert not english_only(body) and not english_only(text)
    assert "November" not in body and "Read more" not in body

    english_segment = DigestSegment("daily-2026-11-03", "daily", "en", (), _articles("en"))
    english = render_digest(english_segment, publisher, "https://news.example.org", now)
    assert english.subject == f"{english_segment.articles[0].title} | InSight Crime"
    assert "Read more" in english.html and "November 1, 2026" in english.html
