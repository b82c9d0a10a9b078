"""The hold and release buttons on ``/admin/articles`` (issue #16): behind sign-in and the
CSRF token, one service call each, the article out of the public feed and back."""

from __future__ import annotations

import dataclasses
import re

import pytest
from fastapi.testclient import TestClient

from syndication.config import AdminConfig
from syndication.context import Context
from syndication.models import Article
from syndication.store.articles import State
from syndication.web.app import create_app
from tests.support import article_data

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client(context: Context) -> TestClient:
    settings = dataclasses.replace(context.settings, admin=AdminConfig(password=PASSWORD))
    app = create_app(Context(settings, context.events, context.client, clock=context.clock))
    return TestClient(app, follow_redirects=False)


def _token(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match, "no CSRF field on the page"
    return match.group(1)


def _sign_in(client: TestClient) -> None:
    answer = client.post(
        "/admin/login",
        data={"csrf_token": _token(client, "/admin/login"), "password": PASSWORD, "next": ""},
    )
    assert answer.status_code == 303, answer.text


def _state(context: Context, article_id: str) -> State:
    stored = context.article_store.get(article_id)
    assert stored is not None
    return stored.state


def test_hold_and_release_from_the_articles_page(client: TestClient, context: Context) -> None:
    article_id = context.articles.submit(Article.model_validate(article_data(1))).article.id
    hold = f"/admin/articles/{article_id}/hold"
    assert client.post(hold, data={"reason": "x"}).status_code == 401  # not signed in
    _sign_in(client)
    page = client.get("/admin/articles").text
    assert f'action="{hold}"' in page

    refused = client.post(hold, data={"reason": "legal", "csrf_token": "forged"})
    assert refused.status_code == 400 and _state(context, article_id) is State.PUBLISHED
    token = _token(client, "/admin/articles")
    assert client.post(hold, data={"reason": " ", "csrf_token": token}).status_code == 400
    done = client.post(hold, data={"reason": "legal review", "csrf_token": token})
    assert done.status_code == 303 and _state(context, article_id) is State.HELD
    page = client.get("/admin/articles").text
    assert "legal review" in page and f"/admin/articles/{article_id}/release" in page
    again = client.post(hold, data={"reason": "twice", "csrf_token": token})
    assert again.status_code == 409

    release = client.post(f"/admin/articles/{article_id}/release", data={"csrf_token": token})
    assert release.status_code == 303 and _state(context, article_id) is State.PUBLISHED
    missing = client.post("/admin/articles/nope/release", data={"csrf_token": token})
    assert missing.status_code == 404
