"""A Spanish reader's whole path, and no English string in any of it (issue #15).

Every page and email a reader sees, rendered in Spanish over the real app, Redis and a
real SMTP server on loopback: signup, check-your-inbox, confirmation email, confirm pages,
preferences, manage (page, answer and email), unsubscribe, a digest (subject, List-Id,
both parts) and the archive (index and the edition it links to). The English strings are
derived, not listed: every literal piece of the English catalog's msgids plus the
publisher's English description, topic and section labels (tests/support/i18n.py). A
failure names each leak and where it was.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from syndication.config import Settings
from syndication.context import Context
from syndication.deliver.mail_catcher import MailCatcher
from syndication.web.app import create_app
from tests.support import article_data, wait_for
from tests.support.clock import ManualClock
from tests.support.i18n import english_leaks, english_strings

AUTH = {"Authorization": "Bearer test-token-0123456789"}
CSRF_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
CONFIRM = re.compile(r"http://testserver/confirm/([A-Za-z0-9_.-]+)")
PREFERENCES = re.compile(r"http://testserver/preferences/([A-Za-z0-9_.-]+)")
READER = "lectora@example.org"


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    server = MailCatcher(tmp_path / "mail").start()
    yield server
    server.stop()


@pytest.fixture
def ctx(settings: Settings, context: Context, catcher: MailCatcher) -> Context:
    return Context(
        dataclasses.replace(settings, smtp_url=catcher.url),
        context.events,
        context.client,
        clock=context.clock,
        inline_confirmations=True,  # no worker: the web process sends the confirmation
    )


def csrf(page: str) -> str:
    match = CSRF_FIELD.search(page)
    assert match, page
    return match[1]


def mail_with(catcher: MailCatcher, needle: str) -> EmailMessage:
    """The reader's message whose text holds ``needle``, once it has arrived (a Maildir
    lists in no particular order, and the manage mail is sent after the page's answer)."""

    def found() -> EmailMessage | None:
        for msg in catcher.messages():
            body = msg.get_body(("plain",))
            if msg["To"] == READER and body is not None and needle in body.get_content():
                return msg
        return None

    return wait_for(found)  # type: ignore[return-value]


def parts(msg: EmailMessage) -> dict[str, str]:
    """Subject, the List-Id's phrase when there is one, and both bodies (decoded)."""
    out = {"subject": str(msg["Subject"])}
    if msg["List-Id"]:
        out["List-Id"] = str(msg["List-Id"]).rsplit("<", 1)[0]
    for kind in ("plain", "html"):
        body = msg.get_body((kind,))
        assert body is not None
        out[kind] = body.get_content()
    return out


def add_articles(client: TestClient, clock: ManualClock) -> None:
    """A Spanish and an English story, both under topics and a section the publisher
    labels (examples/insightcrime.toml): the forms list all topics whatever the language."""
    when = clock().replace(hour=9).isoformat()
    stories = [
        article_data(
            1,
            language="es",
            title="Las dragas vuelven a los ríos",
            summary="La minería ilegal regresa a la Amazonía.",
            section="Análisis",
            topics=["Minería ilegal", "Environmental Crime"],
            published_at=when,
        ),
        article_data(2, topics=["Extortion", "Gangs"], section="Investigation", published_at=when),
    ]
    for story in stories:
        assert client.post("/api/articles", json=story, headers=AUTH).status_code in (200, 201)


def test_every_page_and_email_of_a_spanish_reader_is_spanish(
    ctx: Context, catcher: MailCatcher, clock: ManualClock
) -> None:
    english = english_strings(ctx.settings.publisher)
    assert {"Extortion", "Unsubscribe", "Daily digest"} <= set(english)  # derived, not listed
    client = TestClient(create_app(ctx))
    add_articles(client, clock)
    seen: dict[str, str] = {}

    form = seen["signup form"] = client.get("/subscribe?lang=es").text
    assert "Extorsión" in form
    answer = client.post(
        "/subscribe",
        data={"email": READER, "frequency": "daily", "language": "es", "lang": "es"}
        | {"topics": ["mineria-ilegal", "environmental-crime"], "csrf_token": csrf(form)},
    )
    seen["check your inbox"] = answer.text
    confirmation = mail_with(catcher, "/confirm/")
    for name, text in parts(confirmation).items():
        seen[f"confirmation email {name}"] = text
    token = CONFIRM.search(seen["confirmation email plain"])
    assert token
    shown = seen["confirm page"] = client.get(f"/confirm/{token[1]}").text
    seen["confirmed page"] = client.post(
        f"/confirm/{token[1]}", data={"csrf_token": csrf(shown)}
    ).text

    manage = seen["manage page"] = client.get("/manage?lang=es").text
    seen["manage answer"] = client.post(
        "/manage", data={"email": READER, "lang": "es", "csrf_token": csrf(manage)}
    ).text
    manage_mail = mail_with(catcher, "/preferences/")
    for name, text in parts(manage_mail).items():
        seen[f"manage email {name}"] = text
    link = PREFERENCES.search(seen["manage email plain"])
    assert link
    seen["preferences page"] = client.get(f"/preferences/{link[1]}").text
    seen["unsubscribe page"] = client.get(f"/unsubscribe/{link[1]}").text

    digests = ctx.digests
    created = digests.create_edition("daily", clock())
    assert created.edition_id
    proof = digests.send_proof("daily", READER, clock())
    assert proof.result.outcome == "sent" and proof.source == "edition"
    digest = mail_with(catcher, "Las dragas vuelven")
    for name, text in parts(digest).items():
        seen[f"digest {name}"] = text
    assert "Delitos ambientales" in seen["digest html"]  # the topics, as labelled

    index = seen["archive index"] = client.get("/archive?lang=es").text
    edition_url = f"http://testserver/archive/{created.edition_id}?lang=es"
    assert f'href="{edition_url}"' in index  # the Spanish list links to the Spanish edition
    seen["archive edition"] = client.get(edition_url).text
    assert "Las dragas vuelven a los ríos" in seen["archive edition"]

    leaks = {where: english_leaks(text, english) for where, text in seen.items()}
    leaks = {where: found for where, found in leaks.items() if found}
    assert not leaks, f"English in Spanish renders: {leaks}"
