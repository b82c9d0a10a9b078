"""/admin/editions over the real app and a real Redis: list, detail, actions, edit, preview."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
import redis
from fastapi.testclient import TestClient

from syndication.config import Settings, load_settings
from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.render import digest_email
from syndication.store.editions import EditionStatus, Mark
from syndication.web.app import create_app
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all, uncertain_edition
from tests.support.smtp import ScriptedSmtp

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SEGMENTS = (("en", ()), ("en", ("coca",)), ("es", ()))
ARTICLES = [
    {"topics": ["Coca"], "title": "Coca crops grow again"},
    {"topics": ["Peru"], "title": "Peru's new border patrol"},
    {"topics": ["Colombia"], "title": "Colombia & the ELN <talks>"},
    {"topics": ["Coca"], "language": "es", "title": "La coca vuelve"},
]


@pytest.fixture
def admin_context(env: dict[str, str], redis_client: redis.Redis, clock: ManualClock) -> Context:
    """The app's Context on the test's clock: sessions, CSRF tokens and editions all date
    from ``clock`` (a token signed at START is checked at START)."""
    settings = load_settings({**env, "SYNDICATION_ADMIN_PASSWORD": PASSWORD})
    return Context(settings, RecordingEvents(), redis_client, clock=clock)


@pytest.fixture
def client(admin_context: Context) -> Iterator[TestClient]:
    with TestClient(create_app(admin_context)) as anonymous:
        yield anonymous


@pytest.fixture
def signed_in(client: TestClient) -> TestClient:
    """The same client after the operator signed in through the login form."""
    page = client.get("/admin/login")
    assert page.status_code == 200, page.text
    token = unescape(CSRF.search(page.text).group(1))  # type: ignore[union-attr]
    answer = client.post(
        "/admin/login",
        data={"password": PASSWORD, "csrf_token": token, "next": "/admin"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match, page.text
    return unescape(match.group(1))


@pytest.fixture
def draft(
    admin_context: Context, redis_client: redis.Redis, settings: Settings, clock: ManualClock
) -> str:
    """A draft daily edition: 4 articles, 9 subscribers in 3 segments."""
    prefix = admin_context.settings.key_prefix
    add_subscribers(redis_client, prefix, 9, now=clock(), segments=SEGMENTS)
    add_articles(redis_client, prefix, ARTICLES, now=clock())
    created = admin_context.digests.create_edition("daily", clock(), start=False)
    assert created.edition_id and created.edition
    assert created.edition.status is EditionStatus.DRAFT
    return created.edition_id


def status_of(ctx: Context, edition_id: str) -> EditionStatus:
    edition = ctx.digests.status(edition_id)
    assert edition is not None
    return edition.status


def post(client: TestClient, path: str, edition_id: str, **data: str) -> object:
    token = csrf_of(client, f"/admin/editions/{edition_id}")
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_not_signed_in_is_sent_to_login(client: TestClient, draft: str) -> None:
    for path in ("/admin/editions", f"/admin/editions/{draft}", "/admin/editions/next/daily"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/admin/login?next=")
    refused = client.post(f"/admin/editions/{draft}/pause", follow_redirects=False)
    assert refused.status_code == 401


def test_list_and_detail_show_counts(
    signed_in: TestClient, admin_context: Context, draft: str
) -> None:
    edition = admin_context.digests.status(draft)
    assert edition is not None and edition.total == 9
    listing = signed_in.get("/admin/editions")
    assert listing.status_code == 200
    row = listing.text.split(f'data-edition="{draft}"')[1].split("</tr>")[0]
    assert "daily" in row and edition.period in row and "draft" in row
    assert '<td class="num" data-count="pending">9</td>' in row
    assert '<td class="num" data-count="total">9</td>' in row
    assert "<progress" in row and "0 of 9 (0 %)" in row

    detail = signed_in.get(f"/admin/editions/{draft}")
    assert detail.status_code == 200
    text = detail.text
    assert 'data-count="pending">9<' in text and 'data-count="sent">0<' in text
    # a draft: send now, pause, edit, cancel; never resume
    for action in ("approve", "pause", "cancel"):
        assert f'action="/admin/editions/{draft}/{action}"' in text
    assert f'action="/admin/editions/{draft}/resume"' not in text
    assert f'href="/admin/editions/{draft}/edit"' in text
    # articles in order, titles escaped
    assert "Colombia &amp; the ELN &lt;talks&gt;" in text
    assert "<talks>" not in text
    assert 'href="/admin/editions/' + draft + '">refresh</a>' in text


def test_counts_json_and_failed_recipients(
    signed_in: TestClient, admin_context: Context, draft: str
) -> None:
    service = admin_context.digests
    answer = post(signed_in, f"/admin/editions/{draft}/approve", draft)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert status_of(admin_context, draft) is EditionStatus.SENDING
    # a sender claims two recipients; one is refused by the server
    claim = service.editions.claim(draft, 2, "test-sender")
    first, second = claim.recipients
    service.editions.step(draft, "test-sender", None, first.subscriber_id)
    service.editions.step(
        draft, "test-sender", (first.subscriber_id, Mark.FAILED, "550 5.1.1 no such user"), None
    )
    counts = signed_in.get(f"/admin/editions/{draft}/counts.json")
    assert counts.status_code == 200
    data = counts.json()
    assert data["status"] == "sending" and data["live"] is True
    assert data["counts"] == {
        "pending": 7,
        "sending": 1,
        "sent": 0,
        "failed": 1,
        "uncertain": 0,
        "cancelled": 0,
        "total": 9,
    }
    assert data["finished"] == 1 and data["percent"] == 11

    detail = signed_in.get(f"/admin/editions/{draft}").text
    failed = detail.split("data-failed")[1].split("</table>")[0]
    assert first.email in failed and "550 5.1.1 no such user" in failed
    assert second.email not in failed
    assert "counts.json" in detail and "setInterval" in detail  # live while sending
    assert f'action="/admin/editions/{draft}/approve"' not in detail

    missing = signed_in.get("/admin/editions/daily-1999-01-01/counts.json")
    assert missing.status_code == 404


def test_pause_resume_cancel(signed_in: TestClient, admin_context: Context, draft: str) -> None:
    answer = post(signed_in, f"/admin/editions/{draft}/pause", draft)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert answer.headers["location"] == f"/admin/editions/{draft}"  # type: ignore[attr-defined]
    assert status_of(admin_context, draft) is EditionStatus.PAUSED
    page = signed_in.get(f"/admin/editions/{draft}").text
    assert "Paused" in page  # the flash message
    assert f'action="/admin/editions/{draft}/resume"' in page
    assert f'action="/admin/editions/{draft}/pause"' not in page

    # pausing twice: refused, nothing changed
    again = post(signed_in, f"/admin/editions/{draft}/pause", draft)
    assert again.status_code == 409  # type: ignore[attr-defined]
    assert "paused" in again.text  # type: ignore[attr-defined]
    assert status_of(admin_context, draft) is EditionStatus.PAUSED

    resumed = post(signed_in, f"/admin/editions/{draft}/resume", draft)
    assert resumed.status_code == 303  # type: ignore[attr-defined]
    assert status_of(admin_context, draft) is EditionStatus.SENDING
    assert ("send_edition", draft) in admin_context.events.calls  # type: ignore[attr-defined]

    # cancel without the confirmation: a question, not a cancellation
    asked = post(signed_in, f"/admin/editions/{draft}/cancel", draft)
    assert asked.status_code == 200  # type: ignore[attr-defined]
    assert 'name="confirm" value="yes"' in asked.text  # type: ignore[attr-defined]
    assert status_of(admin_context, draft) is EditionStatus.SENDING
    done = post(signed_in, f"/admin/editions/{draft}/cancel", draft, confirm="yes")
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert status_of(admin_context, draft) is EditionStatus.CANCELLED
    page = signed_in.get(f"/admin/editions/{draft}").text
    # its unsent entries end cancelled, never pending, and the page counts them
    assert 'data-count="cancelled">9<' in page and 'data-count="pending">0<' in page
    for action in ("approve", "pause", "resume", "cancel"):
        assert f'action="/admin/editions/{draft}/{action}"' not in page
    for action in ("resume", "approve", "pause"):
        late = post(signed_in, f"/admin/editions/{draft}/{action}", draft, confirm="yes")
        assert late.status_code == 409, action  # type: ignore[attr-defined]
        assert "cancelled" in late.text  # type: ignore[attr-defined]
    assert status_of(admin_context, draft) is EditionStatus.CANCELLED


def test_post_without_csrf_changes_nothing(
    signed_in: TestClient, admin_context: Context, draft: str
) -> None:
    for data in ({}, {"csrf_token": "forged"}):
        answer = signed_in.post(f"/admin/editions/{draft}/pause", data=data, follow_redirects=False)
        assert answer.status_code == 400
        assert status_of(admin_context, draft) is EditionStatus.DRAFT
    answer = signed_in.post(
        f"/admin/editions/{draft}/edit",
        data={"intro": "Hijacked", "featured": ""},
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert admin_context.digests.editorial(draft).intro == ""


def test_unknown_edition_is_404(signed_in: TestClient, draft: str) -> None:
    for path in (
        "/admin/editions/daily-1999-01-01",
        "/admin/editions/daily-1999-01-01/edit",
        "/admin/editions/daily-1999-01-01/preview",
        "/admin/editions/next/hourly",
    ):
        answer = signed_in.get(path)
        assert answer.status_code == 404, path
        assert "text/html" in answer.headers["content-type"]
    refused = post(signed_in, "/admin/editions/daily-1999-01-01/pause", draft)
    assert refused.status_code == 404  # type: ignore[attr-defined]


def test_edit_a_draft(signed_in: TestClient, admin_context: Context, draft: str) -> None:
    service = admin_context.digests
    edition = service.status(draft)
    assert edition is not None
    order = list(service.editorial(draft).order) or list(edition.article_ids)
    form = signed_in.get(f"/admin/editions/{draft}/edit")
    assert form.status_code == 200
    assert all(f'name="position-{a}"' in form.text for a in order)
    token = unescape(CSRF.search(form.text).group(1))  # type: ignore[union-attr]

    # the last article first, featured, with an intro
    last = order[-1]
    fields = {f"position-{a}": str(i + 2) for i, a in enumerate(order)}
    fields[f"position-{last}"] = "1"
    saved = signed_in.post(
        f"/admin/editions/{draft}/edit",
        data={"csrf_token": token, "intro": "Our picks <b>today</b>", "featured": last, **fields},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    stored = service.editorial(draft)
    assert stored.intro == "Our picks <b>today</b>"
    assert stored.featured == last
    assert list(stored.order) == [last, *order[:-1]]

    detail = signed_in.get(f"/admin/editions/{draft}").text
    assert "Our picks &lt;b&gt;today&lt;/b&gt;" in detail
    articles = re.findall(r'<li data-article="([^"]+)"', detail)
    assert articles == [last, *order[:-1]]
    assert f'<li data-article="{last}" class="ed-featured">' in detail

    # the message subscribers get: the intro (escaped), the featured story first
    english = [
        s for s in service.segment_ids(draft) if service.preview_segment(draft, s).language == "en"
    ]
    assert english
    for segment_id in english:
        raw = signed_in.get(f"/admin/editions/{draft}/message.html", params={"segment": segment_id})
        assert "Our picks &lt;b&gt;today&lt;/b&gt;" in raw.text
        assert service.preview_segment(draft, segment_id).article_ids[0] == last


def test_edit_conflict_keeps_both(
    signed_in: TestClient, admin_context: Context, draft: str, clock: ManualClock
) -> None:
    service = admin_context.digests
    edition = service.status(draft)
    assert edition is not None
    form = signed_in.get(f"/admin/editions/{draft}/edit").text
    token = unescape(CSRF.search(form).group(1))  # type: ignore[union-attr]
    assert 'name="revision" value="0"' in form
    # another editor saves first
    service.edit(draft, intro="Theirs", featured=None, order=edition.article_ids, now=clock())
    late = signed_in.post(
        f"/admin/editions/{draft}/edit",
        data={"csrf_token": token, "intro": "Mine", "revision": "0"},
    )
    assert late.status_code == 409
    assert "Someone else saved" in late.text and "Mine" in late.text
    assert 'name="revision" value="1"' in late.text
    assert service.editorial(draft).intro == "Theirs"
    # saving again, knowingly, replaces theirs
    again = signed_in.post(
        f"/admin/editions/{draft}/edit",
        data={"csrf_token": token, "intro": "Mine", "revision": "1"},
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert service.editorial(draft).intro == "Mine"


def test_size_meter_numbers() -> None:
    from syndication.web.admin.editions import SizeMeter

    meter = SizeMeter(48_210)
    assert meter.label == "48,210 of 102,000 bytes (47 %)"
    assert not meter.over_budget and not meter.clipped
    assert SizeMeter(digest_email.SIZE_BUDGET + 1).over_budget
    assert not SizeMeter(digest_email.SIZE_BUDGET + 1).clipped
    assert SizeMeter(102_001).clipped and SizeMeter(102_000).label.endswith("(100 %)")


def test_edit_errors_keep_the_input(
    signed_in: TestClient, admin_context: Context, draft: str
) -> None:
    token = csrf_of(signed_in, f"/admin/editions/{draft}/edit")
    edition = admin_context.digests.status(draft)
    assert edition is not None
    first = edition.article_ids[0]
    bad = signed_in.post(
        f"/admin/editions/{draft}/edit",
        data={"csrf_token": token, "intro": "Kept text", f"position-{first}": "two"},
    )
    assert bad.status_code == 422
    assert "not a whole number" in bad.text and "Kept text" in bad.text
    unknown = signed_in.post(
        f"/admin/editions/{draft}/edit",
        data={"csrf_token": token, "intro": "Still kept", "featured": "no-such-article"},
    )
    assert unknown.status_code == 422
    assert "Still kept" in unknown.text
    assert admin_context.digests.editorial(draft).intro == ""

    # the up/down buttons reorder the form without saving
    moved = signed_in.post(
        f"/admin/editions/{draft}/edit",
        data={"csrf_token": token, "intro": "Draft note", "move": f"down:{first}"},
    )
    assert moved.status_code == 200
    shown = re.findall(r'<tr data-article="([^"]+)"', moved.text)
    assert shown[1] == first and "Draft note" in moved.text
    assert admin_context.digests.editorial(draft).intro == ""


def test_edit_refused_unless_draft(
    signed_in: TestClient, admin_context: Context, draft: str
) -> None:
    token = csrf_of(signed_in, f"/admin/editions/{draft}/edit")
    assert post(signed_in, f"/admin/editions/{draft}/approve", draft).status_code == 303  # type: ignore[attr-defined]
    assert signed_in.get(f"/admin/editions/{draft}/edit").status_code == 409
    late = signed_in.post(
        f"/admin/editions/{draft}/edit",
        data={"csrf_token": token, "intro": "Too late"},
        follow_redirects=False,
    )
    assert late.status_code == 409
    assert admin_context.digests.editorial(draft).intro == ""
    assert (
        f'href="/admin/editions/{draft}/edit"' not in signed_in.get(f"/admin/editions/{draft}").text
    )


def test_preview_is_sandboxed_with_sizes(
    signed_in: TestClient, admin_context: Context, draft: str
) -> None:
    service = admin_context.digests
    segment_ids = service.segment_ids(draft)
    assert len(segment_ids) == 3
    for segment_id in segment_ids:
        expected = service.preview_segment(draft, segment_id)
        page = signed_in.get(f"/admin/editions/{draft}/preview", params={"segment": segment_id})
        assert page.status_code == 200
        size = expected.html_size
        percent = round(size * 100 / digest_email.GMAIL_CLIP_BYTES)
        assert f"{size:,} of 102,000 bytes ({percent} %)" in page.text
        assert f'<iframe class="ed-preview" sandbox src="/admin/editions/{draft}/message.html' in (
            page.text
        )
        assert unescape(expected.subject) in unescape(page.text)
        # the email's HTML never enters the admin page itself
        assert expected.html not in page.text
        assert "<pre" in page.text
        raw = signed_in.get(f"/admin/editions/{draft}/message.html", params={"segment": segment_id})
        assert raw.status_code == 200
        assert raw.text == expected.html
        csp = raw.headers["content-security-policy"]
        assert csp.split(";")[0].strip() == "sandbox"
        assert raw.headers["x-content-type-options"] == "nosniff"
    # the admin page may frame only our own origin
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    unknown = signed_in.get(f"/admin/editions/{draft}/preview", params={"segment": "nope"})
    assert unknown.status_code == 404


def test_next_edition_preview(
    signed_in: TestClient, admin_context: Context, redis_client: redis.Redis, clock: ManualClock
) -> None:
    prefix = admin_context.settings.key_prefix
    add_subscribers(redis_client, prefix, 4, now=clock(), segments=SEGMENTS[:2])
    add_articles(redis_client, prefix, ARTICLES[:2], now=clock())
    plan = admin_context.digests.preview("daily", clock())  # what the page shows: kit.now()
    assert len(plan["segments"]) == 2
    page = signed_in.get("/admin/editions/next/daily")
    assert page.status_code == 200
    first = plan["segments"][0]
    assert unescape(first["subject"]) in unescape(page.text)
    size = first["html_size"]
    assert f"{size:,} of 102,000 bytes" in page.text
    choices = re.findall(r'<option value="([^"]+)"', page.text)
    assert len(choices) == 2
    raw = signed_in.get("/admin/editions/next/daily/message.html")
    assert raw.status_code == 200 and "Coca crops grow again" in raw.text
    assert raw.headers["content-security-policy"].startswith("sandbox")
    other = signed_in.get("/admin/editions/next/daily", params={"segment": choices[1]})
    assert other.status_code == 200
    assert f"{plan['segments'][1]['html_size']:,} of 102,000 bytes" in other.text
    assert signed_in.get("/admin/editions/next/daily", params={"segment": "x"}).status_code == 404
    # nothing was created by looking
    assert admin_context.digests.editions.count() == 0
    empty = signed_in.get("/admin/editions/next/weekly")
    assert empty.status_code == 200 and "Nothing to preview" in empty.text


def test_raw_previews_need_a_session(client: TestClient, draft: str) -> None:
    for path in (
        f"/admin/editions/{draft}/message.html",
        "/admin/editions/next/daily/message.html",
    ):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/admin/login")
        assert "<html" not in answer.text.lower()


def test_intro_keeps_its_paragraphs_escaped(
    signed_in: TestClient, admin_context: Context, draft: str, clock: ManualClock
) -> None:
    edition = admin_context.digests.status(draft)
    assert edition is not None
    intro = "First <b>part</b>\r\nstill first.\r\n\r\n\r\nSecond & last."
    admin_context.digests.edit(
        draft, intro=intro, featured=None, order=edition.article_ids, now=clock()
    )
    page = signed_in.get(f"/admin/editions/{draft}")
    block = page.text.split("data-intro>")[1].split("</blockquote>")[0]
    paragraphs = re.findall(r"<p>(.*?)</p>", block, re.S)
    assert paragraphs == ["First &lt;b&gt;part&lt;/b&gt;\nstill first.", "Second &amp; last."]
    # the page's one script runs only with the nonce of this answer's CSP
    nonce = re.search(r'<script nonce="([^"]+)">', page.text)
    assert nonce and f"'nonce-{nonce.group(1)}'" in page.headers["content-security-policy"]
    assert page.text.count("<script") == 1


def test_resend_chosen_uncertain_entries(
    signed_in: TestClient,
    admin_context: Context,
    redis_client: redis.Redis,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> None:
    sender, edition, subs = uncertain_edition(
        admin_context.settings, redis_client, smtp, clock, readers=5, uncertain=(0, 2, 3)
    )
    store = admin_context.digests.editions
    first, second, third = subs[0], subs[2], subs[3]
    url = f"/admin/editions/{edition}/resend"

    page = signed_in.get(f"/admin/editions/{edition}").text
    table = page.split("data-uncertain")[1].split("</table>")[0]
    for sub in (first, second, third):
        box = re.search(rf'id="(resend-\d+)" name="subscriber" value="{sub.id}"', table)
        assert box, sub.id
        assert f'<label for="{box.group(1)}">{sub.id}</label>' in table and sub.email in table
    assert f'action="{url}"' in page
    assert 'name="scope" value="selected"' in page and 'name="scope" value="all"' in page
    token = unescape(CSRF.search(page).group(1))  # type: ignore[union-attr]

    # no (or a forged) CSRF token: refused, nothing changed
    for form in ({"subscriber": first.id, "confirm": "yes"}, {"csrf_token": "forged"}):
        refused = signed_in.post(url, data=form, follow_redirects=False)
        assert refused.status_code == 400
    assert store.entry(edition, first.id)["state"] == "uncertain"

    # chosen, not yet confirmed: the risk and the entries, nothing changed
    chosen = {"subscriber": [first.id, second.id, subs[1].id], "scope": "selected"}
    asked = signed_in.post(url, data={"csrf_token": token, **chosen}, follow_redirects=False)
    assert asked.status_code == 200
    assert "may already have this message" in asked.text and "twice" in asked.text
    assert asked.text.count("<h1") == 1
    rows = asked.text.split("data-chosen")[1].split("</table>")[0]
    assert first.email in rows and second.email in rows and subs[1].email not in rows
    assert f"Skipped, no longer uncertain: {subs[1].id}." in asked.text
    assert 'name="confirm" value="yes"' in asked.text
    hidden = re.findall(r'<input type="hidden" name="subscriber" value="([^"]+)">', asked.text)
    assert hidden == [first.id, second.id]
    assert status_of(admin_context, edition) is EditionStatus.DONE
    assert store.entry(edition, first.id)["state"] == "uncertain"

    # confirmed: back to pending, the edition reopens, the senders are queued
    clock.advance(minutes=3)
    done = signed_in.post(
        url,
        data={"csrf_token": token, "subscriber": [first.id, second.id], "confirm": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/admin/editions/{edition}"
    assert status_of(admin_context, edition) is EditionStatus.SENDING
    at = clock().isoformat(timespec="seconds")
    for sub in (first, second):
        entry = store.entry(edition, sub.id)
        assert entry["state"] == "pending"
        assert entry["detail"] == f"resent by admin at {at} (was uncertain)"
    assert store.entry(edition, third.id)["state"] == "uncertain"
    assert ("send_edition", edition) in admin_context.events.calls  # type: ignore[attr-defined]
    page = signed_in.get(f"/admin/editions/{edition}").text
    assert "Queued 2 uncertain messages to be sent again. The edition is sending." in page
    assert 'data-count="pending">2<' in page and 'data-count="uncertain">1<' in page

    # nothing chosen: nothing resent, and the page says so
    empty = signed_in.post(url, data={"csrf_token": token, "scope": "selected"})
    assert empty.status_code == 200 and "Nothing was resent" in empty.text

    # "all": the confirmation lists every uncertain entry left, and carries exactly those;
    # one of them stops being uncertain before the operator confirms: skipped, and said so
    send_all(sender, edition)
    everything = signed_in.post(url, data={"csrf_token": token, "scope": "all"})
    assert everything.status_code == 200
    hidden = re.findall(r'name="subscriber" value="([^"]+)"', everything.text)
    assert hidden == [third.id]
    assert "Resend 1 uncertain message of edition" in everything.text
    confirmed = signed_in.post(
        url,
        data={"csrf_token": token, "subscriber": [third.id, first.id], "confirm": "yes"},
    )
    assert confirmed.status_code == 200
    assert "Queued 1 uncertain message to be sent again; skipped 1 no longer uncertain" in (
        confirmed.text
    )
    send_all(sender, edition)
    assert smtp.per_recipient()[third.email] == 2  # the risk the page stated: twice

    # done again and nothing uncertain: "all" resends nothing, and says so
    assert status_of(admin_context, edition) is EditionStatus.DONE
    late = signed_in.post(url, data={"csrf_token": token, "scope": "all"})
    assert late.status_code == 200 and "Nothing was resent" in late.text


def test_resend_refused_for_cancelled_edition(
    signed_in: TestClient, admin_context: Context, draft: str
) -> None:
    assert post(signed_in, f"/admin/editions/{draft}/approve", draft).status_code == 303  # type: ignore[attr-defined]
    # a sender has one entry in flight when the edition is cancelled
    claim = admin_context.digests.editions.claim(draft, 1, "sender")
    (one,) = claim.recipients
    admin_context.digests.editions.step(draft, "sender", None, one.subscriber_id)
    done = post(signed_in, f"/admin/editions/{draft}/cancel", draft, confirm="yes")
    assert done.status_code == 303  # type: ignore[attr-defined]
    page = signed_in.get(f"/admin/editions/{draft}").text
    assert 'data-count="cancelled">8<' in page and 'data-count="sending">1<' in page
    assert 'name="subscriber"' not in page  # no resend form on a cancelled edition
    refused = post(
        signed_in, f"/admin/editions/{draft}/resend", draft, subscriber=one.subscriber_id
    )
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert "cancelled" in refused.text  # type: ignore[attr-defined]


def test_a_compacted_edition_still_shows_its_numbers(
    signed_in: TestClient,
    admin_context: Context,
    redis_client: redis.Redis,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> None:
    _, edition, subs = uncertain_edition(
        admin_context.settings, redis_client, smtp, clock, readers=4, uncertain=(1,)
    )
    finished = admin_context.digests.status(edition)
    assert finished is not None and finished.finished_at is not None
    later = ManualClock(finished.finished_at)  # the ledger finished on Redis time
    later.advance(days=8)
    (report,) = admin_context.digests.compact(later())
    assert report.result == "compacted" and report.dropped == 3

    page = signed_in.get(f"/admin/editions/{edition}").text
    assert "data-compacted" in page and "Compacted on" in page
    assert re.search(r'data-count="sent">3<', page) and re.search(r'data-count="total">4<', page)
    table = page.split("data-uncertain")[1].split("</table>")[0]
    assert subs[1].id in table and subs[1].email in table
    listing = signed_in.get("/admin/editions").text
    assert f"compacted on {later():%Y-%m-%d}" in listing
