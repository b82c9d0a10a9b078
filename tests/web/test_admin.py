"""``/admin`` over HTTP: sign-in, sessions, CSRF, throttling and every page with real data.

The app is the real one (``create_app``) on a real Redis; articles come in through the
context's ``ArticleService``, partners through ``Partners``, subscribers through the
store, exactly as the CLI and the API put them there.
"""

from __future__ import annotations

import dataclasses
import io
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from syndication.cli.admin import read_password
from syndication.config import AdminConfig
from syndication.context import Context
from syndication.models import Article
from syndication.store.metrics import metrics_key
from syndication.web.admin.auth import LOGIN_LIMIT, hash_password, verify_password_hash
from syndication.web.admin.kit import is_admin_path, safe_next
from syndication.web.app import create_app
from tests.support import ROOT, article_data, tamper
from tests.support.clock import START, ManualClock

PASSWORD = "correct horse battery staple"
NOW = START - timedelta(days=1)  # partners and subscribers made the day before the clock's now
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ONCE = re.compile(r'name="once" value="([^"]+)"')


def make_app(ctx: Context, **settings: object) -> FastAPI:
    """The real app on ``ctx`` with ``settings`` changed, on the same clock (the test's)."""
    changed = dataclasses.replace(ctx.settings, **settings)
    return create_app(Context(changed, ctx.events, ctx.client, clock=ctx.clock))


@pytest.fixture
def app(context: Context) -> FastAPI:
    return make_app(context, admin=AdminConfig(password=PASSWORD))


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)


def token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def login(client: TestClient, password: str = PASSWORD, next_path: str = "") -> object:
    page = client.get("/admin/login")
    assert page.status_code == 200, page.text
    return client.post(
        "/admin/login",
        data={"csrf_token": token(page.text), "password": password, "next": next_path},
    )


def signed_in(client: TestClient) -> TestClient:
    response = login(client)
    assert response.status_code == 303, response.text
    return client


def csrf_of(client: TestClient, path: str = "/admin") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return token(page.text)


def rotate_form(client: TestClient) -> dict[str, str]:
    """The fields of a freshly rendered rotate button (CSRF token and one-time value)."""
    page = client.get("/admin/partners")
    assert page.status_code == 200, page.text
    once = ONCE.search(page.text)
    assert once, "no one-time field on the partners page"
    return {"csrf_token": token(page.text), "once": once.group(1)}


def add_articles(ctx: Context) -> list[Article]:
    articles = [
        Article.model_validate(article_data(1, topics=["Coca", "Peru"], section="Brief")),
        Article.model_validate(article_data(2, language="es", authors=["Ana Pérez"])),
        Article.model_validate(article_data(3)),
    ]
    for article in articles:
        ctx.articles.accept(article)
    updated = article_data(3, title="Sample story 3, corrected")
    updated["updated_at"] = "2026-11-05T09:00:00+00:00"
    ctx.articles.accept(Article.model_validate(updated))
    ctx.articles.withdraw(articles[1].id)
    ctx.feeds.rebuild_all()
    return articles


# -- disabled, sign-in, throttle ------------------------------------------------------------


def test_without_a_password_the_admin_is_disabled_and_says_which_variable(context):
    client = TestClient(create_app(context), follow_redirects=False)
    for path in ("/admin", "/admin/login", "/admin/feeds"):
        response = client.get(path)
        assert response.status_code == 403
        assert "text/html" in response.headers["content-type"]
        assert "The admin is disabled" in response.text
        assert "SYNDICATION_ADMIN_PASSWORD_HASH" in response.text
    response = client.post("/admin/login", data={"password": "x" * 20})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers or "admin" not in response.headers["set-cookie"]


def test_pages_redirect_to_login_with_next_and_posts_get_401(client):
    response = client.get("/admin/articles?start=50")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=/admin/articles%3Fstart%3D50"
    assert client.get("/admin").headers["location"] == "/admin/login"
    response = client.post("/admin/feeds/rebuild", data={"csrf_token": "x"})
    assert response.status_code == 401
    assert "Please sign in" in response.text


def test_wrong_password_fails_and_is_throttled(client):
    for _ in range(LOGIN_LIMIT):
        response = login(client, "not the password at all")
        assert response.status_code == 401
        assert "That password is not right" in response.text
        assert "syndication-admin=" not in response.headers.get("set-cookie", "")
    response = login(client, PASSWORD)  # even the right one: the address is throttled
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many sign-in attempts" in response.text
    assert client.get("/admin").status_code == 303


def test_login_without_the_csrf_cookie_is_refused(app):
    client = TestClient(app, follow_redirects=False)
    page = client.get("/admin/login")
    client.cookies.clear()
    response = client.post(
        "/admin/login", data={"csrf_token": token(page.text), "password": PASSWORD}
    )
    assert response.status_code == 400
    assert "security cookie" in response.text


def test_plain_password_login_sets_a_strict_httponly_session_cookie(client):
    response = login(client, next_path="/admin/feeds")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/feeds"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("syndication-admin=")
    )
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/admin" in lowered
    assert "max-age=43200" in lowered
    assert client.get("/admin").status_code == 200


def test_hashed_password_login(context):
    line = hash_password(PASSWORD, iterations=1000)
    client = TestClient(
        make_app(context, admin=AdminConfig(password_hash=line)), follow_redirects=False
    )
    assert login(client, PASSWORD + "x").status_code == 401
    assert login(client).status_code == 303
    assert client.get("/admin").status_code == 200


def test_https_uses_a_host_prefixed_secure_cookie(context):
    app = make_app(context, admin=AdminConfig(password=PASSWORD), public_url="https://news.example")
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    response = login(client)
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie") if "syndication-admin=" in c)
    assert cookie.startswith("__Host-syndication-admin=")
    assert "secure" in cookie.lower() and "path=/;" in cookie.lower() + ";"
    assert client.get("/admin").status_code == 200


def test_next_is_only_followed_to_local_admin_paths(client):
    for evil in ("https://evil.example/", "//evil.example/admin", "/\\evil.example", "/feeds"):
        response = login(client, next_path=evil)
        assert response.status_code == 303
        assert response.headers["location"] == "/admin", evil
        client.cookies.clear()
    page = client.get("/admin/login?next=https://evil.example/")
    assert "evil.example" not in page.text
    assert safe_next("/admin/partners?x=1") == "/admin/partners?x=1"
    for bad in ("/admin/../feeds", "/admin//evil", "/administrator", "/admin\r\nX: y"):
        assert not is_admin_path(bad), bad


def test_logout_ends_the_session_even_for_a_kept_cookie(client):
    signed_in(client)
    kept = dict(client.cookies)
    response = client.post("/admin/logout", data={"csrf_token": csrf_of(client)})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login"
    assert client.get(response.headers["location"]).status_code == 200
    replay = TestClient(client.app, follow_redirects=False, cookies=kept)
    assert replay.get("/admin").status_code == 303
    assert replay.get("/admin").headers["location"] == "/admin/login"


def test_logout_without_csrf_leaves_the_session(client):
    signed_in(client)
    assert client.post("/admin/logout", data={}).status_code == 400
    assert client.get("/admin").status_code == 200


def test_a_tampered_session_cookie_is_refused(client):
    signed_in(client)
    value = client.cookies["syndication-admin"]
    client.cookies.clear()
    client.cookies.set("syndication-admin", tamper(value), path="/admin")
    assert client.get("/admin").status_code == 303


def test_changing_the_password_ends_sessions(context, client):
    signed_in(client)
    other = TestClient(
        make_app(context, admin=AdminConfig(password="another long password")),
        follow_redirects=False,
        cookies=dict(client.cookies),
    )
    assert other.get("/admin").status_code == 303


# -- pages with data ------------------------------------------------------------------------


def test_pages_render_real_data_with_security_headers(context, client, clock: ManualClock):
    add_articles(context)
    partner, _ = context.partners.keys.add("La Silla Vacía", now=NOW)
    context.partners.store.count_pull(partner.id, clock().date())  # "today" on the page
    store = context.subscriber_store
    _, sub = store.signup("reader@example.org", "weekly", ("coca",), "es", NOW)
    assert sub is not None
    store.confirm(sub.id, NOW)
    store.signup("pending@example.org", "daily", (), "en", NOW)
    store.suppress("bounced@example.net", "bounce", NOW)
    context.client.hset(metrics_key(context.settings.key_prefix, "feed_requests_by_feed_total"),
                        "all", 8)  # fmt: skip
    context.client.hset(
        metrics_key(context.settings.key_prefix, "feed_not_modified_by_feed_total"), "all", 6
    )
    signed_in(client)

    overview = client.get("/admin")
    assert overview.status_code == 200
    for name, value in {
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }.items():
        assert overview.headers[name] == value
    assert "frame-ancestors 'none'" in overview.headers["content-security-policy"]
    text = re.sub(r"\s+", " ", overview.text)
    assert "<dt>Published</dt><dd>2</dd>" in text
    assert "<dt>Withdrawn</dt><dd>1</dd>" in text
    assert "<dt>Confirmed</dt><dd>1</dd>" in text and "<dt>Pending</dt><dd>1</dd>" in text
    assert "<dt>Active</dt><dd>1</dd>" in text

    articles = client.get("/admin/articles").text
    assert articles.count('class="state state-') == 3
    assert "state-withdrawn" in articles and "state-updated" in articles
    assert "Sample story 3, corrected" in articles
    assert (
        'href="/feeds/topic/coca.rss"' in articles and 'href="/feeds/section/brief.rss"' in articles
    )
    assert 'href="/feeds/author/sergio-saffon.rss"' in articles

    feeds = client.get("/admin/feeds").text
    row = feeds[feeds.index('id="feed-all"') :].split("</tr>")[0]
    assert "75%" in row and ">8<" in row  # 6 of 8 requests were 304s
    size = len(context.feed_cache.get("all", "rss").body)  # type: ignore[union-attr]
    assert f"{size:,}" in row
    built = max(
        context.client.hget(context.feed_cache.keys.feed("all", fmt), "built_at").decode()
        for fmt in ("rss", "atom", "json")
    )
    assert f'<time datetime="{built}">' in row  # the newest build of the feed's documents

    partners = client.get("/admin/partners").text
    assert "La Silla Vacía" in partners and f"{partner.key_prefix}…" in partners
    assert partners.count("<abbr title=") == 14

    subscribers = client.get("/admin/subscribers").text
    assert "reader@example.org" not in subscribers and "bounced@example.net" not in subscribers
    assert '<td>es</td><td>weekly</td><td>coca</td><td class="num">1</td>' in subscribers
    found = client.get("/admin/subscribers", params={"q": "bounced"}).text
    assert "bounced@example.net" in found and "bounce" in found
    exact = client.get("/admin/subscribers", params={"q": "Reader@Example.org"}).text
    assert "reader@example.org" in exact and "confirmed" in exact
    short = client.get("/admin/subscribers", params={"q": "ab"}).text
    assert "at least 3 characters" in short
    wildcard = client.get("/admin/subscribers", params={"q": "***"}).text
    assert "bounced@example.net" not in wildcard  # glob characters are matched literally


def test_articles_page_rejects_a_bad_start(client):
    signed_in(client)
    assert client.get("/admin/articles?start=-1").status_code == 400
    assert client.get("/admin/articles?start=abc").status_code == 400


# -- actions and CSRF -----------------------------------------------------------------------


def test_rebuild_feeds_needs_csrf_and_queues_the_task(context, client):
    signed_in(client)
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": tamper(csrf_of(client))}):
        response = client.post("/admin/feeds/rebuild", data=data)
        assert response.status_code == 400
        assert "security token" in response.text
    assert ("rebuild_feeds", "") not in context.events.calls
    response = client.post("/admin/feeds/rebuild", data={"csrf_token": csrf_of(client)})
    assert response.status_code == 303 and response.headers["location"] == "/admin/feeds"
    assert context.events.calls.count(("rebuild_feeds", "")) == 1
    page = client.get("/admin/feeds")
    assert "A rebuild of every feed is queued" in page.text
    assert "A rebuild of every feed is queued" not in client.get("/admin/feeds").text


def test_a_csrf_token_from_another_session_is_refused(app, context):
    first, second = TestClient(app, follow_redirects=False), TestClient(app, follow_redirects=False)
    signed_in(first)
    signed_in(second)
    partner, key = context.partners.keys.add("Outlet", now=NOW)
    response = second.post(
        f"/admin/partners/{partner.id}/revoke", data={"csrf_token": csrf_of(first)}
    )
    assert response.status_code == 400
    assert context.partners.keys.authenticate(key) is not None


def test_rotate_shows_the_new_key_once_and_the_old_key_stops_working(context, client):
    add_articles(context)
    partner, old_key = context.partners.keys.add("Outlet", now=NOW)
    assert (
        client.get(
            "/partners/feeds/all.rss", headers={"Authorization": f"Bearer {old_key}"}
        ).status_code
        == 200
    )
    signed_in(client)
    url = f"/admin/partners/{partner.id}/rotate"
    assert client.post(url, data={"csrf_token": "bad"}).status_code == 400
    assert context.partners.keys.authenticate(old_key) is not None  # nothing changed

    response = client.post(url, data=rotate_form(client))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    new_key = re.search(r'<code class="key" id="new-key">([A-Za-z0-9_-]{43})</code>', response.text)
    assert new_key, response.text
    key = new_key.group(1)
    assert key != old_key
    assert key not in client.get("/admin/partners").text
    assert key not in str(context.partners.store.get(partner.id))
    old = client.get("/partners/feeds/all.rss", headers={"Authorization": f"Bearer {old_key}"})
    assert old.status_code == 401
    new = client.get("/partners/feeds/all.rss", headers={"Authorization": f"Bearer {key}"})
    assert new.status_code == 200


def test_revoke_and_unknown_partner(context, client):
    partner, key = context.partners.keys.add("Outlet", now=NOW)
    signed_in(client)
    csrf = csrf_of(client, "/admin/partners")
    response = client.post(f"/admin/partners/{partner.id}/revoke", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert context.partners.keys.authenticate(key) is None
    assert "Revoked Outlet" in client.get("/admin/partners").text
    # A revoked partner has no rotate button; a hand-made form is still refused.
    forged = {"csrf_token": csrf, "once": "A" * 22}
    rotate = client.post(f"/admin/partners/{partner.id}/rotate", data=forged)
    assert rotate.status_code == 409 and "cannot be rotated" in rotate.text
    missing = client.post("/admin/partners/nobody/revoke", data={"csrf_token": csrf})
    assert missing.status_code == 404


def test_kit_redirect_refuses_non_admin_paths(app):
    from syndication.web.admin import make_kit

    kit = make_kit(app.state.ctx)
    assert kit.redirect("/admin/feeds").headers["location"] == "/admin/feeds"
    for bad in ("https://evil.example/", "//evil.example", "/feeds", "/admin/../x"):
        with pytest.raises(ValueError):
            kit.redirect(bad)


# -- hardening ------------------------------------------------------------------------------


def test_reloading_the_key_page_neither_rotates_again_nor_shows_the_key(context, client):
    """A reload (or Back) re-sends the rotate form: it must not kill the key just shown."""
    partner, _ = context.partners.keys.add("Outlet", now=NOW)
    signed_in(client)
    url = f"/admin/partners/{partner.id}/rotate"
    form = rotate_form(client)
    first = client.post(url, data=form)
    assert first.status_code == 200
    key = re.search(r'id="new-key">([A-Za-z0-9_-]{43})<', first.text).group(1)  # type: ignore[union-attr]
    again = client.post(url, data=form)  # what the browser's "resend" does
    assert again.status_code == 409
    assert "already done" in again.text and key not in again.text
    assert again.headers["cache-control"] == "no-store"
    assert context.partners.keys.authenticate(key) is not None  # the shown key still works
    stale = client.post(url, data={"csrf_token": form["csrf_token"]})
    assert stale.status_code == 400 and context.partners.keys.authenticate(key) is not None


def test_signing_in_ends_the_session_the_browser_already_had(client, app):
    page = client.get("/admin/login")
    login_token = token(page.text)
    assert client.post("/admin/login", data={"csrf_token": login_token, "password": PASSWORD})
    before = client.cookies["syndication-admin"]
    again = client.post("/admin/login", data={"csrf_token": login_token, "password": PASSWORD})
    assert again.status_code == 303
    after = client.cookies["syndication-admin"]
    assert after != before
    assert client.get("/admin").status_code == 200
    planted = TestClient(app, follow_redirects=False)
    planted.cookies.set("syndication-admin", before, path="/admin")
    assert planted.get("/admin").status_code == 303  # the old id did not survive sign-in


def test_bad_or_expired_session_cookies_lead_to_sign_in_not_an_error(
    client, app, clock: ManualClock
):
    from syndication.web.admin import make_kit

    auth = make_kit(app.state.ctx).auth
    _, expired = auth.start("203.0.113.9", clock() - auth.ttl - timedelta(minutes=1))
    for value in ("", "x", "a.b", "....", "AAAA.BBBB", "%00%0d", "x" * 5000, expired):
        client.cookies.clear()
        client.cookies.set("syndication-admin", value, path="/admin")
        response = client.get("/admin/partners")
        assert response.status_code == 303, value
        assert response.headers["location"] == "/admin/login?next=/admin/partners"


def test_login_throttle_is_not_reset_by_x_forwarded_for(client):
    """Without a trusted proxy (uvicorn ``--forwarded-allow-ips``) the header is ignored."""
    for n in range(LOGIN_LIMIT):
        client.headers["X-Forwarded-For"] = f"198.51.100.{n}"
        assert login(client, "not the password at all").status_code == 401
    client.headers["X-Forwarded-For"] = "198.51.100.250"
    assert login(client).status_code == 429


def test_bad_query_values_get_an_admin_page_not_json(client):
    signed_in(client)
    response = client.get("/admin/editions?page=%3Cscript%3E")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "page" in response.text and "<script>" not in response.text
    assert response.headers["x-frame-options"] == "DENY"
    client.cookies.clear()
    assert client.get("/admin/editions?page=x").status_code == 303  # no hints before sign-in


def test_unknown_admin_addresses_get_an_admin_404_after_sign_in(client):
    assert client.get("/admin/no-such-page").status_code == 303
    signed_in(client)
    response = client.get("/admin/no-such-page/<b>x</b>")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Not found" in response.text and "<b>x" not in response.text
    assert client.get("/admin/").headers["location"] == "/admin"


def test_hostile_names_titles_and_queries_are_escaped(context, client):
    evil = "<script>alert(1)</script>"
    article = Article.model_validate(article_data(9, title=f"Title {evil}"))
    context.articles.accept(article)
    context.partners.keys.add(f"Partner {evil}", now=NOW)
    context.subscriber_store.suppress("x.script@example.net", "bounce", NOW)
    signed_in(client)
    pages = [
        client.get("/admin/articles"),
        client.get("/admin/partners"),
        client.get("/admin/subscribers", params={"q": evil}),
        client.get("/admin/subscribers", params={"q": f'"><svg onload=x>{evil}@x.org'}),
        client.get("/admin/editions/<svg onload=alert(1)>"),
        client.get("/admin/editions/next/daily", params={"segment": evil}),
        client.get("/admin/login", params={"next": f'/admin?"><{evil}'}),
    ]
    for response in pages:
        assert "<script>alert" not in response.text, response.url
        assert "<svg" not in response.text, response.url
        csp = response.headers["content-security-policy"]
        assert "script-src 'nonce-" in csp or "script-src 'none'" in csp
        nonces = re.findall(r"<script nonce=\"([^\"]+)\"", response.text)
        assert all(f"'nonce-{n}'" in csp for n in nonces)
        assert response.text.count("<script") == len(nonces)  # every script has the nonce
    assert "&lt;script&gt;" in pages[0].text and "&lt;script&gt;" in pages[1].text


# -- CLI ------------------------------------------------------------------------------------


def test_cli_hash_password_output_verifies(env):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "syndication.cli",
            "admin",
            "hash-password",
            "--iterations",
            "100000",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env={**env, "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert re.fullmatch(r"pbkdf2_sha256\$100000\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}", line)
    assert verify_password_hash(PASSWORD, line)
    assert not verify_password_hash(PASSWORD + "!", line)
    from syndication.config import load_settings

    assert (
        load_settings({**env, "SYNDICATION_ADMIN_PASSWORD_HASH": line}).admin.password_hash == line
    )


def test_cli_hash_password_refuses_short_passwords(env):
    result = subprocess.run(
        [sys.executable, "-m", "syndication.cli", "admin", "hash-password"],
        input="short\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "at least 12 characters" in result.stderr
    assert result.stdout == ""


def test_read_password_from_a_pipe_reads_one_line():
    assert read_password(io.StringIO("one two three four\nignored\n")) == "one two three four"
