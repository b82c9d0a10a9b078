"""Editorial editing of draft editions and the approval window.

Real Redis, real SMTP on loopback: what the editors save is what subscribers receive (the
intro first, the featured story first and larger, the rest in the editors' order, in
English and Spanish), edits never touch an edition past its draft, and scheduled drafts
start once, when their time comes, unless cancelled.
"""

from __future__ import annotations

import argparse
import dataclasses
import html as html_lib
import threading
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from syndication.cli.digest import register
from syndication.config import Settings
from syndication.events import RecordingEvents
from syndication.services.digests import (
    Digests,
    EditionNotEditable,
    MailSettings,
    make_digest_service,
)
from syndication.store.editions import EditionStatus, Policy
from syndication.web import archive
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all
from tests.support.smtp import ScriptedSmtp

FAST = Policy(lease_s=20, tx_budget_s=5, retry_base_s=0.1, retry_max_s=0.5, max_attempts=5)
SEGMENTS = (("en", ()), ("en", ("peru",)), ("es", ()))
# Published an hour ago, one minute apart: the default order is newest first (4, 3, 2, 1, 0).
ARTICLES = [
    {"topics": ["Coca"], "title": "Alpha coca crops"},
    {"topics": ["Peru"], "title": "Bravo Peru ports"},
    {"topics": ["Colombia"], "title": "Charlie Colombia talks"},
    {"topics": ["Coca"], "language": "es", "title": "Delta cultivos de coca"},
    {"topics": ["Peru"], "language": "es", "title": "Echo puertos de Perú"},
]
INTRO = "A week of <b>big</b> stories & small ones.\n\nSecond paragraph: read on."


def service_for(
    settings: Settings,
    client: redis.Redis,
    clock: ManualClock,
    smtp: ScriptedSmtp | None = None,
    **mail: Any,
) -> Digests:
    if smtp is not None:
        settings = dataclasses.replace(settings, smtp_url=smtp.url)
    options: dict[str, Any] = {"connections": 2, "batch": 20, "policy": FAST, **mail}
    return make_digest_service(
        settings, client, RecordingEvents(), mail=MailSettings(**options), clock=clock
    )


def positions(text: str, needles: list[str]) -> list[int]:
    found = [text.find(n) for n in needles]
    assert all(p >= 0 for p in found), dict(zip(needles, found, strict=True))
    return found


def parts(msg: EmailMessage) -> tuple[str, str]:
    """(HTML after the hidden preheader, which repeats the intro's start; text)."""
    html, text = msg.get_body(("html",)), msg.get_body(("plain",))
    assert html is not None and text is not None
    content = html.get_content()
    masthead = content.index('class="masthead"')
    return content[masthead:], text.get_content()


@pytest.fixture
def draft(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> tuple[Digests, str, list[Any], list[Any]]:
    subs = add_subscribers(redis_client, prefix, 6, now=clock(), segments=SEGMENTS)
    articles = add_articles(redis_client, prefix, ARTICLES, now=clock())
    service = service_for(settings, redis_client, clock, smtp)
    created = service.create_edition("daily", clock(), start=False)
    assert created.edition is not None and created.edition.status is EditionStatus.DRAFT
    return service, created.edition.id, articles, subs


# featured article index, then the expected article order per segment
CASES = {
    "featured-en": (0, {("en", ()): [0, 1, 2], ("en", ("peru",)): [0, 1], ("es", ()): [3, 4]}),
    "featured-es": (4, {("en", ()): [1, 0, 2], ("en", ("peru",)): [1], ("es", ()): [4, 3]}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sent_messages_have_intro_featured_and_order_in_en_and_es(
    draft: tuple[Digests, str, list[Any], list[Any]],
    smtp: ScriptedSmtp,
    clock: ManualClock,
    case: str,
) -> None:
    service, eid, articles, subs = draft
    featured_index, expected = CASES[case]
    featured = articles[featured_index]
    order = [articles[i].id for i in (1, 3, 0, 4, 2)]  # default would be 4, 3, 2, 1, 0
    saved = service.edit(eid, intro=INTRO, featured=featured.id, order=order, now=clock())
    assert saved.revision == 1 and saved.featured == featured.id and list(saved.order) == order
    assert service.approve(eid, clock()) == ("draft", "sending")
    send_all(service, eid)
    # still one template per segment: the editorial does not cost the senders a rebuild
    assert len(service.templates.cache) == 3

    by_email = {s.email: s for s in subs}
    messages = smtp.messages()
    assert len(messages) == len(subs) == 6
    seen = set()
    for msg in messages:
        sub = by_email[str(msg["To"])]
        key = (sub.language, tuple(sorted(sub.topics)))
        seen.add(key)
        want = [articles[i] for i in expected[key]]
        html, text = parts(msg)
        spanish = sub.language == "es"
        label = "Desde la redacción" if spanish else "From the editors"
        featured_label = "Destacado" if spanish else "Featured"
        # intro first (escaped, never markup), then the stories in the arranged order
        for body, intro_first in (
            (html, "A week of &lt;b&gt;big&lt;/b&gt; stories &amp; small ones."),
            (text, "A week of <b>big</b> stories & small ones."),
        ):
            found = positions(body, [label, intro_first, "Second paragraph: read on."])
            titles = positions(body, [a.title for a in want])
            assert found == sorted(found) and found[-1] < titles[0], (key, found, titles)
            assert titles == sorted(titles), (key, [a.title for a in want])
            for other in articles:
                if other not in want:
                    assert other.title not in body, (key, other.title)
        assert "<b>big</b>" not in html
        shows_featured = want[0].id == featured.id
        assert (featured_label in html) is shows_featured, key
        if shows_featured:
            html_label = html.index(featured_label)
            assert html_label < html.index(want[0].title)
            assert "font-size: 28px" in html[html_label : html.index(want[0].title)]
            assert f"{featured_label.upper()}: {want[0].title}" in text
        # the subject leads with the first story: the featured one where it is shown
        assert want[0].title in str(msg["Subject"])
    assert seen == set(expected)


def test_editing_past_the_draft_is_refused_and_changes_nothing(
    draft: tuple[Digests, str, list[Any], list[Any]], clock: ManualClock
) -> None:
    service, eid, articles, _ = draft
    order = [a.id for a in articles]
    now = clock()
    before = service.edit(eid, intro="Kept", featured=articles[0].id, order=order, now=now)
    raw_before = service.editions.r.hgetall(service.editorials.key(eid))
    assert service.approve(eid, now) == ("draft", "sending")
    with pytest.raises(EditionNotEditable, match=f"edition {eid} is sending"):
        service.edit(eid, intro="Changed", featured=None, order=order[::-1], now=now)
    # the atomic step itself refuses, whatever the caller checked before
    saved = service.editorials.save(
        eid, intro="Sneaky", featured=None, order=order, edited_by="x", now=now
    )
    assert (saved.status, saved.error) == ("sending", "not-draft")
    assert service.editions.r.hgetall(service.editorials.key(eid)) == raw_before
    assert service.editorial(eid) == before
    send_all(service, eid)
    with pytest.raises(EditionNotEditable, match="is done"):
        service.edit(eid, intro="Late", featured=None, order=order, now=now)
    assert service.editorial(eid) == before
    assert service.approve(eid, now) == ("done", "")
    with pytest.raises(LookupError, match="no edition nope"):
        service.edit("nope", intro="", featured=None, order=[], now=now)


def test_bad_input_is_refused_with_a_message_and_stores_nothing(
    draft: tuple[Digests, str, list[Any], list[Any]], clock: ManualClock
) -> None:
    service, eid, articles, _ = draft
    ids = [a.id for a in articles]
    now = clock()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"featured": "no-such-article"}, "featured article 'no-such-article' is not in"),
        ({"order": ids[:-1]}, f"exactly once \\(missing {ids[-1]}\\)"),
        ({"order": [*ids, "stranger"]}, "not in the edition: stranger"),
        ({"order": [*ids, ids[0]]}, f"repeated: {ids[0]}"),
        ({"order": []}, "each of the edition's 5 article ids"),
        ({"intro": "x" * 2001}, "intro is 2,001 characters long; at most 2,000"),
        ({"intro": "bell \x07 here"}, "control character \\(U\\+0007\\) at position 6"),
        ({"intro": "line\u2028sep"}, "control character \\(U\\+2028\\)"),
    ]
    for change, message in cases:
        values: dict[str, Any] = {"intro": "ok", "featured": None, "order": ids} | change
        with pytest.raises(ValueError, match=message):
            service.edit(eid, now=now, **values)
    assert service.editorial(eid).revision == 0
    assert not service.editions.r.exists(service.editorials.key(eid))
    # exactly 2,000 characters, CRLF and tabs are fine; outer blank lines are dropped
    saved = service.edit(
        eid, intro="\r\n" + "y\t" * 999 + "\r\n\r\n", featured="", order=ids[::-1], now=now
    )
    assert saved.intro == ("y " * 999).rstrip() and saved.featured is None


def test_revision_bumps_and_previews_follow_the_edits(
    draft: tuple[Digests, str, list[Any], list[Any]], clock: ManualClock
) -> None:
    service, eid, articles, subs = draft
    ids = [a.id for a in articles]
    segments = service.segment_ids(eid)
    assert len(segments) == 3
    first = service.preview_segment(eid, None)
    assert first.segment_id == segments[0]
    assert (first.language, first.topics, first.revision) == ("en", (), 0)
    assert first.recipients == sum(1 for s in subs if s.language == "en" and not s.topics)
    assert first.article_ids == (ids[2], ids[1], ids[0])
    assert "From the editors" not in first.html and first.html_size > 0
    assert not first.clipped and not first.over_budget
    assert first.html_size >= len(first.html.encode())  # links counted at their longest
    assert "http://testserver/unsubscribe/preview" in first.text
    assert "http://testserver/preferences/preview" in first.html

    now = clock()
    one = service.edit(eid, intro="First note", featured=ids[1], order=ids, now=now)
    after = service.preview_segment(eid, segments[0])
    assert (one.revision, after.revision) == (1, 1)
    assert "First note" in after.html and "First note" in after.text
    assert after.article_ids == (ids[1], ids[0], ids[2])
    assert after.subject != first.subject and articles[1].title in after.subject

    two = service.edit(
        eid, intro="Second note", featured=None, order=ids[::-1], now=now, edited_by="Ana  M."
    )
    latest = service.preview_segment(eid, segments[0])
    assert (two.revision, latest.revision, two.edited_by) == (2, 2, "Ana M.")
    assert "Second note" in latest.html and "First note" not in latest.html
    assert "Featured" not in latest.html
    spanish = service.preview_segment(eid, [s for s in segments if s != segments[0]][-1])
    assert spanish.language == "es" and "Desde la redacción" in spanish.html
    with pytest.raises(LookupError, match="no segment"):
        service.preview_segment(eid, "nope")
    # optimistic concurrency for two editors: a save from an old revision is refused
    from syndication.services.digests import EditorialConflict

    with pytest.raises(EditorialConflict, match="revision 2"):
        service.edit(eid, intro="x", featured=None, order=ids, now=now, expected_revision=1)
    assert service.editorial(eid).intro == "Second note"


def test_approval_window_drafts_start_once_when_due(
    settings: Settings, redis_client: redis.Redis, prefix: str, clock: ManualClock
) -> None:
    now = clock()
    add_subscribers(redis_client, prefix, 4, now=now, frequency="daily")
    add_subscribers(redis_client, prefix, 2, now=now, frequency="weekly", domain="example.net")
    add_articles(redis_client, prefix, ARTICLES[:2], now=now)
    mail = MailSettings.from_settings(
        dataclasses.replace(
            settings, digest=dataclasses.replace(settings.digest, approval_minutes=30)
        )
    )
    assert mail.approval_window == timedelta(minutes=30)
    service = service_for(settings, redis_client, clock, approval_window=mail.approval_window)
    events = service.events
    assert isinstance(events, RecordingEvents)

    created = service.create_scheduled("daily", now)
    eid = created.edition_id
    assert eid and created.edition is not None
    assert created.edition.status is EditionStatus.DRAFT and events.editions == []
    assert service.editorial(eid).send_at == now + timedelta(minutes=30)
    # a second beat: the same draft, still scheduled
    assert service.create_scheduled("daily", now).created is False

    assert service.start_due_drafts(now + timedelta(minutes=29)) == []
    assert service.status(eid).status is EditionStatus.DRAFT  # type: ignore[union-attr]
    # two beats racing when it is due: it starts once
    due = now + timedelta(minutes=31)
    results: list[list[str]] = []
    barrier = threading.Barrier(4)

    def beat() -> None:
        barrier.wait()
        results.append(service.start_due_drafts(due))

    threads = [threading.Thread(target=beat) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(len, results)) == [0, 0, 0, 1]
    assert events.editions == [(eid, 0.0, service.mail.fanout)]
    edition = service.status(eid)
    assert edition is not None and edition.status is EditionStatus.SENDING
    assert service.editorial(eid).send_at is None
    assert service.start_due_drafts(due + timedelta(hours=1)) == []

    # a scheduled draft cancelled meanwhile stays cancelled
    weekly = service.create_scheduled("weekly", now).edition_id
    assert weekly
    assert service.cancel(weekly, now) == ("draft", "cancelled")
    assert service.start_due_drafts(now + timedelta(days=1)) == []
    assert service.status(weekly).status is EditionStatus.CANCELLED  # type: ignore[union-attr]
    assert len(events.editions) == 1

    # by hand (create_edition, ``digest send``): starts at once, window or not
    later = now + timedelta(days=1)
    add_articles(
        redis_client, prefix, [{"topics": ["Coca"], "url": "https://x.org/new/"}], now=later
    )
    manual = service.create_edition("daily", later + timedelta(hours=2))
    assert manual.edition is not None and manual.edition.status is EditionStatus.SENDING
    assert service.editorial(manual.edition.id).send_at is None


def test_approve_sends_a_scheduled_draft_now(
    settings: Settings, redis_client: redis.Redis, prefix: str, clock: ManualClock
) -> None:
    now = clock()
    add_subscribers(redis_client, prefix, 2, now=now)
    add_articles(redis_client, prefix, ARTICLES[:1], now=now)
    service = service_for(settings, redis_client, clock, approval_window=timedelta(hours=2))
    eid = service.create_scheduled("daily", now).edition_id
    assert eid and service.editorial(eid).send_at is not None
    assert service.approve(eid, now) == ("draft", "sending")
    assert service.editorial(eid).send_at is None
    assert service.approve(eid, now) == ("sending", "")
    assert service.approve("nope", now) == ("", "")
    assert service.start_due_drafts(now + timedelta(hours=3)) == []


def test_archive_web_version_shows_the_editorial(
    draft: tuple[Digests, str, list[Any], list[Any]], context: Any, clock: ManualClock
) -> None:
    service, eid, articles, _ = draft
    ids = [a.id for a in articles]
    service.edit(eid, intro=INTRO, featured=ids[0], order=ids, now=clock())
    service.approve(eid, clock())
    send_all(service, eid)
    app = FastAPI()
    app.include_router(archive.make_router(context))
    with TestClient(app) as client:
        page = client.get(f"/archive/{eid}?segment=en")
    assert page.status_code == 200
    text = html_lib.unescape(page.text[page.text.index('class="masthead"') :])
    found = positions(text, ["From the editors", INTRO.split("\n")[0], "Featured"])
    titles = positions(text, [articles[i].title for i in (0, 1, 2)])
    assert found == sorted(found) and found[-1] < titles[0] and titles == sorted(titles)
    assert "<b>big</b>" not in page.text


def run(settings: Settings, clock: ManualClock, *argv: str) -> int:
    """A ``digest`` command in-process, reading "now" from the test's clock."""
    parser = argparse.ArgumentParser(prog="syndication")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.fn(args, settings, clock=clock))


def test_cli_edit_approve_status(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
    clock: ManualClock,
) -> None:
    add_subscribers(redis_client, prefix, 3, now=clock())
    articles = add_articles(redis_client, prefix, ARTICLES[:3], now=clock())
    ids = [a.id for a in articles]
    assert run(settings, clock, "digest", "send", "--draft") == 0
    eid = capsys.readouterr().out.split()[1].rstrip(";")
    assert eid == "daily-2026-12-01"  # the period of the test's clock (07:00 in Bogotá)

    intro = tmp_path / "intro.txt"
    intro.write_text("Hello from the desk.\n\nSee you next week.", encoding="utf-8")
    assert run(settings, clock, "digest", "edit", eid, "--intro-file", str(intro)) == 0
    assert "revision 1" in capsys.readouterr().out
    assert run(settings, clock, "digest", "edit", eid, "--featured", ids[1]) == 0
    out = capsys.readouterr().out
    assert "revision 2" in out and f"featured: {ids[1]}" in out
    assert run(settings, clock, "digest", "edit", eid, "--order", ",".join(ids)) == 0
    capsys.readouterr()

    for argv, message in (
        (("--featured", "nope"), "featured article 'nope' is not in"),
        (("--order", ids[0]), "exactly once"),
        (("--intro-file", str(tmp_path / "missing.txt")), "cannot read the intro"),
    ):
        assert run(settings, clock, "digest", "edit", eid, *argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert run(settings, clock, "digest", "edit", "nope", "--intro", "x") == 2
    assert capsys.readouterr().err == "error: no edition nope\n"

    assert run(settings, clock, "digest", "status", eid) == 0
    out = capsys.readouterr().out
    assert "intro: Hello from the desk. See you next week." in out
    assert f"featured: {ids[1]}" in out and "editorial revision 3" in out
    assert run(settings, clock, "digest", "approve", eid) == 0
    assert f"{eid}: draft → sending" in capsys.readouterr().out
    assert run(settings, clock, "digest", "approve", eid) == 2
    assert "cannot approve an edition that is sending" in capsys.readouterr().err
    assert run(settings, clock, "digest", "edit", eid, "--intro", "late") == 2
    assert f"edition {eid} is sending" in capsys.readouterr().err
    assert run(settings, clock, "digest", "status", eid, "--json") == 0
    assert '"featured": "' + ids[1] in capsys.readouterr().out
